//! `aj disc id`: disc identities from a table of contents.

use aj_cd::id::{self, DiscIds};

use crate::cli::DiscIdArgs;
use crate::Outcome;

pub fn run(args: DiscIdArgs) -> anyhow::Result<Outcome> {
    let disc = match id::parse_toc_string(&args.toc) {
        Ok(d) => d,
        Err(e) => return Ok(Outcome::Usage(format!("--toc: {e}"))),
    };
    // A TOC string describes audio tracks only: anything compute rejects is a
    // malformed string too.
    let ids = match DiscIds::compute(&disc) {
        Ok(ids) => ids,
        Err(e) => return Ok(Outcome::Usage(format!("--toc: {e}"))),
    };
    if args.json {
        println!("{}", serde_json::to_string(&ids)?);
    } else {
        println!("{ids}");
    }
    Ok(Outcome::Ok)
}
