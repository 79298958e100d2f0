//! `aj gain`: loudness of files (EBU R128) and ReplayGain 2.0 tags in them.

use std::path::{Path, PathBuf};

use aj_codec::decode::MediaInfo;
use aj_core::CancelToken;
use aj_dsp::loudness::{Measurement, PeakMode, ReplayGain};
use aj_jobs::replaygain::{self, Album};

use crate::cli::GainArgs;
use crate::Outcome;

/// What `aj gain` found for one file (or the album), as `--json` prints it.
#[derive(Debug, serde::Serialize)]
struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    album: bool,
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

/// A file measured.
struct Measured {
    path: PathBuf,
    info: MediaInfo,
    measurement: Measurement,
}

pub fn run(args: GainArgs) -> anyhow::Result<Outcome> {
    let cancel = CancelToken::new();
    install_interrupt_handler(&cancel);
    let peaks = if args.true_peak {
        PeakMode::True
    } else {
        PeakMode::Sample
    };
    let mut failed = false;
    let mut measured: Vec<Measured> = Vec::new();
    let mut reports: Vec<(usize, Report)> = Vec::new();
    for (i, path) in args.files.iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        match replaygain::measure_file(path, peaks, &cancel) {
            Ok((measurement, info)) => measured.push(Measured {
                path: path.clone(),
                info,
                measurement,
            }),
            Err(_) if cancel.is_cancelled() => break,
            Err(e) => {
                failed = true;
                reports.push((i, error_report(path, &e.to_string())));
            }
        }
    }
    if cancel.is_cancelled() {
        eprintln!("aj: interrupted; no file was changed");
        return Ok(Outcome::Failed);
    }

    let album_measurement = args.album.then(|| {
        let mut all = Measurement::new();
        for m in &measured {
            all.merge(&m.measurement);
        }
        all
    });
    let album_gain = album_measurement
        .as_ref()
        .and_then(|m| ReplayGain::from_measurement(m, args.true_peak));

    for m in &measured {
        let index = args
            .files
            .iter()
            .position(|p| p == &m.path)
            .unwrap_or(usize::MAX);
        let track = ReplayGain::from_measurement(&m.measurement, args.true_peak);
        let format = replaygain::tag_format(&m.info);
        let mut report = report_for(
            Some(&m.path),
            &m.measurement,
            track.as_ref(),
            args.true_peak,
        );
        if format == Some(aj_codec::Format::Opus) {
            report.r128_gain_q78 = track.as_ref().map(ReplayGain::r128_q78);
        }
        if track.is_none() {
            report.note = Some(
                "no loudness to measure (silent, or shorter than 0.4 s); track tags not written"
                    .into(),
            );
        }
        if args.dry_run {
            report.written = Some(false);
        } else {
            let album = match (args.album, album_gain.as_ref()) {
                (false, _) => Album::Keep,
                (true, Some(a)) => Album::Set(a),
                (true, None) => Album::Remove,
            };
            match write_tags(&m.path, &m.info, format, track.as_ref(), album) {
                Ok(written) => report.written = Some(written),
                Err(e) => {
                    failed = true;
                    report.written = Some(false);
                    report.error = Some(e);
                }
            }
        }
        reports.push((index, report));
    }
    reports.sort_by_key(|(i, _)| *i);

    let album_report = album_measurement.as_ref().map(|m| {
        let mut r = report_for(None, m, album_gain.as_ref(), args.true_peak);
        r.album = true;
        r
    });
    if args.json {
        for (_, r) in &reports {
            println!("{}", serde_json::to_string(r)?);
        }
        if let Some(r) = &album_report {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        print_table(&reports, album_report.as_ref(), args.true_peak);
    }
    for (_, r) in &reports {
        if let (Some(file), Some(e)) = (&r.file, &r.error) {
            eprintln!("aj: {file}: {e}");
        }
    }
    Ok(if failed { Outcome::Failed } else { Outcome::Ok })
}

fn write_tags(
    path: &Path,
    info: &MediaInfo,
    format: Option<aj_codec::Format>,
    track: Option<&ReplayGain>,
    album: Album<'_>,
) -> Result<bool, String> {
    let Some(format) = format else {
        return Err(format!(
            "cannot write tags into {} ({}) files",
            info.container, info.codec
        ));
    };
    if track.is_none() && album == Album::Keep {
        return Ok(false);
    }
    replaygain::retag(path, format, |t| {
        if track.is_some() {
            replaygain::set_track_tags(t, format, track);
        }
        replaygain::set_album_tags(t, format, album);
    })
    .map(|()| true)
    .map_err(|e| format!("writing the tags: {e}"))
}

fn report_for(
    path: Option<&Path>,
    m: &Measurement,
    gain: Option<&ReplayGain>,
    true_peak: bool,
) -> Report {
    let peak = if true_peak {
        m.true_peak().unwrap_or(m.sample_peak())
    } else {
        m.sample_peak()
    };
    Report {
        file: path.map(|p| p.display().to_string()),
        album: false,
        loudness_lufs: m.integrated().map(round2),
        loudness_range_lu: m.loudness_range().map(round2),
        gain_db: gain.map(|g| round2(g.gain_db)),
        peak: round6(peak),
        sample_peak: round6(m.sample_peak()),
        true_peak: m.true_peak().map(round6),
        r128_gain_q78: None,
        written: None,
        note: None,
        error: None,
    }
}

fn error_report(path: &Path, error: &str) -> Report {
    Report {
        file: Some(path.display().to_string()),
        album: false,
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

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn print_table(reports: &[(usize, Report)], album: Option<&Report>, true_peak: bool) {
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
    for (_, r) in reports {
        row(r, r.file.as_deref().unwrap_or(""));
    }
    if let Some(a) = album {
        row(a, "(album)");
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
