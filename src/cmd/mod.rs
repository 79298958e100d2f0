//! One module per subcommand.

pub mod convert;
pub mod disc_id;
pub mod info;
