//! What the rip writes where: the files (one per track, or one image), the
//! disc ranges each holds, the cue sheet that describes them, and the pieces
//! the disc is read in.

use std::ops::Range;

use aj_cd::cue::{CueFile, CueLayout, CuePlan, CueSheet, FileType};
use aj_cd::disc::{Disc, Session};
use aj_core::Lba;

use super::Gaps;

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpan {
    /// The track the file is named after (0: hidden track one audio; for an
    /// image, the first track).
    pub track: u8,
    /// The disc range the file holds.
    pub span: Range<Lba>,
}

/// A piece of the disc read in one go: it lies inside one file (or none: a
/// discarded gap) and inside one track's AccurateRip range (or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub range: Range<Lba>,
    /// Index into the files.
    pub file: Option<usize>,
    /// The disc track whose AccurateRip range holds the piece.
    pub track: Option<u8>,
}

/// The whole plan of a rip.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The disc with its audio tracks only (data tracks of enhanced and mixed
    /// discs are not ripped).
    pub audio_disc: Disc,
    pub files: Vec<FileSpan>,
    /// AccurateRip ranges of the audio tracks: INDEX 01 to the next track's
    /// INDEX 01 (the last to the audio lead-out).
    pub tracks: Vec<(u8, Range<Lba>)>,
    pub pieces: Vec<Piece>,
    /// The cue sheet, before file names are filled in (`files[i]` is named
    /// by the caller).
    pub sheet: CueSheet,
    /// Hidden track one audio gets its own file (index 0 of `files`).
    pub htoa_file: bool,
}

/// An audio-only copy of `disc`: one session ending at the audio lead-out.
pub fn audio_only(disc: &Disc) -> Disc {
    let mut d = disc.clone();
    let leadout = disc.audio_leadout();
    d.tracks.retain(|t| t.is_audio() && t.start < leadout);
    let session = d.tracks.first().map_or(1, |t| t.session);
    for t in &mut d.tracks {
        t.session = session;
    }
    d.sessions = vec![Session {
        number: session,
        leadout,
    }];
    d.leadout = leadout;
    d
}

/// Plans a rip of `disc` in per-track files (gaps as asked) or one image.
///
/// # Errors
/// When the disc has no audio track or its layout cannot be written as a
/// cue sheet.
pub fn plan(disc: &Disc, gaps: Gaps, image: bool) -> Result<Layout, String> {
    let audio = audio_only(disc);
    if audio.tracks.is_empty() {
        return Err("the disc has no audio tracks".into());
    }
    let layout = match (image, gaps) {
        (true, _) => CueLayout::SingleFile,
        (false, Gaps::Append) => CueLayout::GapsAppended,
        (false, Gaps::Prepend) => CueLayout::GapsPrepended,
        (false, Gaps::Discard) => CueLayout::GapsLeftOut,
    };
    let CuePlan { mut sheet, spans } = CueSheet::from_disc(&audio, layout, |_| CueFile {
        name: String::new(),
        kind: FileType::Wave,
    })
    .map_err(|e| format!("cannot lay the disc out in files: {}", e.message))?;
    let first = audio.tracks.first().map_or(1, |t| t.number);
    let mut files: Vec<FileSpan> = if image {
        spans
            .iter()
            .map(|s| FileSpan {
                track: first,
                span: s.clone(),
            })
            .collect()
    } else {
        sheet
            .tracks
            .iter()
            .zip(&spans)
            .map(|(t, s)| FileSpan {
                track: t.number,
                span: s.clone(),
            })
            .collect()
    };
    // Hidden track one audio: its own file (track 00) in per-track layouts;
    // whether it is kept is decided once it is read (silence is dropped).
    let htoa = audio.hidden_track().filter(|r| r.end.0 > r.start.0);
    let htoa_file = !image && htoa.is_some();
    if let (false, Some(h)) = (image, &htoa) {
        if let Some(f) = files.first_mut() {
            f.span.start = h.end;
        }
        files.insert(
            0,
            FileSpan {
                track: 0,
                span: h.clone(),
            },
        );
        // The sheet: file 0 is the hidden track, with track 1's INDEX 00 at
        // its start; track 1's other indexes move to the next file.
        sheet.files.insert(
            0,
            CueFile {
                name: String::new(),
                kind: FileType::Wave,
            },
        );
        let shift = u32::try_from(h.end.0 - h.start.0).unwrap_or(0);
        for (ti, t) in sheet.tracks.iter_mut().enumerate() {
            for i in &mut t.indexes {
                if ti == 0 && i.number == 0 {
                    i.file = 0;
                    i.position = 0;
                    continue;
                }
                if i.file == 0 {
                    i.position = i.position.saturating_sub(shift);
                }
                i.file += 1;
            }
            if ti == 0 && t.index(0).is_none() {
                t.indexes.insert(
                    0,
                    aj_cd::cue::CueIndex {
                        number: 0,
                        file: 0,
                        position: 0,
                    },
                );
            }
        }
    }
    // A mixed-mode disc's first audio track (after the data track) starts
    // at its own pregap, not at LBA 0.
    if let (Some(first_audio), Some(f)) = (audio.tracks.first(), files.first_mut()) {
        if first_audio.number != 1 && f.span.start < first_audio.first_address() {
            let shift = u32::try_from(first_audio.first_address().0 - f.span.start.0).unwrap_or(0);
            f.span.start = first_audio.first_address();
            for t in &mut sheet.tracks {
                for i in t.indexes.iter_mut().filter(|i| i.file == 0) {
                    i.position = i.position.saturating_sub(shift);
                }
            }
        }
    }
    let tracks = ar_ranges(&audio);
    let pieces = pieces(&audio, &files, &tracks);
    Ok(Layout {
        audio_disc: audio,
        files,
        tracks,
        pieces,
        sheet,
        htoa_file,
    })
}

/// Drops the hidden track's file from the sheet (it was silent): track 1
/// then starts its own file, with the hidden part written as PREGAP.
pub fn drop_htoa(layout: &mut Layout) {
    if !layout.htoa_file {
        return;
    }
    let len = layout.files.first().map_or(0, |f| {
        u32::try_from(f.span.end.0 - f.span.start.0).unwrap_or(0)
    });
    layout.sheet.files.remove(0);
    for (ti, t) in layout.sheet.tracks.iter_mut().enumerate() {
        if ti == 0 {
            t.indexes.retain(|i| i.number != 0);
            t.pregap = Some(len);
        }
        for i in &mut t.indexes {
            i.file = i.file.saturating_sub(1);
        }
    }
    layout.htoa_file = false;
}

/// The sheet with only the files `keep` marks (by index into
/// `sheet.files`; missing entries count as dropped): indexes that lay in a
/// dropped file are left out, and tracks without their INDEX 01 with them.
/// What a rip of some of the tracks (`--tracks`) describes.
pub fn keep_files(sheet: &CueSheet, keep: &[bool]) -> CueSheet {
    let mut out = sheet.clone();
    let mut map: Vec<Option<usize>> = Vec::with_capacity(sheet.files.len());
    let mut next = 0;
    for i in 0..sheet.files.len() {
        if keep.get(i).copied().unwrap_or(false) {
            map.push(Some(next));
            next += 1;
        } else {
            map.push(None);
        }
    }
    out.files = sheet
        .files
        .iter()
        .zip(&map)
        .filter(|(_, m)| m.is_some())
        .map(|(f, _)| f.clone())
        .collect();
    for t in &mut out.tracks {
        t.indexes
            .retain_mut(|i| match map.get(i.file).copied().flatten() {
                Some(n) => {
                    i.file = n;
                    true
                }
                None => false,
            });
    }
    out.tracks.retain(|t| t.index(1).is_some());
    out
}

/// AccurateRip's range of each audio track.
fn ar_ranges(audio: &Disc) -> Vec<(u8, Range<Lba>)> {
    let mut out = Vec::new();
    for (i, t) in audio.tracks.iter().enumerate() {
        let end = audio.tracks.get(i + 1).map_or(audio.leadout, |n| n.start);
        out.push((t.number, t.start..end));
    }
    out
}

/// Splits the part of the disc to read at every file and track boundary.
fn pieces(audio: &Disc, files: &[FileSpan], tracks: &[(u8, Range<Lba>)]) -> Vec<Piece> {
    let start = files
        .iter()
        .map(|f| f.span.start)
        .chain(tracks.iter().map(|t| t.1.start))
        .min()
        .unwrap_or(Lba(0));
    let end = audio.leadout;
    let mut cuts: Vec<i32> = vec![start.0, end.0];
    for f in files {
        cuts.push(f.span.start.0);
        cuts.push(f.span.end.0);
    }
    for (_, r) in tracks {
        cuts.push(r.start.0);
        cuts.push(r.end.0);
    }
    cuts.retain(|&c| c >= start.0 && c <= end.0);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| {
            let range = Lba(w[0])..Lba(w[1]);
            Piece {
                file: files
                    .iter()
                    .position(|f| f.span.start <= range.start && range.end <= f.span.end),
                track: tracks
                    .iter()
                    .find(|(_, r)| r.start <= range.start && range.end <= r.end)
                    .map(|(n, _)| *n),
                range,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aj_cd::disc::Track;

    fn disc_with_gaps(htoa: bool) -> Disc {
        let first = if htoa { 300 } else { 0 };
        let mut d = Disc::audio(&[Lba(first), Lba(1000), Lba(2000)], Lba(3000)).unwrap();
        d.tracks[1].pregap = Some(Lba(850));
        d.tracks[2].pregap = Some(Lba(1900));
        if htoa {
            d.tracks[0].pregap = Some(Lba(0));
        }
        d
    }

    #[test]
    fn appended_gaps_follow_the_previous_track() {
        let l = plan(&disc_with_gaps(false), Gaps::Append, false).unwrap();
        let spans: Vec<_> = l.files.iter().map(|f| (f.track, f.span.clone())).collect();
        assert_eq!(
            spans,
            vec![
                (1, Lba(0)..Lba(1000)),
                (2, Lba(1000)..Lba(2000)),
                (3, Lba(2000)..Lba(3000))
            ]
        );
        assert!(l
            .pieces
            .iter()
            .all(|p| p.file.is_some() && p.track.is_some()));
        assert_eq!(l.pieces.len(), 3);
    }

    #[test]
    fn prepended_and_discarded_gaps_split_pieces() {
        let l = plan(&disc_with_gaps(false), Gaps::Prepend, false).unwrap();
        assert_eq!(l.files[1].span, Lba(850)..Lba(1900));
        // Track 1's AccurateRip range reaches into file 2 (the gap).
        assert!(l.pieces.contains(&Piece {
            range: Lba(850)..Lba(1000),
            file: Some(1),
            track: Some(1)
        }));
        let l = plan(&disc_with_gaps(false), Gaps::Discard, false).unwrap();
        assert_eq!(l.files[1].span, Lba(1000)..Lba(1900));
        // Discarded gaps are read (AccurateRip covers them) but not written.
        assert!(l.pieces.contains(&Piece {
            range: Lba(1900)..Lba(2000),
            file: None,
            track: Some(2)
        }));
    }

    #[test]
    fn hidden_track_gets_file_zero() {
        let mut l = plan(&disc_with_gaps(true), Gaps::Append, false).unwrap();
        assert!(l.htoa_file);
        assert_eq!(
            l.files[0],
            FileSpan {
                track: 0,
                span: Lba(0)..Lba(300)
            }
        );
        assert_eq!(l.files[1].span, Lba(300)..Lba(1000));
        let t1 = &l.sheet.tracks[0];
        assert_eq!(t1.index(0).map(|i| (i.file, i.position)), Some((0, 0)));
        assert_eq!(t1.index(1).map(|i| (i.file, i.position)), Some((1, 0)));
        assert_eq!(l.sheet.files.len(), 4);
        // Track 2's gap sits at the end of track 1's file, which now starts
        // at LBA 300.
        let t2 = &l.sheet.tracks[1];
        assert_eq!(t2.index(0).map(|i| (i.file, i.position)), Some((1, 550)));
        // The hidden part is read but belongs to no AccurateRip range.
        assert_eq!(
            l.pieces[0],
            Piece {
                range: Lba(0)..Lba(300),
                file: Some(0),
                track: None
            }
        );
        drop_htoa(&mut l);
        let t1 = &l.sheet.tracks[0];
        assert_eq!(t1.pregap, Some(300));
        assert!(t1.index(0).is_none());
        assert_eq!(t1.index(1).map(|i| (i.file, i.position)), Some((0, 0)));
        assert_eq!(l.sheet.tracks[1].index(0).map(|i| i.file), Some(0));
    }

    #[test]
    fn a_sheet_of_some_files_keeps_their_tracks() {
        let l = plan(&disc_with_gaps(false), Gaps::Append, false).unwrap();
        // Files 1 and 3 of 3: track 2 goes; track 3's gap was in file 2.
        let s = keep_files(&l.sheet, &[true, false, true]);
        assert_eq!(s.files.len(), 2);
        let numbers: Vec<u8> = s.tracks.iter().map(|t| t.number).collect();
        assert_eq!(numbers, vec![1, 3]);
        let t3 = &s.tracks[1];
        assert!(t3.index(0).is_none());
        assert_eq!(t3.index(1).map(|i| (i.file, i.position)), Some((1, 0)));
        assert_eq!(keep_files(&l.sheet, &[true, true, true]), l.sheet);
    }

    #[test]
    fn image_is_one_file_with_track_pieces() {
        let l = plan(&disc_with_gaps(true), Gaps::Append, true).unwrap();
        assert_eq!(l.files.len(), 1);
        assert_eq!(l.files[0].span, Lba(0)..Lba(3000));
        assert_eq!(l.pieces.len(), 4);
    }

    #[test]
    fn data_tracks_are_left_out() {
        let mut d = Disc::audio(&[Lba(0), Lba(1000)], Lba(20_000)).unwrap();
        d.tracks.push(Track::data(3, 2, Lba(15_000)));
        d.sessions = vec![
            Session {
                number: 1,
                leadout: Lba(3_000),
            },
            Session {
                number: 2,
                leadout: Lba(20_000),
            },
        ];
        d.tracks[1].session = 1;
        let a = audio_only(&d);
        assert_eq!(a.tracks.len(), 2);
        assert_eq!(a.leadout, d.audio_leadout());
    }
}
