//! Channel mixing: down to stereo or mono, mono up to stereo.
//!
//! Channel order. AudioJuggler has no channel-layout model: a stream of `n`
//! channels is taken in the default order WAVE (`WAVEFORMATEXTENSIBLE`
//! default masks) and FLAC (RFC 9639 §9.1.3, channel assignments 0–7) share:
//!
//! | channels | order |
//! |---|---|
//! | 1 | C |
//! | 2 | L R |
//! | 3 | L R C |
//! | 4 | FL FR BL BR |
//! | 5 | FL FR FC BL BR |
//! | 6 (5.1) | FL FR FC LFE BL BR |
//! | 7 (6.1) | FL FR FC LFE BC SL SR |
//! | 8 (7.1) | FL FR FC LFE BL BR SL SR |
//!
//! Down to stereo (ITU-R BS.775 and ATSC A/52 §7.8 "Lo/Ro", with the centre
//! and surround mix levels at −3 dB): `L = FL + k·C + k·Ls (+ k·Lb)`,
//! `R = FR + k·C + k·Rs (+ k·Rb)` with `k = 1/√2`; a back centre goes to
//! both sides at −6 dB (−3 dB, then split); the LFE channel is dropped.
//! Down to mono: the average of the stereo downmix, `(L + R) / 2`. Mono up
//! to stereo: the same signal on both sides.
//!
//! No normalisation: the coefficients keep a centred or a single-channel
//! signal at its level, so a loud multichannel mix can exceed full scale.
//! [`ChannelMixer::max_gain`] says by how much at most; the converter's clip
//! guard ([`crate::gain::clip_guard`]) lowers the level of such a file by
//! its measured peak instead of letting it clip.

use aj_core::{AudioSpec, Block, Error, Processor, SampleFormat, Samples};

/// −3 dB, the centre and surround mix level of ITU-R BS.775 / ATSC A/52.
pub const MINUS_3_DB: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// The order assumed for `channels` channels (see the module docs), as
/// short speaker names; `None` beyond 8.
pub fn default_order(channels: u16) -> Option<&'static [&'static str]> {
    Some(match channels {
        1 => &["C"],
        2 => &["L", "R"],
        3 => &["L", "R", "C"],
        4 => &["FL", "FR", "BL", "BR"],
        5 => &["FL", "FR", "FC", "BL", "BR"],
        6 => &["FL", "FR", "FC", "LFE", "BL", "BR"],
        7 => &["FL", "FR", "FC", "LFE", "BC", "SL", "SR"],
        8 => &["FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"],
        _ => return None,
    })
}

/// The stereo downmix of `channels` channels: `(left row, right row)`, one
/// coefficient per input channel.
fn stereo_rows(channels: u16) -> Option<(Vec<f64>, Vec<f64>)> {
    let k = MINUS_3_DB;
    let order = default_order(channels)?;
    let mut l = vec![0.0; order.len()];
    let mut r = vec![0.0; order.len()];
    for (i, name) in order.iter().enumerate() {
        let (a, b) = match *name {
            "C" => (k, k),
            "L" | "FL" => (1.0, 0.0),
            "R" | "FR" => (0.0, 1.0),
            "FC" => (k, k),
            "BL" | "SL" => (k, 0.0),
            "BR" | "SR" => (0.0, k),
            "BC" => (k * k, k * k),
            // "LFE": dropped, as BS.775 and A/52 have it.
            _ => (0.0, 0.0),
        };
        l[i] = a;
        r[i] = b;
    }
    // A single channel becomes centre: both sides at full level.
    if channels == 1 {
        l[0] = 1.0;
        r[0] = 1.0;
    }
    Some((l, r))
}

/// The mixing matrix from `from` to `to` channels, row-major (`to` rows of
/// `from` coefficients): output channel `o` = Σ `m[o·from + i]` · input `i`.
///
/// # Errors
/// [`Error::InvalidSpec`] when `to` is not 1 or 2 (and not `from`), or
/// `from` is 0 or above 8.
pub fn matrix(from: u16, to: u16) -> Result<Vec<f64>, Error> {
    if from == to && from > 0 {
        let n = usize::from(from);
        return Ok((0..n * n)
            .map(|i| if i / n == i % n { 1.0 } else { 0.0 })
            .collect());
    }
    if to != 1 && to != 2 {
        return Err(Error::InvalidSpec(format!(
            "cannot mix {from} channels to {to}: only mono and stereo outputs are made"
        )));
    }
    let (l, r) = stereo_rows(from).ok_or_else(|| {
        Error::InvalidSpec(format!(
            "cannot mix {from} channels: the channel order is known for 1 to 8 channels"
        ))
    })?;
    Ok(if to == 2 {
        l.into_iter().chain(r).collect()
    } else if from == 1 {
        vec![1.0]
    } else {
        l.iter().zip(&r).map(|(a, b)| (a + b) / 2.0).collect()
    })
}

/// Mixes float blocks from one channel count to another (see the module docs).
#[derive(Debug, Clone)]
pub struct ChannelMixer {
    input: AudioSpec,
    to: u16,
    matrix: Vec<f64>,
}

impl ChannelMixer {
    /// A mixer from float blocks of `input` to `to` channels.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] when `input` is not float, or as [`matrix`].
    pub fn new(input: AudioSpec, to: u16) -> Result<Self, Error> {
        if input.format != SampleFormat::Float {
            return Err(Error::InvalidSpec(
                "the channel mixer takes float samples".into(),
            ));
        }
        Ok(ChannelMixer {
            input,
            to,
            matrix: matrix(input.channels, to)?,
        })
    }

    /// The coefficients, row-major (see [`matrix`]).
    pub fn coefficients(&self) -> &[f64] {
        &self.matrix
    }

    /// The most the mix can raise a sample's magnitude: the largest sum of
    /// absolute coefficients over the output channels (1.0 when the mix can
    /// never exceed its input's peak).
    pub fn max_gain(&self) -> f64 {
        self.matrix
            .chunks(usize::from(self.input.channels).max(1))
            .map(|row| row.iter().map(|c| c.abs()).sum::<f64>())
            .fold(0.0, f64::max)
    }
}

impl Processor for ChannelMixer {
    fn output_spec(&self) -> AudioSpec {
        AudioSpec {
            channels: self.to,
            ..self.input
        }
    }

    fn process(&mut self, block: Block) -> Result<Block, Error> {
        if block.spec != self.input {
            return Err(Error::SpecMismatch {
                expected: self.input,
                actual: block.spec,
            });
        }
        let Samples::Float(v) = &block.samples else {
            return Err(Error::Other("the channel mixer got integer samples".into()));
        };
        let n = usize::from(self.input.channels);
        let mut out = Vec::with_capacity(v.len() / n.max(1) * usize::from(self.to));
        for frame in v.chunks_exact(n) {
            for row in self.matrix.chunks_exact(n) {
                let s: f64 = row.iter().zip(frame).map(|(c, &x)| c * f64::from(x)).sum();
                out.push(s as f32);
            }
        }
        Ok(Block {
            spec: self.output_spec(),
            samples: Samples::Float(out),
        })
    }
}
