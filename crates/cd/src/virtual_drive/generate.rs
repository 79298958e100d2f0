//! Discs built from a description: the disc model and its image (every sector
//! from LBA 0 to the lead-out, 2352 bytes each, the gap between sessions left
//! out), ready for [`VirtualDrive::from_image`](super::VirtualDrive::from_image).
//!
//! ```
//! use aj_cd::virtual_drive::generate::{DiscBuilder, Signal, TrackSpec};
//! let (disc, image) = DiscBuilder::new()
//!     .title("Album")
//!     .track(TrackSpec::sectors(300, Signal::Noise { seed: 1 }).title("One"))
//!     .track(TrackSpec::frames(44_100, Signal::sine(440.0, 0.5)).pregap(150, Signal::Silence))
//!     .build()
//!     .unwrap();
//! assert_eq!(disc.tracks[1].pregap_sectors(), 150);
//! assert_eq!(image.len(), disc.leadout.0 as usize * 2352);
//! ```
//!
//! Layout: tracks follow each other from LBA 0. A track's pregap (INDEX 00)
//! comes before its INDEX 01; on track 1 a pregap is hidden track one audio
//! (INDEX 00 at LBA 0). Data tracks before the first audio track make a
//! mixed-mode disc (one session); data tracks after the last audio track make
//! an enhanced CD (Blue Book): they go into a second session that starts
//! [`SESSION_GAP_SECTORS`] after the audio's lead-out. Data tracks are Mode 1
//! sectors with sync, header and generated user data (EDC/ECC left zero).
//!
//! Everything is deterministic: the same description gives the same bytes.

use aj_core::{Lba, Msf};

use crate::disc::{
    Control, Disc, DiscError, Index, Session, Track, TrackMode, MAX_TRACKS, SESSION_GAP_SECTORS,
};

/// Frames per sector (Red Book).
const FRAMES: u64 = 588;
/// Bytes per sector.
const SECTOR: usize = 2352;
/// The longest disc built: 100 minutes (the image is held in memory).
const MAX_SECTORS: u64 = 100 * 60 * 75;
/// CD sample rate.
const RATE: f64 = 44_100.0;

/// What a stretch of audio holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// Digital silence.
    Silence,
    /// White noise at full scale, both channels independent.
    Noise { seed: u64 },
    /// A sine of `freq` Hz on the left channel and 1.5 × `freq` on the right,
    /// at `amplitude` (0..=1) of full scale.
    Sine { freq: f64, amplitude: f64 },
    /// Something that sounds like music: a chord progression with envelopes, a
    /// bass line and (unless `quiet`) drums. The seed picks tempo, key,
    /// progression and sounds; `quiet` makes a soft piece without drums.
    Music { seed: u64, quiet: bool },
    /// These interleaved stereo samples, repeated as needed.
    Pcm(Vec<i16>),
}

impl Signal {
    /// [`Signal::Sine`].
    pub fn sine(freq: f64, amplitude: f64) -> Signal {
        Signal::Sine { freq, amplitude }
    }

    /// Appends `frames` frames of the signal as little-endian bytes.
    pub fn render(&self, frames: u64, out: &mut Vec<u8>) {
        let n = usize::try_from(frames).unwrap_or(0);
        out.reserve(n * 4);
        let mut push = |l: i16, r: i16| {
            out.extend_from_slice(&l.to_le_bytes());
            out.extend_from_slice(&r.to_le_bytes());
        };
        match self {
            Signal::Silence => (0..n).for_each(|_| push(0, 0)),
            Signal::Noise { seed } => {
                let mut rng = Rng::new(*seed);
                for _ in 0..n {
                    let v = rng.next_u64();
                    push(v as i16, (v >> 16) as i16);
                }
            }
            Signal::Sine { freq, amplitude } => {
                let a = amplitude.clamp(0.0, 1.0) * 32_767.0;
                let w = std::f64::consts::TAU * freq / RATE;
                for i in 0..n {
                    let t = i as f64;
                    push(
                        ((t * w).sin() * a).round() as i16,
                        ((t * w * 1.5).sin() * a).round() as i16,
                    );
                }
            }
            Signal::Music { seed, quiet } => Music::new(*seed, *quiet, frames).render(n, push),
            Signal::Pcm(s) => {
                let pairs: Vec<(i16, i16)> = s.chunks_exact(2).map(|c| (c[0], c[1])).collect();
                if pairs.is_empty() {
                    (0..n).for_each(|_| push(0, 0));
                } else {
                    for i in 0..n {
                        let (l, r) = pairs[i % pairs.len()];
                        push(l, r);
                    }
                }
            }
        }
    }
}

/// Audio or data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrackKind {
    #[default]
    Audio,
    /// A Mode 1 data track.
    Data,
}

/// One track of a disc to build. Lengths count from INDEX 01; a length that is
/// not whole sectors is padded with silence to the next sector.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSpec {
    pub kind: TrackKind,
    /// Frames from INDEX 01 to the end of the track (data tracks: sectors × 588).
    pub frames: u64,
    /// What the track holds (ignored for data tracks).
    pub signal: Signal,
    /// Sectors of INDEX 00 before INDEX 01 (0: no pregap).
    pub pregap_sectors: u32,
    /// What the pregap holds.
    pub pregap_signal: Signal,
    /// INDEX 02, 03, … as sectors after INDEX 01, ascending.
    pub indexes: Vec<u32>,
    pub isrc: Option<String>,
    /// The CONTROL pre-emphasis bit.
    pub preemphasis: bool,
    /// The CONTROL digital-copy-permitted bit.
    pub copy_permitted: bool,
    /// CD-TEXT title and performer.
    pub title: Option<String>,
    pub performer: Option<String>,
}

impl TrackSpec {
    /// An audio track of `frames` frames.
    pub fn frames(frames: u64, signal: Signal) -> TrackSpec {
        TrackSpec {
            kind: TrackKind::Audio,
            frames,
            signal,
            pregap_sectors: 0,
            pregap_signal: Signal::Silence,
            indexes: Vec::new(),
            isrc: None,
            preemphasis: false,
            copy_permitted: false,
            title: None,
            performer: None,
        }
    }

    /// An audio track of `sectors` whole sectors.
    pub fn sectors(sectors: u32, signal: Signal) -> TrackSpec {
        TrackSpec::frames(u64::from(sectors) * FRAMES, signal)
    }

    /// A Mode 1 data track of `sectors` sectors.
    pub fn data(sectors: u32) -> TrackSpec {
        TrackSpec {
            kind: TrackKind::Data,
            ..TrackSpec::sectors(sectors, Signal::Silence)
        }
    }

    /// With a pregap (INDEX 00) of `sectors` holding `signal`.
    pub fn pregap(mut self, sectors: u32, signal: Signal) -> TrackSpec {
        self.pregap_sectors = sectors;
        self.pregap_signal = signal;
        self
    }

    /// With one more index point, `sectors` after INDEX 01.
    pub fn index(mut self, sectors: u32) -> TrackSpec {
        self.indexes.push(sectors);
        self
    }

    /// With an ISRC.
    pub fn isrc(mut self, isrc: &str) -> TrackSpec {
        self.isrc = Some(isrc.to_string());
        self
    }

    /// With the pre-emphasis flag set.
    pub fn preemphasis(mut self) -> TrackSpec {
        self.preemphasis = true;
        self
    }

    /// With a CD-TEXT title.
    pub fn title(mut self, title: &str) -> TrackSpec {
        self.title = Some(title.to_string());
        self
    }

    /// With a CD-TEXT performer.
    pub fn performer(mut self, performer: &str) -> TrackSpec {
        self.performer = Some(performer.to_string());
        self
    }

    fn sectors_len(&self) -> u64 {
        self.frames.div_ceil(FRAMES)
    }
}

/// Builds a disc from [`TrackSpec`]s (see the module doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiscBuilder {
    tracks: Vec<TrackSpec>,
    mcn: Option<String>,
    title: Option<String>,
    performer: Option<String>,
}

impl DiscBuilder {
    /// A disc without tracks.
    pub fn new() -> DiscBuilder {
        DiscBuilder::default()
    }

    /// Adds the next track.
    pub fn track(mut self, track: TrackSpec) -> DiscBuilder {
        self.tracks.push(track);
        self
    }

    /// Sets the Media Catalog Number (13 digits).
    pub fn mcn(mut self, mcn: &str) -> DiscBuilder {
        self.mcn = Some(mcn.to_string());
        self
    }

    /// Sets the album's CD-TEXT title.
    pub fn title(mut self, title: &str) -> DiscBuilder {
        self.title = Some(title.to_string());
        self
    }

    /// Sets the album's CD-TEXT performer.
    pub fn performer(mut self, performer: &str) -> DiscBuilder {
        self.performer = Some(performer.to_string());
        self
    }

    /// The disc model and its image.
    ///
    /// # Errors
    /// When the description makes no valid disc: no tracks or more than 99, an
    /// empty track, data tracks between audio tracks, a disc longer than 100
    /// minutes, indexes out of order, a malformed ISRC or MCN.
    pub fn build(&self) -> Result<(Disc, Vec<u8>), DiscError> {
        let err = |m: String| Err(DiscError(m));
        if self.tracks.is_empty() {
            return err("a disc needs at least one track".into());
        }
        if self.tracks.len() > usize::from(MAX_TRACKS) {
            return err(format!("a disc holds at most {MAX_TRACKS} tracks"));
        }
        let is_audio = |t: &TrackSpec| t.kind == TrackKind::Audio;
        let first_audio = self.tracks.iter().position(is_audio);
        let last_audio = self.tracks.iter().rposition(is_audio);
        if let (Some(a), Some(b)) = (first_audio, last_audio) {
            if let Some(i) = (a..=b).find(|&i| !is_audio(&self.tracks[i])) {
                return err(format!(
                    "track {} is a data track between audio tracks; data goes first (mixed mode) or last (enhanced CD)",
                    i + 1
                ));
            }
        }
        let total: u64 = self
            .tracks
            .iter()
            .map(|t| t.sectors_len() + u64::from(t.pregap_sectors))
            .sum();
        if total > MAX_SECTORS {
            return err(format!(
                "the tracks take {total} sectors, more than 100 minutes ({MAX_SECTORS})"
            ));
        }

        let mut tracks = Vec::with_capacity(self.tracks.len());
        let mut sessions = Vec::new();
        let mut image = Vec::with_capacity(usize::try_from(total).unwrap_or(0) * SECTOR);
        let mut lba: i32 = 0;
        let mut session: u8 = 1;
        for (i, spec) in self.tracks.iter().enumerate() {
            let number = u8::try_from(i + 1).unwrap_or(MAX_TRACKS);
            if spec.frames == 0 {
                return err(format!("track {number} is empty"));
            }
            // Enhanced CD: the first data track after the audio opens session 2.
            if last_audio.is_some_and(|l| i > l) && session == 1 {
                sessions.push(Session {
                    number: 1,
                    leadout: Lba(lba),
                });
                session = 2;
                lba += SESSION_GAP_SECTORS;
            }
            // Bounded by MAX_SECTORS above.
            let pregap = spec.pregap_sectors as i32;
            let sectors = spec.sectors_len() as i32;
            let start = lba + pregap;
            let mut indexes = Vec::with_capacity(spec.indexes.len());
            for (j, &off) in spec.indexes.iter().enumerate() {
                let at = start + i32::try_from(off).unwrap_or(i32::MAX);
                if off == 0 || off >= sectors as u32 {
                    return err(format!(
                        "track {number}'s INDEX {:02} at {off} sectors is not inside the track ({sectors} sectors)",
                        j + 2
                    ));
                }
                indexes.push(Index {
                    number: u8::try_from(j + 2).unwrap_or(99),
                    start: Lba(at),
                });
            }
            let audio = spec.kind == TrackKind::Audio;
            tracks.push(Track {
                number,
                session,
                control: if audio {
                    Control {
                        preemphasis: spec.preemphasis,
                        copy_permitted: spec.copy_permitted,
                        ..Control::AUDIO
                    }
                } else {
                    Control::DATA
                },
                mode: if audio {
                    TrackMode::Audio
                } else {
                    TrackMode::Mode1Raw
                },
                pregap: (pregap > 0).then_some(Lba(lba)),
                start: Lba(start),
                indexes,
                isrc: spec.isrc.clone(),
            });
            if audio {
                spec.pregap_signal
                    .render(u64::from(spec.pregap_sectors) * FRAMES, &mut image);
                spec.signal.render(spec.frames, &mut image);
                let pad = (sectors as u64 * FRAMES - spec.frames) as usize * 4;
                image.resize(image.len() + pad, 0);
            } else {
                for l in lba..start + sectors {
                    image.extend_from_slice(&data_sector(l, number));
                }
            }
            lba = start + sectors;
        }
        sessions.push(Session {
            number: session,
            leadout: Lba(lba),
        });
        let mut disc = Disc {
            tracks,
            sessions,
            leadout: Lba(lba),
            mcn: self.mcn.clone(),
            cdtext: None,
        };
        if self.title.is_some() || self.performer.is_some() {
            let b = disc.cdtext_block_mut();
            b.disc.title.clone_from(&self.title);
            b.disc.performer.clone_from(&self.performer);
        }
        for (i, spec) in self.tracks.iter().enumerate() {
            if spec.title.is_some() || spec.performer.is_some() {
                let number = u8::try_from(i + 1).unwrap_or(MAX_TRACKS);
                let t = disc.cdtext_block_mut().track_mut(number);
                t.title.clone_from(&spec.title);
                t.performer.clone_from(&spec.performer);
            }
        }
        disc.validate()?;
        Ok((disc, image))
    }
}

fn bcd(v: u8) -> u8 {
    (v / 10) << 4 | (v % 10)
}

/// A raw Mode 1 sector at `lba` of data track `track`: sync pattern, header
/// (BCD MSF, mode 1), 2048 bytes of text and counters, EDC/ECC zero (ECMA-130
/// §14).
fn data_sector(lba: i32, track: u8) -> [u8; SECTOR] {
    let mut s = [0u8; SECTOR];
    s[1..11].fill(0xFF);
    let msf = Msf::from_lba(Lba(lba)).unwrap_or(Msf { m: 0, s: 0, f: 0 });
    s[12] = bcd(msf.m);
    s[13] = bcd(msf.s);
    s[14] = bcd(msf.f);
    s[15] = 1;
    let text = format!("AudioJuggler data track {track}, sector {lba}. ");
    for (d, b) in s[16..16 + 2048].iter_mut().zip(text.bytes().cycle()) {
        *d = b;
    }
    s
}

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in -1.0..1.0.
    fn bipolar(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

// ---------------------------------------------------------------------------
// The music-like signal
// ---------------------------------------------------------------------------

/// Sine table for the oscillators (a power of two, indexed by the top bits of
/// a 32-bit phase).
const TABLE_BITS: u32 = 11;

/// A phase-accumulator oscillator over a harmonic wavetable.
#[derive(Debug, Clone, Copy, Default)]
struct Osc {
    phase: u32,
    step: u32,
}

impl Osc {
    fn set_freq(&mut self, hz: f64) {
        self.step = (hz / RATE * 4_294_967_296.0) as u32;
    }

    fn next(&mut self, table: &[f32]) -> f32 {
        let v = table[(self.phase >> (32 - TABLE_BITS)) as usize];
        self.phase = self.phase.wrapping_add(self.step);
        v
    }
}

/// A decaying envelope with a short linear attack.
#[derive(Debug, Clone, Copy, Default)]
struct Env {
    level: f32,
    peak: f32,
    attack_left: u32,
    attack_step: f32,
    decay: f32,
}

impl Env {
    fn trigger(&mut self, peak: f32, attack_frames: u32, decay_seconds: f32) {
        self.peak = peak;
        self.attack_left = attack_frames.max(1);
        self.attack_step = (peak - self.level) / self.attack_left as f32;
        // Falls to 1/e in `decay_seconds`.
        self.decay = (-1.0 / (decay_seconds * RATE as f32)).exp();
    }

    fn next(&mut self) -> f32 {
        if self.attack_left > 0 {
            self.attack_left -= 1;
            self.level += self.attack_step;
        } else {
            self.level *= self.decay;
        }
        self.level
    }
}

/// Chord progressions as scale degrees (semitones from the key's root for the
/// chord root, and whether the chord is minor).
const PROGRESSIONS: [[(i32, bool); 4]; 5] = [
    [(0, false), (7, false), (9, true), (5, false)], // I V vi IV
    [(9, true), (5, false), (0, false), (7, false)], // vi IV I V
    [(0, false), (9, true), (5, false), (7, false)], // I vi IV V
    [(2, true), (7, false), (0, false), (0, false)], // ii V I I
    [(0, false), (5, false), (2, true), (7, false)], // I IV ii V
];

/// A generated piece: bars of chords with a bass line and drums.
#[derive(Debug, Clone)]
struct Music {
    rng: Rng,
    quiet: bool,
    /// Frames per beat.
    beat: u64,
    /// Frequency of the key's root (the bass octave).
    root: f64,
    progression: [(i32, bool); 4],
    total: u64,
    sine: Vec<f32>,
    /// A brighter wave: sine plus some 2nd and 3rd harmonic.
    bright: Vec<f32>,
}

impl Music {
    fn new(seed: u64, quiet: bool, total: u64) -> Music {
        let mut rng = Rng::new(seed ^ 0xA5A5_5A5A);
        let bpm = if quiet { 66 } else { 92 } + rng.below(36);
        let beat = (RATE * 60.0 / bpm as f64) as u64;
        // Roots from E1 to D#2.
        let semis = rng.below(12) as f64;
        let root = 41.2 * 2f64.powf(semis / 12.0);
        let progression = PROGRESSIONS[rng.below(PROGRESSIONS.len() as u64) as usize];
        let size = 1usize << TABLE_BITS;
        let sine: Vec<f32> = (0..size)
            .map(|i| (std::f64::consts::TAU * i as f64 / size as f64).sin() as f32)
            .collect();
        let bright: Vec<f32> = (0..size)
            .map(|i| {
                let x = std::f64::consts::TAU * i as f64 / size as f64;
                (0.75 * x.sin() + 0.2 * (2.0 * x).sin() + 0.1 * (3.0 * x).sin()) as f32
            })
            .collect();
        Music {
            rng,
            quiet,
            beat: beat.max(1),
            root,
            progression,
            total,
            sine,
            bright,
        }
    }

    fn render(mut self, n: usize, mut push: impl FnMut(i16, i16)) {
        let semitone = |base: f64, s: i32| base * 2f64.powf(f64::from(s) / 12.0);
        let mut voices = [Osc::default(); 3];
        let mut voice_env = Env::default();
        let mut bass = Osc::default();
        let mut bass_env = Env::default();
        let mut kick = Osc::default();
        let mut kick_env = Env::default();
        let mut kick_freq = 0.0f64;
        let mut snare_env = Env::default();
        let mut hat_env = Env::default();
        let mut hat_prev = 0.0f32;
        let mut noise = Rng::new(self.rng.next_u64());
        let half = (self.beat / 2).max(1);
        let fade_in = (RATE * 0.05) as u64;
        let fade_out = ((RATE * 1.5) as u64).min(self.total / 4);
        let gain = if self.quiet { 0.18 } else { 0.42 };
        for i in 0..n as u64 {
            if i.is_multiple_of(half) {
                let eighth = i / half;
                let beat_in_bar = (eighth / 2) % 4;
                let bar = eighth / 8;
                let (deg, minor) = self.progression[(bar % 4) as usize];
                let chord_root = semitone(self.root * 4.0, deg);
                if eighth.is_multiple_of(8) {
                    // A new chord: root, third, fifth (an octave up now and then).
                    let third = if minor { 3 } else { 4 };
                    let lift = if self.rng.below(3) == 0 { 12 } else { 0 };
                    voices[0].set_freq(chord_root);
                    voices[1].set_freq(semitone(chord_root, third + lift));
                    voices[2].set_freq(semitone(chord_root, 7));
                    let decay = if self.quiet { 3.0 } else { 1.2 };
                    voice_env.trigger(1.0, (RATE * 0.03) as u32, decay);
                }
                if eighth.is_multiple_of(2) {
                    // Bass on the beats: the chord's root, a fifth on beat 3 now and then.
                    let fifth = beat_in_bar == 2 && self.rng.below(2) == 0;
                    bass.set_freq(semitone(self.root, deg + if fifth { 7 } else { 0 }));
                    bass_env.trigger(0.9, 200, if self.quiet { 0.9 } else { 0.35 });
                    if !self.quiet && beat_in_bar.is_multiple_of(2) {
                        kick_freq = 110.0;
                        kick_env.trigger(1.0, 30, 0.12);
                    }
                    if !self.quiet && beat_in_bar % 2 == 1 {
                        snare_env.trigger(0.6, 20, 0.07);
                    }
                }
                if !self.quiet {
                    hat_env.trigger(if eighth % 2 == 1 { 0.25 } else { 0.15 }, 5, 0.02);
                }
            }
            let v = voice_env.next();
            let chord = (voices[0].next(&self.bright)
                + voices[1].next(&self.bright)
                + voices[2].next(&self.bright))
                * v
                / 3.0;
            let b = bass.next(&self.bright) * bass_env.next();
            let mut drums_l = 0.0f32;
            let mut drums_r = 0.0f32;
            if !self.quiet {
                kick_freq = (kick_freq * 0.9996).max(45.0);
                kick.set_freq(kick_freq);
                let k = kick.next(&self.sine) * kick_env.next();
                let white = noise.bipolar();
                let s = white * snare_env.next();
                // A first difference brightens the noise for the hi-hat.
                let h = (white - hat_prev) * 0.5 * hat_env.next();
                hat_prev = white;
                drums_l = 0.8 * k + 0.5 * s + 0.6 * h;
                drums_r = 0.8 * k + 0.45 * s + 0.9 * h;
            }
            let edge = if i < fade_in {
                i as f32 / fade_in as f32
            } else if i + fade_out > self.total {
                self.total.saturating_sub(i) as f32 / fade_out.max(1) as f32
            } else {
                1.0
            };
            let l = (0.55 * chord + 0.5 * b + 0.45 * drums_l) * edge * gain;
            let r = (0.45 * chord + 0.5 * b + 0.45 * drums_r) * edge * gain;
            let q = |x: f32| (x.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
            push(q(l), q(r));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::disc::DiscKind;

    fn samples(bytes: &[u8]) -> Vec<i16> {
        bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    #[test]
    fn lengths_pregaps_and_padding() {
        let (disc, image) = DiscBuilder::new()
            .track(TrackSpec::sectors(10, Signal::Noise { seed: 1 }))
            .track(TrackSpec::frames(1000, Signal::sine(1000.0, 0.5)).pregap(3, Signal::Silence))
            .build()
            .unwrap();
        assert_eq!(disc.tracks[1].pregap, Some(Lba(10)));
        assert_eq!(disc.tracks[1].start, Lba(13));
        assert_eq!(disc.leadout, Lba(15));
        assert_eq!(image.len(), 15 * SECTOR);
        // The pregap is silent, the padding after 1000 frames too.
        assert!(image[10 * SECTOR..13 * SECTOR].iter().all(|&b| b == 0));
        assert!(image[13 * SECTOR + 4000..].iter().all(|&b| b == 0));
        assert!(image[13 * SECTOR..13 * SECTOR + 4000]
            .iter()
            .any(|&b| b != 0));
        assert_eq!(disc.kind(), DiscKind::Audio);
    }

    #[test]
    fn hidden_track_one_audio() {
        let (disc, image) = DiscBuilder::new()
            .track(
                TrackSpec::sectors(20, Signal::Noise { seed: 2 })
                    .pregap(30, Signal::Noise { seed: 3 }),
            )
            .build()
            .unwrap();
        assert_eq!(disc.hidden_track(), Some(Lba(0)..Lba(30)));
        assert!(image[..30 * SECTOR].iter().any(|&b| b != 0));
    }

    #[test]
    fn enhanced_and_mixed() {
        let (disc, image) = DiscBuilder::new()
            .track(TrackSpec::sectors(100, Signal::Silence))
            .track(TrackSpec::data(50))
            .build()
            .unwrap();
        assert_eq!(disc.kind(), DiscKind::Enhanced);
        assert_eq!(disc.sessions.len(), 2);
        assert_eq!(disc.sessions[0].leadout, Lba(100));
        assert_eq!(disc.tracks[1].start, Lba(100 + SESSION_GAP_SECTORS));
        assert_eq!(disc.audio_leadout(), Lba(100));
        assert_eq!(image.len(), 150 * SECTOR);
        // A data sector: sync, then the header's mode byte.
        let d = &image[100 * SECTOR..101 * SECTOR];
        assert_eq!(
            &d[..12],
            &[0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0]
        );
        assert_eq!(d[15], 1);

        let (disc, _) = DiscBuilder::new()
            .track(TrackSpec::data(300))
            .track(TrackSpec::sectors(100, Signal::Silence).pregap(150, Signal::Silence))
            .build()
            .unwrap();
        assert_eq!(disc.kind(), DiscKind::Mixed);
        assert_eq!(disc.sessions.len(), 1);
        assert_eq!(disc.tracks[1].start, Lba(450));

        let e = DiscBuilder::new()
            .track(TrackSpec::sectors(10, Signal::Silence))
            .track(TrackSpec::data(10))
            .track(TrackSpec::sectors(10, Signal::Silence))
            .build()
            .unwrap_err();
        assert!(e.0.contains("between audio tracks"), "{e}");
    }

    #[test]
    fn metadata() {
        let (disc, _) = DiscBuilder::new()
            .mcn("0724384260927")
            .title("Album")
            .performer("Band")
            .track(
                TrackSpec::sectors(40, Signal::Silence)
                    .isrc("GBAYE0000351")
                    .preemphasis()
                    .title("One")
                    .index(20),
            )
            .track(TrackSpec::sectors(40, Signal::Silence).performer("Guest"))
            .build()
            .unwrap();
        assert_eq!(disc.mcn.as_deref(), Some("0724384260927"));
        assert!(disc.tracks[0].control.preemphasis);
        assert!(!disc.tracks[1].control.preemphasis);
        assert_eq!(disc.tracks[0].isrc.as_deref(), Some("GBAYE0000351"));
        assert_eq!(disc.tracks[0].indexes[0].start, Lba(20));
        assert_eq!(disc.disc_text().unwrap().title.as_deref(), Some("Album"));
        assert_eq!(disc.track_text(1).unwrap().title.as_deref(), Some("One"));
        assert_eq!(
            disc.track_text(2).unwrap().performer.as_deref(),
            Some("Guest")
        );
    }

    #[test]
    fn bad_descriptions_are_refused() {
        assert!(DiscBuilder::new().build().is_err());
        let empty = DiscBuilder::new().track(TrackSpec::frames(0, Signal::Silence));
        assert!(empty.build().unwrap_err().0.contains("empty"));
        let isrc = DiscBuilder::new().track(TrackSpec::sectors(1, Signal::Silence).isrc("X"));
        assert!(isrc.build().unwrap_err().0.contains("ISRC"));
        let mcn = DiscBuilder::new()
            .mcn("12")
            .track(TrackSpec::sectors(1, Signal::Silence));
        assert!(mcn.build().unwrap_err().0.contains("MCN"));
        let index = DiscBuilder::new().track(TrackSpec::sectors(10, Signal::Silence).index(10));
        assert!(index.build().unwrap_err().0.contains("INDEX 02"));
        let long = DiscBuilder::new().track(TrackSpec::sectors(450_001, Signal::Silence));
        assert!(long.build().unwrap_err().0.contains("100 minutes"));
    }

    #[test]
    fn signals_are_deterministic_and_distinct() {
        let render = |s: &Signal| {
            let mut v = Vec::new();
            s.render(44_100, &mut v);
            v
        };
        let a = Signal::Music {
            seed: 1,
            quiet: false,
        };
        let b = Signal::Music {
            seed: 2,
            quiet: false,
        };
        assert_eq!(render(&a), render(&a));
        assert_ne!(render(&a), render(&b));
        let m = samples(&render(&a));
        let peak = m.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 3000 && peak < 32_767, "peak {peak}");
        // Not silent anywhere for long after the fade-in: every 0.1 s has sound.
        for w in m.chunks(8820).skip(1) {
            assert!(w.iter().any(|&s| s.unsigned_abs() > 100));
        }
        let quiet = samples(&render(&Signal::Music {
            seed: 1,
            quiet: true,
        }));
        let qpeak = quiet.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(qpeak < peak, "{qpeak} < {peak}");
        let pcm = samples(&render(&Signal::Pcm(vec![1, 2, 3, 4])));
        assert_eq!(&pcm[..6], &[1, 2, 3, 4, 1, 2]);
        let sine = samples(&render(&Signal::sine(441.0, 0.5)));
        assert_eq!(sine[0], 0);
        assert_eq!(sine[25 * 2], 16_384); // a quarter period of 441 Hz at 44.1 kHz
    }
}
