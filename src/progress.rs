//! Showing job events: progress bars in a terminal, plain lines otherwise,
//! JSON lines with `--json`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aj_jobs::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a long file prints a progress line when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Units of the total bar per file: a file's progress is its fraction of these.
const UNITS: u64 = 1000;

pub struct Reporter {
    mode: Mode,
}

enum Mode {
    Json(Mutex<std::io::Stdout>),
    /// Lines only; for long files a progress line every [`PLAIN_PROGRESS_EVERY`]
    /// (when each file last printed one).
    Plain(Mutex<HashMap<usize, Instant>>),
    Bars(Mutex<Bars>),
}

struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    files: HashMap<usize, (ProgressBar, u64)>,
}

impl Reporter {
    pub fn new(json: bool) -> Self {
        let mode = if json {
            Mode::Json(Mutex::new(std::io::stdout()))
        } else if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let total = multi.add(ProgressBar::new(0));
            total.set_style(
                ProgressStyle::with_template(
                    "{prefix:>8} [{bar:30}] {percent:>3}%  ETA {eta:>4}  {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            total.set_prefix("total");
            total.enable_steady_tick(Duration::from_millis(250));
            Mode::Bars(Mutex::new(Bars {
                multi,
                total,
                files: HashMap::new(),
            }))
        } else {
            Mode::Plain(Mutex::new(HashMap::new()))
        };
        Reporter { mode }
    }

    pub fn event(&self, event: Event) {
        match &self.mode {
            Mode::Json(out) => {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                match serde_json::to_string(&event) {
                    Ok(line) => {
                        let _ = writeln!(out, "{line}");
                        let _ = out.flush();
                    }
                    Err(e) => eprintln!("aj: cannot show an event as JSON: {e}"),
                }
            }
            Mode::Plain(last) => {
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                match &event {
                    Event::FileStarted { index, .. } => {
                        last.insert(*index, Instant::now());
                    }
                    Event::Progress {
                        index,
                        input,
                        percent: Some(p),
                        ..
                    } => {
                        if let Some(t) = last.get_mut(index) {
                            if t.elapsed() >= PLAIN_PROGRESS_EVERY {
                                *t = Instant::now();
                                eprintln!("        {p:>3.0}% {}", name(input));
                            }
                        }
                    }
                    Event::FileDone { index, .. }
                    | Event::FileFailed { index, .. }
                    | Event::FileSkipped { index, .. } => {
                        last.remove(index);
                    }
                    _ => {}
                }
                if let Some(line) = plain_line(&event) {
                    eprintln!("{line}");
                }
            }
            Mode::Bars(bars) => bars.lock().unwrap_or_else(|p| p.into_inner()).event(event),
        }
    }

    pub fn finish(&self) {
        if let Mode::Bars(bars) = &self.mode {
            let bars = bars.lock().unwrap_or_else(|p| p.into_inner());
            bars.total.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }
}

fn name(p: &Path) -> String {
    p.display().to_string()
}

/// The line shown for an event when stderr is not a terminal (and above the
/// bars when it is). Progress is not shown as lines.
fn plain_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::JobStarted { files, threads } => {
            format!(
                "converting {files} file{} with {threads} thread{}",
                plural(*files),
                plural(*threads)
            )
        }
        Event::FileStarted { input, output, .. } => {
            format!("start   {} -> {}", name(input), name(output))
        }
        Event::FileDone {
            output,
            verified,
            deleted_source,
            ..
        } => {
            format!(
                "done    {}{}{}",
                name(output),
                if *verified { " (verified)" } else { "" },
                match deleted_source {
                    Some(src) => format!("; deleted {}", name(src)),
                    None => String::new(),
                }
            )
        }
        Event::FileFailed { input, error, .. } => format!("FAILED  {}: {error}", name(input)),
        Event::FileSkipped { input, reason, .. } => format!("skipped {}: {reason}", name(input)),
        Event::Summary(s) => format!(
            "{} converted, {} failed, {} skipped{}{}",
            s.ok,
            s.failed,
            s.skipped,
            if s.deleted > 0 {
                format!(", {} source{} deleted", s.deleted, plural(s.deleted))
            } else {
                String::new()
            },
            if s.cancelled { " (interrupted)" } else { "" }
        ),
        Event::Warning { message } => format!("note: {message}"),
        Event::Progress { .. }
        | Event::Stage { .. }
        | Event::RipStarted(_)
        | Event::TrackStarted { .. }
        | Event::TrackDone(_)
        | Event::DiscInfo { .. }
        | Event::Loudness(_) => return None,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl Bars {
    fn event(&mut self, event: Event) {
        match &event {
            Event::JobStarted { files, .. } => {
                self.total.set_length(*files as u64 * UNITS);
                self.total.set_message(format!("0/{files} files"));
            }
            Event::FileStarted { index, input, .. } => {
                let bar = self.multi.insert_from_back(0, ProgressBar::new(UNITS));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>8} [{bar:30}] {percent:>3}%  {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix("encode");
                bar.set_message(
                    input
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
                self.files.insert(*index, (bar, 0));
            }
            Event::Progress {
                index,
                percent: Some(p),
                ..
            } => {
                if let Some((bar, done)) = self.files.get_mut(index) {
                    let units = ((p / 100.0) * UNITS as f64) as u64;
                    if units > *done {
                        self.total.inc(units - *done);
                        *done = units;
                        bar.set_position(units);
                    }
                }
            }
            Event::Stage { index, stage, .. } => {
                if let Some((bar, _)) = self.files.get(index) {
                    bar.set_prefix(stage.clone());
                }
            }
            Event::FileDone { index, .. }
            | Event::FileFailed { index, .. }
            | Event::FileSkipped { index, .. } => {
                let done = match self.files.remove(index) {
                    Some((bar, done)) => {
                        bar.finish_and_clear();
                        self.multi.remove(&bar);
                        done
                    }
                    None => 0,
                };
                self.total.inc(UNITS.saturating_sub(done));
                let finished = self.total.position() / UNITS;
                let files = self.total.length().unwrap_or(0) / UNITS;
                self.total.set_message(format!("{finished}/{files} files"));
                if let Some(line) = plain_line(&event) {
                    let _ = self.multi.println(line);
                }
            }
            Event::Summary(_) => {
                if let Some(line) = plain_line(&event) {
                    let _ = self.multi.println(line);
                }
            }
            Event::Progress { .. }
            | Event::RipStarted(_)
            | Event::TrackStarted { .. }
            | Event::TrackDone(_)
            | Event::Warning { .. }
            | Event::DiscInfo { .. }
            | Event::Loudness(_) => {}
        }
    }
}
