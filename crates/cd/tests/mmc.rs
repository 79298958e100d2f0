//! MMC request packing and response parsing, byte by byte.

#![allow(clippy::unwrap_used)]

use aj_cd::mmc::{self, subq, C2Mode, Direction, Error, SubChannel, SubChannelRequest, TrayAction};
use aj_core::{Lba, Msf};

#[test]
fn cdb_bytes() {
    let c = mmc::inquiry();
    assert_eq!(c.cdb, [0x12, 0, 0, 0, 96, 0]);
    assert_eq!((c.direction, c.transfer_len), (Direction::FromDevice, 96));

    assert_eq!(mmc::test_unit_ready().cdb, [0, 0, 0, 0, 0, 0]);
    assert_eq!(mmc::test_unit_ready().direction, Direction::None);
    assert_eq!(mmc::request_sense().cdb, [0x03, 0, 0, 0, 18, 0]);

    let c = mmc::get_configuration();
    assert_eq!(c.cdb, [0x46, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0]);
    assert_eq!(c.transfer_len, 4096);

    let c = mmc::mode_sense_capabilities();
    assert_eq!(c.cdb, [0x5A, 0x08, 0x2A, 0, 0, 0, 0, 0x01, 0x00, 0]);

    assert_eq!(
        mmc::read_toc(0, 0).cdb,
        [0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24, 0]
    );
    assert_eq!(
        mmc::read_toc(2, 1).cdb,
        [0x43, 0, 2, 0, 0, 0, 1, 0xFF, 0xFE, 0]
    );
    assert_eq!(mmc::read_toc(5, 0).cdb[2], 5);
    assert_eq!(mmc::read_toc(4, 0).transfer_len, 28);

    assert_eq!(
        mmc::read_sub_channel(SubChannelRequest::Isrc(7)).cdb,
        [0x42, 0, 0x40, 3, 0, 0, 7, 0, 24, 0]
    );
    assert_eq!(mmc::read_sub_channel(SubChannelRequest::Mcn).cdb[3], 2);

    // READ CD of 3 CD-DA sectors at LBA 70000 with C2 and formatted Q.
    let c = mmc::read_cd(Lba(70_000), 3, C2Mode::Pointers, SubChannel::Q);
    assert_eq!(
        c.cdb,
        [0xBE, 0x04, 0, 0x01, 0x11, 0x70, 0, 0, 3, 0x12, 0x02, 0]
    );
    assert_eq!(c.transfer_len, 3 * (2352 + 294 + 16));
    let c = mmc::read_cd(Lba(-150), 1, C2Mode::PointersAndBlock, SubChannel::RawPw);
    assert_eq!(&c.cdb[2..6], &[0xFF, 0xFF, 0xFF, 0x6A]);
    assert_eq!((c.cdb[9], c.cdb[10]), (0x14, 0x01));
    assert_eq!(c.transfer_len, 2352 + 296 + 96);
    let r = mmc::parse_read_cd_cdb(&c.cdb).unwrap();
    assert_eq!((r.lba, r.count), (Lba(-150), 1));
    assert_eq!(
        (r.c2, r.sub),
        (Some(C2Mode::PointersAndBlock), Some(SubChannel::RawPw))
    );
    assert!(mmc::parse_read_cd_cdb(&c.cdb[..11]).is_none());

    assert_eq!(
        mmc::set_cd_speed(1764, 0xFFFF).cdb,
        [0xBB, 0, 0x06, 0xE4, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        mmc::start_stop_unit(TrayAction::Eject).cdb,
        [0x1B, 0, 0, 0, 2, 0]
    );
    assert_eq!(mmc::start_stop_unit(TrayAction::Load).cdb[4], 3);
    assert_eq!(
        mmc::parse_start_stop_cdb(&mmc::start_stop_unit(TrayAction::Stop).cdb),
        Some(TrayAction::Stop)
    );
    assert_eq!(mmc::prevent_allow(true).cdb, [0x1E, 0, 0, 0, 1, 0]);
    assert_eq!(
        mmc::get_event_status_media().cdb,
        [0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0]
    );
}

#[test]
fn inquiry_parsing() {
    let mut b = vec![0x05, 0x80, 0x05, 0x32, 31, 0, 0, 0];
    b.extend_from_slice(b"PLEXTOR DVDR   PX-716A  1.11");
    b.resize(36, b' ');
    let i = mmc::parse_inquiry(&b).unwrap();
    assert_eq!(i.device_type, 5);
    assert!(i.removable);
    assert_eq!(
        (i.vendor.as_str(), i.model.as_str(), i.revision.as_str()),
        ("PLEXTOR", "DVDR   PX-716A", "1.11")
    );
    assert!(mmc::parse_inquiry(&b[..35]).is_err());
    let built = mmc::build_inquiry("AJ", "Virtual CD", "1.0");
    let back = mmc::parse_inquiry(&built).unwrap();
    assert_eq!(
        (back.vendor.as_str(), back.model.as_str()),
        ("AJ", "Virtual CD")
    );
}

#[test]
fn configuration_parsing() {
    // Header, profile list (CD-RW current, CD-R, CD-ROM), CD Read with C2
    // and CD-Text, CD Mastering with SAO and a 64 KiB cue sheet limit, and a
    // descriptor cut off at the end.
    let mut b = vec![0, 0, 0, 0, 0, 0, 0x00, 0x0A];
    b.extend_from_slice(&[0x00, 0x00, 0x03, 12]);
    b.extend_from_slice(&[0x00, 0x0A, 1, 0, 0x00, 0x09, 0, 0, 0x00, 0x08, 0, 0]);
    b.extend_from_slice(&[0x00, 0x1E, 0x09, 4, 0x83, 0, 0, 0]);
    b.extend_from_slice(&[0x00, 0x2E, 0x09, 4, 0x64, 0x01, 0x00, 0x00]);
    b.extend_from_slice(&[0x00, 0x03, 0x0B, 4, 0x29, 0, 0, 0]);
    let len = (b.len() - 4) as u32;
    b[0..4].copy_from_slice(&len.to_be_bytes());
    b.extend_from_slice(&[0x01, 0x07, 0x00, 8, 1]); // beyond the data length
    let c = mmc::parse_configuration(&b).unwrap();
    assert_eq!(c.current_profile, 0x000A);
    assert_eq!(c.profiles.len(), 3);
    assert!(c.profiles[0].current && !c.profiles[1].current);
    assert_eq!(mmc::profile_name(c.profiles[1].code), "CD-R");
    let r = c.cd_read.unwrap();
    assert!(r.cd_text && r.c2_flags && r.dap);
    let m = c.cd_mastering.unwrap();
    assert!(m.sao && m.test_write && !m.raw);
    assert_eq!(m.max_cue_sheet, 0x010000);
    let rm = c.removable.unwrap();
    assert!(rm.eject && rm.lock);
    assert_eq!(rm.mechanism, 1);
    assert_eq!(c.features, vec![0x0000, 0x001E, 0x002E, 0x0003]);
    // Truncated inside a descriptor: the complete ones are kept.
    let c = mmc::parse_configuration(&b[..34]).unwrap();
    assert_eq!(c.features, vec![0x0000, 0x001E]);
    assert!(mmc::parse_configuration(&b[..7]).is_err());
    // Round trip through the builder.
    let built = mmc::build_configuration(8, &[(0x001E, true, vec![0x02, 0, 0, 0])]);
    let c = mmc::parse_configuration(&built).unwrap();
    assert_eq!(c.current_profile, 8);
    assert!(c.cd_read.unwrap().c2_flags && !c.cd_read.unwrap().cd_text);
}

#[test]
fn capabilities_parsing() {
    let caps = mmc::Capabilities {
        read_cd_r: true,
        write_cd_r: true,
        cd_da_commands: true,
        accurate_stream: true,
        c2_pointers: true,
        eject: true,
        loading_mechanism: 1,
        max_read_speed: 7056,
        buffer_kib: 2048,
        write_speeds: vec![7056, 5645],
        ..Default::default()
    };
    let b = mmc::build_capabilities(&caps);
    assert_eq!(b[8], 0x2A);
    assert_eq!(b[8 + 5], 0x13); // CD-DA commands, accurate stream, C2
    assert_eq!(mmc::parse_capabilities(&b).unwrap(), caps);
    // With an 8-byte block descriptor in front of the page.
    let mut with_bd = b[..8].to_vec();
    with_bd[7] = 8;
    with_bd.extend_from_slice(&[0; 8]);
    with_bd.extend_from_slice(&b[8..]);
    let len = (with_bd.len() - 2) as u16;
    with_bd[0..2].copy_from_slice(&len.to_be_bytes());
    assert_eq!(mmc::parse_capabilities(&with_bd).unwrap(), caps);
    // Another page, a short page, no page.
    let mut other = b.clone();
    other[8] = 0x01;
    assert!(matches!(
        mmc::parse_capabilities(&other),
        Err(Error::BadResponse { .. })
    ));
    assert!(mmc::parse_capabilities(&b[..20]).is_err());
    assert!(mmc::parse_capabilities(&b[..8]).is_err());
}

fn toc_bytes(entries: &[(u8, u8, i32)]) -> Vec<u8> {
    let mut b = vec![0, 0, 1, (entries.len() - 1) as u8];
    for &(t, ctl, lba) in entries {
        b.extend_from_slice(&[0, 0x10 | ctl, t, 0]);
        b.extend_from_slice(&lba.to_be_bytes());
    }
    let len = (b.len() - 2) as u16;
    b[0..2].copy_from_slice(&len.to_be_bytes());
    b
}

#[test]
fn toc_parsing() {
    let b = toc_bytes(&[(1, 0, 0), (2, 1, 15_000), (3, 4, 40_000), (0xAA, 4, 60_000)]);
    let t = mmc::parse_toc(&b).unwrap();
    assert_eq!((t.first_track, t.last_track), (1, 3));
    assert_eq!(t.lead_out(), Some(Lba(60_000)));
    let tracks: Vec<_> = t.tracks().collect();
    assert_eq!(tracks.len(), 3);
    assert!(tracks[2].is_data() && !tracks[0].is_data());
    assert_eq!(tracks[1].control, 1);
    assert_eq!(mmc::build_toc(&t, 0), b);
    // Only the lead-out, as asked with track AAh.
    assert_eq!(mmc::build_toc(&t, 0xAA).len(), 12);

    // Truncated to 2 descriptors: no lead-out.
    assert!(mmc::parse_toc(&b[..20]).is_err());
    // Addresses going backwards.
    let bad = toc_bytes(&[(1, 0, 5000), (2, 0, 100), (0xAA, 0, 9000)]);
    let e = mmc::parse_toc(&bad).unwrap_err().to_string();
    assert!(e.contains("track 2 at LBA 100"), "{e}");
    assert!(mmc::parse_toc(&[0, 2, 1, 1]).is_err());
    assert!(mmc::parse_toc(&[]).is_err());
}

#[test]
fn full_toc_session_info_atip_cdtext() {
    let f = mmc::FullToc {
        first_session: 1,
        last_session: 2,
        entries: vec![
            entry(1, 1, 0xA0, (1, 0, 0)),
            entry(1, 1, 0xA1, (2, 0, 0)),
            entry(1, 1, 0xA2, (10, 0, 0)),
            entry(1, 1, 1, (0, 2, 0)),
            entry(1, 1, 2, (5, 0, 0)),
            entry(2, 1, 0xA0, (3, 0x20, 0)),
            entry(2, 1, 0xA1, (3, 0, 0)),
            entry(2, 1, 0xA2, (20, 0, 0)),
            entry(2, 1, 3, (12, 34, 0)),
        ],
    };
    let b = mmc::build_full_toc(&f);
    assert_eq!(b.len(), 4 + 9 * 11);
    let back = mmc::parse_full_toc(&b).unwrap();
    assert_eq!(back, f);
    assert_eq!(
        back.session_lead_outs(),
        vec![
            (1, Msf { m: 10, s: 0, f: 0 }.to_lba()),
            (2, Msf { m: 20, s: 0, f: 0 }.to_lba())
        ]
    );
    assert_eq!(back.track_sessions(), vec![(1, 1), (2, 1), (3, 2)]);
    assert_eq!(back.entries[3].p_lba(), Lba(0));
    // A partial descriptor at the end is dropped.
    assert_eq!(
        mmc::parse_full_toc(&b[..4 + 11 + 5]).unwrap().entries.len(),
        1
    );
    assert!(mmc::parse_full_toc(&b[..4]).is_err());

    let s = mmc::parse_session_info(&[0, 10, 1, 2, 0, 0x14, 3, 0, 0, 0, 0x53, 0x98]).unwrap();
    assert_eq!(
        (s.first_session, s.last_session, s.last_session_first_track),
        (1, 2, 3)
    );
    assert_eq!(s.last_session_start, Lba(0x5398));
    assert!(mmc::parse_session_info(&[0, 10, 1, 2]).is_err());

    let atip = [
        0, 26, 0, 0, 0xD0, 0x40, 0xC4, 0, 97, 26, 66, 0, 79, 59, 74, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0,
    ];
    let a = mmc::parse_atip(&atip).unwrap();
    assert!(a.rewritable && a.unrestricted_use);
    assert_eq!(a.writing_power, 5);
    assert_eq!(
        a.lead_in_start,
        Msf {
            m: 97,
            s: 26,
            f: 66
        }
    );
    assert_eq!(
        a.last_lead_out_start,
        Msf {
            m: 79,
            s: 59,
            f: 74
        }
    );
    assert!(mmc::parse_atip(&[0, 2, 0, 0]).is_err());

    let packs = [[0x80u8; 18], [0x8F; 18]];
    let b = mmc::build_cd_text(&packs);
    assert_eq!(&b[..4], &[0, 38, 0, 0]);
    assert_eq!(mmc::parse_cd_text(&b).unwrap(), packs.to_vec());
    assert!(mmc::parse_cd_text(&[0, 2, 0, 0]).unwrap().is_empty());
    // A declared length longer than the data: what is there counts.
    assert_eq!(mmc::parse_cd_text(&b[..4 + 18 + 3]).unwrap().len(), 1);
}

fn entry(session: u8, adr: u8, point: u8, p: (u8, u8, u8)) -> mmc::FullTocEntry {
    mmc::FullTocEntry {
        session,
        adr,
        control: 0,
        tno: 0,
        point,
        min: 0,
        sec: 0,
        frame: 0,
        zero: 0,
        pmin: p.0,
        psec: p.1,
        pframe: p.2,
    }
}

#[test]
fn sub_channel_parsing() {
    let b = mmc::build_sub_channel(2, 0, 0, Some("0724384260927"));
    assert_eq!(b.len(), 24);
    assert_eq!(
        mmc::parse_sub_channel_mcn(&b).unwrap().as_deref(),
        Some("0724384260927")
    );
    let none = mmc::build_sub_channel(2, 0, 0, None);
    assert_eq!(mmc::parse_sub_channel_mcn(&none).unwrap(), None);
    let i = mmc::build_sub_channel(3, 5, 0, Some("USRC17607839"));
    assert_eq!((i[4], i[6], i[8]), (3, 5, 0x80));
    assert_eq!(
        mmc::parse_sub_channel_isrc(&i).unwrap().as_deref(),
        Some("USRC17607839")
    );
    // The wrong data format, a short response, garbage characters.
    assert!(mmc::parse_sub_channel_isrc(&b).is_err());
    assert!(mmc::parse_sub_channel_mcn(&b[..10]).is_err());
    let mut g = i.clone();
    g[12] = b'#';
    assert!(mmc::parse_sub_channel_isrc(&g).is_err());

    let p = mmc::Position {
        adr: 1,
        control: 0,
        track: 2,
        index: 0,
        absolute: Lba(1000),
        relative: -75,
    };
    let b = mmc::build_sub_channel_position(&p);
    assert_eq!(mmc::parse_sub_channel_position(&b).unwrap(), p);
}

#[test]
fn read_cd_splitting() {
    let size = mmc::read_cd_sector_len(C2Mode::Pointers, SubChannel::Q);
    let mut resp = vec![0u8; 2 * size];
    resp[size + 2352 + 7] = 0x10; // a C2 bit in sector 2
    let q = subq::encode(&subq::QFrame {
        control: 0,
        adr: 1,
        data: subq::QData::Position {
            track: 1,
            index: 1,
            relative: Msf { m: 0, s: 0, f: 1 },
            absolute: Msf { m: 0, s: 2, f: 1 },
        },
    })
    .unwrap();
    resp[size + 2352 + 294..size + 2352 + 294 + 12].copy_from_slice(&q);
    let s = mmc::split_read_cd(&resp, C2Mode::Pointers, SubChannel::Q).unwrap();
    assert_eq!(s.len(), 2);
    assert!(!s[0].has_c2_errors() && s[1].has_c2_errors());
    assert_eq!(s[1].audio.len(), 2352);
    assert_eq!(s[1].q(), Some(q));
    assert!(mmc::split_read_cd(&resp[..size + 1], C2Mode::Pointers, SubChannel::Q).is_err());
    assert!(mmc::split_read_cd(&[], C2Mode::None, SubChannel::None).is_err());
    // Raw P-W: Q comes out of bit 6.
    let raw = subq::raw_from_q(false, &q);
    let mut r = vec![0u8; 2352];
    r.extend_from_slice(&raw);
    let s = mmc::split_read_cd(&r, C2Mode::None, SubChannel::RawPw).unwrap();
    assert_eq!(s[0].q(), Some(q));
}

#[test]
fn event_status_parsing() {
    let s = mmc::MediaStatus {
        event: mmc::MediaEvent::NewMedia,
        tray_open: false,
        media_present: true,
    };
    let b = mmc::build_event_status(&s);
    assert_eq!(b, [0, 6, 4, 0x10, 2, 2, 0, 0]);
    assert_eq!(mmc::parse_event_status(&b).unwrap(), s);
    assert!(mmc::parse_event_status(&[0, 2, 0x80, 0x10]).is_err());
    assert!(mmc::parse_event_status(&[0, 6, 0x02, 0x10, 0, 0, 0, 0]).is_err());
    assert!(mmc::parse_event_status(&b[..6]).is_err());
}

#[test]
fn sense_parsing_and_messages() {
    let s = mmc::parse_request_sense(&mmc::Sense::medium_error_at(31_337).to_bytes()).unwrap();
    assert!(s.is_medium_error());
    assert_eq!(
        s.to_string(),
        "medium error: unrecovered read error at LBA 31337"
    );
    let e = Error::Check {
        op: mmc::OP_READ_CD,
        sense: s,
    };
    assert_eq!(
        e.to_string(),
        "READ CD: medium error: unrecovered read error at LBA 31337"
    );
    assert!(e.is_medium_error() && !e.is_no_medium());
    let nm = mmc::Sense::new(2, (0x3A, 0x02));
    assert!(nm.is_no_medium());
    assert_eq!(nm.to_string(), "no medium (the tray is open)");
    assert!(mmc::parse_request_sense(&[0; 18]).is_err());
}

/// Every parser on random and truncated bytes: errors or values, never a panic.
#[test]
fn garbage_never_panics() {
    let mut x: u64 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..3000 {
        let len = (next() % 300) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Plausible length fields now and then.
        if round % 3 == 0 && b.len() >= 4 {
            let l = (b.len() - 2) as u16;
            b[0..2].copy_from_slice(&l.to_be_bytes());
        }
        let _ = mmc::parse_inquiry(&b);
        let _ = mmc::parse_request_sense(&b);
        let _ = mmc::parse_configuration(&b);
        let _ = mmc::parse_capabilities(&b);
        let _ = mmc::parse_toc(&b);
        let _ = mmc::parse_session_info(&b);
        let _ = mmc::parse_full_toc(&b);
        let _ = mmc::parse_atip(&b);
        let _ = mmc::parse_cd_text(&b);
        let _ = mmc::parse_sub_channel_mcn(&b);
        let _ = mmc::parse_sub_channel_isrc(&b);
        let _ = mmc::parse_sub_channel_position(&b);
        let _ = mmc::parse_event_status(&b);
        let _ = mmc::split_read_cd(&b, C2Mode::PointersAndBlock, SubChannel::RawPw);
        let _ = mmc::parse_read_cd_cdb(&b);
        let _ = mmc::parse_start_stop_cdb(&b);
        let _ = subq::decode(&b);
        let _ = mmc::Sense::parse(&b);
        let packs: Vec<[u8; 18]> = b.chunks_exact(18).map(|c| c.try_into().unwrap()).collect();
        let _ = aj_cd::cdtext::parse(&packs);
    }
}

/// A real drive, when `AJ_TEST_DRIVE` names one (e.g. /dev/sr0): INQUIRY,
/// GET CONFIGURATION and MODE SENSE must parse; with a disc, the TOC too.
#[test]
fn real_drive_when_named() {
    let Ok(dev) = std::env::var("AJ_TEST_DRIVE") else {
        return;
    };
    let mut d = aj_cd::transport::open(Some(&dev)).unwrap();
    let i = d.inquiry().unwrap();
    assert_eq!(i.device_type, mmc::DEVICE_TYPE_MMC);
    let _ = d.configuration().unwrap();
    let _ = d.capabilities().unwrap();
    match d.test_unit_ready() {
        Ok(()) => {
            let t = d.toc().unwrap();
            assert!(t.lead_out().is_some());
        }
        Err(e) => eprintln!("{dev}: {e} (TOC not checked)"),
    }
}
