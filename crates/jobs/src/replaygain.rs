//! ReplayGain 2.0 in files: measuring a file, the tags that carry the
//! values, and rewriting a finished file's tags safely.
//!
//! Which tags, by format:
//!
//! | format | track | album |
//! |---|---|---|
//! | FLAC, Ogg Vorbis, MP3 (ID3 `TXXX`), WAV, AIFF | `REPLAYGAIN_TRACK_GAIN` "-6.20 dB", `REPLAYGAIN_TRACK_PEAK` "0.988525" | `REPLAYGAIN_ALBUM_GAIN`, `REPLAYGAIN_ALBUM_PEAK` |
//! | Opus | `R128_TRACK_GAIN` (Q7.8 dB to −23 LUFS, RFC 7845 §5.2.1) | `R128_ALBUM_GAIN` |
//!
//! Opus files get no `REPLAYGAIN_*` (RFC 7845 §5.2.1 says they must not be
//! used there; any are dropped) and other formats no `R128_*`.
//!
//! A rewrite ([`retag`]) never changes the audio bytes and never leaves a
//! half-written file: the file is copied beside itself, the copy's tags are
//! rewritten, the copy is flushed to disk and renamed over the original.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aj_codec::decode::MediaInfo;
use aj_codec::output::PendingOutput;
use aj_codec::tags::{self, TagKey, Tags};
use aj_codec::{Error, Format};
use aj_dsp::loudness::{Measurement, ReplayGain};

/// The Opus track gain key (RFC 7845 §5.2.1).
pub const R128_TRACK_GAIN: &str = "R128_TRACK_GAIN";
/// The Opus album gain key (RFC 7845 §5.2.1).
pub const R128_ALBUM_GAIN: &str = "R128_ALBUM_GAIN";

const REPLAYGAIN_KEYS: [TagKey; 4] = [
    TagKey::ReplayGainTrackGain,
    TagKey::ReplayGainTrackPeak,
    TagKey::ReplayGainAlbumGain,
    TagKey::ReplayGainAlbumPeak,
];

/// The format whose tag writer fits a decoded file, from what the decoder
/// found (never from the file name); `None` for containers the tag writer
/// does not handle (MP4, CAF, Matroska, FLAC in Ogg…).
pub fn tag_format(info: &MediaInfo) -> Option<Format> {
    match (info.container.as_str(), info.codec.as_str()) {
        ("WAVE" | "RF64" | "BW64", _) => Some(Format::Wav),
        ("AIFF" | "AIFF-C", _) => Some(Format::Aiff),
        ("FLAC", _) => Some(Format::Flac),
        ("MP3", "MP3") => Some(Format::Mp3),
        ("Ogg", "Vorbis") => Some(Format::Ogg),
        ("Ogg", "Opus") => Some(Format::Opus),
        _ => None,
    }
}

/// What to do with the album keys in [`set_gain_tags`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Album<'a> {
    /// Leave whatever album values the tags hold.
    Keep,
    /// Write these.
    Set(&'a ReplayGain),
    /// Remove them (the album had no measurable loudness).
    Remove,
}

/// Puts track values (or, with `None`, removes stale track values) and the
/// album values into `tags`, in the keys `format` uses (see the module docs).
pub fn set_gain_tags(
    tags: &mut Tags,
    format: Format,
    track: Option<&ReplayGain>,
    album: Album<'_>,
) {
    set_track_tags(tags, format, track);
    set_album_tags(tags, format, album);
}

/// The track half of [`set_gain_tags`]; also drops the keys `format` must
/// not carry.
pub fn set_track_tags(tags: &mut Tags, format: Format, track: Option<&ReplayGain>) {
    drop_foreign_keys(tags, format);
    let (gain, peak) = track_keys(format);
    match track {
        Some(t) if format == Format::Opus => tags.set(gain, t.r128_q78().to_string()),
        Some(t) => {
            tags.set(gain, t.gain_text());
            if let Some(peak) = peak {
                tags.set(peak, t.peak_text());
            }
        }
        None => {
            tags.remove(&gain);
            if let Some(peak) = peak {
                tags.remove(&peak);
            }
        }
    }
}

/// The album half of [`set_gain_tags`]; also drops the keys `format` must
/// not carry.
pub fn set_album_tags(tags: &mut Tags, format: Format, album: Album<'_>) {
    drop_foreign_keys(tags, format);
    let (gain, peak) = album_keys(format);
    match album {
        Album::Keep => {}
        Album::Set(a) if format == Format::Opus => tags.set(gain, a.r128_q78().to_string()),
        Album::Set(a) => {
            tags.set(gain, a.gain_text());
            if let Some(peak) = peak {
                tags.set(peak, a.peak_text());
            }
        }
        Album::Remove => {
            tags.remove(&gain);
            if let Some(peak) = peak {
                tags.remove(&peak);
            }
        }
    }
}

fn track_keys(format: Format) -> (TagKey, Option<TagKey>) {
    if format == Format::Opus {
        (TagKey::Other(R128_TRACK_GAIN.into()), None)
    } else {
        (
            TagKey::ReplayGainTrackGain,
            Some(TagKey::ReplayGainTrackPeak),
        )
    }
}

fn album_keys(format: Format) -> (TagKey, Option<TagKey>) {
    if format == Format::Opus {
        (TagKey::Other(R128_ALBUM_GAIN.into()), None)
    } else {
        (
            TagKey::ReplayGainAlbumGain,
            Some(TagKey::ReplayGainAlbumPeak),
        )
    }
}

/// Opus carries no `REPLAYGAIN_*` (RFC 7845 §5.2.1); other formats no `R128_*`.
fn drop_foreign_keys(tags: &mut Tags, format: Format) {
    if format == Format::Opus {
        for k in &REPLAYGAIN_KEYS {
            tags.remove(k);
        }
    } else {
        tags.remove(&TagKey::Other(R128_TRACK_GAIN.into()));
        tags.remove(&TagKey::Other(R128_ALBUM_GAIN.into()));
    }
}

/// Rewrites the tags of the finished file `path` (of `format`): reads them,
/// lets `edit` change them, and writes them into a copy that replaces the
/// file only once complete and flushed. The audio bytes are copied as they
/// are; the file's permissions are kept.
///
/// # Errors
/// I/O (no room for the copy, a read-only folder), or tags that cannot be
/// written into this file; the original is then left as it was.
pub fn retag(path: &Path, format: Format, edit: impl FnOnce(&mut Tags)) -> Result<(), Error> {
    let mut t = tags::read(path)?;
    edit(&mut t);
    let meta = std::fs::metadata(path)?;
    let pending = PendingOutput::create(path, true)?;
    {
        let mut src = File::open(path)?;
        let mut dst = pending.file()?;
        std::io::copy(&mut src, &mut dst)?;
        dst.set_permissions(meta.permissions())?;
    }
    tags::write(pending.temp_path(), format, &t)?;
    pending.commit()
}

/// One output folder's album while its files are being converted.
#[derive(Debug, Default)]
struct Folder {
    /// Items planned into this folder that have not ended yet.
    remaining: usize,
    /// The outputs written, with their item index and input.
    done: Vec<(usize, PathBuf, PathBuf)>,
    measurement: Measurement,
}

/// A file whose album tags could not be written.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbumFailure {
    pub index: usize,
    pub input: PathBuf,
    pub output: PathBuf,
    pub error: String,
}

/// Album gain per output folder during a convert job: the album is the
/// files converted into one folder in this run. When the last item planned
/// into a folder ends, the album values go into every output of the folder
/// that was written (a tag rewrite of the finished files, see [`retag`]).
#[derive(Debug, Default)]
pub struct AlbumGains {
    format: Option<Format>,
    folders: Mutex<HashMap<PathBuf, Folder>>,
}

impl AlbumGains {
    /// No album tracking (ReplayGain not asked for).
    pub fn disabled() -> Self {
        AlbumGains::default()
    }

    /// Album tracking for the outputs of `outputs` (one per item planned to
    /// be converted), written in `format`.
    pub fn new<'a>(format: Format, outputs: impl IntoIterator<Item = &'a Path>) -> Self {
        let mut folders: HashMap<PathBuf, Folder> = HashMap::new();
        for o in outputs {
            folders.entry(folder_of(o)).or_default().remaining += 1;
        }
        AlbumGains {
            format: Some(format),
            folders: Mutex::new(folders),
        }
    }

    /// True when album values are being gathered.
    pub fn enabled(&self) -> bool {
        self.format.is_some()
    }

    /// Records that the item converting into `output` ended, with its
    /// measurement when it was written. When it was the folder's last, the
    /// album values are written into the folder's outputs and the files
    /// whose tags could not be written are returned.
    pub fn item_ended(
        &self,
        index: usize,
        input: &Path,
        output: &Path,
        written: Option<&Measurement>,
    ) -> Vec<AlbumFailure> {
        let Some(format) = self.format else {
            return Vec::new();
        };
        let key = folder_of(output);
        let finished = {
            let mut folders = self.folders.lock().unwrap_or_else(|p| p.into_inner());
            let Some(folder) = folders.get_mut(&key) else {
                return Vec::new();
            };
            if let Some(m) = written {
                folder.measurement.merge(m);
                folder
                    .done
                    .push((index, input.to_path_buf(), output.to_path_buf()));
            }
            folder.remaining = folder.remaining.saturating_sub(1);
            if folder.remaining > 0 {
                return Vec::new();
            }
            folders.remove(&key)
        };
        let Some(folder) = finished else {
            return Vec::new();
        };
        let album = ReplayGain::from_measurement(&folder.measurement, false);
        let mut failures = Vec::new();
        for (index, input, output) in folder.done {
            let what = match &album {
                Some(a) => Album::Set(a),
                None => Album::Remove,
            };
            // Track values are already in the file; only the album's change.
            let r = retag(&output, format, |t| set_album_tags(t, format, what));
            if let Err(e) = r {
                failures.push(AlbumFailure {
                    index,
                    input,
                    output,
                    error: e.to_string(),
                });
            }
        }
        failures
    }
}

/// The folder an output goes into, as one key whatever the spelling.
fn folder_of(output: &Path) -> PathBuf {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&dir).unwrap_or(dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rg(gain_db: f64, peak: f64) -> ReplayGain {
        ReplayGain {
            gain_db,
            peak,
            loudness: -18.0 - gain_db,
        }
    }

    #[test]
    fn keys_by_format() {
        let mut t = Tags::new();
        t.push(TagKey::ReplayGainTrackGain, "+1.00 dB");
        t.push(TagKey::Other(R128_TRACK_GAIN.into()), "5");
        let mut flac = t.clone();
        set_gain_tags(
            &mut flac,
            Format::Flac,
            Some(&rg(-6.2, 0.988_525)),
            Album::Keep,
        );
        assert_eq!(flac.get(&TagKey::ReplayGainTrackGain), Some("-6.20 dB"));
        assert_eq!(flac.get(&TagKey::ReplayGainTrackPeak), Some("0.988525"));
        assert_eq!(flac.get(&TagKey::Other(R128_TRACK_GAIN.into())), None);
        assert_eq!(flac.get(&TagKey::ReplayGainAlbumGain), None);

        let mut opus = t.clone();
        set_gain_tags(
            &mut opus,
            Format::Opus,
            Some(&rg(-6.2, 0.9)),
            Album::Set(&rg(-5.0, 1.0)),
        );
        assert_eq!(opus.get(&TagKey::ReplayGainTrackGain), None);
        // Loudness −11.8 LUFS: 256 · (−23 + 11.8) = −2867.2.
        assert_eq!(
            opus.get(&TagKey::Other(R128_TRACK_GAIN.into())),
            Some("-2867")
        );
        assert_eq!(
            opus.get(&TagKey::Other(R128_ALBUM_GAIN.into())),
            Some("-2560")
        );
        // The album alone leaves the track values.
        set_album_tags(&mut flac, Format::Flac, Album::Set(&rg(1.0, 0.5)));
        assert_eq!(flac.get(&TagKey::ReplayGainTrackGain), Some("-6.20 dB"));
        assert_eq!(flac.get(&TagKey::ReplayGainAlbumGain), Some("+1.00 dB"));
        assert_eq!(flac.get(&TagKey::ReplayGainAlbumPeak), Some("0.500000"));
        set_album_tags(&mut flac, Format::Flac, Album::Remove);
        assert_eq!(flac.get(&TagKey::ReplayGainAlbumPeak), None);
    }

    #[test]
    fn album_folders_are_counted() {
        let a = AlbumGains::new(
            Format::Flac,
            [
                Path::new("x/1.flac"),
                Path::new("x/2.flac"),
                Path::new("y/3.flac"),
            ],
        );
        // Nothing written yet: ending an item with no output does nothing
        // visible, and the folder finishes with no file to tag.
        assert!(a
            .item_ended(0, Path::new("1.wav"), Path::new("x/1.flac"), None)
            .is_empty());
        assert!(a
            .item_ended(1, Path::new("2.wav"), Path::new("x/2.flac"), None)
            .is_empty());
        assert!(a
            .folders
            .lock()
            .unwrap()
            .get(&folder_of(Path::new("x/1.flac")))
            .is_none());
        assert!(!AlbumGains::disabled().enabled());
    }
}
