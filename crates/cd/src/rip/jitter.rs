//! Reading from drives without an accurate stream: every READ CD may start
//! a few samples off, so every command is placed by its content.
//!
//! - **Extending**: a command is read so that it overlaps the samples
//!   already established by at least one sector; it is placed at the one
//!   shift (within ±[`MAX_SHIFT`]) where it matches them. Its new samples
//!   are accepted once two placed commands (neither flagged by C2) agree on
//!   them; up to 2 + `retries` commands are read for that.
//! - **Anchoring**: at the start of a range, or where the overlap fits at
//!   more than one shift with different results (silence before a sound),
//!   the same spot is read many times ([`MIN_ANCHOR_READS`] at least, and
//!   at least 12 times as many as the spread of shifts seen plus one, up to
//!   [`MAX_ANCHOR_READS`]). The reads are aligned to each other; their
//!   start positions scatter around the true one, and the middle of the
//!   observed spread is taken as true. This is exact when the drive's
//!   errors are symmetric (as the virtual drive's `jitter=` is) and both
//!   extremes were seen, which the number of reads makes all but certain.
//! - Where nothing can be placed (no two reads agree, or content that fits
//!   at several shifts with different results), one sector of the best
//!   guess (or zeros) is delivered and marked suspicious, and the next
//!   samples are anchored afresh.
//!
//! Limits: content that repeats exactly within the search span (a pure
//! tone) cannot be anchored; at the disc's lead-out without overread only
//! commands that start early enough can be read, so the last samples may
//! take many reads or end up suspicious; with a cache, the cache is flushed
//! before every command (slow), since a command answered partly from the
//! cache would not be one contiguous stretch.

use std::ops::Range;

use aj_core::CancelToken;

use super::{Counters, Error, Plan, ReadFail, SecureReader, Sink, BATCH, FRAMES_PER_SECTOR};

/// How far a read may start from where it was asked, in samples (two
/// sectors; drives without an accurate stream are off by far less).
pub const MAX_SHIFT: i64 = 2 * FRAMES_PER_SECTOR;
/// The most samples accepted at a time.
const STEP: i64 = 16 * FRAMES_PER_SECTOR;
/// The least overlap with the established samples for a placement.
const MIN_OVERLAP: i64 = FRAMES_PER_SECTOR;
/// Established samples kept for placing the next command.
const KEEP: i64 = 2 * MAX_SHIFT + 4 * FRAMES_PER_SECTOR;
/// Reads of one spot when anchoring, at least.
pub const MIN_ANCHOR_READS: usize = 16;
/// Reads of one spot when anchoring, at most.
pub const MAX_ANCHOR_READS: usize = 600;

/// A command's samples at their place in the drive's stream.
struct Placed {
    data: Vec<u8>,
    /// Stream position of the first sample.
    start: i64,
    flagged: bool,
}

impl Placed {
    fn end(&self) -> i64 {
        self.start + (self.data.len() / 4) as i64
    }

    fn bytes(&self, a: i64, b: i64) -> Option<&[u8]> {
        if a < self.start || b > self.end() || b < a {
            return None;
        }
        self.data
            .get(((a - self.start) * 4) as usize..((b - self.start) * 4) as usize)
    }
}

/// Where a command fits against the established samples.
enum Fit {
    /// At this start, valid up to this end.
    At(i64, i64),
    /// At several places with different results.
    Ambiguous,
    /// Nowhere.
    Nowhere,
}

/// The state of a jitter-corrected pass over `[k1, q1)` of the stream.
pub(super) struct Assembler<'r, 'd> {
    reader: &'r mut SecureReader<'d>,
    plan: Plan,
    q1: i64,
    /// Established samples `[k0, k1)` (a tail of them).
    known: Vec<u8>,
    k0: i64,
    k1: i64,
    smin: i32,
    smax: i32,
}

fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

impl<'r, 'd> Assembler<'r, 'd> {
    pub(super) fn new(reader: &'r mut SecureReader<'d>, plan: &Plan, q0: i64, q1: i64) -> Self {
        let fs = FRAMES_PER_SECTOR;
        let smin = if reader.report.overread_lead_in && plan.run.start <= 0 {
            (plan.r0 - 3).max(-150)
        } else {
            plan.r0.max(plan.run.start)
        };
        let smax = if reader.report.overread_lead_out && plan.run.end == reader.audio_end {
            ((q1 + MAX_SHIFT).div_euclid(fs) + 2) as i32 - BATCH as i32
        } else {
            plan.inner_hi - BATCH as i32
        };
        Assembler {
            reader,
            plan: plan.clone(),
            q1,
            known: Vec::new(),
            k0: q0,
            k1: q0,
            smin,
            smax: smax.max(smin),
        }
    }

    fn clamp_s(&self, s: i64) -> i32 {
        (s.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32).clamp(self.smin, self.smax)
    }

    /// One command of [`BATCH`] sectors at `s`: its samples and whether any
    /// sector was flagged; `None` when the medium failed.
    fn read_at(&mut self, s: i32, cancel: &CancelToken) -> Result<Option<(Vec<u8>, bool)>, Error> {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if self.reader.report.cache_sectors > 0 {
            let avoid = s..s + BATCH as i32;
            self.reader
                .flush(&self.plan, std::slice::from_ref(&avoid), cancel)?;
        }
        let resp = match self.reader.read_cmd(s, BATCH) {
            Ok(r) => r,
            Err(ReadFail::Medium) => return Ok(None),
            Err(ReadFail::Fatal(e)) => return Err(e),
        };
        let mut data = Vec::with_capacity(BATCH as usize * super::SECTOR_BYTES);
        let mut flagged = false;
        self.reader
            .deliver_sectors(&resp, s, 0, &mut |_, audio, got| {
                data.extend_from_slice(audio);
                flagged |= got == super::Got::Flagged;
            })?;
        Ok(Some((data, flagged)))
    }

    /// Places `data` (read at sector `s`) against the established samples.
    fn fit(&self, data: &[u8], s: i32) -> Fit {
        let len = (data.len() / 4) as i64;
        let base = i64::from(s) * FRAMES_PER_SECTOR;
        let need = MIN_OVERLAP.min(self.k1 - self.k0);
        let mut found: Vec<i64> = Vec::new();
        for d in -MAX_SHIFT..=MAX_SHIFT {
            let cs = base + d;
            let (o0, o1) = (self.k0.max(cs), self.k1.min(cs + len));
            if o1 - o0 < need || need <= 0 {
                continue;
            }
            let a = data.get(((o0 - cs) * 4) as usize..((o1 - cs) * 4) as usize);
            let b = self
                .known
                .get(((o0 - self.k0) * 4) as usize..((o1 - self.k0) * 4) as usize);
            if a.is_some() && a == b {
                found.push(cs);
            }
        }
        match found.as_slice() {
            [] => Fit::Nowhere,
            [cs] => Fit::At(*cs, cs + len),
            many => {
                // Several fits: fine when they all give the same new samples.
                let end = many.iter().map(|cs| cs + len).min().unwrap_or(self.k1);
                let end = end.min(self.k1 + STEP).min(self.q1);
                if end <= self.k1 {
                    return Fit::Ambiguous;
                }
                let slice =
                    |cs: i64| data.get(((self.k1 - cs) * 4) as usize..((end - cs) * 4) as usize);
                let first = slice(many[0]);
                if first.is_some() && many.iter().all(|&cs| slice(cs) == first) {
                    Fit::At(many[0], end)
                } else {
                    Fit::Ambiguous
                }
            }
        }
    }

    /// The end up to which two clean placed reads agree from `k1`.
    fn agree(&self, a: &Placed, b: &Placed) -> Option<i64> {
        if a.flagged || b.flagged {
            return None;
        }
        let e = a.end().min(b.end()).min(self.k1 + STEP).min(self.q1);
        if e <= self.k1 {
            return None;
        }
        let x = a.bytes(self.k1, e)?;
        (Some(x) == b.bytes(self.k1, e)).then_some(e)
    }

    fn accept(&mut self, bytes: &[u8], sink: &mut Sink<'_, '_>) -> Result<(), Error> {
        sink.push(bytes)?;
        self.known.extend_from_slice(bytes);
        self.k1 += (bytes.len() / 4) as i64;
        let len = (self.known.len() / 4) as i64;
        if len > 2 * KEEP {
            let cut = len - KEEP;
            self.known.drain(..(cut * 4) as usize);
            self.k0 += cut;
        }
        Ok(())
    }

    pub(super) fn run(
        &mut self,
        sink: &mut Sink<'_, '_>,
        counters: &mut Counters,
        suspicious: &mut Vec<Range<u64>>,
        cancel: &CancelToken,
        progress: &mut dyn FnMut(i64, u64),
    ) -> Result<(), Error> {
        while self.k1 < self.q1 {
            let placed = if self.known.is_empty() {
                self.anchor(counters, cancel)?
            } else {
                match self.extend(counters, cancel)? {
                    Step::Done(p) => Some(p),
                    Step::Failed(p) => p,
                    Step::Reanchor => self.anchor(counters, cancel)?,
                }
            };
            match placed {
                Some(Accepted::Sure(e, p)) => {
                    let bytes = p.bytes(self.k1, e).map(<[u8]>::to_vec).unwrap_or_default();
                    if bytes.is_empty() {
                        self.give_up(None, sink, suspicious)?;
                    } else {
                        self.accept(&bytes, sink)?;
                    }
                }
                Some(Accepted::Guess(p)) => self.give_up(Some(&p), sink, suspicious)?,
                None => self.give_up(None, sink, suspicious)?,
            }
            progress(self.k1 - self.plan.p0, counters.rereads);
        }
        Ok(())
    }

    /// Delivers one sector of a guess (or zeros), marks it suspicious and
    /// forgets the established samples (the next ones are anchored afresh).
    fn give_up(
        &mut self,
        guess: Option<&Placed>,
        sink: &mut Sink<'_, '_>,
        suspicious: &mut Vec<Range<u64>>,
    ) -> Result<(), Error> {
        let e = (self.k1 + FRAMES_PER_SECTOR).min(self.q1);
        let bytes = guess
            .and_then(|p| p.bytes(self.k1, e))
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| vec![0; ((e - self.k1) * 4) as usize]);
        sink.push(&bytes)?;
        let p0 = self.plan.p0;
        suspicious.push((self.k1 - p0) as u64..(e - p0) as u64);
        self.known.clear();
        self.k1 = e;
        self.k0 = e;
        Ok(())
    }

    /// Reads past `k1` with an overlap and places the reads by it.
    fn extend(&mut self, counters: &mut Counters, cancel: &CancelToken) -> Result<Step, Error> {
        let s = self.clamp_s((self.k1 - MIN_OVERLAP - MAX_SHIFT).div_euclid(FRAMES_PER_SECTOR));
        let budget = 2 + self.reader.opts.retries;
        let mut placed: Vec<Placed> = Vec::new();
        let mut ambiguous = 0;
        for attempt in 0..budget {
            if attempt >= 2 {
                counters.rereads += u64::from(BATCH);
            }
            let Some((data, flagged)) = self.read_at(s, cancel)? else {
                continue;
            };
            match self.fit(&data, s) {
                Fit::At(start, end) => {
                    let mut p = Placed {
                        data,
                        start,
                        flagged,
                    };
                    p.data.truncate(((end - start) * 4) as usize);
                    if let Some(e) = placed.iter().find_map(|q| self.agree(q, &p)) {
                        return Ok(Step::Done(Accepted::Sure(e, p)));
                    }
                    placed.push(p);
                }
                Fit::Ambiguous => {
                    ambiguous += 1;
                    if ambiguous >= 2 {
                        return Ok(Step::Reanchor);
                    }
                }
                Fit::Nowhere => {}
            }
        }
        Ok(Step::Failed(placed.into_iter().next().map(Accepted::Guess)))
    }

    /// Places reads of one spot by the spread of their start positions.
    fn anchor(
        &mut self,
        counters: &mut Counters,
        cancel: &CancelToken,
    ) -> Result<Option<Accepted>, Error> {
        let s = self.clamp_s((self.k1 - MAX_SHIFT).div_euclid(FRAMES_PER_SECTOR));
        let base = i64::from(s) * FRAMES_PER_SECTOR;
        // (data, flagged, shift relative to the first read)
        let mut reads: Vec<(Vec<u8>, bool, i64)> = Vec::new();
        let mut silent = 0usize;
        let mut attempts = 0usize;
        let mut misses = 0usize;
        let (mut rmin, mut rmax) = (0i64, 0i64);
        while attempts < 2 * MAX_ANCHOR_READS {
            attempts += 1;
            if attempts > 2 {
                counters.rereads += u64::from(BATCH);
            }
            let Some((data, flagged)) = self.read_at(s, cancel)? else {
                continue;
            };
            if flagged {
                // C2 says it is damaged: neither a reference nor a vote.
                continue;
            }
            if all_zero(&data) {
                silent += 1;
                if silent >= 2 && silent > reads.len() {
                    // Silence all around: its place does not matter, only
                    // the samples every shift covers are taken.
                    let e = (base + (BATCH as i64) * FRAMES_PER_SECTOR - MAX_SHIFT)
                        .min(self.k1 + STEP)
                        .min(self.q1);
                    if e <= self.k1 {
                        return Ok(None);
                    }
                    let p = Placed {
                        data,
                        start: base,
                        flagged,
                    };
                    return Ok(Some(Accepted::Sure(e, p)));
                }
                continue;
            }
            let r = match reads.first() {
                None => Some(0),
                Some((first, _, _)) => align(first, &data),
            };
            match r {
                Some(r) => {
                    misses = 0;
                    rmin = rmin.min(r);
                    rmax = rmax.max(r);
                    reads.push((data, flagged, r));
                }
                None => {
                    misses += 1;
                    // Nothing fits the first read: it was probably damaged
                    // (without C2 to tell); start over from this one.
                    if misses > 8 && misses > reads.len() {
                        misses = 0;
                        (rmin, rmax) = (0, 0);
                        reads.clear();
                        reads.push((data, flagged, 0));
                    }
                }
            }
            let spread = (rmax - rmin) as usize;
            if reads.len() >= MIN_ANCHOR_READS.max(12 * (spread + 1)) && (rmin + rmax) % 2 == 0 {
                break;
            }
            if reads.len() >= MAX_ANCHOR_READS {
                break;
            }
        }
        if reads.len() < 2 {
            return Ok(None);
        }
        let j0 = -(rmin + rmax).div_euclid(2);
        let mut placed: Vec<Placed> = reads
            .into_iter()
            .map(|(data, flagged, r)| Placed {
                data,
                start: base + j0 + r,
                flagged,
            })
            .filter(|p| p.start <= self.k1)
            .collect();
        // The two clean reads reaching furthest decide how much is taken.
        placed.sort_by_key(|p| std::cmp::Reverse(p.end()));
        let clean: Vec<usize> = (0..placed.len()).filter(|&i| !placed[i].flagged).collect();
        if let [a, b, ..] = clean.as_slice() {
            if let Some(e) = self.agree(&placed[*a], &placed[*b]) {
                let p = placed.swap_remove(*a);
                return Ok(Some(Accepted::Sure(e, p)));
            }
        }
        Ok(placed.into_iter().next().map(Accepted::Guess))
    }
}

/// What an attempt to extend gave.
enum Step {
    Done(Accepted),
    Failed(Option<Accepted>),
    Reanchor,
}

/// Samples found for `[k1, e)`.
enum Accepted {
    /// Verified up to this end.
    Sure(i64, Placed),
    /// Unverified: one sector of it is delivered as suspicious.
    Guess(Placed),
}

/// The shift `r` with `b[t] == a[t + r]` over all common samples, when
/// there is exactly one within ±2×[`MAX_SHIFT`].
fn align(a: &[u8], b: &[u8]) -> Option<i64> {
    let (la, lb) = ((a.len() / 4) as i64, (b.len() / 4) as i64);
    let mut found = None;
    for r in -2 * MAX_SHIFT..=2 * MAX_SHIFT {
        // t ranges over [max(0, -r), min(lb, la - r)).
        let t0 = 0i64.max(-r);
        let t1 = lb.min(la - r);
        if t1 - t0 < MIN_OVERLAP {
            continue;
        }
        let x = b.get((t0 * 4) as usize..(t1 * 4) as usize);
        let y = a.get(((t0 + r) * 4) as usize..((t1 + r) * 4) as usize);
        if x.is_some() && x == y {
            if found.is_some() {
                return None;
            }
            found = Some(r);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_finds_the_one_shift() {
        let mut x = 12345u32;
        let stream: Vec<u8> = (0..20_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let a = &stream[4000..4000 + 9408];
        let b = &stream[4000 + 4 * 37..4000 + 4 * 37 + 9408];
        assert_eq!(align(a, b), Some(37));
        assert_eq!(align(b, a), Some(-37));
        let zeros = vec![0u8; 9408];
        assert_eq!(align(&zeros, &zeros), None);
    }
}
