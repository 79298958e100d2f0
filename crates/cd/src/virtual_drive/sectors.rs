//! Images made of whole sectors: the files of a cue sheet (raw sectors or
//! decoded audio) laid end to end, with silence and session gaps inserted
//! where the sheet says.

use std::fs::File;

use super::{read_exact_at, SECTOR};

/// One file of the image, as sectors.
#[derive(Debug)]
pub(super) struct Backing {
    pub(super) file: File,
    /// Byte offset of sector 0 in the file.
    pub(super) base: u64,
    /// Bytes per sector in the file.
    pub(super) sector_size: u64,
    /// Big-endian samples (MOTOROLA).
    pub(super) swap: bool,
    /// Length in sectors (a partial last sector counts).
    pub(super) sectors: i64,
    /// Length in bytes from `base` when the drive was opened: bytes past it
    /// (the rest of a partial last sector) read as zeros; reading fewer
    /// bytes before it (the file shrank, or failed) is a medium error.
    pub(super) len: u64,
}

/// What a stretch of the disc holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Content {
    /// Sectors of the files, from this global file sector on.
    Data(i64),
    /// Silence no file holds (PREGAP, POSTGAP).
    Silence,
    /// Between sessions: lead-out and lead-in, not readable as audio.
    Gap,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    start: i64,
    len: i64,
    content: Content,
}

/// The disc's sectors (LBA 0 on) mapped onto the files' sectors.
#[derive(Debug)]
pub(super) struct SectorMap {
    files: Vec<Backing>,
    /// Global sector of each file's first sector.
    file_start: Vec<i64>,
    segments: Vec<Segment>,
}

impl SectorMap {
    /// The files end to end, with `inserts` (global file sector, length,
    /// what) placed between their sectors.
    pub(super) fn new(files: Vec<Backing>, mut inserts: Vec<(i64, i64, Content)>) -> SectorMap {
        let mut file_start = Vec::with_capacity(files.len());
        let mut total = 0i64;
        for b in &files {
            file_start.push(total);
            total += b.sectors;
        }
        inserts.sort_by_key(|i| i.0);
        let mut segments = Vec::new();
        let (mut at, mut g) = (0i64, 0i64);
        for (pos, len, content) in inserts {
            let pos = pos.clamp(g, total);
            if pos > g {
                segments.push(Segment {
                    start: at,
                    len: pos - g,
                    content: Content::Data(g),
                });
                at += pos - g;
                g = pos;
            }
            if len > 0 {
                segments.push(Segment {
                    start: at,
                    len,
                    content,
                });
                at += len;
            }
        }
        if total > g {
            segments.push(Segment {
                start: at,
                len: total - g,
                content: Content::Data(g),
            });
        }
        SectorMap {
            files,
            file_start,
            segments,
        }
    }

    fn segment_at(&self, sector: i64) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.start + s.len <= sector);
        self.segments.get(i).filter(|s| s.start <= sector)
    }

    /// Reads disc bytes from byte address `at` (LBA 0 = byte 0) into `out`.
    /// Returns false when some byte lies outside the disc (then zeros).
    pub(super) fn read_bytes(&self, at: i64, out: &mut [u8]) -> std::io::Result<bool> {
        let mut inside = true;
        let mut done = 0usize;
        while done < out.len() {
            let pos = at + done as i64;
            let sector = pos.div_euclid(SECTOR);
            let within = pos.rem_euclid(SECTOR);
            let seg = self.segment_at(sector).copied();
            // Bytes up to the end of this segment (or of the next sector when
            // outside every segment).
            let seg_end = match seg {
                Some(s) => (s.start + s.len) * SECTOR,
                None => (sector + 1) * SECTOR,
            };
            let n = ((seg_end - pos) as usize).min(out.len() - done);
            let dst = &mut out[done..done + n];
            match seg.map(|s| (s, s.content)) {
                // Track 1's pregap (LBA -150 to 0) is silence on every disc.
                None if (-150..0).contains(&sector) => dst.fill(0),
                None | Some((_, Content::Gap)) => {
                    dst.fill(0);
                    inside = false;
                }
                Some((_, Content::Silence)) => dst.fill(0),
                Some((s, Content::Data(g0))) => {
                    self.read_files(g0 + (sector - s.start), within, dst)?;
                }
            }
            done += n;
        }
        Ok(inside)
    }

    /// Reads from the concatenated files, starting at global sector `g`,
    /// byte `within` of it; bytes past a file's end read as zeros.
    fn read_files(&self, mut g: i64, mut within: i64, dst: &mut [u8]) -> std::io::Result<()> {
        let mut done = 0usize;
        while done < dst.len() {
            let fi = self
                .file_start
                .partition_point(|&s| s <= g)
                .saturating_sub(1);
            let (Some(b), Some(&fs)) = (self.files.get(fi), self.file_start.get(fi)) else {
                dst[done..].fill(0);
                return Ok(());
            };
            let in_file = g - fs;
            let left_in_file = ((b.sectors - in_file) * SECTOR - within).max(0) as usize;
            let n = left_in_file.min(dst.len() - done);
            if n == 0 {
                dst[done..].fill(0);
                return Ok(());
            }
            let rel = (in_file as u64) * b.sector_size + within as u64;
            let chunk = &mut dst[done..done + n];
            let have = usize::try_from(b.len.saturating_sub(rel))
                .unwrap_or(usize::MAX)
                .min(n);
            read_exact_at(&b.file, b.base + rel, &mut chunk[..have])?;
            chunk[have..].fill(0);
            if b.swap {
                for pair in chunk.chunks_exact_mut(2) {
                    pair.swap(0, 1);
                }
            }
            done += n;
            let adv = within + n as i64;
            g += adv / SECTOR;
            within = adv % SECTOR;
        }
        Ok(())
    }

    /// The user data of data sector `lba` (`out.len()` bytes, the track's
    /// sector size), read at the file's own sector size.
    pub(super) fn user_data(&self, lba: i32, out: &mut [u8]) -> std::io::Result<()> {
        out.fill(0);
        let Some(Segment {
            start,
            content: Content::Data(g0),
            ..
        }) = self.segment_at(i64::from(lba)).copied()
        else {
            return Ok(());
        };
        let g = g0 + (i64::from(lba) - start);
        let fi = self
            .file_start
            .partition_point(|&s| s <= g)
            .saturating_sub(1);
        if let (Some(b), Some(&fs)) = (self.files.get(fi), self.file_start.get(fi)) {
            let rel = ((g - fs) as u64) * b.sector_size;
            let have = usize::try_from(b.len.saturating_sub(rel))
                .unwrap_or(usize::MAX)
                .min(out.len());
            read_exact_at(&b.file, b.base + rel, &mut out[..have])?;
        }
        Ok(())
    }
}
