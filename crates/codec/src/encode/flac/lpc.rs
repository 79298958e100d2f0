//! Linear prediction for FLAC's LPC subframes (RFC 9639 §9.2.6): windows,
//! autocorrelation, Levinson-Durbin, order estimation and coefficient
//! quantisation, following libFLAC's choices so that levels mean the same.

/// Largest LPC order the format allows (RFC 9639 §9.2.1: 6-bit order - 1).
pub(super) const MAX_ORDER: usize = 32;
/// Coefficient precision bounds: the 4-bit field holds precision - 1, and
/// 0b1111 is invalid (RFC 9639 §9.2.6), so at most 15 bits.
pub(super) const MAX_PRECISION: u32 = 15;
pub(super) const MIN_PRECISION: u32 = 5;
/// The shift is a 5-bit signed field; negative shifts are not allowed
/// (RFC 9639 §9.2.6), so 0 to 15.
const MAX_SHIFT: i32 = 15;

/// The Tukey window libFLAC uses (`FLAC__window_tukey`): flat, with
/// raised-cosine ends each `p/2` of the length.
pub(super) fn tukey(n: usize, p: f64, out: &mut Vec<f64>) {
    out.clear();
    out.resize(n, 1.0);
    if p <= 0.0 || n == 0 {
        return;
    }
    if p >= 1.0 {
        // Hann.
        let m = (n.max(2) - 1) as f64;
        for (i, w) in out.iter_mut().enumerate() {
            *w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / m).cos();
        }
        return;
    }
    let np = (p / 2.0 * n as f64) as isize - 1;
    if np > 0 {
        let np = np as usize;
        for i in 0..=np {
            let a = 0.5 - 0.5 * (std::f64::consts::PI * i as f64 / np as f64).cos();
            let b = 0.5 - 0.5 * (std::f64::consts::PI * (i + np) as f64 / np as f64).cos();
            if let Some(w) = out.get_mut(i) {
                *w = a;
            }
            if let Some(w) = out.get_mut(n - np - 1 + i) {
                *w = b;
            }
        }
    }
}

/// Zeros a windowed signal must have after its last sample for
/// [`autocorrelation`].
pub(super) const AUTOC_PAD: usize = MAX_ORDER + 8;

/// `out[lag] = sum x[i] * x[i + lag]` over the first `n` samples of `x`,
/// for lags `0..out.len()` (at most `MAX_ORDER + 1`). `x` holds at least
/// `n + AUTOC_PAD` values, zero from `n` on.
#[inline(always)]
pub(super) fn autocorrelation(x: &[f64], n: usize, out: &mut [f64]) {
    macro_rules! lags {
        ($($l:literal)*) => {
            match out.len() {
                $($l => autoc_n::<$l>(x, n, out),)*
                _ => out.fill(0.0),
            }
        };
    }
    lags!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33);
}

/// All `L` lags in one pass, four lanes per lag held in registers; the
/// lane order of every sum is fixed, so any vector width gives the same
/// result.
#[inline(always)]
fn autoc_n<const L: usize>(x: &[f64], n: usize, out: &mut [f64]) {
    let m = n.div_ceil(4) * 4;
    if x.len() < m + L + 4 || out.len() < L {
        out.fill(0.0);
        return;
    }
    let x = &x[..m + L + 4];
    let mut acc = [[0.0f64; 4]; L];
    let mut i = 0;
    while i < m {
        let v = [x[i], x[i + 1], x[i + 2], x[i + 3]];
        for (l, a) in acc.iter_mut().enumerate() {
            let w = &x[i + l..i + l + 4];
            for k in 0..4 {
                a[k] += v[k] * w[k];
            }
        }
        i += 4;
    }
    for (o, a) in out.iter_mut().zip(&acc) {
        *o = (a[0] + a[2]) + (a[1] + a[3]);
    }
}

/// Levinson-Durbin recursion: predictor coefficients for every order
/// `1..=max_order` (row `o - 1` holds order `o`) and the prediction error
/// of each. Returns the highest order computed (lower when the error
/// reaches zero).
pub(super) fn levinson(
    autoc: &[f64],
    max_order: usize,
    coeffs: &mut [[f64; MAX_ORDER]; MAX_ORDER],
    error: &mut [f64; MAX_ORDER],
) -> usize {
    let max_order = max_order.min(MAX_ORDER).min(autoc.len().saturating_sub(1));
    let mut lpc = [0.0f64; MAX_ORDER];
    let mut err = autoc.first().copied().unwrap_or(0.0);
    for i in 0..max_order {
        let mut r = -autoc[i + 1];
        for j in 0..i {
            r -= lpc[j] * autoc[i - j];
        }
        r /= err;
        lpc[i] = r;
        let mut j = 0;
        while j < i / 2 {
            let tmp = lpc[j];
            lpc[j] += r * lpc[i - 1 - j];
            lpc[i - 1 - j] += r * tmp;
            j += 1;
        }
        if i % 2 == 1 {
            lpc[j] += lpc[j] * r;
        }
        err *= 1.0 - r * r;
        for j in 0..=i {
            coeffs[i][j] = -lpc[j];
        }
        error[i] = err;
        if err == 0.0 || !err.is_finite() {
            return i + 1;
        }
    }
    max_order
}

/// Expected bits per residual sample for a prediction error (libFLAC's
/// `FLAC__lpc_compute_expected_bits_per_residual_sample`).
pub(super) fn expected_bits(error: f64, samples: usize) -> f64 {
    if error > 0.0 {
        let bps = 0.5 * (0.5 * error / samples.max(1) as f64).log2();
        bps.max(0.0)
    } else if error < 0.0 {
        1e32
    } else {
        0.0
    }
}

/// The order expected to code smallest: residual bits plus `overhead` bits
/// per coefficient (libFLAC's `FLAC__lpc_compute_best_order`).
pub(super) fn best_order(error: &[f64], n: usize, overhead: u32) -> usize {
    let mut best = (1, f64::INFINITY);
    for (i, &e) in error.iter().enumerate() {
        let order = i + 1;
        let bits = expected_bits_scaled(e, 0.5 / n as f64) * n.saturating_sub(order) as f64
            + (order as u64 * u64::from(overhead)) as f64;
        if bits < best.1 {
            best = (order, bits);
        }
    }
    best.0
}

fn expected_bits_scaled(error: f64, scale: f64) -> f64 {
    if error > 0.0 {
        (0.5 * (scale * error).log2()).max(0.0)
    } else if error < 0.0 {
        1e32
    } else {
        0.0
    }
}

/// libFLAC's default coefficient precision for a depth and block size
/// (`FLAC__stream_encoder_init`, qlp_coeff_precision 0).
pub(super) fn default_precision(bits: u32, block_size: usize) -> u32 {
    if bits < 16 {
        MIN_PRECISION.max(2 + bits / 2)
    } else if bits == 16 {
        match block_size {
            0..=192 => 7,
            193..=384 => 8,
            385..=576 => 9,
            577..=1152 => 10,
            1153..=2304 => 11,
            2305..=4608 => 12,
            _ => 13,
        }
    } else {
        match block_size {
            0..=384 => MAX_PRECISION - 2,
            385..=1152 => MAX_PRECISION - 1,
            _ => MAX_PRECISION,
        }
    }
}

/// Quantises `lp` to `precision`-bit signed integers with a right shift
/// (RFC 9639 §9.2.6), carrying the rounding error from one coefficient to
/// the next as libFLAC does. Returns the shift, or `None` when the
/// coefficients cannot be represented (all zero, or too large).
pub(super) fn quantize(lp: &[f64], precision: u32, out: &mut [i32]) -> Option<u32> {
    let precision = precision.clamp(MIN_PRECISION, MAX_PRECISION) - 1;
    let qmax = (1i32 << precision) - 1;
    let qmin = -(1i32 << precision);
    let cmax = lp.iter().fold(0.0f64, |m, &c| m.max(c.abs()));
    if !cmax.is_finite() || cmax <= 0.0 {
        return None;
    }
    // frexp: cmax = f * 2^e with f in [0.5, 1); log2cmax = e - 1.
    let log2cmax = cmax.log2().floor() as i32;
    let mut shift = precision as i32 - log2cmax - 1;
    if shift > MAX_SHIFT {
        shift = MAX_SHIFT;
    }
    if shift < -16 {
        return None;
    }
    let scale = if shift >= 0 {
        f64::from(1u32 << shift)
    } else {
        1.0 / f64::from(1u32 << -shift)
    };
    let mut error = 0.0;
    for (c, q) in lp.iter().zip(out.iter_mut()) {
        error += c * scale;
        let v = (error.round() as i64).clamp(i64::from(qmin), i64::from(qmax)) as i32;
        error -= f64::from(v);
        *q = v;
    }
    Some(shift.max(0) as u32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tukey_matches_libflac_shape() {
        let mut w = Vec::new();
        tukey(4096, 0.5, &mut w);
        assert_eq!(w.len(), 4096);
        assert_eq!(w[0], 0.0);
        assert_eq!(w[2048], 1.0);
        assert!((w[4095]).abs() < 1e-12);
        // Symmetric ramps of 1023 + 1 samples.
        for i in 0..1024 {
            assert!((w[i] - w[4095 - i]).abs() < 1e-9, "{i}");
        }
        assert_eq!(w[1024], 1.0);
        assert!(w[1022] < 1.0);
    }

    #[test]
    fn levinson_recovers_an_ar2_process() {
        // x[n] = 1.6 x[n-1] - 0.8 x[n-2] + noise.
        let mut x = vec![0.0f64; 20000];
        let mut seed = 1u64;
        for i in 2..x.len() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let e = 1000.0 * (((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5);
            x[i] = 1.6 * x[i - 1] - 0.8 * x[i - 2] + e;
        }
        let mut ac = [0.0; 5];
        let n = x.len();
        x.resize(n + AUTOC_PAD, 0.0);
        autocorrelation(&x, n, &mut ac);
        let direct: f64 = (0..n - 3).map(|i| x[i] * x[i + 3]).sum();
        assert!((ac[3] - direct).abs() <= 1e-9 * direct.abs());
        let mut c = [[0.0; MAX_ORDER]; MAX_ORDER];
        let mut err = [0.0; MAX_ORDER];
        assert_eq!(levinson(&ac, 4, &mut c, &mut err), 4);
        assert!((c[1][0] - 1.6).abs() < 0.02, "{:?}", &c[1][..2]);
        assert!((c[1][1] + 0.8).abs() < 0.02, "{:?}", &c[1][..2]);
        assert!(err[1] < err[0]);
        assert_eq!(best_order(&err[..4], 20000, 16 + 12), 2);
    }

    #[test]
    fn quantisation_respects_precision_and_shift() {
        let lp = [1.6, -0.8];
        let mut q = [0; 2];
        let shift = quantize(&lp, 12, &mut q).unwrap();
        // |1.6| < 2: log2cmax 0, shift = 11 - 0 - 1 = 10.
        assert_eq!(shift, 10);
        assert_eq!(q, [1638, -819]);
        assert!(quantize(&[0.0, 0.0], 12, &mut q).is_none());
        // Tiny coefficients cap the shift at 15.
        let shift = quantize(&[1e-6], 12, &mut q[..1]).unwrap();
        assert_eq!(shift, 15);
        // Huge ones scale down (negative shift becomes 0).
        let shift = quantize(&[5000.0], 5, &mut q[..1]).unwrap();
        assert_eq!(shift, 0);
        assert!(q[0] <= 15);
    }
}
