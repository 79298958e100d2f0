//! Run-time choice of vector units for the encoder's inner loops.
//!
//! The loops in [`super::kernels`] are plain Rust; here they are compiled a
//! second time with AVX2 enabled (x86-64 only) and chosen when the CPU has
//! it. Integer results are identical by construction; the floating-point
//! ones too, because every sum keeps the same lane order whatever the
//! vector width and Rust never fuses a multiply and an add on its own.
//! This is the encoder's only unsafe code: calling a function compiled for
//! a CPU feature.

#![allow(unsafe_code)]

use super::kernels::Kernels;

/// The fastest kernels this CPU runs.
pub(super) fn detect() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if std::env::var_os("AJ_FLAC_PORTABLE").is_none() && is_x86_feature_detected!("avx2") {
            return avx2::kernels();
        }
    }
    Kernels::portable()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::{kernels, lpc};
    use super::Kernels;

    pub(super) fn kernels() -> Kernels {
        Kernels {
            fixed_sums,
            lpc32,
            lpc64,
            window,
            autocorrelation,
            partition_sums,
        }
    }

    macro_rules! avx2_wrap {
        ($name:ident, $inner:ident, $target:path, ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
            #[target_feature(enable = "avx2")]
            unsafe fn $inner($($arg: $ty),*) $(-> $ret)? {
                $target($($arg),*)
            }
            fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: these functions are only handed out by `kernels()`,
                // which `detect()` calls only after `is_x86_feature_detected!`
                // confirmed AVX2; the body is safe Rust.
                unsafe { $inner($($arg),*) }
            }
        };
    }

    avx2_wrap!(fixed_sums, fixed_sums_t, kernels::fixed_sums, (x: &[i32], bps: u32) -> [u64; 5]);
    avx2_wrap!(lpc32, lpc32_t, kernels::lpc32, (x: &[i32], q: &[i32], shift: u32, out: &mut [i32]));
    avx2_wrap!(lpc64, lpc64_t, kernels::lpc64, (x: &[i32], q: &[i32], shift: u32, out: &mut [i32]) -> bool);
    avx2_wrap!(window, window_t, kernels::window, (x: &[i32], w: &[f64], out: &mut [f64]));
    avx2_wrap!(autocorrelation, autocorrelation_t, lpc::autocorrelation, (x: &[f64], n: usize, out: &mut [f64]));
    avx2_wrap!(partition_sums, partition_sums_t, kernels::partition_sums, (r: &[i32], order: usize, parts: usize, out: &mut [u64]));
}

#[cfg(test)]
mod tests {
    use super::super::lpc;
    use super::*;

    #[test]
    fn detected_kernels_match_the_portable_ones() {
        let k = detect();
        let p = Kernels::portable();
        let x: Vec<i32> = (0..4096)
            .map(|i| ((i as f64 * 0.031).sin() * 20000.0) as i32 + (i * 7919 % 97) - 48)
            .collect();
        assert_eq!((k.fixed_sums)(&x, 16), (p.fixed_sums)(&x, 16));
        let q = [1700, -900, 300, -120, 60, -20, 9, -3, 1, 0, 2, -1];
        for order in [1usize, 2, 7, 8, 12] {
            let (mut a, mut b) = (vec![0; 4096 - order], vec![0; 4096 - order]);
            (k.lpc32)(&x, &q[..order], 10, &mut a);
            (p.lpc32)(&x, &q[..order], 10, &mut b);
            assert_eq!(a, b);
            assert!((k.lpc64)(&x, &q[..order], 10, &mut a));
            assert_eq!(a, b);
        }
        let w: Vec<f64> = (0..4096).map(|i| f64::from(i) / 4096.0).collect();
        let pad = 4096 + lpc::AUTOC_PAD;
        let (mut a, mut b) = (vec![0.0; pad], vec![0.0; pad]);
        (k.window)(&x, &w, &mut a);
        (p.window)(&x, &w, &mut b);
        assert_eq!(a, b);
        let (mut ca, mut cb) = ([0.0; 13], [0.0; 13]);
        (k.autocorrelation)(&a, 4096, &mut ca);
        (p.autocorrelation)(&b, 4096, &mut cb);
        assert_eq!(ca, cb);
        let (mut sa, mut sb) = ([0u64; 16], [0u64; 16]);
        (k.partition_sums)(&x[3..], 3, 16, &mut sa);
        (p.partition_sums)(&x[3..], 3, 16, &mut sb);
        assert_eq!(sa, sb);
    }
}
