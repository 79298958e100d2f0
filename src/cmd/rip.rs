//! `aj rip` and `aj drive offset`: flags → [`RipSpec`] → rip job → progress.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aj_codec::Format;
use aj_core::CancelToken;
use aj_jobs::config::Config;
use aj_jobs::rip::log::{check, LogCheck};
use aj_jobs::rip::report::ar_words;
use aj_jobs::rip::{Gaps, ReleaseChoice, RipContext, RipSpec};
use aj_jobs::Event;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{DriveOffsetArgs, RipArgs};
use crate::cmd::convert::{encoder_options, install_interrupt_handler};
use crate::Outcome;

/// Plain progress lines when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub fn run(args: RipArgs) -> anyhow::Result<Outcome> {
    if let Some(path) = &args.check_log {
        return check_log(path);
    }
    let json = args.json;
    let remote = args.remote.clone();
    let spec = match validate(args) {
        Ok(s) => s,
        Err(msg) => return Ok(Outcome::Usage(msg)),
    };
    if remote.server.is_some() {
        return run_remote(&remote, spec, json);
    }
    let config = match Config::load_default() {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::Usage(e.to_string())),
    };
    let cancel = CancelToken::new();
    install_interrupt_handler(&cancel);
    let interactive = !json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let chooser = |choices: &[ReleaseChoice]| choose_release(choices);
    let ctx = RipContext {
        config,
        choose_release: interactive.then_some(&chooser as _),
        lookup: aj_lookup::Options::default(),
        open_drive: None,
        config_warning: None,
    };
    let reporter = RipReporter::new(json);
    let summary = aj_jobs::rip::run(&spec, &ctx, &cancel, &|e| reporter.event(e));
    reporter.finish();
    Ok(if summary.success() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// `--server`: the same spec, its paths made absolute, run by the daemon
/// (which uses the offsets it remembers, not this machine's).
fn run_remote(
    remote: &crate::cli::ServerArgs,
    mut spec: RipSpec,
    json: bool,
) -> anyhow::Result<Outcome> {
    use crate::cmd::jobs::absolute;
    spec.output_dir = absolute(&spec.output_dir)?;
    if let Some(d) = &spec.drive {
        spec.drive = Some(absolute_image(d)?);
    }
    crate::cmd::jobs::submit_and_follow(remote, &aj_jobs::JobSpec::Rip(spec), json)
}

/// `image:PATH[,options]` with PATH made absolute; other drive names as
/// they are. Options start at the first `,word=`, as the virtual drive
/// reads them.
fn absolute_image(drive: &str) -> anyhow::Result<String> {
    let Some(rest) = drive.strip_prefix("image:") else {
        return Ok(drive.to_string());
    };
    let mut cut = rest.len();
    for (i, _) in rest.match_indices(',') {
        let after = rest.get(i + 1..).unwrap_or("");
        let key = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
        if key > 0 && after.as_bytes().get(key) == Some(&b'=') {
            cut = i;
            break;
        }
    }
    let (path, opts) = rest.split_at(cut);
    let path = crate::cmd::jobs::absolute(std::path::Path::new(path))?;
    Ok(format!("image:{}{opts}", path.display()))
}

fn validate(args: RipArgs) -> Result<RipSpec, String> {
    let format: Format = args.format.parse()?;
    let encoder = encoder_options(format, &args.encoder)?;
    let mode = args
        .mode
        .parse()
        .map_err(|e: aj_cd::rip::ParseModeError| e.to_string())?;
    let gaps: Gaps = args.gaps.parse()?;
    if let Some(d) = &args.drive {
        // The virtual drive's options are checked now: a wrong one is a
        // usage error, not a failed rip.
        aj_cd::transport::DriveSpec::parse(d).map_err(|e| format!("--drive {d}: {e}"))?;
    }
    let tracks = match &args.tracks {
        Some(t) => aj_jobs::rip::parse_track_list(t).map_err(|e| format!("--tracks: {e}"))?,
        None => Vec::new(),
    };
    if args.image && !tracks.is_empty() {
        return Err("--tracks applies to per-track files: an --image holds the whole disc".into());
    }
    let speed_kbs = match &args.speed {
        Some(v) => aj_jobs::rip::parse_speed(v).map_err(|e| format!("--speed: {e}"))?,
        None => None,
    };
    if args.image && args.gaps != "append" {
        return Err("--gaps applies to per-track files; an --image keeps every gap".into());
    }
    if let Some(o) = args.offset {
        if o.abs() > 44_100 {
            return Err(format!(
                "--offset {o} is out of range (drives list -3000 to 3000 samples)"
            ));
        }
    }
    if let Some(c) = args.cache {
        let max = aj_jobs::config::MAX_CACHE_SECTORS;
        if c > max {
            return Err(format!(
                "--cache {c} is out of range (0 to {max} sectors, a whole 100-minute disc)"
            ));
        }
    }
    if let Some(r) = &args.release {
        if !aj_lookup::musicbrainz::is_mbid(r) {
            return Err(format!("--release {r}: not a MusicBrainz release ID"));
        }
    }
    if let Some(name) = &args.name {
        aj_jobs::naming::Template::parse(name).map_err(|e| e.to_string())?;
    }
    let safe_names = match &args.safe_names {
        Some(s) => s.parse()?,
        None => aj_jobs::naming::SafeNames::default(),
    };
    let Some(output_dir) = args.output_dir else {
        return Err("give the output folder with -o DIR".into());
    };
    if output_dir.exists() && !output_dir.is_dir() {
        return Err(format!("{} is not a folder", output_dir.display()));
    }
    Ok(RipSpec {
        drive: args.drive,
        output_dir,
        format,
        encoder,
        mode,
        retries: args.retries,
        offset: args.offset,
        gaps,
        image: args.image,
        deemphasize: args.deemphasize,
        release: args.release,
        resume: args.resume,
        offline: args.offline,
        verify: !args.no_verify,
        speed_kbs,
        name: args.name,
        safe_names,
        tracks,
        use_c2: !args.no_c2,
        replaygain: args.replaygain,
        cache_sectors: args.cache,
    })
}

/// `aj rip --check-log FILE`.
fn check_log(path: &std::path::Path) -> anyhow::Result<Outcome> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    match check(&bytes) {
        LogCheck::Intact => {
            println!(
                "{}: log checksum OK: the text is as it was sealed (the checksum detects accidental edits and truncation; anyone can recompute it, so it does not prove who wrote the log)",
                path.display()
            );
            Ok(Outcome::Ok)
        }
        LogCheck::Modified { expected, actual } => {
            println!(
                "{}: log checksum MISMATCH: the text was changed after it was sealed (sealed {expected}, text now {actual})",
                path.display()
            );
            Ok(Outcome::Failed)
        }
        LogCheck::Unsealed => {
            println!(
                "{}: no log checksum at the end: not an AudioJuggler rip log, or cut short",
                path.display()
            );
            Ok(Outcome::Failed)
        }
    }
}

/// Asks which release to tag with, in a terminal.
fn choose_release(choices: &[ReleaseChoice]) -> Option<usize> {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "This disc belongs to {} releases:", choices.len());
    for (i, c) in choices.iter().enumerate() {
        let _ = writeln!(
            err,
            "  {}) {} - {} ({}, {}) {}",
            i + 1,
            c.artist,
            c.title,
            c.date.as_deref().unwrap_or("no date"),
            c.country.as_deref().unwrap_or("?"),
            c.id
        );
    }
    let _ = write!(err, "Which one? [1] ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let n: usize = line.trim().parse().ok()?;
    (1..=choices.len()).contains(&n).then(|| n - 1)
}

/// Shows a rip's events: JSON lines, a progress bar in a terminal, plain
/// lines otherwise.
pub(crate) struct RipReporter {
    json: bool,
    bar: Option<ProgressBar>,
    last_plain: Mutex<Instant>,
}

impl RipReporter {
    pub(crate) fn new(json: bool) -> RipReporter {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(100);
            b.set_style(
                ProgressStyle::with_template("{prefix:>9} [{bar:30}] {percent:>3}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        RipReporter {
            json,
            bar,
            last_plain: Mutex::new(Instant::now()),
        }
    }

    fn line(&self, s: &str) {
        match &self.bar {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
        }
    }

    pub(crate) fn event(&self, e: Event) {
        if self.json {
            if let Ok(line) = serde_json::to_string(&e) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            return;
        }
        match &e {
            Event::RipStarted(r) => {
                self.line(&format!(
                    "ripping {} - {} from {} ({} tracks, offset {:+}, {} mode, names from {})",
                    r.artist,
                    r.album,
                    r.drive,
                    r.tracks.len(),
                    r.offset,
                    r.mode,
                    r.metadata
                ));
                self.line(&format!("  into {}", r.output_dir.display()));
            }
            Event::TrackStarted { track, file, .. } => {
                if let Some(b) = &self.bar {
                    b.set_prefix(format!("track {track:02}"));
                    b.set_position(0);
                } else {
                    self.line(&format!("track {track:02} → {}", file.display()));
                }
            }
            Event::Progress {
                percent,
                drive: Some(d),
                ..
            } => {
                let msg = format!(
                    "{:.1}× · sector {} · {} re-reads",
                    d.speed, d.sector, d.retries
                );
                if let Some(b) = &self.bar {
                    b.set_position(percent.unwrap_or(0.0) as u64);
                    b.set_message(msg);
                } else {
                    let mut last = self.last_plain.lock().unwrap_or_else(|p| p.into_inner());
                    if last.elapsed() >= PLAIN_PROGRESS_EVERY {
                        *last = Instant::now();
                        eprintln!("        {:>3.0}% {msg}", percent.unwrap_or(0.0));
                    }
                }
            }
            Event::TrackDone(d) => {
                let name = if d.track == 0 {
                    "hidden track".to_string()
                } else {
                    format!("track {:02}", d.track)
                };
                let mut s = format!("{name}: CRC {}", d.crc32);
                if let Some(t) = &d.test_crc32 {
                    if *t == d.crc32 {
                        s.push_str(" (test matches)");
                    } else {
                        s.push_str(&format!(" (TEST CRC {t} DIFFERS: not trusted)"));
                    }
                }
                if d.track != 0 {
                    s.push_str(&format!(", AccurateRip {}", ar_words(&d.accuraterip)));
                }
                if !d.suspicious.is_empty() {
                    let list: Vec<String> = d
                        .suspicious
                        .iter()
                        .map(|r| format!("{}-{}", r.start, r.end))
                        .collect();
                    s.push_str(&format!(", SUSPICIOUS at {}", list.join(", ")));
                }
                self.line(&s);
            }
            Event::Warning { message } => self.line(&format!("note: {message}")),
            Event::FileFailed { input, error, .. } => {
                self.line(&format!("FAILED  {}: {error}", input.display()));
            }
            Event::Summary(s) => {
                if let Some(b) = &self.bar {
                    b.finish_and_clear();
                }
                if let Some(r) = &s.rip {
                    eprintln!(
                        "{} accurate, {} not accurate, {} not verified; CTDB: {}{}",
                        r.accurate,
                        r.inaccurate,
                        r.unverified,
                        serde_json::to_value(r.ctdb)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default()
                            .replace('_', " "),
                        if s.cancelled { " (interrupted)" } else { "" }
                    );
                }
            }
            _ => {}
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// `aj drive offset --find`.
pub fn find_offset(args: DriveOffsetArgs) -> anyhow::Result<Outcome> {
    let mut config = match Config::load_default() {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::Usage(e.to_string())),
    };
    let cancel = CancelToken::new();
    let report = aj_jobs::rip::offset::find(args.drive.drive.as_deref(), &config, &cancel)
        .map_err(|e| anyhow::anyhow!(e))?;
    let best = report.best();
    if args.json {
        let v = serde_json::json!({
            "drive": report.drive,
            "drive_key": report.drive_key,
            "offset": best,
            "tracks_checked": report.tracks_checked,
            "candidates": report.candidates.iter().map(|(o, n)| serde_json::json!({"offset": o, "tracks": n})).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        for (o, n) in report.candidates.iter().take(5) {
            println!(
                "offset {o:+}: {n} of {} tracks match",
                report.tracks_checked
            );
        }
    }
    let Some(offset) = best else {
        eprintln!(
            "aj: no offset found that several tracks agree on ({} tracks checked): try another disc",
            report.tracks_checked
        );
        return Ok(Outcome::Failed);
    };
    if !args.json {
        println!("{}: read offset {offset:+} samples", report.drive_key);
    }
    let save = args.save
        || (!args.json && std::io::stdin().is_terminal() && {
            eprint!("Remember it for {}? [y/N] ", report.drive_key);
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).is_ok()
                && matches!(line.trim(), "y" | "Y" | "yes")
        });
    if save {
        config.set_drive_offset(&report.drive_key, offset);
        config.save()?;
        if !args.json {
            println!("saved in {}", config.path().display());
        }
    }
    Ok(Outcome::Ok)
}
