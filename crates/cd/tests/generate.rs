//! Generated discs served by the virtual drive: the scan reads back what the
//! description said; the demo disc behind `--drive demo`; the `vanish` fault.

#![allow(clippy::unwrap_used)]

use aj_cd::disc::{Disc, DiscKind};
use aj_cd::id::DiscIds;
use aj_cd::mmc::{scan, C2Mode, Drive, SubChannel};
use aj_cd::transport::{self, Error};
use aj_cd::virtual_drive::generate::{DiscBuilder, Signal, TrackSpec};
use aj_cd::virtual_drive::{demo, Options, VirtualDrive};
use aj_core::Lba;

const SECTOR: usize = 2352;

fn serve(disc: &Disc, image: &[u8], opts: Options) -> Drive {
    Drive::new(Box::new(
        VirtualDrive::from_image(disc.clone(), image, opts).unwrap(),
    ))
}

#[test]
fn the_scan_reads_back_a_generated_audio_disc() {
    let (disc, image) = DiscBuilder::new()
        .mcn("0724384260927")
        .title("Generated")
        .performer("Builder")
        .track(
            TrackSpec::sectors(300, Signal::Noise { seed: 1 })
                .title("Noise")
                .isrc("GBAYE0000351"),
        )
        .track(
            TrackSpec::frames(200 * 588 + 17, Signal::sine(997.0, 0.5))
                .pregap(75, Signal::Silence)
                .index(100)
                .preemphasis()
                .title("Sine"),
        )
        .track(
            TrackSpec::sectors(
                250,
                Signal::Music {
                    seed: 3,
                    quiet: false,
                },
            )
            .pregap(
                40,
                Signal::Noise { seed: 4 }, // an audible pregap
            )
            .performer("Guest"),
        )
        .build()
        .unwrap();
    let mut d = serve(&disc, &image, Options::new("generated"));
    let r = scan::read_disc(&mut d).unwrap();
    assert!(r.uncertain.is_empty(), "{:?}", r.notes);
    assert_eq!(r.disc.tracks, disc.tracks);
    assert_eq!(r.disc.leadout, disc.leadout);
    assert_eq!(r.disc.mcn, disc.mcn);
    assert_eq!(r.disc.cdtext, disc.cdtext);
    assert_eq!(
        DiscIds::compute(&r.disc).unwrap(),
        DiscIds::compute(&disc).unwrap()
    );
    // The audio reads back as generated.
    let t2 = disc.track(2).unwrap().start;
    let got = d.read_cd(t2, 3, C2Mode::None, SubChannel::None).unwrap();
    let at = t2.0 as usize * SECTOR;
    assert_eq!(got, image[at..at + 3 * SECTOR]);
}

#[test]
fn hidden_track_enhanced_and_mixed_discs_scan_as_built() {
    let (htoa, image) = DiscBuilder::new()
        .track(
            TrackSpec::sectors(200, Signal::Noise { seed: 5 })
                .pregap(120, Signal::Noise { seed: 6 }),
        )
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 7 }))
        .build()
        .unwrap();
    let mut d = serve(&htoa, &image, Options::new("htoa"));
    let r = scan::read_disc(&mut d).unwrap();
    assert_eq!(r.disc.hidden_track(), Some(Lba(0)..Lba(120)));
    assert_eq!(r.disc.tracks, htoa.tracks);

    let (enhanced, image) = DiscBuilder::new()
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 8 }))
        .track(TrackSpec::sectors(150, Signal::Noise { seed: 9 }))
        .track(TrackSpec::data(300))
        .build()
        .unwrap();
    let mut d = serve(&enhanced, &image, Options::new("enhanced"));
    let r = scan::read_disc(&mut d).unwrap();
    assert_eq!(r.disc.kind(), DiscKind::Enhanced);
    assert_eq!(r.disc.sessions, enhanced.sessions);
    assert_eq!(r.disc.audio_leadout(), Lba(350));
    assert_eq!(
        DiscIds::compute(&r.disc).unwrap(),
        DiscIds::compute(&enhanced).unwrap()
    );
    // The data track answers "any type" reads, refuses CD-DA ones.
    let data = enhanced.track(3).unwrap().start;
    assert!(d.read_q_any(data).is_ok());
    assert!(d.read_cd(data, 1, C2Mode::None, SubChannel::None).is_err());

    let (mixed, image) = DiscBuilder::new()
        .track(TrackSpec::data(300))
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 10 }).pregap(150, Signal::Silence))
        .build()
        .unwrap();
    let mut d = serve(&mixed, &image, Options::new("mixed"));
    let r = scan::read_disc(&mut d).unwrap();
    assert_eq!(r.disc.kind(), DiscKind::Mixed);
    assert_eq!(r.disc.tracks[1].start, Lba(450));
    assert_eq!(r.disc.tracks[1].pregap, Some(Lba(300)));
}

#[test]
fn the_demo_disc_through_transport_open() {
    let mut d = transport::open(Some("demo")).unwrap();
    assert_eq!(d.name(), "demo");
    let r = scan::read_disc(&mut d).unwrap();
    let (disc, image) = demo::build().unwrap();
    assert_eq!(r.disc.tracks, disc.tracks);
    assert_eq!(r.disc.mcn.as_deref(), Some(demo::MCN));
    let text = r.disc.disc_text().unwrap();
    assert_eq!(text.title.as_deref(), Some(demo::ALBUM));
    assert_eq!(text.performer.as_deref(), Some(demo::PERFORMER));
    assert_eq!(r.disc.tracks.len(), 5);
    assert!(r.disc.tracks.iter().all(|t| !t.control.preemphasis));
    assert!(r.disc.tracks.iter().any(|t| t.isrc.is_some()));
    assert!(r.disc.tracks.iter().any(|t| t.pregap_sectors() >= 150));
    // Built the same way twice: the same bytes.
    assert_eq!(demo::build().unwrap().1, image);

    // With a read offset, reads are shifted by it.
    let mut d = transport::open(Some("demo,offset=30")).unwrap();
    let got = d
        .read_cd(Lba(1000), 1, C2Mode::None, SubChannel::None)
        .unwrap();
    let at = 1000 * SECTOR - 30 * 4;
    assert_eq!(got, image[at..at + SECTOR]);

    // Faults apply: a bad sector is a medium error.
    let mut d = transport::open(Some("demo,bad=500-500")).unwrap();
    let e = d
        .read_cd(Lba(500), 1, C2Mode::None, SubChannel::None)
        .unwrap_err();
    assert!(e.is_medium_error(), "{e}");
    assert!(matches!(
        transport::open(Some("demo,offset=lots")),
        Err(Error::Spec(_))
    ));
}

#[test]
fn a_vanishing_drive_fails_every_command_like_a_missing_device() {
    let (disc, image) = DiscBuilder::new()
        .track(TrackSpec::sectors(100, Signal::Noise { seed: 11 }))
        .build()
        .unwrap();
    let mut opts = Options::new("usb");
    opts.vanish = Some(2);
    let mut d = serve(&disc, &image, opts);
    // Other commands do not count; two READ CDs are served.
    d.toc().unwrap();
    for lba in [0, 1] {
        d.read_cd(Lba(lba), 1, C2Mode::None, SubChannel::None)
            .unwrap();
    }
    // Gone: every command now fails as SG_IO fails for a removed device.
    for _ in 0..2 {
        let e = d
            .read_cd(Lba(3), 1, C2Mode::None, SubChannel::None)
            .unwrap_err();
        assert!(matches!(e, Error::NoDevice { .. }), "{e}");
    }
    let e = d.toc().unwrap_err();
    assert!(matches!(e, Error::NoDevice { .. }), "{e}");
    assert_eq!(e.to_string(), "image:usb: no such device");

    let mut d = transport::open(Some("demo,vanish=0")).unwrap();
    let e = d.toc().unwrap_err();
    assert_eq!(e.to_string(), "demo: no such device");
}
