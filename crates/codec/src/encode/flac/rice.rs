//! Partitioned Rice coding of residuals (RFC 9639 §9.2.7): choosing the
//! partition order and parameters from partition sums (as libFLAC does),
//! and writing them, with escape codes where raw bits are smaller.

use super::bits::{BitWriter, MAX_RAW};
use super::kernels::{zigzag32, Kernels};

/// Largest Rice parameter with the 4-bit method; 15 is the escape code
/// (RFC 9639 §9.2.7.1).
const MAX_RICE4: u32 = 14;
/// Largest Rice parameter with the 5-bit method; 31 is the escape code.
const MAX_RICE5: u32 = 30;
/// Largest partition order the 4-bit field holds (RFC 9639 §9.2.7).
pub(super) const MAX_PARTITION_ORDER: u32 = 15;
/// Escape: a 5-bit count of raw bits per sample follows (RFC 9639 §9.2.7.1).
const ESCAPE_BITS_LEN: u64 = 5;

/// The chosen coding of one residual; parameters are in the caller's
/// buffer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Choice {
    pub(super) partition_order: u32,
    /// 5-bit parameters (method 0b01).
    pub(super) wide: bool,
    /// Estimated bits of the whole residual section.
    pub(super) bits: u64,
}

/// The deepest partition order allowed for a block of `n` samples and a
/// predictor of `order`: partitions divide the block evenly and the first
/// holds more than the warm-up samples (RFC 9639 §9.2.7).
pub(super) fn max_partition_order(n: usize, order: usize, limit: u32) -> u32 {
    let mut top = 0u32;
    while top < limit.min(MAX_PARTITION_ORDER)
        && n.is_multiple_of(1usize << (top + 1))
        && (n >> (top + 1)) > order
    {
        top += 1;
    }
    top
}

/// (parameter, estimated bits) for `count` zigzagged residuals summing to
/// `sum`: the estimate is libFLAC's (bits of the quotient from the sum,
/// minus the expected loss of the shifted-out low bits).
#[inline]
fn param_cost(sum: u64, count: u64, max: u32) -> (u32, u64) {
    if count == 0 {
        return (0, 0);
    }
    let cost = |k: u32| -> u64 {
        if k == 0 {
            count + sum
        } else {
            let loss = ((count << k) - count) >> (k + 1);
            (count * u64::from(k + 1) + (sum >> k)).saturating_sub(loss)
        }
    };
    // floor(log2(sum / count)) without dividing: the largest k with
    // count << k <= sum.
    let mut k0 = (count.leading_zeros()).saturating_sub(sum.leading_zeros());
    if k0 > 0 && count << k0 > sum {
        k0 -= 1;
    }
    let k0 = k0.min(max);
    let mut best = (k0, cost(k0));
    for k in [k0.wrapping_sub(1), k0 + 1] {
        if k <= max {
            let c = cost(k);
            if c < best.1 {
                best = (k, c);
            }
        }
    }
    best
}

/// Chooses the partition order (0 to `max_order`, limited by
/// [`max_partition_order`]) and parameters for `residual`, which holds
/// the residual of samples `order..n`. Fills `params` with one parameter
/// per partition.
pub(super) fn search(
    k: &Kernels,
    residual: &[i32],
    order: usize,
    max_order: u32,
    sums: &mut Vec<u64>,
    params: &mut Vec<u8>,
) -> Choice {
    let n = residual.len() + order;
    let top = max_partition_order(n, order, max_order);
    // Level `top` first, then each lower level after it.
    let total = (2usize << top) - 1;
    sums.clear();
    sums.resize(total, 0);
    (k.partition_sums)(residual, order, 1 << top, sums);
    let mut at = 0;
    for level in (0..top).rev() {
        let parts = 1usize << level;
        let (done, rest) = sums.split_at_mut(at + 2 * parts);
        let src = &done[at..];
        for p in 0..parts {
            rest[p] = src[2 * p] + src[2 * p + 1];
        }
        at += 2 * parts;
    }
    let mut best = Choice {
        bits: u64::MAX,
        ..Choice::default()
    };
    let mut at = 0;
    let mut best_at = 0;
    for level in (0..=top).rev() {
        let parts = 1usize << level;
        let psize = (n >> level) as u64;
        let mut bits = 0u64;
        let mut wide = false;
        for (p, &sum) in sums[at..at + parts].iter().enumerate() {
            let count = if p == 0 { psize - order as u64 } else { psize };
            let (kk, c) = param_cost(sum, count, MAX_RICE5);
            wide |= kk > MAX_RICE4;
            bits += c;
        }
        bits += 2 + 4 + parts as u64 * if wide { 5 } else { 4 };
        if bits < best.bits {
            best = Choice {
                partition_order: level,
                wide,
                bits,
            };
            best_at = at;
        }
        at += parts;
    }
    let parts = 1usize << best.partition_order;
    let psize = (n >> best.partition_order) as u64;
    let max = if best.wide { MAX_RICE5 } else { MAX_RICE4 };
    params.clear();
    for (p, &sum) in sums[best_at..best_at + parts].iter().enumerate() {
        let count = if p == 0 { psize - order as u64 } else { psize };
        params.push(param_cost(sum, count, max).0 as u8);
    }
    best
}

/// Writes the residual section (RFC 9639 §9.2.7): method, partition
/// order, then each partition. Each partition's parameter is refined by
/// exact bit counts of its neighbours, and replaced by an escape (raw
/// signed samples) where that is smaller.
pub(super) fn write(w: &mut BitWriter, residual: &[i32], order: usize, c: &Choice, params: &[u8]) {
    let (max, param_len) = if c.wide {
        (MAX_RICE5, 5)
    } else {
        (MAX_RICE4, 4)
    };
    w.put(2, u64::from(c.wide));
    w.put(4, u64::from(c.partition_order));
    let n = residual.len() + order;
    let parts = 1usize << c.partition_order;
    let psize = n >> c.partition_order;
    let mut start = 0;
    for p in 0..parts {
        let end = ((p + 1) * psize - order).min(residual.len());
        let slice = residual.get(start..end).unwrap_or(&[]);
        start = end;
        let guess = u32::from(params.get(p).copied().unwrap_or(0)).min(max);
        let lo = guess.saturating_sub(1);
        let hi = (guess + 1).min(max);
        // Exact costs for lo, guess, hi and the raw width.
        let (mut s_lo, mut s_mid, mut s_hi) = (0u64, 0u64, 0u64);
        let mut any = 0u32;
        let mut mag = 0u32;
        for &e in slice {
            let u = zigzag32(e);
            s_lo += u64::from(u >> lo);
            s_mid += u64::from(u >> guess);
            s_hi += u64::from(u >> hi);
            any |= e as u32;
            mag |= (e ^ (e >> 31)) as u32;
        }
        let count = slice.len() as u64;
        let mut k = guess;
        let mut bits = s_mid + count * u64::from(guess + 1);
        for (kk, s) in [(lo, s_lo), (hi, s_hi)] {
            let b = s + count * u64::from(kk + 1);
            if b < bits {
                bits = b;
                k = kk;
            }
        }
        let raw = if any == 0 {
            0
        } else {
            33 - mag.leading_zeros()
        };
        if raw < 32 && ESCAPE_BITS_LEN + count * u64::from(raw) < bits {
            w.put(param_len, (1 << param_len) - 1);
            w.put(ESCAPE_BITS_LEN as u32, u64::from(raw));
            if raw > 0 {
                for &e in slice {
                    w.put(raw, e as u32 as u64);
                }
            }
            continue;
        }
        w.put(param_len, u64::from(k));
        write_partition(w, slice, k);
    }
}

#[inline]
fn write_partition(w: &mut BitWriter, slice: &[i32], k: u32) {
    let mask = (1u32 << k) - 1;
    let top = 1u64 << k;
    let fast = MAX_RAW - k; // q below this: one field of q + 1 + k bits
    for &e in slice {
        let u = zigzag32(e);
        let q = u >> k;
        let v = top | u64::from(u & mask);
        if q < fast {
            w.put_raw(q + 1 + k, v);
        } else {
            w.zeros(u64::from(q));
            w.put_raw(k + 1, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_orders_follow_the_block() {
        assert_eq!(max_partition_order(4096, 8, 6), 6);
        assert_eq!(max_partition_order(4096, 8, 15), 8);
        assert_eq!(max_partition_order(4097, 0, 6), 0);
        assert_eq!(max_partition_order(1152, 2, 8), 7);
        assert_eq!(max_partition_order(1, 0, 8), 0);
    }

    #[test]
    fn parameters_track_the_magnitude() {
        let k = Kernels::portable();
        let (mut sums, mut params) = (Vec::new(), Vec::new());
        // Quiet first half, loud second half: two partitions win.
        let r: Vec<i32> = (0..4096)
            .map(|i| {
                if i < 2048 {
                    (i % 5) - 2
                } else {
                    (i * 7919 % 4001) - 2000
                }
            })
            .collect();
        let c = search(&k, &r, 0, 4, &mut sums, &mut params);
        assert!(c.partition_order >= 1, "{c:?}");
        assert!(!c.wide);
        let n = params.len();
        assert!(params[0] <= 2 && params[n - 1] >= 9, "{params:?}");
        // The estimate is close to what gets written, which refines the
        // parameters and escapes the loud (uniform) half.
        let mut w = BitWriter::default();
        write(&mut w, &r, 0, &c, &params);
        let actual = w.bit_len() as f64;
        assert!(actual <= c.bits as f64, "{actual} vs {}", c.bits);
        assert!(actual / c.bits as f64 > 0.95, "{actual} vs {}", c.bits);
    }

    #[test]
    fn silence_and_noise_use_escapes() {
        let mut w = BitWriter::default();
        let r = vec![0i32; 64];
        let c = Choice {
            partition_order: 0,
            wide: false,
            bits: 0,
        };
        write(&mut w, &r, 0, &c, &[0]);
        // 2 + 4 + escape 4 + 5 bits, no samples.
        assert_eq!(w.bit_len(), 15);
        // Uniform values in -8..8: raw 4 bits beats Rice.
        let r: Vec<i32> = (0..64).map(|i| (i * 5 % 16) - 8).collect();
        let mut w = BitWriter::default();
        write(&mut w, &r, 0, &c, &[3]);
        assert_eq!(w.bit_len(), 6 + 4 + 5 + 64 * 4);
    }
}
