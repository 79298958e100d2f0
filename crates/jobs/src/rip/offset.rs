//! Finding a drive's read offset from a disc AccurateRip knows: each
//! track's 450th sector, read without correction, is checksummed at every
//! offset the search covers and compared with the database's frame-450
//! checksums (the method EAC and CUETools use).

use std::collections::BTreeMap;

use aj_cd::checksum::{find_offsets, FRAME450_SECTOR, FRAMES_PER_SECTOR, OFFSET_SEARCH_RADIUS};
use aj_cd::id;
use aj_cd::mmc::scan;
use aj_cd::rip::{ReadOptions, SecureReader};
use aj_cd::transport;
use aj_core::{CancelToken, Lba};
use aj_lookup::{Lookup, Services};

use crate::config::Config;

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OffsetReport {
    /// The drive's name and its key in the configuration (vendor and model).
    pub drive: String,
    pub drive_key: String,
    /// Offsets with the number of tracks that agree on each, most first.
    pub candidates: Vec<(i32, usize)>,
    /// Tracks that could be checked (long enough, known to the database).
    pub tracks_checked: usize,
}

impl OffsetReport {
    /// The offset most tracks agree on, when at least two do (or the only
    /// track checked does) and no other offset is as well supported.
    pub fn best(&self) -> Option<i32> {
        let (o, n) = *self.candidates.first()?;
        let tied = self.candidates.get(1).is_some_and(|c| c.1 == n);
        let enough = n >= 2 || (n == 1 && self.tracks_checked == 1);
        (enough && !tied).then_some(o)
    }
}

/// Searches the offset of the drive named by `spec` with the disc in it.
///
/// # Errors
/// The drive or disc cannot be read, the service cannot be asked, or the
/// disc is not in the AccurateRip database.
pub fn find(
    spec: Option<&str>,
    config: &Config,
    cancel: &CancelToken,
) -> Result<OffsetReport, String> {
    let mut drive = transport::open(spec).map_err(|e| e.to_string())?;
    let name = drive.name();
    let drive_key = drive
        .inquiry()
        .map(|i| format!("{} {}", i.vendor.trim(), i.model.trim()))
        .unwrap_or_else(|_| name.clone());
    let disc = scan::read_disc(&mut drive)
        .map_err(|e| format!("{name}: {e}"))?
        .disc;
    let arid = id::accuraterip_id(&disc).map_err(|e| format!("{name}: {e}"))?;
    let services =
        Services::resolve(&|k: &str| config.string(k).ok().flatten()).map_err(|e| e.to_string())?;
    let lookup = Lookup::new(services, aj_lookup::Options::default());
    let db = lookup
        .accuraterip(&arid)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            "this disc is not in the AccurateRip database: try another, well-known disc".to_string()
        })?;
    let mut reader = SecureReader::new(
        &mut drive,
        &disc,
        ReadOptions {
            offset: 0,
            ..ReadOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let audio: Vec<(u8, Lba, Lba)> = {
        let leadout = disc.audio_leadout();
        let tracks: Vec<_> = disc.audio_tracks().collect();
        tracks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let end = tracks.get(i + 1).map_or(leadout, |n| n.start);
                (t.number, t.start, end)
            })
            .collect()
    };
    let radius_sectors = OFFSET_SEARCH_RADIUS / FRAMES_PER_SECTOR as i32;
    let mut votes: BTreeMap<i32, usize> = BTreeMap::new();
    let mut checked = 0;
    for (ar_index, (_number, start, end)) in audio.iter().enumerate() {
        let ar_track = u8::try_from(ar_index + 1).unwrap_or(u8::MAX);
        let wanted: Vec<u32> = db
            .frame450_crcs(ar_track)
            .into_iter()
            .map(|(crc, _)| crc)
            .filter(|&c| c != 0)
            .collect();
        let first = start.0 + FRAME450_SECTOR as i32 - radius_sectors;
        let last = start.0 + FRAME450_SECTOR as i32 + radius_sectors + 1;
        if wanted.is_empty() || first < 0 || last > end.0 {
            continue;
        }
        let mut bytes = Vec::new();
        reader
            .read_range(
                Lba(first)..Lba(last),
                &mut |b: &[u8]| {
                    bytes.extend_from_slice(b);
                    Ok(())
                },
                &mut |_| {},
                cancel,
            )
            .map_err(|e| e.to_string())?;
        let frames: Vec<u32> = aj_cd::checksum::frames_from_le_bytes(&bytes).collect();
        checked += 1;
        for o in find_offsets(&frames, -OFFSET_SEARCH_RADIUS, &wanted) {
            *votes.entry(o).or_default() += 1;
        }
    }
    if checked == 0 {
        return Err(
            "no track of this disc can be used (too short, or unknown to the database)".into(),
        );
    }
    let mut candidates: Vec<(i32, usize)> = votes.into_iter().collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.abs().cmp(&b.0.abs())));
    Ok(OffsetReport {
        drive: name,
        drive_key,
        candidates,
        tracks_checked: checked,
    })
}
