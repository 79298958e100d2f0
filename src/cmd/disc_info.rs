//! `aj disc info` and `aj disc eject`.

use aj_cd::disc::Track;
use aj_cd::id::DiscIds;
use aj_cd::mmc::scan::{self, DiscReport};
use aj_cd::mmc::Drive;
use aj_cd::transport::{self, Error as DriveError};
use aj_core::{Lba, Msf};

use crate::cli::{DiscEjectArgs, DiscInfoArgs};
use crate::Outcome;

/// Opens the drive named by `--drive`; a spec that does not parse is a
/// usage error.
fn open(spec: Option<&str>) -> Result<Drive, Result<Outcome, anyhow::Error>> {
    match transport::open(spec) {
        Ok(d) => Ok(d),
        Err(e @ DriveError::Spec(_)) => Err(Ok(Outcome::Usage(e.to_string()))),
        Err(e) => Err(Err(anyhow::Error::new(e))),
    }
}

pub fn run(args: DiscInfoArgs) -> anyhow::Result<Outcome> {
    let mut drive = match open(args.drive.drive.as_deref()) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let name = drive.name();
    let report = scan::read_disc(&mut drive).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let ids = DiscIds::compute(&report.disc);
    let value = aj_jobs::disc::to_json(&name, &report, ids.as_ref().ok());
    if args.json {
        println!("{}", serde_json::to_string(&value)?);
    } else {
        print_human(&name, &report, &ids);
    }
    Ok(Outcome::Ok)
}

pub fn eject(args: DiscEjectArgs) -> anyhow::Result<Outcome> {
    let mut drive = match open(args.drive.drive.as_deref()) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let name = drive.name();
    drive.eject().map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    println!("{name}: tray opened");
    Ok(Outcome::Ok)
}

fn msf_len(sectors: i32) -> String {
    let s = sectors.max(0);
    format!("{:02}:{:02}:{:02}", s / 4500, s / 75 % 60, s % 75)
}

/// The pregap column: its length, or "?" when the sub-channel could not
/// show whether there is one (a note says more).
fn pregap_cell(r: &DiscReport, t: &Track) -> String {
    let unknown = r
        .uncertain
        .iter()
        .any(|u| u.track == t.number && u.index == 0 && u.taken.is_none());
    if unknown {
        format!("{:<8}", "?")
    } else {
        msf_len(t.pregap_sectors())
    }
}

fn msf_at(lba: Lba) -> String {
    Msf::from_lba(lba).map_or_else(|| format!("LBA {}", lba.0), |m| m.to_string())
}

fn print_human(name: &str, r: &DiscReport, ids: &Result<DiscIds, aj_cd::id::IdError>) {
    let d = &r.disc;
    println!("Drive:  {name}");
    println!(
        "Disc:   {}, tracks {}–{}, {} ({} sectors)",
        d.kind(),
        d.first_track_number(),
        d.last_track_number(),
        msf_len(d.leadout.0),
        d.leadout.0
    );
    if d.sessions.len() > 1 {
        for s in &d.sessions {
            println!(
                "        session {} lead-out at LBA {}",
                s.number, s.leadout.0
            );
        }
    }
    if let Some(h) = d.hidden_track() {
        println!(
            "Hidden track before track 1: {} ({} sectors)",
            msf_len(h.end.0 - h.start.0),
            h.end.0 - h.start.0
        );
    }
    if let Some(m) = &d.mcn {
        println!("MCN:    {m}");
    }
    println!();
    println!(
        "Track  Start     LBA     Length    Pregap    ISRC          Flags   Title / Performer"
    );
    for t in &d.tracks {
        let mut flags = Vec::new();
        if t.control.data {
            flags.push("data");
        }
        if t.control.preemphasis {
            flags.push("pre");
        }
        if t.control.copy_permitted {
            flags.push("dcp");
        }
        if t.control.four_channel {
            flags.push("4ch");
        }
        let text = d.track_text(t.number);
        let title = text.and_then(|f| f.title.as_deref()).unwrap_or("");
        let perf = text.and_then(|f| f.performer.as_deref());
        println!(
            "{:>5}  {}  {:>6}  {}  {}  {:<12}  {:<6}  {}{}",
            t.number,
            msf_at(t.start),
            t.start.0,
            msf_len(d.track_sectors(t.number).unwrap_or(0)),
            pregap_cell(r, t),
            t.isrc.as_deref().unwrap_or("-"),
            if flags.is_empty() {
                "-".to_string()
            } else {
                flags.join(",")
            },
            title,
            perf.map(|p| format!(" / {p}")).unwrap_or_default()
        );
        for i in &t.indexes {
            println!(
                "         index {:02} at {} (LBA {})",
                i.number,
                msf_at(i.start),
                i.start.0
            );
        }
    }
    if let Some(text) = d.disc_text() {
        if let Some(t) = &text.title {
            println!("\nCD-TEXT title: {t}");
        }
        if let Some(p) = &text.performer {
            println!("CD-TEXT performer: {p}");
        }
    }
    if let Some(c) = &d.cdtext {
        if c.blocks.len() > 1 {
            println!("CD-TEXT blocks: {}", c.blocks.len());
        }
    }
    println!();
    match ids {
        Ok(ids) => {
            println!("MusicBrainz:  {}", ids.musicbrainz);
            println!("CDDB:         {}", ids.cddb);
            println!(
                "AccurateRip:  {}-{}-{} ({})",
                ids.accuraterip.id1,
                ids.accuraterip.id2,
                ids.accuraterip.cddb,
                ids.accuraterip.path
            );
            println!("CTDB:         {}", ids.ctdb);
        }
        Err(e) => println!("Identities:   none ({e})"),
    }
    for n in &r.notes {
        println!("note: {n}");
    }
}
