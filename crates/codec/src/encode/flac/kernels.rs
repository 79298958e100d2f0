//! The inner loops of the encoder, written so that the compiler vectorises
//! them: fixed-predictor error sums, LPC residuals, windowing,
//! autocorrelation and Rice partition sums. Each body is `#[inline(always)]`
//! so [`super::simd`] can compile it again for wider vector units and
//! choose at run time; [`Kernels::portable`] is the plain build.

use super::lpc;

/// One channel's samples: `i32` for depths up to 31 bits (so the side
/// channel of up to 31-bit audio fits), `i64` for 32-bit audio, whose side
/// channel takes 33 bits (RFC 9639 §4.2).
pub(super) trait Sample: Copy + Default + PartialEq + std::fmt::Debug + 'static {
    fn from_i64(v: i64) -> Self;
    fn to_i64(self) -> i64;
    /// The samples as `i32` when that is their type (the fast paths).
    fn as_i32(x: &[Self]) -> Option<&[i32]>;
}

impl Sample for i32 {
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v as i32
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        i64::from(self)
    }
    fn as_i32(x: &[Self]) -> Option<&[i32]> {
        Some(x)
    }
}

impl Sample for i64 {
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self
    }
    fn as_i32(_: &[Self]) -> Option<&[i32]> {
        None
    }
}

/// Function table for the hot loops (see [`super::simd::detect`]).
#[derive(Clone, Copy)]
pub(super) struct Kernels {
    /// Sums of |residual| of the FIXED predictors of order 0–4 over
    /// samples 4.. (`bps` at most 28).
    pub(super) fixed_sums: fn(&[i32], u32) -> [u64; 5],
    /// LPC residual with 32-bit accumulation (caller checks the bound).
    pub(super) lpc32: fn(&[i32], &[i32], u32, &mut [i32]),
    /// LPC residual with 64-bit accumulation; false when a residual does
    /// not fit in 32 bits.
    pub(super) lpc64: fn(&[i32], &[i32], u32, &mut [i32]) -> bool,
    /// `out[i] = x[i] * w[i]`.
    pub(super) window: fn(&[i32], &[f64], &mut [f64]),
    pub(super) autocorrelation: fn(&[f64], usize, &mut [f64]),
    /// Sums of zigzagged residuals over equal partitions (the first one
    /// short by the predictor order).
    pub(super) partition_sums: fn(&[i32], usize, usize, &mut [u64]),
}

impl Kernels {
    pub(super) fn portable() -> Self {
        Kernels {
            fixed_sums,
            lpc32,
            lpc64,
            window,
            autocorrelation: lpc::autocorrelation,
            partition_sums,
        }
    }
}

#[inline(always)]
pub(super) fn zigzag32(e: i32) -> u32 {
    ((e << 1) ^ (e >> 31)) as u32
}

#[inline(always)]
pub(super) fn fixed_sums(x: &[i32], bps: u32) -> [u64; 5] {
    let mut total = [0u64; 5];
    let n = x.len();
    if n <= 4 {
        return total;
    }
    // |e_k| <= 2^(bps + 3): chunks short enough for 32-bit sums.
    let chunk = 1usize << (28u32.saturating_sub(bps)).min(12);
    let (x0, x1, x2, x3, x4) = (
        &x[4..],
        &x[3..n - 1],
        &x[2..n - 2],
        &x[1..n - 3],
        &x[..n - 4],
    );
    let m = n - 4;
    let mut start = 0;
    while start < m {
        let end = (start + chunk).min(m);
        let mut s = [0u32; 5];
        for i in start..end {
            let (a, b, c, d, e) = (x0[i], x1[i], x2[i], x3[i], x4[i]);
            let e1 = a.wrapping_sub(b);
            let e2 = e1.wrapping_sub(b.wrapping_sub(c));
            let e3 = a
                .wrapping_sub(b.wrapping_mul(3))
                .wrapping_add(c.wrapping_mul(3))
                .wrapping_sub(d);
            let e4 = a
                .wrapping_sub(b.wrapping_mul(4))
                .wrapping_add(c.wrapping_mul(6))
                .wrapping_sub(d.wrapping_mul(4))
                .wrapping_add(e);
            s[0] = s[0].wrapping_add(a.unsigned_abs());
            s[1] = s[1].wrapping_add(e1.unsigned_abs());
            s[2] = s[2].wrapping_add(e2.unsigned_abs());
            s[3] = s[3].wrapping_add(e3.unsigned_abs());
            s[4] = s[4].wrapping_add(e4.unsigned_abs());
        }
        for k in 0..5 {
            total[k] += u64::from(s[k]);
        }
        start = end;
    }
    total
}

/// Residual of a FIXED predictor (RFC 9639 §9.2.5) in 32-bit arithmetic;
/// exact when `bps + order <= 32`. `out` gets `x.len() - order` values.
pub(super) fn fixed_residual32(x: &[i32], order: usize, out: &mut Vec<i32>) {
    out.clear();
    let n = x.len();
    if n <= order {
        return;
    }
    let a = &x[order..];
    match order {
        0 => out.extend_from_slice(x),
        1 => out.extend(a.iter().zip(x).map(|(&a, &b)| a.wrapping_sub(b))),
        2 => out.extend(
            a.iter()
                .zip(&x[1..])
                .zip(x)
                .map(|((&a, &b), &c)| a.wrapping_sub(b.wrapping_mul(2)).wrapping_add(c)),
        ),
        3 => out.extend(
            a.iter()
                .zip(&x[2..])
                .zip(&x[1..])
                .zip(x)
                .map(|(((&a, &b), &c), &d)| {
                    a.wrapping_sub(b.wrapping_mul(3))
                        .wrapping_add(c.wrapping_mul(3))
                        .wrapping_sub(d)
                }),
        ),
        _ => out.extend(a.iter().zip(&x[3..]).zip(&x[2..]).zip(&x[1..]).zip(x).map(
            |((((&a, &b), &c), &d), &e)| {
                a.wrapping_sub(b.wrapping_mul(4))
                    .wrapping_add(c.wrapping_mul(6))
                    .wrapping_sub(d.wrapping_mul(4))
                    .wrapping_add(e)
            },
        )),
    }
}

/// FIXED residual in 64-bit arithmetic for any sample type; false when a
/// residual does not fit in 32 bits.
pub(super) fn fixed_residual64<S: Sample>(x: &[S], order: usize, out: &mut Vec<i32>) -> bool {
    out.clear();
    let mut ok = true;
    for i in order..x.len() {
        let v = |k: usize| x[i - k].to_i64();
        let e = match order {
            0 => v(0),
            1 => v(0) - v(1),
            2 => v(0) - 2 * v(1) + v(2),
            3 => v(0) - 3 * v(1) + 3 * v(2) - v(3),
            _ => v(0) - 4 * v(1) + 6 * v(2) - 4 * v(3) + v(4),
        };
        ok &= e == i64::from(e as i32);
        out.push(e as i32);
    }
    ok
}

/// Sums of |residual| of FIXED orders 0–4 over samples 4.. in 64-bit
/// arithmetic (wide samples).
pub(super) fn fixed_sums64<S: Sample>(x: &[S]) -> [u64; 5] {
    let mut s = [0u64; 5];
    for i in 4..x.len() {
        let v = |k: usize| x[i - k].to_i64();
        let e = [
            v(0),
            v(0) - v(1),
            v(0) - 2 * v(1) + v(2),
            v(0) - 3 * v(1) + 3 * v(2) - v(3),
            v(0) - 4 * v(1) + 6 * v(2) - 4 * v(3) + v(4),
        ];
        for k in 0..5 {
            s[k] = s[k].saturating_add(e[k].unsigned_abs());
        }
    }
    s
}

#[inline(always)]
fn lpc32_n<const N: usize>(x: &[i32], q: &[i32], shift: u32, out: &mut [i32]) {
    let Ok(q) = <[i32; N]>::try_from(q.get(..N).unwrap_or(&[])) else {
        return;
    };
    let m = out.len();
    if x.len() != m + N {
        return;
    }
    let blocks = m / 8;
    for b in 0..blocks {
        let base = b * 8;
        let mut acc = [0i32; 8];
        for j in 0..N {
            let c = q[j];
            let xs = &x[base + N - 1 - j..base + N - 1 - j + 8];
            for k in 0..8 {
                acc[k] = acc[k].wrapping_add(c.wrapping_mul(xs[k]));
            }
        }
        let xs = &x[base + N..base + N + 8];
        let o = &mut out[base..base + 8];
        for k in 0..8 {
            o[k] = xs[k].wrapping_sub(acc[k] >> shift);
        }
    }
    for i in blocks * 8..m {
        let mut acc = 0i32;
        for j in 0..N {
            acc = acc.wrapping_add(q[j].wrapping_mul(x[i + N - 1 - j]));
        }
        out[i] = x[i + N].wrapping_sub(acc >> shift);
    }
}

#[inline(always)]
fn lpc64_n<const N: usize>(x: &[i32], q: &[i32], shift: u32, out: &mut [i32]) -> bool {
    let Ok(q) = <[i32; N]>::try_from(q.get(..N).unwrap_or(&[])) else {
        return false;
    };
    let m = out.len();
    if x.len() != m + N {
        return false;
    }
    let mut bad = false;
    let blocks = m / 4;
    for b in 0..blocks {
        let base = b * 4;
        let mut acc = [0i64; 4];
        for j in 0..N {
            let c = i64::from(q[j]);
            let xs = &x[base + N - 1 - j..base + N - 1 - j + 4];
            for k in 0..4 {
                acc[k] += c * i64::from(xs[k]);
            }
        }
        let xs = &x[base + N..base + N + 4];
        let o = &mut out[base..base + 4];
        for k in 0..4 {
            let r = i64::from(xs[k]) - (acc[k] >> shift);
            bad |= r != i64::from(r as i32);
            o[k] = r as i32;
        }
    }
    for i in blocks * 4..m {
        let mut acc = 0i64;
        for j in 0..N {
            acc += i64::from(q[j]) * i64::from(x[i + N - 1 - j]);
        }
        let r = i64::from(x[i + N]) - (acc >> shift);
        bad |= r != i64::from(r as i32);
        out[i] = r as i32;
    }
    !bad
}

macro_rules! by_order {
    ($f:ident, $order:expr, $fallback:expr, $($args:expr),*) => {
        match $order {
            1 => $f::<1>($($args),*), 2 => $f::<2>($($args),*), 3 => $f::<3>($($args),*),
            4 => $f::<4>($($args),*), 5 => $f::<5>($($args),*), 6 => $f::<6>($($args),*),
            7 => $f::<7>($($args),*), 8 => $f::<8>($($args),*), 9 => $f::<9>($($args),*),
            10 => $f::<10>($($args),*), 11 => $f::<11>($($args),*), 12 => $f::<12>($($args),*),
            13 => $f::<13>($($args),*), 14 => $f::<14>($($args),*), 15 => $f::<15>($($args),*),
            16 => $f::<16>($($args),*), 17 => $f::<17>($($args),*), 18 => $f::<18>($($args),*),
            19 => $f::<19>($($args),*), 20 => $f::<20>($($args),*), 21 => $f::<21>($($args),*),
            22 => $f::<22>($($args),*), 23 => $f::<23>($($args),*), 24 => $f::<24>($($args),*),
            25 => $f::<25>($($args),*), 26 => $f::<26>($($args),*), 27 => $f::<27>($($args),*),
            28 => $f::<28>($($args),*), 29 => $f::<29>($($args),*), 30 => $f::<30>($($args),*),
            31 => $f::<31>($($args),*), 32 => $f::<32>($($args),*),
            _ => $fallback,
        }
    };
}

/// LPC residual (RFC 9639 §9.2.6) of `x` with coefficients `q` (order
/// `q.len()`, 1–32) in 32-bit arithmetic: `out[i]` is the residual of
/// sample `i + order`. The caller guarantees that no sum overflows.
#[inline(always)]
pub(super) fn lpc32(x: &[i32], q: &[i32], shift: u32, out: &mut [i32]) {
    by_order!(lpc32_n, q.len(), (), x, q, shift, out)
}

/// As [`lpc32`] with 64-bit sums; false when a residual does not fit in
/// 32 bits.
#[inline(always)]
pub(super) fn lpc64(x: &[i32], q: &[i32], shift: u32, out: &mut [i32]) -> bool {
    by_order!(lpc64_n, q.len(), false, x, q, shift, out)
}

/// LPC residual of wide samples; false when a residual does not fit in
/// 32 bits or a sum would overflow.
pub(super) fn lpc_wide<S: Sample>(x: &[S], q: &[i32], shift: u32, out: &mut Vec<i32>) -> bool {
    out.clear();
    let order = q.len();
    for i in order..x.len() {
        let mut acc = 0i128;
        for (j, &c) in q.iter().enumerate() {
            acc += i128::from(c) * i128::from(x[i - 1 - j].to_i64());
        }
        let r = i128::from(x[i].to_i64()) - (acc >> shift);
        if r != i128::from(r as i32) {
            return false;
        }
        out.push(r as i32);
    }
    true
}

#[inline(always)]
pub(super) fn window(x: &[i32], w: &[f64], out: &mut [f64]) {
    for ((o, &v), &c) in out.iter_mut().zip(x).zip(w) {
        *o = f64::from(v) * c;
    }
}

/// Sums of zigzagged residuals per partition: `parts` partitions of
/// `(residual.len() + order) / parts` samples, the first short by `order`.
#[inline(always)]
pub(super) fn partition_sums(residual: &[i32], order: usize, parts: usize, out: &mut [u64]) {
    let n = residual.len() + order;
    let psize = n / parts.max(1);
    let mut start = 0;
    for (p, o) in out.iter_mut().enumerate().take(parts) {
        let end = ((p + 1) * psize - order).min(residual.len());
        let slice = residual.get(start..end).unwrap_or(&[]);
        // 32-bit lanes per 256 samples (256 * 2^32 fits in u64 only as
        // u64; zigzag values are below 2^32, so sum 2^8 of them in u64).
        let mut acc = [0u64; 8];
        let mut chunks = slice.chunks_exact(8);
        for c in &mut chunks {
            for k in 0..8 {
                acc[k] += u64::from(zigzag32(c[k]));
            }
        }
        let mut s: u64 = acc.iter().sum();
        for &e in chunks.remainder() {
            s += u64::from(zigzag32(e));
        }
        *o = s;
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(n: usize, amp: f64, seed: u64) -> Vec<i32> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((s >> 40) as f64 / (1u64 << 24) as f64) - 0.5;
                (amp * ((i as f64 * 0.05).sin() + 0.1 * noise)) as i32
            })
            .collect()
    }

    #[test]
    fn lpc_kernels_agree_with_the_wide_reference() {
        let x = signal(1000, 30000.0, 3);
        let wide: Vec<i64> = x.iter().map(|&v| i64::from(v)).collect();
        for order in 1..=32usize {
            let q: Vec<i32> = (0..order).map(|j| (j as i32 * 37 % 200) - 90).collect();
            let mut want = Vec::new();
            assert!(lpc_wide(&wide, &q, 9, &mut want));
            let mut a = vec![0; x.len() - order];
            let mut b = vec![0; x.len() - order];
            lpc32(&x, &q, 9, &mut a);
            assert!(lpc64(&x, &q, 9, &mut b));
            assert_eq!(a, want, "order {order}");
            assert_eq!(b, want, "order {order}");
        }
    }

    #[test]
    fn fixed_kernels_agree() {
        let x = signal(777, 20000.0, 5);
        let wide: Vec<i64> = x.iter().map(|&v| i64::from(v)).collect();
        assert_eq!(fixed_sums(&x, 16), fixed_sums64(&wide));
        for order in 0..=4 {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            fixed_residual32(&x, order, &mut a);
            assert!(fixed_residual64(&wide, order, &mut b));
            assert_eq!(a, b, "order {order}");
        }
    }

    #[test]
    fn partition_sums_cover_every_residual() {
        let r: Vec<i32> = (0..4096 - 3).map(|i| (i % 7) - 3).collect();
        let mut out = [0u64; 4];
        partition_sums(&r, 3, 4, &mut out);
        let total: u64 = r.iter().map(|&e| u64::from(zigzag32(e))).sum();
        assert_eq!(out.iter().sum::<u64>(), total);
        let first: u64 = r[..1024 - 3].iter().map(|&e| u64::from(zigzag32(e))).sum();
        assert_eq!(out[0], first);
    }
}
