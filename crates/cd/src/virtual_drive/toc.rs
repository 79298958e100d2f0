//! Images described by a cdrdao TOC file (cdrdao(1), "TOC FILES").
//!
//! A TOC file composes each track from data statements that need not fall on
//! sector boundaries: `FILE "a.wav" 1000 250000` takes 250 000 samples from
//! sample 1000 on, `SILENCE 333` adds 333 samples of zeros, `PREGAP` adds
//! whole blocks of zeros first. cdrdao concatenates a track's statements
//! sample by sample and pads the track with zeros to a whole block at its
//! end; the next track starts on a fresh block. So each track here is a
//! stream of bytes made of [`Piece`]s, and a disc address maps to a track and
//! an offset into its stream.
//!
//! Byte order, as cdrdao(1) reads it: raw audio files (any name that is not
//! an audio file) hold big-endian samples, WAVE files little-endian ones, and
//! `SWAP` reverses either. A `DATAFILE` in an audio track is raw audio (big
//! endian). Audio files (WAVE, FLAC, AIFF…, recognised by their header, not
//! their name) are decoded once into unnamed temporary files, as for cue
//! sheets, so memory does not grow with the image.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::disc::{Disc, TrackMode};
use crate::tocfile::{FileLengthUnit, TocFile, TocItem, SAMPLES_PER_SECTOR};
use crate::transport::Error;

use super::{
    decode_to_temp, frame_data_sector, image_err, is_audio_header, open_reason, read_exact_at,
    SECTOR,
};

/// Bytes per stereo 16-bit sample frame.
const BYTES_PER_SAMPLE: u64 = 4;

/// One file the TOC names, opened.
#[derive(Debug)]
struct Source {
    name: String,
    file: File,
    /// Bytes the file held when the drive was opened (for a decoded audio
    /// file, its PCM: 4 bytes a sample, little-endian).
    len: u64,
    /// Decoded from an audio file (little-endian samples), not raw.
    decoded: bool,
}

/// Where a piece of a track's stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    Zeros,
    /// Bytes of `sources[source]` from byte `at` on, each pair swapped when
    /// `swap` (big-endian samples).
    File {
        source: usize,
        at: u64,
        swap: bool,
    },
}

/// A run of bytes of a track's stream.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Offset in the track's stream.
    start: u64,
    len: u64,
    from: From,
}

/// One track: its place on the disc and its stream.
#[derive(Debug)]
struct TrackMap {
    /// First sector (the pregap's, if any).
    first: i64,
    /// One past the last sector.
    end: i64,
    mode: TrackMode,
    /// Bytes per sector of the stream: 2352 for audio and raw data, 2048 or
    /// 2336 for cooked data.
    unit: u64,
    pieces: Vec<Piece>,
}

impl TrackMap {
    /// Reads the stream's bytes from `off` into `dst`; bytes past the last
    /// piece (the padding to a whole block) are zeros.
    fn read(&self, sources: &[Source], off: u64, dst: &mut [u8]) -> std::io::Result<()> {
        let mut i = self.pieces.partition_point(|p| p.start + p.len <= off);
        let mut done = 0usize;
        while done < dst.len() {
            let pos = off + done as u64;
            let Some(p) = self.pieces.get(i) else {
                dst[done..].fill(0);
                break;
            };
            let n = usize::try_from(p.start + p.len - pos)
                .unwrap_or(usize::MAX)
                .min(dst.len() - done);
            let chunk = &mut dst[done..done + n];
            match p.from {
                From::Zeros => chunk.fill(0),
                From::File { source, at, swap } => {
                    let Some(s) = sources.get(source) else {
                        chunk.fill(0);
                        done += n;
                        i += 1;
                        continue;
                    };
                    let rel = pos - p.start;
                    if swap {
                        // Swap whole pairs of the file, even when the read
                        // starts or ends inside one.
                        let a0 = rel & !1;
                        let a1 = (rel + n as u64).next_multiple_of(2);
                        let mut tmp = vec![0u8; (a1 - a0) as usize];
                        let have = usize::try_from(p.len.min(a1) - a0).unwrap_or(0);
                        read_exact_at(&s.file, at + a0, &mut tmp[..have])?;
                        for pair in tmp.chunks_exact_mut(2) {
                            pair.swap(0, 1);
                        }
                        let skip = (rel - a0) as usize;
                        chunk.copy_from_slice(&tmp[skip..skip + n]);
                    } else {
                        read_exact_at(&s.file, at + rel, chunk)?;
                    }
                }
            }
            done += n;
            i += 1;
        }
        Ok(())
    }
}

/// The disc's sectors mapped onto a TOC file's data statements.
#[derive(Debug)]
pub(super) struct TocMap {
    sources: Vec<Source>,
    tracks: Vec<TrackMap>,
}

/// Opens `name` (relative to `dir`): an audio file is decoded, anything else
/// is read as it is.
fn open_source(dir: &Path, name: &str) -> Result<Source, Error> {
    let path = dir.join(name);
    if name == "-" {
        return Err(image_err(
            &path,
            "reads standard input, which the virtual drive cannot",
        ));
    }
    let mut file = File::open(&path).map_err(|e| image_err(&path, open_reason(&e)))?;
    let mut head = [0u8; 4];
    let n = file.read(&mut head).unwrap_or(0);
    if is_audio_header(&head[..n]) {
        let (file, frames) = decode_to_temp(&path)?;
        return Ok(Source {
            name: name.to_string(),
            file,
            len: frames * BYTES_PER_SAMPLE,
            decoded: true,
        });
    }
    let len = file
        .metadata()
        .map_err(|e| image_err(&path, e.to_string()))?
        .len();
    Ok(Source {
        name: name.to_string(),
        file,
        len,
        decoded: false,
    })
}

impl TocMap {
    /// Reads the TOC file at `path`, opens the files it names and lays the
    /// tracks out as cdrdao would write them.
    ///
    /// # Errors
    /// [`Error::Image`] when the TOC file or a file it names cannot be read,
    /// is invalid, or a statement reaches past the end of its file.
    pub(super) fn open(path: &Path) -> Result<(Disc, TocMap), Error> {
        let bytes = std::fs::read(path).map_err(|e| image_err(path, open_reason(&e)))?;
        let toc = TocFile::parse(&crate::cue::decode_text(&bytes))
            .map_err(|e| image_err(path, e.to_string()))?;
        let dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        let mut sources: Vec<Source> = Vec::new();
        for item in toc.tracks.iter().flat_map(|t| &t.items) {
            let name = match item {
                TocItem::Audio { name, .. } | TocItem::Data { name, .. } => name,
                TocItem::Silence { .. } | TocItem::Zero { .. } => continue,
            };
            if !sources.iter().any(|s| &s.name == name) {
                sources.push(open_source(&dir, name)?);
            }
        }
        let find = |name: &str| sources.iter().position(|s| s.name == name);
        let disc = toc
            .to_disc(|name, unit| {
                let s = find(name)
                    .and_then(|i| sources.get(i))
                    .ok_or("not opened")?;
                Ok(match unit {
                    FileLengthUnit::Samples => s.len / BYTES_PER_SAMPLE,
                    FileLengthUnit::Bytes => s.len,
                })
            })
            .map_err(|e| image_err(path, e.to_string()))?;

        let mut tracks = Vec::with_capacity(toc.tracks.len());
        for (k, (tt, dt)) in toc.tracks.iter().zip(&disc.tracks).enumerate() {
            let first = i64::from(dt.first_address().0);
            let end = i64::from(
                disc.tracks
                    .get(k + 1)
                    .map_or(disc.leadout, |n| n.first_address())
                    .0,
            );
            let audio = tt.mode.is_audio();
            let unit = u64::from(tt.mode.sector_size());
            let number = dt.number;
            let past_end = |name: &str, what: &str, len: u64| {
                image_err(
                    path,
                    format!(
                        "track {number}: {what} of {name} reaches past its end ({} {})",
                        if audio { len / BYTES_PER_SAMPLE } else { len },
                        if audio { "samples" } else { "bytes" },
                    ),
                )
            };
            let mut pieces = Vec::new();
            let mut at = 0u64;
            let mut push = |len: u64, from: From| {
                if len > 0 {
                    pieces.push(Piece {
                        start: at,
                        len,
                        from,
                    });
                    at += len;
                }
            };
            if let Some(p) = tt.pregap {
                push(u64::from(p) * unit, From::Zeros);
            }
            for item in &tt.items {
                match item {
                    TocItem::Silence { samples } => {
                        // Audio zeros; in a data track, whole blocks of them
                        // (as the disc model counts them).
                        let len = if audio {
                            samples.saturating_mul(BYTES_PER_SAMPLE)
                        } else {
                            samples.div_ceil(SAMPLES_PER_SECTOR).saturating_mul(unit)
                        };
                        push(len, From::Zeros);
                    }
                    TocItem::Zero { bytes } => push(*bytes, From::Zeros),
                    TocItem::Audio {
                        name,
                        swap,
                        offset,
                        start,
                        length,
                    } => {
                        let Some((i, s)) = find(name).and_then(|i| Some((i, sources.get(i)?)))
                        else {
                            continue;
                        };
                        if s.decoded && offset.is_some() {
                            return Err(image_err(
                                path,
                                format!(
                                    "track {number}: a byte offset (#) applies to raw files, not to the audio file {name}"
                                ),
                            ));
                        }
                        let skip = offset.unwrap_or(0);
                        let from = start.saturating_mul(BYTES_PER_SAMPLE).saturating_add(skip);
                        // Without a length: to the end of the file, in whole
                        // samples, as the disc model counts it.
                        let len = match length {
                            Some(l) => l.saturating_mul(BYTES_PER_SAMPLE),
                            None => {
                                (s.len / BYTES_PER_SAMPLE)
                                    .saturating_sub(start.saturating_add(skip / BYTES_PER_SAMPLE))
                                    * BYTES_PER_SAMPLE
                            }
                        };
                        if from.saturating_add(len) > s.len {
                            return Err(past_end(name, "FILE", s.len));
                        }
                        // Raw files are big-endian, decoded ones little-endian.
                        let big_endian = !s.decoded;
                        push(
                            len,
                            From::File {
                                source: i,
                                at: from,
                                swap: big_endian != *swap,
                            },
                        );
                    }
                    TocItem::Data {
                        name,
                        offset,
                        length,
                    } => {
                        let Some((i, s)) = find(name).and_then(|i| Some((i, sources.get(i)?)))
                        else {
                            continue;
                        };
                        let from = offset.unwrap_or(0);
                        let len = length.unwrap_or(s.len.saturating_sub(from));
                        if from.saturating_add(len) > s.len {
                            return Err(past_end(name, "DATAFILE", s.len));
                        }
                        push(
                            len,
                            From::File {
                                source: i,
                                at: from,
                                // Raw audio in an audio track: big-endian.
                                swap: audio && !s.decoded,
                            },
                        );
                    }
                }
            }
            tracks.push(TrackMap {
                first,
                end,
                mode: tt.mode,
                unit,
                pieces,
            });
        }
        Ok((disc, TocMap { sources, tracks }))
    }

    fn track_at(&self, sector: i64) -> Option<&TrackMap> {
        let i = self.tracks.partition_point(|t| t.end <= sector);
        self.tracks.get(i).filter(|t| t.first <= sector)
    }

    /// Reads disc bytes from byte address `at` (LBA 0 = byte 0) into `out`.
    /// Returns false when some byte lies outside the disc (then zeros).
    pub(super) fn read_bytes(&self, at: i64, out: &mut [u8]) -> std::io::Result<bool> {
        let mut inside = true;
        let mut done = 0usize;
        while done < out.len() {
            let pos = at + done as i64;
            let sector = pos.div_euclid(SECTOR);
            let within = pos.rem_euclid(SECTOR) as usize;
            let Some(t) = self.track_at(sector) else {
                // Track 1's pregap (LBA -150 to 0) is silence on every disc;
                // before it is the lead-in, after the last track the lead-out.
                let n = (SECTOR as usize - within).min(out.len() - done);
                out[done..done + n].fill(0);
                inside &= (-150..0).contains(&sector);
                done += n;
                continue;
            };
            if t.unit == SECTOR as u64 {
                // Audio or raw data: the stream is the disc's bytes.
                let n = usize::try_from(t.end * SECTOR - pos)
                    .unwrap_or(usize::MAX)
                    .min(out.len() - done);
                let off = (pos - t.first * SECTOR) as u64;
                t.read(&self.sources, off, &mut out[done..done + n])?;
                done += n;
            } else {
                // Cooked data: the sector as a drive returns it raw.
                let mut user = vec![0u8; t.unit as usize];
                t.read(&self.sources, (sector - t.first) as u64 * t.unit, &mut user)?;
                let raw = frame_data_sector(i32::try_from(sector).unwrap_or(0), t.mode, &user);
                let n = (SECTOR as usize - within).min(out.len() - done);
                out[done..done + n].copy_from_slice(&raw[within..within + n]);
                done += n;
            }
        }
        Ok(inside)
    }

    /// The user data of data sector `lba` (`out.len()` bytes, the track's
    /// sector size).
    pub(super) fn user_data(&self, lba: i32, out: &mut [u8]) -> std::io::Result<()> {
        let sector = i64::from(lba);
        match self.track_at(sector) {
            Some(t) => t.read(&self.sources, (sector - t.first) as u64 * t.unit, out),
            None => {
                out.fill(0);
                Ok(())
            }
        }
    }
}
