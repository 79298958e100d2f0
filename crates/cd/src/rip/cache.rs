//! Measuring whether a drive caches audio sectors, and how many, by timing
//! reads — as EAC's "caches audio data" test and cdparanoia's `-A`
//! analysis do.
//!
//! A drive reports a buffer size (MODE SENSE page 2Ah), but no MMC command
//! says whether it caches CD-DA, and many drives report 0 or a size unrelated
//! to what they keep. The secure reader defeats a cache by reading other
//! sectors between two reads of the same one, as many as the cache holds; a
//! drive that under-reports its cache would answer the second read from it.
//! So the cache is measured.
//!
//! # How
//!
//! A sector answered from the cache comes at interface speed; one read from
//! the disc takes its time under the laser, plus a seek for a re-read. The
//! measurement times re-reads against fresh reads, never against an absolute
//! threshold:
//!
//! 1. A **pass** reads a stretch of sectors it has not read before, in chunks
//!    of [`PROBE_CHUNK`] sectors, timing each. The time of a real read is
//!    the slower of the first chunk (which includes a seek, as a re-read
//!    does) and the median of the others (which the drive's read-ahead may
//!    have fetched already).
//! 2. It then re-reads chunks of that stretch from its end backwards, at
//!    growing distances (the number of sectors read since the chunk was
//!    read, the re-reads before it included). A re-read faster than
//!    [`MISS_RATIO`] of a real read came from the cache.
//! 3. Every distance is sampled in [`MIN_PASSES`] passes over different
//!    parts of the disc, more (up to [`MAX_PASSES`]) when the passes
//!    disagree, and judged by the median.
//! 4. The cache holds fewer sectors than the shortest distance from which on
//!    every re-read was slow (plus the chunk). Passes grow (96, 384, 1536,
//!    6144 sectors) while the longest distance still comes from the cache.
//!
//! # Never fooled into "no cache"
//!
//! Every doubt counts as "cached": a re-read is a miss only when clearly as
//! slow as a real read, the size taken is the next distance probed beyond
//! the boundary (a margin for a hit that looked slow), and a pass whose
//! fresh reads were much faster than the slowest seen (they came from a
//! cache too) is thrown away. When the measurement cannot decide (read
//! errors, a disc too short, a cache beyond the longest distance) the reader
//! assumes [`ASSUMED_CACHE_SECTORS`]. Only a drive whose reads all come
//! faster than any CD spins ([`CacheVerdict::Untimed`]: a disc image) is not
//! measured: timing cannot tell a cache there.
//!
//! # Cost
//!
//! A drive without a cache: 3 passes of 96 + 96 sectors, about 600
//! sectors (under half a second at 20×). A cache of 1024 sectors: passes of
//! 96, 384 and 3 × 1536 sectors plus their re-reads, about 6000 sectors (4
//! to 5 s at 20×, 2 s at 48×). The most, for a cache beyond 6144 sectors:
//! about 26 000 sectors (under 20 s at 20×).

use std::time::{Duration, Instant};

use aj_core::CancelToken;

use super::Error;

/// Sectors per timed read: one READ CD of [`crate::mmc::MAX_READ_SECTORS`].
pub const PROBE_CHUNK: u32 = crate::mmc::MAX_READ_SECTORS;
/// Passes per stretch length at least.
pub const MIN_PASSES: usize = 3;
/// Passes per stretch length at most (when the passes disagree).
pub const MAX_PASSES: usize = 7;
/// A re-read taking less than this share of a real read's time came from
/// the cache. A real re-read also seeks back, so it takes about as long as
/// a fresh read or longer; a cached one comes over the interface, several
/// times faster (cdparanoia's cache test calls anything under 9 ms, less
/// than any seek on a spinning CD, a hit).
pub const MISS_RATIO: f64 = 0.75;
/// Stretch lengths, in chunks: 96, 384, 1536 and 6144 sectors. The longest
/// covers the 8 MiB buffers (3566 sectors) of the largest drives.
const LEVELS: [u32; 4] = [4, 16, 64, 256];
/// Reads faster than this many times real time cannot come from a spinning
/// CD (drives top out at 52×, 75 sectors a second each).
const UNTIMED_SPEED_X: f64 = 300.0;
/// A pass whose fresh reads took less than this share of the slowest
/// fresh reads seen is thrown away (they came from a cache). Generous
/// because a CAV drive reads the outside of a disc 2.4 times as fast as the
/// inside.
const STALE_REFERENCE: f64 = 0.3;
/// Passes spoiled by read errors or stale references before giving up.
const MAX_SPOILED: u32 = 4;
/// The cache size assumed when the measurement cannot decide: the largest
/// size cdparanoia's cache analysis searches for (`hi = 15000` sectors in
/// libparanoia's `cachetest.c`), far beyond the 8 MiB buffers of the
/// largest drives.
pub const ASSUMED_CACHE_SECTORS: u32 = 15_000;

/// When the secure reader measures the cache.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum CacheCheck {
    /// Never: the size the drive reports is used.
    Never,
    /// When the drive reports no buffer (0), as many do: a reported size is
    /// an upper bound of what a drive can keep, 0 says nothing.
    #[default]
    IfUnreported,
    /// Always; the larger of the measured and the reported size is used.
    Always,
}

impl CacheCheck {
    /// The name used in job specs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheCheck::Never => "never",
            CacheCheck::IfUnreported => "if-unreported",
            CacheCheck::Always => "always",
        }
    }
}

impl std::fmt::Display for CacheCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cache check name that is not one of `never`, `if-unreported`,
/// `always`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cache check \"{0}\" (known: never, if-unreported, always)")]
pub struct ParseCacheCheckError(pub String);

impl std::str::FromStr for CacheCheck {
    type Err = ParseCacheCheckError;

    fn from_str(s: &str) -> Result<CacheCheck, ParseCacheCheckError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "never" | "no" => Ok(CacheCheck::Never),
            "if-unreported" | "auto" => Ok(CacheCheck::IfUnreported),
            "always" | "yes" => Ok(CacheCheck::Always),
            _ => Err(ParseCacheCheckError(s.to_string())),
        }
    }
}

/// Where the cache size the reader assumes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheSource {
    /// The buffer size the drive reports (page 2Ah).
    #[default]
    Reported,
    /// [`super::ReadOptions::cache_sectors`].
    Overridden,
    /// Measured by timing reads.
    Measured,
    /// The measurement could not decide: [`ASSUMED_CACHE_SECTORS`] (or the
    /// reported size, when larger).
    Assumed,
}

impl CacheSource {
    /// A word for the log.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheSource::Reported => "reported by the drive",
            CacheSource::Overridden => "given",
            CacheSource::Measured => "measured",
            CacheSource::Assumed => "assumed",
        }
    }
}

/// What the measurement concluded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum CacheVerdict {
    /// Even a chunk read just before came back at disc speed: the drive
    /// keeps fewer than `below` sectors.
    NoCache { below: u32 },
    /// The drive keeps at least `at_least` and fewer than `below` sectors.
    Holds { at_least: u32, below: u32 },
    /// Still cached at the longest distance the disc or the measurement
    /// allows.
    Beyond { at_least: u32 },
    /// Reads come faster than any CD spins (a disc image): timing cannot
    /// tell a cache.
    Untimed,
    /// The measurement could not decide.
    Inconclusive { reason: String },
}

/// One distance probed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CacheProbePoint {
    /// The sectors read since the chunk was first read, itself included
    /// (re-reads of other chunks counted whether they hit or not).
    pub sectors: u32,
    /// Median time of the re-read, in thousandths of a fresh read's.
    pub ratio_permille: u32,
    /// Judged as answered from the cache.
    pub cached: bool,
    /// Passes that sampled it.
    pub samples: u32,
}

/// The outcome of [`measure`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CacheMeasurement {
    pub verdict: CacheVerdict,
    /// The cache size to assume, in sectors (an upper bound with a margin);
    /// `None` for [`CacheVerdict::Untimed`].
    pub assume: Option<u32>,
    /// Passes read (spoiled ones included).
    pub passes: u32,
    /// Sectors read.
    pub sectors_read: u64,
    /// Time taken, in milliseconds.
    pub millis: u64,
    /// A real read's time per sector (the reference), in microseconds.
    pub sector_us: u32,
    /// The distances probed in the deciding stretch length.
    pub points: Vec<CacheProbePoint>,
}

impl CacheMeasurement {
    /// One line for the log.
    pub fn summary(&self) -> String {
        let what = match &self.verdict {
            CacheVerdict::NoCache { below } => {
                format!("no audio cache found (fewer than {below} sectors)")
            }
            CacheVerdict::Holds { at_least, below } => {
                format!(
                    "caches audio: {at_least} to {} sectors",
                    below.saturating_sub(1)
                )
            }
            CacheVerdict::Beyond { at_least } => {
                format!("caches audio: at least {at_least} sectors, more than could be measured")
            }
            CacheVerdict::Untimed => "not measured: reads come faster than a CD spins".to_string(),
            CacheVerdict::Inconclusive { reason } => format!("not decided: {reason}"),
        };
        format!(
            "{what} ({} pass{}, {} sectors read in {:.1} s)",
            self.passes,
            if self.passes == 1 { "" } else { "es" },
            self.sectors_read,
            self.millis as f64 / 1000.0
        )
    }
}

/// Times one READ CD of `count` sectors at `lba`: `Ok(Some(elapsed))`,
/// `Ok(None)` when the medium could not be read there, `Err` to stop.
pub type TimedRead<'a> = dyn FnMut(i32, u32) -> Result<Option<Duration>, Error> + 'a;

/// One pass: fresh reads, then re-reads at the grid's distances.
struct PassOut {
    /// Seconds per sector of a fresh read (median).
    per_sector: f64,
    /// The median fresh chunk (the first included), seconds per sector.
    typical: f64,
    /// The median fresh chunk after the first (no seek), seconds per sector.
    media: f64,
    /// Re-read time over fresh read time, per grid point.
    ratios: Vec<f64>,
}

/// Chunk indexes back from the end of a stretch of `n` chunks that are
/// re-read: 0, 1, 2, 3, then about ×1.5, and the first chunk.
fn grid(n: u32) -> Vec<u32> {
    let mut g: Vec<u32> = vec![0, 1, 2, 3];
    let mut p = 4u32;
    while p < n {
        g.extend([p, p + p / 2]);
        p = p.saturating_mul(2);
    }
    g.retain(|&j| j < n.saturating_sub(1));
    g.push(n.saturating_sub(1));
    g
}

/// Sectors read after the chunk of grid point `i` before its re-read: the
/// fresh chunks after it and the re-reads before it. A miss there bounds the
/// cache from above (a re-read that hit evicted nothing, so fewer may have
/// been loaded).
fn distance(grid: &[u32], i: usize) -> u32 {
    grid.get(i).map_or(0, |&j| (j + i as u32) * PROBE_CHUNK)
}

/// The fresh sectors read after the chunk of grid point `i`: a hit there
/// bounds the cache from below.
fn fresh_after(grid: &[u32], i: usize) -> u32 {
    grid.get(i).map_or(0, |&j| j * PROBE_CHUNK)
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Reads one pass at `at`: `n` fresh chunks, then the re-reads. `None` when
/// a read failed on the medium (the pass proves nothing).
fn run_pass(
    read: &mut TimedRead<'_>,
    at: i32,
    n: u32,
    grid: &[u32],
    sectors: &mut u64,
    cancel: &CancelToken,
) -> Result<Option<PassOut>, Error> {
    let chunk = f64::from(PROBE_CHUNK);
    let mut fresh = Vec::with_capacity(n as usize);
    let mut first = 0.0f64;
    for c in 0..n {
        cancel.check().map_err(|_| Error::Cancelled)?;
        *sectors += u64::from(PROBE_CHUNK);
        let Some(t) = read(at + (c * PROBE_CHUNK) as i32, PROBE_CHUNK)? else {
            return Ok(None);
        };
        let s = t.as_secs_f64() / chunk;
        if c > 0 {
            fresh.push(s);
        } else {
            first = s;
        }
    }
    // The first chunk sought there, as a re-read that misses does; the
    // others may have come from the drive's read-ahead. The slower of the
    // two is the reference: a larger one only makes more re-reads count as
    // cached.
    let mut all = fresh.clone();
    all.push(first);
    let typical = median(&mut all).unwrap_or(first);
    let Some(media) = median(&mut fresh) else {
        return Ok(None);
    };
    let per_sector = media.max(first);
    let mut ratios = Vec::with_capacity(grid.len());
    for &j in grid {
        cancel.check().map_err(|_| Error::Cancelled)?;
        *sectors += u64::from(PROBE_CHUNK);
        let back = n.saturating_sub(1 + j);
        let Some(t) = read(at + (back * PROBE_CHUNK) as i32, PROBE_CHUNK)? else {
            return Ok(None);
        };
        let r = if per_sector > 0.0 {
            t.as_secs_f64() / chunk / per_sector
        } else {
            // A fresh read took no measurable time: count as cached.
            0.0
        };
        ratios.push(r);
    }
    Ok(Some(PassOut {
        per_sector,
        typical,
        media,
        ratios,
    }))
}

/// What the samples of one stretch length say.
enum Judged {
    /// Cached even at the longest distance.
    StillCached,
    /// Every grid point from this one on is a miss.
    MissFrom(usize),
}

fn judge(cached: &[bool]) -> Judged {
    match cached.iter().rposition(|&c| c) {
        Some(i) if i + 1 == cached.len() => Judged::StillCached,
        Some(i) => Judged::MissFrom(i + 1),
        None => Judged::MissFrom(0),
    }
}

/// Measures the drive's cache by timing reads in `region` (disc LBAs of
/// audio, at least a few hundred sectors for a useful answer); see the
/// module doc. `read` times one READ CD.
///
/// # Errors
/// [`Error::Cancelled`], and whatever `read` returns.
pub fn measure(
    read: &mut TimedRead<'_>,
    region: std::ops::Range<i32>,
    cancel: &CancelToken,
) -> Result<CacheMeasurement, Error> {
    let started = Instant::now();
    let len = (i64::from(region.end) - i64::from(region.start)).max(0);
    let mut out = CacheMeasurement {
        verdict: CacheVerdict::Inconclusive {
            reason: String::new(),
        },
        assume: Some(ASSUMED_CACHE_SECTORS),
        passes: 0,
        sectors_read: 0,
        millis: 0,
        sector_us: 0,
        points: Vec::new(),
    };
    let finish = |mut out: CacheMeasurement| {
        out.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(out)
    };
    // Passes start in the middle of the audio, away from what was read
    // lately (the table of contents, the edges probed by the reader).
    let mut cursor = i64::from(region.start) + len / 2;
    let mut spoiled = 0u32;
    let mut slowest_fresh = 0.0f64;
    let mut cached_at_least = 0u32;
    for (level, &n) in LEVELS.iter().enumerate() {
        let stretch = i64::from(n * PROBE_CHUNK);
        // A gap between passes, so one pass's read-ahead is not the next
        // one's fresh reads.
        let step = stretch + i64::from(4 * PROBE_CHUNK);
        if step > len {
            out.verdict = if level == 0 {
                CacheVerdict::Inconclusive {
                    reason: format!(
                        "the audio is too short to time the cache ({len} sectors; needs {step})"
                    ),
                }
            } else {
                CacheVerdict::Beyond {
                    at_least: cached_at_least,
                }
            };
            return finish(out);
        }
        let g = grid(n);
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); g.len()];
        let mut refs: Vec<f64> = Vec::new();
        let mut good = 0usize;
        let judged = loop {
            if cursor + stretch > i64::from(region.end) {
                cursor = i64::from(region.start);
            }
            let at = i32::try_from(cursor).unwrap_or(region.start);
            cursor += step;
            out.passes += 1;
            let pass = run_pass(read, at, n, &g, &mut out.sectors_read, cancel)?;
            let Some(p) = pass else {
                spoiled += 1;
                if spoiled > MAX_SPOILED {
                    out.verdict = CacheVerdict::Inconclusive {
                        reason: "too many read errors where the cache was timed".into(),
                    };
                    return finish(out);
                }
                continue;
            };
            // Only the first pass, over sectors not read before: later ones
            // may all come from a cache larger than the disc. The median
            // chunk, so that one held up by a busy host does not decide.
            if out.passes == 1 + spoiled && p.typical * 75.0 * UNTIMED_SPEED_X < 1.0 {
                out.verdict = CacheVerdict::Untimed;
                out.assume = None;
                out.sector_us = (p.per_sector * 1e6).round() as u32;
                return finish(out);
            }
            slowest_fresh = slowest_fresh.max(p.media);
            if p.media < STALE_REFERENCE * slowest_fresh {
                spoiled += 1;
                if spoiled > MAX_SPOILED {
                    out.verdict = CacheVerdict::Inconclusive {
                        reason: "fresh reads came at very different speeds".into(),
                    };
                    return finish(out);
                }
                continue;
            }
            refs.push(p.per_sector);
            for (s, r) in samples.iter_mut().zip(&p.ratios) {
                s.push(*r);
            }
            good += 1;
            let medians: Vec<f64> = samples
                .iter()
                .map(|s| median(&mut s.clone()).unwrap_or(0.0))
                .collect();
            let cached: Vec<bool> = medians.iter().map(|&m| m < MISS_RATIO).collect();
            let j = judge(&cached);
            out.points = g
                .iter()
                .enumerate()
                .map(|(i, _)| CacheProbePoint {
                    sectors: distance(&g, i) + PROBE_CHUNK,
                    ratio_permille: (medians[i] * 1000.0).round().min(f64::from(u32::MAX)) as u32,
                    cached: cached[i],
                    samples: samples[i].len() as u32,
                })
                .collect();
            out.sector_us = (median(&mut refs.clone()).unwrap_or(0.0) * 1e6).round() as u32;
            let next_fits = LEVELS
                .get(level + 1)
                .is_some_and(|&n2| i64::from(n2 * PROBE_CHUNK) + i64::from(4 * PROBE_CHUNK) <= len);
            if matches!(j, Judged::StillCached) && next_fits {
                // Longer stretches are needed; no need to confirm this one.
                break j;
            }
            let unanimous = samples
                .iter()
                .zip(&cached)
                .all(|(s, &c)| s.iter().all(|&r| (r < MISS_RATIO) == c));
            if good >= MIN_PASSES && (unanimous || good >= MAX_PASSES) {
                break j;
            }
        };
        match judged {
            Judged::StillCached => {
                cached_at_least = fresh_after(&g, g.len() - 1) + PROBE_CHUNK;
                if level + 1 == LEVELS.len() {
                    out.verdict = CacheVerdict::Beyond {
                        at_least: cached_at_least,
                    };
                    return finish(out);
                }
            }
            Judged::MissFrom(i) => {
                let below = distance(&g, i) + PROBE_CHUNK;
                // The margin: the next distance probed, or twice the bound.
                let safe = if i + 1 < g.len() {
                    distance(&g, i + 1) + PROBE_CHUNK
                } else {
                    below.saturating_mul(2)
                };
                out.verdict = if i == 0 {
                    CacheVerdict::NoCache { below }
                } else {
                    CacheVerdict::Holds {
                        at_least: fresh_after(&g, i - 1) + PROBE_CHUNK,
                        below,
                    }
                };
                out.assume = Some(safe.max(below));
                return finish(out);
            }
        }
    }
    finish(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn grid_points() {
        assert_eq!(grid(4), vec![0, 1, 2, 3]);
        assert_eq!(grid(16), vec![0, 1, 2, 3, 4, 6, 8, 12, 15]);
        assert_eq!(grid(64), vec![0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 63]);
        for n in LEVELS {
            let g = grid(n);
            assert!(g.windows(2).all(|w| w[0] < w[1]), "{g:?}");
            assert_eq!(*g.last().unwrap(), n - 1);
        }
    }

    #[test]
    fn cache_check_names() {
        for c in [
            CacheCheck::Never,
            CacheCheck::IfUnreported,
            CacheCheck::Always,
        ] {
            assert_eq!(c.as_str().parse::<CacheCheck>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert!("sometimes".parse::<CacheCheck>().is_err());
    }

    /// A model drive with simulated time: a FIFO (or LRU) cache, a fixed
    /// time per sector read from the disc, a seek time, and noise.
    struct Model {
        cache: VecDeque<i32>,
        size: usize,
        lru: bool,
        /// Seconds per sector from the disc.
        per_sector: f64,
        /// Seconds per sector from the cache.
        hit: f64,
        seek: f64,
        last_end: i32,
        /// Every `noise`-th command (0: never) takes 5 times as long.
        noise: u32,
        /// Sectors read ahead after each command.
        read_ahead: i32,
        commands: u32,
        bad: Option<std::ops::Range<i32>>,
    }

    impl Model {
        fn new(size: usize) -> Model {
            Model {
                cache: VecDeque::new(),
                size,
                lru: false,
                per_sector: 1.0 / (75.0 * 20.0),
                // 2352 bytes over a 30 MB/s interface.
                hit: 78e-6,
                seek: 0.08,
                last_end: 0,
                noise: 0,
                read_ahead: 0,
                commands: 0,
                bad: None,
            }
        }

        fn touch(&mut self, lba: i32) -> bool {
            if let Some(p) = self.cache.iter().position(|&l| l == lba) {
                if self.lru {
                    self.cache.remove(p);
                    self.cache.push_back(lba);
                }
                return true;
            }
            if self.size > 0 {
                if self.cache.len() >= self.size {
                    self.cache.pop_front();
                }
                self.cache.push_back(lba);
            }
            false
        }

        fn read(&mut self, lba: i32, count: u32) -> Option<Duration> {
            self.commands += 1;
            if self
                .bad
                .as_ref()
                .is_some_and(|b| b.contains(&lba) || b.contains(&(lba + count as i32 - 1)))
            {
                return None;
            }
            let mut t = 0.0;
            let mut seeked = false;
            for l in lba..lba + count as i32 {
                if self.touch(l) {
                    t += self.hit;
                } else {
                    if !seeked && l != self.last_end {
                        t += self.seek;
                    }
                    seeked = true;
                    t += self.per_sector;
                    self.last_end = l + 1;
                }
            }
            for l in lba + count as i32..lba + count as i32 + self.read_ahead {
                self.touch(l);
            }
            if self.noise > 0 && self.commands.is_multiple_of(self.noise) {
                t *= 5.0;
            }
            Some(Duration::from_secs_f64(t))
        }
    }

    fn run(m: &mut Model, sectors: i32) -> CacheMeasurement {
        measure(
            &mut |lba, n| Ok(m.read(lba, n)),
            0..sectors,
            &CancelToken::new(),
        )
        .unwrap()
    }

    #[test]
    fn no_cache_is_found_small() {
        let mut m = Model::new(0);
        let r = run(&mut m, 20_000);
        assert!(matches!(r.verdict, CacheVerdict::NoCache { .. }), "{r:?}");
        assert!(r.assume.unwrap() <= 100, "{r:?}");
        assert!(r.sectors_read < 1000, "cheap: {}", r.sectors_read);
        assert!(r.sector_us >= 667, "{r:?}");
    }

    #[test]
    fn cache_sizes_are_bounded_from_above() {
        for (size, lru, ahead) in [
            (24, false, 0),
            (100, false, 0),
            (300, true, 0),
            (1024, false, 0),
            (1024, true, 32),
            (3566, false, 0),
        ] {
            let mut m = Model::new(size);
            m.lru = lru;
            m.read_ahead = ahead;
            let r = run(&mut m, 40_000);
            let assume = r.assume.unwrap();
            assert!(assume as usize >= size, "{size}: {r:?}");
            assert!(assume as usize <= 3 * size + 100, "{size}: {r:?}");
            match r.verdict {
                CacheVerdict::Holds { at_least, below } => {
                    assert!(
                        at_least as usize <= size && size < below as usize + ahead as usize,
                        "{size}: {r:?}"
                    );
                }
                other => panic!("{size}: {other:?}"),
            }
        }
    }

    #[test]
    fn noisy_timing_errs_on_the_large_side() {
        for noise in [3, 4, 5, 7] {
            let mut m = Model::new(1024);
            m.noise = noise;
            let r = run(&mut m, 40_000);
            assert!(r.assume.unwrap() >= 1024, "noise {noise}: {r:?}");
        }
    }

    #[test]
    fn undecidable_cases_assume_a_large_cache() {
        // Larger than the longest stretch.
        let mut m = Model::new(10_000);
        let r = run(&mut m, 40_000);
        assert!(matches!(r.verdict, CacheVerdict::Beyond { .. }), "{r:?}");
        assert_eq!(r.assume, Some(ASSUMED_CACHE_SECTORS));
        // A disc too short for the stretch the cache needs.
        let mut m = Model::new(1024);
        let r = run(&mut m, 1000);
        // (Its passes wrap round to sectors the cache still holds: those
        // are thrown away as stale.)
        assert!(
            matches!(
                r.verdict,
                CacheVerdict::Beyond { .. } | CacheVerdict::Inconclusive { .. }
            ),
            "{r:?}"
        );
        assert_eq!(r.assume, Some(ASSUMED_CACHE_SECTORS));
        // Too short for anything.
        let mut m = Model::new(0);
        let r = run(&mut m, 50);
        assert!(
            matches!(r.verdict, CacheVerdict::Inconclusive { .. }),
            "{r:?}"
        );
        assert_eq!(r.assume, Some(ASSUMED_CACHE_SECTORS));
        // Read errors everywhere.
        let mut m = Model::new(0);
        m.bad = Some(0..20_000);
        let r = run(&mut m, 20_000);
        assert!(
            matches!(r.verdict, CacheVerdict::Inconclusive { .. }),
            "{r:?}"
        );
        assert_eq!(r.assume, Some(ASSUMED_CACHE_SECTORS));
    }

    #[test]
    fn an_instant_drive_is_not_timed() {
        let mut m = Model::new(1024);
        m.per_sector = 1e-7;
        m.hit = 1e-8;
        m.seek = 0.0;
        let r = run(&mut m, 20_000);
        assert_eq!(r.verdict, CacheVerdict::Untimed);
        assert_eq!(r.assume, None);
        assert!(m.commands <= 8, "{}", m.commands);
    }

    #[test]
    fn errors_and_cancel_stop_it() {
        let c = CancelToken::new();
        c.cancel();
        let e = measure(&mut |_, _| Ok(Some(Duration::ZERO)), 0..10_000, &c).unwrap_err();
        assert!(matches!(e, Error::Cancelled));
        let e = measure(
            &mut |_, _| Err(Error::Output("gone".into())),
            0..10_000,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "gone");
    }
}
