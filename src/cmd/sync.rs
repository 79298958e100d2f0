//! `aj sync`: flags → [`SyncSpec`] → engine → one line per change.

use std::collections::HashMap;
use std::sync::Mutex;

use aj_codec::Format;
use aj_core::CancelToken;
use aj_jobs::{Event, JobSpec, SyncSpec};

use crate::cli::SyncArgs;
use crate::progress::Reporter;
use crate::Outcome;

pub fn run(args: SyncArgs) -> anyhow::Result<Outcome> {
    let json = args.json;
    let remote = args.remote.clone();
    let spec = match validate(args) {
        Ok(s) => s,
        Err(msg) => return Ok(Outcome::Usage(msg)),
    };
    if remote.server.is_some() {
        use crate::cmd::jobs::absolute;
        let mut spec = spec;
        spec.source = absolute(&spec.source)?;
        spec.mirror = absolute(&spec.mirror)?;
        return crate::cmd::jobs::submit_and_follow(&remote, &JobSpec::Sync(spec), json);
    }
    let cancel = CancelToken::new();
    crate::cmd::convert::install_interrupt_handler(&cancel);
    let summary = if json {
        let reporter = Reporter::new(true);
        let s = aj_jobs::run(&JobSpec::Sync(spec), &cancel, &|e| reporter.event(e));
        reporter.finish();
        s
    } else {
        let lines = Lines::default();
        aj_jobs::run(&JobSpec::Sync(spec), &cancel, &|e| lines.event(&e))
    };
    Ok(if summary.success() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// Stage two of flag parsing: checks ranges and combinations, builds the spec.
fn validate(args: SyncArgs) -> Result<SyncSpec, String> {
    let format: Format = args.format.parse()?;
    let encoder = crate::cmd::convert::encoder_options(format, &args.encoder)?;
    if args.jobs == Some(0) {
        return Err("--jobs must be at least 1".into());
    }
    if !args.source.is_dir() {
        return Err(format!("{} is not a folder", args.source.display()));
    }
    if args.mirror.exists() && !args.mirror.is_dir() {
        return Err(format!("{} is not a folder", args.mirror.display()));
    }
    let mut spec = SyncSpec::new(args.source, args.mirror, format);
    spec.encoder = encoder;
    if let Some(l) = &args.lossy {
        spec.lossy = l.parse()?;
    }
    spec.link = args.link;
    spec.delete = args.delete;
    spec.dry_run = args.dry_run;
    spec.art_max = args.art_max;
    spec.replaygain = args.replaygain;
    spec.name = args.name;
    if let Some(s) = &args.safe_names {
        spec.safe_names = s.parse()?;
    }
    spec.split = !args.no_split;
    if let Some(g) = &args.gaps {
        spec.gaps = g.parse::<aj_jobs::rip::Gaps>()?;
    }
    spec.verify = !args.no_verify;
    spec.threads = args.jobs.unwrap_or(0);
    spec.dsp = crate::cmd::convert::dsp_options(format, &args.dsp)?;
    spec.check()?;
    Ok(spec)
}

/// Plain lines on stderr: one per change, nothing for unchanged files.
#[derive(Default)]
struct Lines {
    stages: Mutex<HashMap<usize, String>>,
}

impl Lines {
    fn event(&self, e: &Event) {
        let mut stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            // "verify" and "analyse" are steps inside a conversion.
            Event::Stage { index, stage, .. }
                if !matches!(stage.as_str(), "verify" | "analyse") =>
            {
                stages.insert(*index, stage.clone());
            }
            Event::FileDone {
                index,
                output,
                verified,
                ..
            } => {
                let verb = match stages.remove(index).as_deref() {
                    Some("retag") => "retagged",
                    Some("copy") => "copied",
                    Some("link") => "linked",
                    Some("move") => "moved to",
                    Some("delete") => "deleted",
                    _ => "converted",
                };
                eprintln!(
                    "{verb:<9} {}{}",
                    output.display(),
                    if *verified { " (verified)" } else { "" }
                );
            }
            Event::FileSkipped { input, reason, .. } => {
                if let Some(plan) = reason.strip_prefix("dry run: ") {
                    eprintln!("{:<9} {}: {plan}", "plan", input.display());
                } else if reason != "unchanged" {
                    eprintln!("{:<9} {}: {reason}", "skipped", input.display());
                }
            }
            Event::FileFailed { input, error, .. } => {
                eprintln!("{:<9} {}: {error}", "FAILED", input.display());
            }
            Event::Warning { message } => eprintln!("note: {message}"),
            Event::Summary(s) => {
                let t = s.sync.unwrap_or_default();
                let mut parts = vec![
                    format!("{} converted", t.converted),
                    format!("{} retagged", t.retagged),
                    format!("{} copied", t.copied),
                ];
                for (n, what) in [
                    (t.linked, "linked"),
                    (t.moved, "moved"),
                    (t.deleted, "deleted"),
                    (t.left_out, "left out"),
                    (t.kept, "kept (source gone)"),
                ] {
                    if n > 0 {
                        parts.push(format!("{n} {what}"));
                    }
                }
                parts.push(format!("{} unchanged", t.unchanged));
                if s.failed > 0 {
                    parts.push(format!("{} failed", s.failed));
                }
                eprintln!(
                    "{}{}{}",
                    if t.dry_run { "dry run, would be: " } else { "" },
                    parts.join(", "),
                    if s.cancelled { " (interrupted)" } else { "" }
                );
            }
            _ => {}
        }
    }
}
