//! Channel order of Vorbis I (and of Opus channel mapping family 1, which
//! reuses it: RFC 7845 section 5.1.1.2).
//!
//! The pipeline carries channels in WAV order (WAVEFORMATEXTENSIBLE's speaker
//! bits, lowest first: FL FR FC LFE BL BR FLC FRC BC SL SR), which is what the
//! decoders and the CD and capture sources give. Vorbis I section 4.3.9 fixes
//! another order per channel count; [`from_wav`] maps one to the other.

/// For channel `i` of the Vorbis order, the index of the same speaker in the
/// WAV order, for 1 to 8 channels (None above 8).
///
/// | n | Vorbis I order                       | WAV order                          |
/// |---|--------------------------------------|------------------------------------|
/// | 3 | FL FC FR                             | FL FR FC                           |
/// | 4 | FL FR RL RR                          | FL FR BL BR                        |
/// | 5 | FL FC FR RL RR                       | FL FR FC BL BR                     |
/// | 6 | FL FC FR RL RR LFE                   | FL FR FC LFE BL BR                 |
/// | 7 | FL FC FR SL SR RC LFE                | FL FR FC LFE BC SL SR              |
/// | 8 | FL FC FR SL SR RL RR LFE             | FL FR FC LFE BL BR SL SR           |
pub(super) fn from_wav(channels: usize) -> Option<&'static [usize]> {
    Some(match channels {
        1 => &[0],
        2 => &[0, 1],
        3 => &[0, 2, 1],
        4 => &[0, 1, 2, 3],
        5 => &[0, 2, 1, 3, 4],
        6 => &[0, 2, 1, 4, 5, 3],
        7 => &[0, 2, 1, 5, 6, 4, 3],
        8 => &[0, 2, 1, 6, 7, 4, 5, 3],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_is_a_permutation() {
        for n in 1..=8 {
            let map = from_wav(n).unwrap_or(&[]);
            let mut seen = vec![false; n];
            for &i in map {
                seen[i] = true;
            }
            assert_eq!(map.len(), n);
            assert!(seen.iter().all(|&s| s), "{n}: {map:?}");
        }
        assert!(from_wav(9).is_none());
    }
}
