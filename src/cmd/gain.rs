//! `aj gain`: flags → [`GainSpec`] → engine (here or on a daemon) → a table,
//! or one JSON object per file and album.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use aj_core::CancelToken;
use aj_jobs::gain::Loudness;
use aj_jobs::{Event, GainSpec, JobSpec, Summary};
use serde_json::Value;

use crate::cli::{GainArgs, ServerArgs};
use crate::Outcome;

/// What `aj gain` found for one file (or an album), as `--json` prints it.
#[derive(Debug, Clone, serde::Serialize)]
struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    album: bool,
    /// A folder's album: the folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    folder: Option<String>,
    /// Integrated loudness, LUFS; `null` for silence.
    loudness_lufs: Option<f64>,
    /// Loudness range, LU.
    loudness_range_lu: Option<f64>,
    /// ReplayGain 2.0 gain to −18 LUFS, dB.
    gain_db: Option<f64>,
    /// The peak written (sample or true peak), linear.
    peak: f64,
    sample_peak: f64,
    true_peak: Option<f64>,
    /// Opus: the R128 gain written (Q7.8).
    #[serde(skip_serializing_if = "Option::is_none")]
    r128_gain_q78: Option<i16>,
    /// Tags written into the file (false with --dry-run or on failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    written: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Report {
    fn from_loudness(l: &Loudness) -> Report {
        Report {
            file: l.file.as_ref().map(|p| p.display().to_string()),
            album: l.album,
            folder: l.folder.as_ref().map(|p| p.display().to_string()),
            loudness_lufs: l.loudness_lufs,
            loudness_range_lu: l.loudness_range_lu,
            gain_db: l.gain_db,
            peak: l.peak,
            sample_peak: l.sample_peak,
            true_peak: l.true_peak,
            r128_gain_q78: l.r128_gain_q78,
            written: l.written,
            note: l.note.clone(),
            error: None,
        }
    }

    /// A file that failed before it was measured.
    fn failed(input: &std::path::Path, error: &str) -> Report {
        Report {
            file: Some(input.display().to_string()),
            album: false,
            folder: None,
            loudness_lufs: None,
            loudness_range_lu: None,
            gain_db: None,
            peak: 0.0,
            sample_peak: 0.0,
            true_peak: None,
            r128_gain_q78: None,
            written: Some(false),
            note: None,
            error: Some(error.to_string()),
        }
    }
}

/// The job's events gathered into reports, by item, then the albums.
#[derive(Default)]
struct Results {
    files: BTreeMap<usize, Report>,
    albums: Vec<Report>,
    summary: Option<Summary>,
}

impl Results {
    fn event(&mut self, e: Event) {
        match e {
            Event::Loudness(l) => match l.index {
                Some(i) if !l.album => {
                    self.files.insert(i, Report::from_loudness(&l));
                }
                _ => self.albums.push(Report::from_loudness(&l)),
            },
            // After its measurement (the tags could not be written), or
            // before it (the file could not be read).
            Event::FileFailed {
                index,
                input,
                error,
            } => match self.files.get_mut(&index) {
                Some(r) => {
                    r.written = Some(false);
                    r.error = Some(error);
                }
                None => {
                    self.files.insert(index, Report::failed(&input, &error));
                }
            },
            Event::Summary(s) => self.summary = Some(s),
            _ => {}
        }
    }

    /// Prints the table or the JSON lines, and the failures on stderr.
    fn print(&self, json: bool, true_peak: bool) -> anyhow::Result<()> {
        if json {
            for r in self.files.values().chain(&self.albums) {
                println!("{}", serde_json::to_string(r)?);
            }
        } else {
            print_table(self.files.values(), &self.albums, true_peak);
        }
        for r in self.files.values() {
            if let (Some(file), Some(e)) = (&r.file, &r.error) {
                eprintln!("aj: {file}: {e}");
            }
        }
        Ok(())
    }

    fn any_written(&self) -> bool {
        self.files.values().any(|r| r.written == Some(true))
    }
}

pub fn run(args: GainArgs) -> anyhow::Result<Outcome> {
    let spec = GainSpec {
        files: args.files.clone(),
        album: args.album,
        true_peak: args.true_peak,
        dry_run: args.dry_run,
    };
    if args.remote.server.is_some() {
        return run_remote(&args.remote, spec, args.json);
    }
    let cancel = CancelToken::new();
    install_interrupt_handler(&cancel);
    let results = Mutex::new(Results::default());
    let summary = aj_jobs::run(&JobSpec::Gain(spec), &cancel, &|e| {
        results.lock().unwrap_or_else(|p| p.into_inner()).event(e);
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    if summary.cancelled {
        if results.any_written() {
            eprintln!("aj: interrupted; the files listed as written were changed, no other");
        } else {
            eprintln!("aj: interrupted; no file was changed");
        }
        return Ok(Outcome::Failed);
    }
    results.print(args.json, args.true_peak)?;
    Ok(if summary.success() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// `--server`: the job runs on the daemon; its events are gathered as a
/// local run gathers them and printed the same way. Ctrl-C cancels the job
/// there; a second one stops following.
fn run_remote(remote: &ServerArgs, mut spec: GainSpec, json: bool) -> anyhow::Result<Outcome> {
    spec.files = spec
        .files
        .iter()
        .map(|p| crate::cmd::jobs::absolute(p))
        .collect::<anyhow::Result<Vec<PathBuf>>>()?;
    let true_peak = spec.true_peak;
    let (client, id) = crate::cmd::jobs::submit_cancellable(remote, &JobSpec::Gain(spec), json)?;
    let mut results = Results::default();
    let job = crate::cmd::jobs::follow(&client, id, &mut |raw: Value| {
        // An event this version does not know is left out.
        if let Ok(e) = serde_json::from_value::<Event>(raw) {
            results.event(e);
        }
    })?;
    let state = job["state"].as_str().unwrap_or("?");
    if state == "cancelled" || state == "interrupted" {
        eprintln!("aj: job {id} {state}");
        return Ok(Outcome::Failed);
    }
    results.print(json, true_peak)?;
    if let Some(e) = job["error"].as_str() {
        eprintln!("aj: job {id} {state}: {e}");
    } else if state != "done" {
        eprintln!("aj: job {id} {state}");
    }
    Ok(if state == "done" {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn print_table<'a>(reports: impl Iterator<Item = &'a Report>, albums: &[Report], true_peak: bool) {
    let peak_head = if true_peak { "TRUE PEAK" } else { "PEAK" };
    println!(
        "{:>12}  {:>9}  {:>9}  {:>8}  FILE",
        "LOUDNESS", "GAIN", peak_head, "DBFS"
    );
    let row = |r: &Report, name: &str| {
        if let Some(e) = &r.error {
            println!(
                "{:>12}  {:>9}  {:>9}  {:>8}  {name}: {e}",
                "-", "-", "-", "-"
            );
            return;
        }
        let loud = r
            .loudness_lufs
            .map_or("silent".to_string(), |l| format!("{l:.2} LUFS"));
        let gain = r
            .gain_db
            .map_or("-".to_string(), aj_dsp::loudness::format_gain);
        let dbfs = if r.peak > 0.0 {
            format!("{:+.2}", 20.0 * r.peak.log10())
        } else {
            "-inf".to_string()
        };
        let mut line = format!("{loud:>12}  {gain:>9}  {:>9.6}  {dbfs:>8}  {name}", r.peak);
        if r.loudness_lufs.is_none() && !r.album {
            line.push_str("  (silent or under 0.4 s: no track gain)");
        } else if r.written == Some(false) {
            line.push_str("  (not written)");
        }
        println!("{line}");
    };
    for r in reports {
        row(r, r.file.as_deref().unwrap_or(""));
    }
    for a in albums {
        match &a.folder {
            Some(f) => row(a, &format!("(album) {f}")),
            None => row(a, "(album)"),
        }
    }
}

/// Ctrl-C: stop measuring before any file is changed; a second one quits at
/// once (a file being rewritten is then left as it was: only its temporary
/// copy is removed).
fn install_interrupt_handler(cancel: &CancelToken) {
    let cancel = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            aj_codec::output::remove_all_pending();
            std::process::exit(130);
        }
        eprintln!("aj: interrupted; stopping (press Ctrl-C again to quit at once)");
        cancel.cancel();
    });
}
