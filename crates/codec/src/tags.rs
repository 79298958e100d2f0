//! Tags and cover art.
