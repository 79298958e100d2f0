//! The demo disc: a built-in audio CD behind `--drive demo`, so the ripper
//! can be tried without a drive or an image.
//!
//! Five tracks of generated music (chords, a bass line, drums; the third a
//! quiet piece without drums after a 2-second silent pregap), about two
//! minutes in all, with CD-TEXT (album, performer, titles), an MCN and ISRCs.
//! No track has pre-emphasis. It is generated the same way every time, so its
//! disc IDs and checksums never change.
//!
//! `demo[,options]` takes the options of `image:` (`offset=`, `bad=`,
//! `flaky=`, `jitter=`, `cache=`, `overread=`, `vanish=`, …), which makes it
//! a playground for a secure ripper.

use crate::disc::{Disc, DiscError};
use crate::transport::Error;

use super::generate::{DiscBuilder, Signal, TrackSpec};
use super::{Options, VirtualDrive};

/// What `--drive` calls the demo disc.
pub const SPEC_NAME: &str = "demo";

/// The album title in the disc's CD-TEXT.
pub const ALBUM: &str = "AudioJuggler Demo Disc";

/// The album performer in the disc's CD-TEXT.
pub const PERFORMER: &str = "The Virtual Players";

/// The disc's Media Catalog Number (an EAN-13 from the 200–299 range, which is
/// never assigned to real products).
pub const MCN: &str = "2001234567893";

/// (title, seconds, quiet, ISRC) of each track.
const TRACKS: [(&str, u64, bool, Option<&str>); 5] = [
    ("Power On", 20, false, Some("ZZAJD2600001")),
    ("Read Offset Blues", 26, false, Some("ZZAJD2600002")),
    ("Quiet Interlude", 16, true, None),
    ("C2 Error Shuffle", 30, false, Some("ZZAJD2600004")),
    ("Lead-Out", 18, false, None),
];

/// The demo disc's description.
pub fn builder() -> DiscBuilder {
    let mut b = DiscBuilder::new()
        .title(ALBUM)
        .performer(PERFORMER)
        .mcn(MCN);
    for (i, &(title, seconds, quiet, isrc)) in TRACKS.iter().enumerate() {
        let seed = 0xD3_0000 + i as u64;
        let mut t = TrackSpec::frames(seconds * 44_100, Signal::Music { seed, quiet }).title(title);
        if quiet {
            t = t.pregap(150, Signal::Silence);
        }
        if let Some(isrc) = isrc {
            t = t.isrc(isrc);
        }
        b = b.track(t);
    }
    b
}

/// The demo disc's model and image.
///
/// # Errors
/// Never in practice: the description is fixed and valid (a test checks it).
pub fn build() -> Result<(Disc, Vec<u8>), DiscError> {
    builder().build()
}

/// A virtual drive holding the demo disc, with `opts`' read offset and faults
/// (their `path` is not used).
///
/// # Errors
/// [`Error::Image`] when the disc cannot be built or its temporary file fails.
pub fn open(opts: Options) -> Result<VirtualDrive, Error> {
    let (disc, image) = build().map_err(|e| Error::Image {
        path: SPEC_NAME.into(),
        reason: e.0,
    })?;
    let mut drive = VirtualDrive::from_image(disc, &image, opts)?;
    drive.label = SPEC_NAME.to_string();
    Ok(drive)
}

/// Parses the options of a `demo[,key=value…]` spec; `None` when `spec` does
/// not name the demo disc.
///
/// # Errors
/// [`Error::Spec`] naming the option that is wrong.
pub fn parse_spec(spec: &str) -> Option<Result<Options, Error>> {
    let rest = spec.strip_prefix(SPEC_NAME)?;
    let opts = if rest.is_empty() {
        ""
    } else {
        rest.strip_prefix(',')?
    };
    let mut o = Options::new(SPEC_NAME);
    Some(o.apply(opts).map(|()| o))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::disc::DiscKind;

    #[test]
    fn the_demo_disc() {
        let (disc, image) = build().unwrap();
        assert_eq!(disc.kind(), DiscKind::Audio);
        assert_eq!(disc.tracks.len(), 5);
        assert_eq!(disc.mcn.as_deref(), Some(MCN));
        assert_eq!(disc.disc_text().unwrap().title.as_deref(), Some(ALBUM));
        assert_eq!(disc.tracks[2].pregap_sectors(), 150);
        assert!(disc.tracks.iter().all(|t| !t.control.preemphasis));
        assert!(disc.tracks.iter().any(|t| t.isrc.is_some()));
        for (i, t) in disc.tracks.iter().enumerate() {
            let secs = disc.track_sectors(t.number).unwrap() / 75;
            assert!((15..=40).contains(&secs), "track {} is {secs} s", i + 1);
            assert!(disc.track_text(t.number).unwrap().title.is_some());
        }
        assert_eq!(image.len(), disc.leadout.0 as usize * 2352);
        // Tracks differ from each other.
        let at = |n: u8| {
            let s = disc.track(n).unwrap().start.0 as usize * 2352 + 2352 * 300;
            image[s..s + 2352].to_vec()
        };
        assert_ne!(at(1), at(2));
        assert_ne!(at(4), at(5));
        assert!(at(3).iter().any(|&b| b != 0));
    }

    #[test]
    fn demo_specs() {
        assert!(parse_spec("demox").is_none());
        assert!(parse_spec("image:x").is_none());
        let o = parse_spec("demo").unwrap().unwrap();
        assert_eq!(o.offset, 0);
        let o = parse_spec("demo,offset=-30,bad=100-110,vanish=4")
            .unwrap()
            .unwrap();
        assert_eq!(o.offset, -30);
        assert_eq!(o.bad, vec![(100, 110)]);
        assert_eq!(o.vanish, Some(4));
        assert!(parse_spec("demo,colour=red").unwrap().is_err());
    }
}
