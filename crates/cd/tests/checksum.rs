//! AccurateRip checksums against Debian whipper's `accuraterip-checksum`, and the
//! offset-finding checksum against the virtual drive's read offset.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use aj_cd::checksum::{
    find_offsets, frame450_crc, pack_frame, AccurateRip, Crc32, TrackPosition, OFFSET_SEARCH_RADIUS,
};
use aj_cd::mmc::{C2Mode, Drive, SubChannel};
use aj_cd::virtual_drive::generate::{DiscBuilder, Signal, TrackSpec};
use aj_cd::virtual_drive::{Options, VirtualDrive};

/// Interleaved 16-bit samples as frames.
fn frames(samples: &[i32]) -> Vec<u32> {
    samples
        .chunks_exact(2)
        .map(|c| pack_frame(c[0] as i16, c[1] as i16))
        .collect()
}

/// `accuraterip-checksum --accuraterip-vN FILE TRACK TOTAL`, parsed.
fn tool(version: u8, wav: &Path, track: u32, total: u32) -> u32 {
    let out = Command::new("accuraterip-checksum")
        .arg(format!("--accuraterip-v{version}"))
        .arg(wav)
        .arg(track.to_string())
        .arg(total.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "accuraterip-checksum failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    u32::from_str_radix(text.trim(), 16).unwrap()
}

#[test]
fn accuraterip_agrees_with_whipper_accuraterip_checksum() {
    if !aj_testkit::have_tool("accuraterip-checksum") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Lengths: just over one skip, just over both skips, a few seconds, an odd
    // length that is not whole sectors.
    let signals: Vec<(&str, Vec<i32>)> = vec![
        ("noise-3000", aj_testkit::noise(3000, 2, 16, 1)),
        ("noise-5881", aj_testkit::noise(5881, 2, 16, 2)),
        (
            "sine-132300",
            aj_testkit::sine(132_300, 2, 44_100, 16, 441.0, 0.8),
        ),
        ("noise-50001", aj_testkit::noise(50_001, 2, 16, 3)),
    ];
    for (name, samples) in &signals {
        let wav = dir.path().join(format!("{name}.wav"));
        aj_testkit::write_wav(&wav, samples, 2, 44_100, 16);
        let f = frames(samples);
        for (track, total, pos) in [
            (1, 3, TrackPosition::First),
            (2, 3, TrackPosition::Middle),
            (3, 3, TrackPosition::Last),
            (1, 1, TrackPosition::Only),
        ] {
            let mut ar = AccurateRip::new(pos, f.len() as u64);
            for c in f.chunks(1000) {
                ar.update(c);
            }
            let got = ar.finish();
            assert_eq!(got.v1, tool(1, &wav, track, total), "{name} {pos:?} v1");
            assert_eq!(got.v2, tool(2, &wav, track, total), "{name} {pos:?} v2");
        }
    }
}

#[test]
fn copy_crc_is_the_crc_of_the_wav_data() {
    let samples = aj_testkit::noise(10_000, 2, 16, 9);
    let bytes: Vec<u8> = samples
        .iter()
        .flat_map(|&s| (s as i16).to_le_bytes())
        .collect();
    let mut c = Crc32::new();
    for ch in frames(&samples).chunks(588) {
        c.update(ch);
    }
    assert_eq!(c.crc(), crc32fast::hash(&bytes));
}

/// Reads a track's sectors 445..=455 through a drive with read offset
/// `offset`, without correcting it, and finds that offset from the
/// frame-450 checksum of the audio the disc holds.
#[test]
fn the_offset_is_found_from_the_frame_450_checksum() {
    let (disc, image) = DiscBuilder::new()
        .track(TrackSpec::sectors(200, Signal::Noise { seed: 1 }))
        .track(TrackSpec::sectors(470, Signal::Noise { seed: 2 }))
        .build()
        .unwrap();
    let start = disc.track(2).unwrap().start.0;
    // The truth: sector 450 of track 2 as the disc holds it.
    let at = (start as usize + 450) * 2352;
    let truth: Vec<u32> = image[at..at + 2352]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let wanted = frame450_crc(&truth);
    for offset in [0, 6, 667, -1164, 2940, -2940] {
        let mut opts = Options::new("frame450");
        opts.offset = offset;
        let vd = VirtualDrive::from_image(disc.clone(), &image, opts).unwrap();
        let mut d = Drive::new(Box::new(vd));
        let raw = d
            .read_cd(
                aj_core::Lba(start + 445),
                11,
                C2Mode::None,
                SubChannel::None,
            )
            .unwrap();
        let window: Vec<u32> = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(window.len(), 11 * 588);
        let found = find_offsets(&window, -OFFSET_SEARCH_RADIUS, &[wanted, 0x1234_5678]);
        assert_eq!(found, vec![offset], "drive offset {offset}");
    }
}
