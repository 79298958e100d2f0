//! The rip log's text: the drive and how it was read, the disc and where its
//! names came from, each track's checksums and verdict, and the totals — in
//! the order EAC's logs taught people to read them.

use std::fmt::Write;
use std::time::SystemTime;

use aj_cd::disc::Disc;
use aj_cd::id::DiscIds;
use aj_cd::rip::DriveReport;
use serde::{Deserialize, Serialize};

use super::meta::AlbumMeta;
use super::{ArResult, ArStatus, CtdbStatus, RipSpec, RipTotals, TrackDone};

/// One track's part of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogTrack {
    pub done: TrackDone,
    pub pregap_sectors: i32,
    /// Samples filled with zeros because the drive cannot read outside the disc.
    pub zero_filled: u64,
    /// Every range of the track was read with the drive's cache defeated.
    #[serde(default = "yes")]
    pub cache_defeated: bool,
    /// The file's ReplayGain, "-6.20 dB, peak 0.988525" (when asked for).
    #[serde(default)]
    pub replaygain: Option<String>,
}

fn yes() -> bool {
    true
}

/// Everything the log is written from.
pub struct RipLog<'a> {
    pub version: &'a str,
    pub started: SystemTime,
    pub drive: &'a DriveReport,
    pub drive_key: &'a str,
    pub offset_source: &'a str,
    /// The cache size came from the configuration (`aj drive cache --save`).
    pub cache_remembered: bool,
    /// The album's ReplayGain, when it was measured.
    pub album_gain: Option<&'a aj_dsp::loudness::ReplayGain>,
    pub spec: &'a RipSpec,
    pub disc: &'a Disc,
    pub ids: Option<&'a DiscIds>,
    pub meta: &'a AlbumMeta,
    pub files: &'a [String],
    pub tracks: Vec<&'a LogTrack>,
    pub totals: RipTotals,
    /// CTDB: our whole-disc CRC and the submissions for this TOC.
    pub ctdb: Option<(u32, u32)>,
    pub service_notes: &'a [String],
    pub errors: Vec<String>,
    pub interrupted: bool,
    pub htoa_silent: bool,
    /// Tracks whose pre-emphasis was undone.
    pub deemphasized: Vec<u8>,
    /// `--tracks` (empty: every track).
    pub selected: Vec<u8>,
}

/// "accurate (confidence 5 of 7, v2)" and its kin. Only a clean match
/// starts with "accurate".
pub fn ar_words(r: &ArResult) -> String {
    let of = |n: u32| {
        if r.total > 0 {
            format!("{n} of {}", r.total)
        } else {
            n.to_string()
        }
    };
    match r.status {
        ArStatus::Match => format!(
            "accurate (confidence {}, v{})",
            of(r.confidence),
            r.version.unwrap_or(1)
        ),
        ArStatus::MatchWithErrors => format!(
            "NOT VERIFIED: the checksum is in the database (confidence {}, v{}) but the read had errors",
            of(r.confidence),
            r.version.unwrap_or(1)
        ),
        ArStatus::Mismatch if r.total > 0 => format!(
            "not accurate (the database's {} submissions have other checksums)",
            r.total
        ),
        ArStatus::Mismatch => "not accurate (the database has other checksums)".into(),
        ArStatus::NotFound => "not in the database".into(),
        ArStatus::Offline => "not checked (offline)".into(),
        ArStatus::NotApplicable => {
            "not applicable (AccurateRip does not cover hidden track one audio)".into()
        }
    }
}

/// The log's cache line: the size assumed and whether it was defeated.
fn cache_words(l: &RipLog<'_>) -> String {
    let short: Vec<String> = l
        .tracks
        .iter()
        .filter(|t| !t.cache_defeated)
        .map(|t| {
            if t.done.track == 0 {
                "the hidden track".to_string()
            } else {
                t.done.track.to_string()
            }
        })
        .collect();
    use aj_cd::rip::CacheSource;
    let measured = l
        .drive
        .cache_measurement
        .as_ref()
        .map(|m| format!(" [measurement: {}]", m.summary()))
        .unwrap_or_default();
    let size = match (l.drive.cache_sectors, l.drive.cache_source) {
        (0, CacheSource::Reported) => format!("the drive reports no cache{measured}"),
        (0, CacheSource::Overridden) if l.cache_remembered => {
            "none (remembered for this drive)".to_string()
        }
        (n, CacheSource::Overridden) if l.cache_remembered => {
            format!("{n} sectors (remembered for this drive)")
        }
        (0, CacheSource::Overridden) => "none (given)".to_string(),
        (0, CacheSource::Measured) => format!("none found by measuring{measured}"),
        (n, CacheSource::Overridden) => format!("{n} sectors (given)"),
        (n, CacheSource::Reported) => format!("{n} sectors (as the drive reports){measured}"),
        (n, CacheSource::Measured) => format!(
            "{n} sectors (measured; the drive reports {}){measured}",
            l.drive.cache_reported
        ),
        (n, CacheSource::Assumed) => {
            format!("{n} sectors (assumed: the measurement could not decide){measured}")
        }
    };
    let how = if !short.is_empty() {
        format!(
            "could not be defeated for track{} {} (the disc is too short beside the cache)",
            if short.len() == 1 { "" } else { "s" },
            short.join(", ")
        )
    } else if l.drive.cache_sectors == 0 {
        "reads elsewhere between passes all the same".to_string()
    } else {
        "defeated by reading elsewhere between passes".to_string()
    };
    if l.spec.mode == aj_cd::rip::Mode::Burst {
        format!("{size}; burst mode reads each sector once")
    } else {
        format!("{size}; {how}")
    }
}

fn msf(sectors: i32) -> String {
    let s = sectors.max(0);
    format!("{:02}:{:02}.{:02}", s / 4500, s / 75 % 60, s % 75)
}

/// UTC date and time of `t`, `YYYY-MM-DD HH:MM:SS`.
fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The log's text (without its seal).
pub fn render(l: &RipLog<'_>) -> String {
    let mut s = String::new();
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(s, "AudioJuggler {} rip log, {}", l.version, utc(l.started));
    let _ = writeln!(s);
    let _ = writeln!(s, "{} - {}", l.meta.artist, l.meta.album);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Drive                   {} ({})",
        l.drive.name, l.drive_key
    );
    let _ = writeln!(s, "Read mode               {}", l.spec.mode);
    let _ = writeln!(s, "Retries                 {}", l.spec.retries);
    let _ = writeln!(
        s,
        "Read offset             {:+} samples ({})",
        l.drive.offset, l.offset_source
    );
    let _ = writeln!(
        s,
        "Overread lead-in/out    {}/{}",
        yes_no(l.drive.overread_lead_in),
        yes_no(l.drive.overread_lead_out)
    );
    let _ = writeln!(
        s,
        "C2 error pointers       {}",
        if l.drive.c2_used {
            "used"
        } else if l.drive.c2_available {
            "available, not used"
        } else {
            "not available"
        }
    );
    let _ = writeln!(s, "Cache                   {}", cache_words(l));
    let _ = writeln!(
        s,
        "Read speed              {}",
        match (l.spec.speed_kbs, l.drive.speed_kbs) {
            (None, _) => "the drive's own".to_string(),
            (Some(_), Some(k)) => format!("{k} kB/s ({:.0}x)", f64::from(k) / super::SPEED_1X_KBS),
            (Some(k), None) => format!("{k} kB/s asked; the drive refused SET CD SPEED"),
        }
    );
    let _ = writeln!(
        s,
        "Accurate stream         {}",
        yes_no(l.drive.accurate_stream)
    );
    let _ = writeln!(s);
    let e = &l.spec.encoder;
    let settings = match l.spec.format {
        aj_codec::Format::Flac => format!("level {}", e.level.unwrap_or(5)),
        aj_codec::Format::Mp3 => match (e.bitrate, e.abr, e.quality) {
            (Some(b), true, _) => format!("ABR {b} kb/s"),
            (Some(b), false, _) => format!("CBR {b} kb/s"),
            (None, _, q) => format!("VBR V{}", q.unwrap_or(2.0)),
        },
        aj_codec::Format::Ogg => match e.bitrate {
            Some(b) => format!("{b} kb/s"),
            None => format!("quality {}", e.quality.unwrap_or(5.0)),
        },
        aj_codec::Format::Opus => format!("{} kb/s", e.bitrate.unwrap_or(128)),
        _ => "16-bit PCM".into(),
    };
    let _ = writeln!(
        s,
        "Output                  {} ({settings}), gaps {}, {}",
        l.spec.format,
        match l.spec.gaps {
            super::Gaps::Append => "appended to the previous track",
            super::Gaps::Prepend => "prepended to their track",
            super::Gaps::Discard => "left out",
        },
        if l.spec.image {
            "one image file"
        } else {
            "one file per track"
        }
    );
    if l.spec.deemphasize {
        let list: Vec<String> = l.deemphasized.iter().map(u8::to_string).collect();
        let _ = writeln!(
            s,
            "De-emphasis             {}",
            if list.is_empty() {
                "asked for; no track was de-emphasised".to_string()
            } else {
                format!(
                    "removed from track{} {} (the cue sheet no longer flags them PRE)",
                    if list.len() == 1 { "" } else { "s" },
                    list.join(", ")
                )
            }
        );
    }
    if l.spec.replaygain {
        let _ = writeln!(
            s,
            "ReplayGain              {}",
            match l.album_gain {
                Some(g) => format!("album {}, peak {}", g.gain_text(), g.peak_text()),
                None => "track values only (the album is measured when every track is ripped in one run)".to_string(),
            }
        );
    }
    if !l.selected.is_empty() {
        let list: Vec<String> = l.selected.iter().map(u8::to_string).collect();
        let _ = writeln!(s, "Tracks asked for        {}", list.join(", "));
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Metadata                {}", l.meta.source);
    for r in &l.meta.releases {
        let _ = writeln!(
            s,
            "  {} {} - {} ({}, {}){}",
            r.id,
            r.artist,
            r.title,
            r.date.as_deref().unwrap_or("no date"),
            r.country.as_deref().unwrap_or("no country"),
            if r.chosen { "  [chosen]" } else { "" }
        );
    }
    if let Some(ids) = l.ids {
        let _ = writeln!(s, "MusicBrainz disc ID     {}", ids.musicbrainz);
        let _ = writeln!(s, "AccurateRip disc ID     {}", super::ar_disc_id(ids));
        let _ = writeln!(s, "CTDB TOC ID             {}", ids.ctdb);
        let _ = writeln!(s, "CDDB disc ID            {}", ids.cddb);
    }
    if let Some(mcn) = &l.disc.mcn {
        let _ = writeln!(s, "MCN                     {mcn}");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "TOC");
    let _ = writeln!(
        s,
        "  Track |   Start  |  Length  | Start sector | End sector | Pregap"
    );
    for (i, t) in l.disc.tracks.iter().enumerate() {
        let end = l
            .disc
            .tracks
            .get(i + 1)
            .map_or(l.disc.leadout, |n| n.first_address());
        let len = end.0 - t.start.0;
        let _ = writeln!(
            s,
            "  {:>5} | {} | {} | {:>12} | {:>10} | {}{}",
            t.number,
            msf(t.start.0),
            msf(len),
            t.start.0,
            end.0 - 1,
            msf(t.pregap_sectors()),
            if t.is_audio() { "" } else { "  (data)" }
        );
    }
    if l.htoa_silent {
        let _ = writeln!(s, "  Hidden track one audio is silent: not kept.");
    }
    let _ = writeln!(s);
    for t in &l.tracks {
        let d = &t.done;
        if d.track == 0 {
            let _ = writeln!(s, "Hidden track one audio");
        } else {
            let _ = writeln!(s, "Track {:2}", d.track);
        }
        if let Some(f) = &d.file {
            let name = f.file_name().map_or_else(
                || f.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let _ = writeln!(s, "  Filename              {name}");
        }
        if t.pregap_sectors > 0 {
            let _ = writeln!(s, "  Pregap length         {}", msf(t.pregap_sectors));
        }
        let _ = writeln!(s, "  Peak level            {:.1} %", d.peak);
        if let Some(tc) = &d.test_crc32 {
            let _ = writeln!(s, "  Test CRC              {tc}");
        }
        let _ = writeln!(
            s,
            "  Copy CRC              {}{}",
            d.crc32,
            match &d.test_crc32 {
                Some(tc) if *tc == d.crc32 => "  (test and copy match)",
                Some(_) => "  (TEST AND COPY DIFFER)",
                None => "",
            }
        );
        let _ = writeln!(s, "  Re-reads              {}", d.rereads);
        if let Some(g) = &t.replaygain {
            let _ = writeln!(s, "  ReplayGain            {g}");
        }
        if t.zero_filled > 0 {
            let _ = writeln!(
                s,
                "  Zero-filled           {} samples outside the disc the drive cannot read",
                t.zero_filled
            );
        }
        if let (Some(v1), Some(v2)) = (&d.ar_v1, &d.ar_v2) {
            let _ = writeln!(
                s,
                "  AccurateRip v1/v2     {v1} / {v2}: {}",
                ar_words(&d.accuraterip)
            );
        }
        if !t.cache_defeated {
            let _ = writeln!(
                s,
                "  Cache                 not defeated: matching reads may have come from the cache"
            );
        }
        if !d.suspicious.is_empty() {
            let _ = writeln!(s, "  Suspicious positions");
            for r in &d.suspicious {
                let _ = writeln!(s, "    {} - {}", r.start, r.end);
            }
        }
        if d.test_differs() {
            let _ = writeln!(
                s,
                "  Warning: test and copy CRCs differ: the copy is not trusted"
            );
        }
        if d.has_errors() {
            let _ = writeln!(s, "  Copy finished with errors");
        } else {
            let _ = writeln!(s, "  Copy OK");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "AccurateRip summary");
    let t = &l.totals;
    let _ = writeln!(
        s,
        "  {} accurate, {} not accurate, {} not verified",
        t.accurate, t.inaccurate, t.unverified
    );
    let _ = writeln!(
        s,
        "CTDB                    {}",
        match (t.ctdb, l.ctdb) {
            (CtdbStatus::Match, Some((crc, total))) => format!(
                "accurate (confidence {} of {total}), disc CRC {crc:08X}",
                t.ctdb_confidence
            ),
            (CtdbStatus::Mismatch, Some((crc, total))) =>
                format!("not accurate: disc CRC {crc:08X} is not among the {total} submissions"),
            (CtdbStatus::NotFound, Some((crc, _))) => {
                format!("disc not in the database (disc CRC {crc:08X})")
            }
            (CtdbStatus::NotFound, None) => "disc not in the database".into(),
            (CtdbStatus::Offline, _) => "not checked (offline)".into(),
            (CtdbStatus::NotChecked, _) | (_, None) => {
                "not checked: the whole disc was not read in one run".into()
            }
        }
    );
    if !l.service_notes.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Online services");
        for n in l.service_notes {
            let _ = writeln!(s, "  {n}");
        }
    }
    let _ = writeln!(s);
    if !l.errors.is_empty() {
        let _ = writeln!(s, "Errors");
        for e in &l.errors {
            let _ = writeln!(s, "  {e}");
        }
        let _ = writeln!(s);
    }
    let files = l.files.len();
    let written = l.tracks.iter().filter(|t| t.done.file.is_some()).count();
    let clean = l.tracks.iter().all(|t| !t.done.has_errors());
    let _ = writeln!(
        s,
        "{}",
        if l.interrupted {
            format!("Rip interrupted: {written} of {files} files finished")
        } else if !clean {
            "Some tracks were read with errors (suspicious positions, or test and copy differ): the rip is not accurate".into()
        } else if t.accurate > 0 && t.inaccurate == 0 && t.unverified == 0 {
            "All tracks accurately ripped".into()
        } else {
            "No errors occurred".into()
        }
    );
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(utc(t), "2026-11-18 11:06:40 UTC");
        assert_eq!(utc(SystemTime::UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn ar_words_say_the_verdict() {
        let r = ArResult {
            status: ArStatus::Match,
            confidence: 7,
            version: Some(2),
            total: 9,
        };
        assert_eq!(ar_words(&r), "accurate (confidence 7 of 9, v2)");
        let suspect = ArResult {
            status: ArStatus::MatchWithErrors,
            ..r
        };
        assert!(!ar_words(&suspect).to_lowercase().contains("accurate"));
        for status in [
            ArStatus::Mismatch,
            ArStatus::NotFound,
            ArStatus::Offline,
            ArStatus::NotApplicable,
            ArStatus::MatchWithErrors,
        ] {
            assert!(
                !ar_words(&ArResult { status, ..r }).starts_with("accurate"),
                "{status:?}"
            );
        }
    }
}
