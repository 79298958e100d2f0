//! `aj`: AudioJuggler's command line.
//!
//! Two stages, as ripgrep does: clap parses raw flags ([`cli`]), each command
//! validates them into a job spec, the engine in `aj-jobs` runs it, and the
//! command shows the events (progress bars, plain lines or JSON lines).
//! Exit codes are decided here only: 0 success, 1 a job or file failed,
//! 2 a usage error.

#![forbid(unsafe_code)]

mod cli;
mod client;
mod cmd;
mod progress;

use std::process::ExitCode;

use clap::Parser;

/// What `main` turns into an exit code.
pub enum Outcome {
    Ok,
    Failed,
    Usage(String),
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Command::Convert(args) => cmd::convert::run(args),
        cli::Command::Sync(args) => cmd::sync::run(args),
        cli::Command::Info(args) => cmd::info::run(args),
        cli::Command::Gain(args) => cmd::gain::run(args),
        cli::Command::Disc(cli::DiscCommand::Id(args)) => cmd::disc_id::run(args),
        cli::Command::Disc(cli::DiscCommand::Info(args)) => cmd::disc_info::run(args),
        cli::Command::Disc(cli::DiscCommand::Eject(args)) => cmd::disc_info::eject(args),
        cli::Command::Drive(cli::DriveCommand::List(args)) => cmd::drive::list(args),
        cli::Command::Rip(args) => cmd::rip::run(args),
        cli::Command::Drive(cli::DriveCommand::Offset(args)) => cmd::rip::find_offset(args),
        cli::Command::Drive(cli::DriveCommand::Cache(args)) => cmd::drive::cache(args),
        cli::Command::Port(args) => cmd::port::run(args),
        cli::Command::Serve(args) => cmd::serve::run(args),
        cli::Command::Jobs(args) => cmd::jobs::run(args),
    };
    match outcome {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Usage(msg)) => {
            eprintln!("aj: {msg}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("aj: {e:#}");
            ExitCode::from(1)
        }
    }
}
