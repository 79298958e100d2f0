//! Units as types: frames of audio, CD sector addresses.

use std::fmt;

/// A count of PCM frames (one sample per channel).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Frames(pub u64);

impl Frames {
    /// Duration in seconds at `sample_rate`.
    pub fn seconds(self, sample_rate: u32) -> f64 {
        if sample_rate == 0 {
            0.0
        } else {
            self.0 as f64 / f64::from(sample_rate)
        }
    }
}

/// A logical block address on a CD (one sector = 2352 bytes of CD-DA = 588 frames).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Lba(pub i32);

/// Minutes, seconds and frames (75 per second) of a CD address (Red Book).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msf {
    pub m: u8,
    pub s: u8,
    pub f: u8,
}

/// Sectors per second of CD-DA (Red Book).
pub const SECTORS_PER_SECOND: i32 = 75;
/// The LBA of MSF 00:00:00 is -150: MSF time counts from the start of track 1's
/// 2-second pregap, LBA counts from its end (MMC-6 §6.25, READ TOC/PMA/ATIP: with the
/// MSF bit set an address is LBA + 150 as MM:SS:FF).
pub const MSF_LBA_OFFSET: i32 = 150;

impl Msf {
    /// The MSF address of an LBA (`None` outside 00:00:00..99:59:74).
    pub fn from_lba(lba: Lba) -> Option<Msf> {
        let abs = lba.0.checked_add(MSF_LBA_OFFSET)?;
        if !(0..100 * 60 * SECTORS_PER_SECOND).contains(&abs) {
            return None;
        }
        Some(Msf {
            m: (abs / (60 * SECTORS_PER_SECOND)) as u8,
            s: (abs / SECTORS_PER_SECOND % 60) as u8,
            f: (abs % SECTORS_PER_SECOND) as u8,
        })
    }

    /// The LBA of this address.
    pub fn to_lba(self) -> Lba {
        Lba(
            (i32::from(self.m) * 60 + i32::from(self.s)) * SECTORS_PER_SECOND + i32::from(self.f)
                - MSF_LBA_OFFSET,
        )
    }
}

impl Msf {
    /// The number of sectors this MSF counts, without the lead-in offset: how cue
    /// sheets and cdrdao TOC files write lengths and positions within a file.
    pub fn sectors(self) -> i32 {
        (i32::from(self.m) * 60 + i32::from(self.s)) * SECTORS_PER_SECOND + i32::from(self.f)
    }

    /// The MSF that counts `sectors` sectors (`None` when negative or past 255:59:74).
    pub fn from_sectors(sectors: i32) -> Option<Msf> {
        if sectors < 0 {
            return None;
        }
        let m = sectors / (60 * SECTORS_PER_SECOND);
        Some(Msf {
            m: u8::try_from(m).ok()?,
            s: (sectors / SECTORS_PER_SECOND % 60) as u8,
            f: (sectors % SECTORS_PER_SECOND) as u8,
        })
    }

    /// Parses `MM:SS:FF` (minutes may have one to three digits, seconds below 60,
    /// frames below 75), as cue sheets and TOC files write times.
    pub fn parse(text: &str) -> Option<Msf> {
        let mut parts = text.split(':');
        let mut field = |max: u32| -> Option<u8> {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let v: u32 = p.parse().ok()?;
            if v >= max {
                return None;
            }
            u8::try_from(v).ok()
        };
        let m = field(256)?;
        let s = field(60)?;
        let f = field(SECTORS_PER_SECOND as u32)?;
        if parts.next().is_some() {
            return None;
        }
        Some(Msf { m, s, f })
    }
}

impl fmt::Display for Msf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.m, self.s, self.f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msf_round_trips() {
        assert_eq!(Msf::from_lba(Lba(0)), Some(Msf { m: 0, s: 2, f: 0 }));
        assert_eq!(Msf { m: 0, s: 2, f: 0 }.to_lba(), Lba(0));
        for lba in [-150, -1, 0, 1, 74, 75, 4499, 4500, 449_849] {
            let msf = Msf::from_lba(Lba(lba)).expect("in range");
            assert_eq!(msf.to_lba(), Lba(lba));
        }
        assert_eq!(Msf::from_lba(Lba(-151)), None);
        assert_eq!(Msf::from_lba(Lba(449_850)), None);
        assert_eq!(Msf { m: 1, s: 2, f: 3 }.to_string(), "01:02:03");
    }

    #[test]
    fn msf_parses_and_counts_sectors() {
        assert_eq!(Msf::parse("01:02:03"), Some(Msf { m: 1, s: 2, f: 3 }));
        assert_eq!(Msf::parse("100:00:74").map(Msf::sectors), Some(450_074));
        assert_eq!(Msf::parse("0:2:0").map(Msf::sectors), Some(150));
        for bad in [
            "",
            "1:2",
            "1:2:3:4",
            "00:60:00",
            "00:00:75",
            "a:00:00",
            "-1:00:00",
            "256:00:00",
        ] {
            assert_eq!(Msf::parse(bad), None, "{bad}");
        }
        assert_eq!(Msf::from_sectors(150), Some(Msf { m: 0, s: 2, f: 0 }));
        assert_eq!(Msf::from_sectors(-1), None);
        assert_eq!(Msf::from_sectors(256 * 4500), None);
        assert_eq!(
            Msf::from_sectors(255 * 4500 + 4499).map(Msf::sectors),
            Some(255 * 4500 + 4499)
        );
    }

    #[test]
    fn frames_to_seconds() {
        assert_eq!(Frames(88200).seconds(44100), 2.0);
        assert_eq!(Frames(1).seconds(0), 0.0);
    }
}
