//! One module per subcommand.

pub mod convert;
pub mod disc_id;
pub mod disc_info;
pub mod drive;
pub mod gain;
pub mod info;
pub mod jobs;
pub mod port;
pub mod rip;
pub mod serve;
pub mod sync;
