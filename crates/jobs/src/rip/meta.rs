//! Names for a disc: MusicBrainz, else GnuDB, else CD-TEXT, else "Unknown
//! Artist" / "Track NN"; and the tags each track gets.

use std::collections::BTreeMap;

use aj_cd::disc::Disc;
use aj_cd::id::DiscIds;
use aj_codec::tags::{Picture, PictureKind, TagKey, Tags};
use aj_lookup::coverart::CoverSize;
use aj_lookup::musicbrainz::MbRelease;
use aj_lookup::{Lookup, Service};

use super::ReleaseChoice;

/// What the disc is called, and where that came from.
#[derive(Debug, Clone, Default)]
pub struct AlbumMeta {
    /// `musicbrainz`, `gnudb`, `cd-text` or `none`.
    pub source: &'static str,
    pub artist: String,
    pub album: String,
    pub date: Option<String>,
    pub genre: Option<String>,
    pub release: Option<MbRelease>,
    pub releases: Vec<ReleaseChoice>,
    pub disc_number: Option<u32>,
    pub disc_total: Option<u32>,
    /// By disc track number.
    pub tracks: BTreeMap<u8, TrackMeta>,
    pub cover: Option<Picture>,
    /// What could not be looked up, worded for the log.
    pub notes: Vec<String>,
}

/// One track's names and identifiers.
#[derive(Debug, Clone, Default)]
pub struct TrackMeta {
    pub title: String,
    pub artist: String,
    pub recording_id: Option<String>,
    pub track_id: Option<String>,
    pub artist_ids: Vec<String>,
    pub isrc: Option<String>,
}

/// Picks a release among several: the index into the list, `None` for the
/// first.
pub type Chooser<'a> = &'a (dyn Fn(&[ReleaseChoice]) -> Option<usize> + Sync);

/// Looks the disc up (when `lookup` is given) and falls back as the module
/// doc says. `wanted` is `--release`; the services in `off` are not asked
/// (their address is not valid: the caller said so).
pub fn resolve(
    disc: &Disc,
    ids: Option<&DiscIds>,
    lookup: Option<&Lookup>,
    off: &[Service],
    wanted: Option<&str>,
    choose: Option<Chooser<'_>>,
) -> AlbumMeta {
    let mut meta = AlbumMeta::default();
    let audio: Vec<u8> = disc.audio_tracks().map(|t| t.number).collect();
    if let Some(lookup) = lookup {
        let mb = !off.contains(&Service::MusicBrainz);
        if mb {
            match lookup.musicbrainz_disc(disc) {
                Ok(releases) if !releases.is_empty() => {
                    from_musicbrainz(&mut meta, releases, &audio, wanted, choose);
                }
                Ok(_) => meta.notes.push(match ids {
                    Some(i) => format!("MusicBrainz: disc ID {} not found", i.musicbrainz),
                    None => "MusicBrainz: disc not found".into(),
                }),
                Err(e) => meta.notes.push(e.to_string()),
            }
        }
        // A release asked for by MBID that the disc ID did not list.
        if mb && meta.release.is_none() {
            if let Some(id) = wanted {
                match lookup.musicbrainz_release(id) {
                    Ok(Some(r)) => from_musicbrainz(&mut meta, vec![r], &audio, wanted, None),
                    Ok(None) => meta
                        .notes
                        .push(format!("MusicBrainz: release {id} not found")),
                    Err(e) => meta.notes.push(e.to_string()),
                }
            }
        }
        if meta.release.is_none() && !off.contains(&Service::GnuDb) {
            gnudb(&mut meta, disc, lookup, &audio);
        }
        if let Some(r) = meta
            .release
            .as_ref()
            .filter(|_| !off.contains(&Service::CoverArt))
        {
            match lookup.front_cover(&r.id, CoverSize::Px1200) {
                Ok(Some(img)) => {
                    let mut p = Picture::new(PictureKind::FrontCover, "", img.bytes);
                    p.mime = img.mime;
                    meta.cover = Some(p);
                }
                Ok(None) => meta
                    .notes
                    .push("Cover Art Archive: no front cover for this release".into()),
                Err(e) => meta.notes.push(e.to_string()),
            }
        }
    }
    if meta.source.is_empty() {
        from_cd_text(&mut meta, disc, &audio);
    }
    if meta.source.is_empty() {
        meta.source = "none";
        meta.artist = "Unknown Artist".into();
        meta.album = "Unknown Album".into();
    }
    // Gaps in what a service gave are filled the same way.
    for &n in &audio {
        let t = meta.tracks.entry(n).or_default();
        if t.title.trim().is_empty() {
            t.title = format!("Track {n:02}");
        }
        if t.artist.trim().is_empty() {
            t.artist = meta.artist.clone();
        }
        // The ISRC read from the disc (sub-channel Q, mode 3) is the
        // pressing's own: it wins; the service's only fills a gap.
        if let Some(own) = disc.track(n).and_then(|t| t.isrc.clone()) {
            if let Some(other) = t.isrc.as_ref().filter(|o| !o.eq_ignore_ascii_case(&own)) {
                meta.notes.push(format!(
                    "track {n}: the disc's ISRC {own} is used; {} lists {other}",
                    meta.source
                ));
            }
            t.isrc = Some(own);
        }
    }
    meta
}

fn from_musicbrainz(
    meta: &mut AlbumMeta,
    releases: Vec<MbRelease>,
    audio: &[u8],
    wanted: Option<&str>,
    choose: Option<Chooser<'_>>,
) {
    let mut choices: Vec<ReleaseChoice> = releases
        .iter()
        .map(|r| ReleaseChoice {
            id: r.id.clone(),
            title: r.title.clone(),
            artist: r.artist.text.clone(),
            date: r.date.clone(),
            country: r.country.clone(),
            chosen: false,
        })
        .collect();
    let pick = match wanted {
        Some(id) => match releases.iter().position(|r| r.id.eq_ignore_ascii_case(id)) {
            Some(i) => Some(i),
            None => {
                meta.notes.push(format!(
                    "MusicBrainz: release {id} is not one of this disc's releases"
                ));
                None
            }
        },
        None if releases.len() > 1 => Some(choose.and_then(|c| c(&choices)).unwrap_or(0)),
        None => Some(0),
    };
    meta.releases = choices.clone();
    let Some(i) = pick.filter(|&i| i < releases.len()) else {
        return;
    };
    if let Some(c) = choices.get_mut(i) {
        c.chosen = true;
    }
    meta.releases = choices;
    let Some(r) = releases.into_iter().nth(i) else {
        return;
    };
    meta.source = "musicbrainz";
    meta.artist = r.artist.text.clone();
    meta.album = r.title.clone();
    meta.date = r.date.clone();
    meta.disc_total = u32::try_from(r.total_discs()).ok().filter(|&n| n > 0);
    if let Some(m) = r.medium() {
        meta.disc_number = Some(m.position);
        for (t, &n) in m.tracks.iter().zip(audio) {
            meta.tracks.insert(
                n,
                TrackMeta {
                    title: t.title.clone(),
                    artist: t.artist.text.clone(),
                    recording_id: t.recording_id.clone(),
                    track_id: Some(t.track_id.clone()),
                    artist_ids: t.artist.artists.iter().map(|a| a.id.clone()).collect(),
                    isrc: t.isrcs.first().cloned(),
                },
            );
        }
    }
    meta.release = Some(r);
}

fn gnudb(meta: &mut AlbumMeta, disc: &Disc, lookup: &Lookup, audio: &[u8]) {
    let matches = match lookup.gnudb_query(disc) {
        Ok(m) => m,
        Err(e) => {
            meta.notes.push(e.to_string());
            return;
        }
    };
    let Some(first) = matches.first() else {
        meta.notes.push("GnuDB: disc not found".into());
        return;
    };
    match lookup.gnudb_read(first) {
        Ok(Some(entry)) => {
            meta.source = "gnudb";
            meta.artist = entry.artist.clone();
            meta.album = entry.title.clone();
            meta.date = entry.year.clone();
            meta.genre = entry.genre.clone();
            for (t, &n) in entry.tracks.iter().zip(audio) {
                meta.tracks.insert(
                    n,
                    TrackMeta {
                        title: t.title.clone(),
                        artist: t.artist.clone().unwrap_or_default(),
                        ..TrackMeta::default()
                    },
                );
            }
        }
        Ok(None) => meta.notes.push(format!(
            "GnuDB: {} {} could not be read",
            first.category, first.disc_id
        )),
        Err(e) => meta.notes.push(e.to_string()),
    }
}

fn from_cd_text(meta: &mut AlbumMeta, disc: &Disc, audio: &[u8]) {
    let Some(d) = disc.disc_text() else { return };
    let has_any = !d.title.as_deref().unwrap_or("").trim().is_empty()
        || audio.iter().any(|&n| {
            disc.track_text(n)
                .and_then(|t| t.title.as_deref())
                .is_some_and(|s| !s.trim().is_empty())
        });
    if !has_any {
        return;
    }
    meta.source = "cd-text";
    meta.artist = d
        .performer
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "Unknown Artist".into());
    meta.album = d
        .title
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "Unknown Album".into());
    for &n in audio {
        let tt = disc.track_text(n);
        meta.tracks.insert(
            n,
            TrackMeta {
                title: tt.and_then(|t| t.title.clone()).unwrap_or_default(),
                artist: tt.and_then(|t| t.performer.clone()).unwrap_or_default(),
                ..TrackMeta::default()
            },
        );
    }
}

/// The tags of track `number` (0: hidden track one audio).
pub fn track_tags(meta: &AlbumMeta, disc: &Disc, ids: Option<&DiscIds>, number: u8) -> Tags {
    let mut tags = Tags::new();
    let audio_count = disc.audio_tracks().count();
    let t = meta
        .tracks
        .get(&number)
        .cloned()
        .unwrap_or_else(|| TrackMeta {
            title: if number == 0 {
                "Hidden Track One Audio".into()
            } else {
                format!("Track {number:02}")
            },
            artist: meta.artist.clone(),
            ..TrackMeta::default()
        });
    tags.set(TagKey::Title, t.title);
    tags.set(TagKey::Artist, t.artist);
    tags.set(TagKey::Album, meta.album.clone());
    tags.set(TagKey::AlbumArtist, meta.artist.clone());
    tags.set(TagKey::TrackNumber, number.to_string());
    tags.set(TagKey::TrackTotal, audio_count.to_string());
    if let Some(n) = meta.disc_number {
        tags.set(TagKey::DiscNumber, n.to_string());
    }
    if let Some(n) = meta.disc_total {
        tags.set(TagKey::DiscTotal, n.to_string());
    }
    if let Some(d) = &meta.date {
        tags.set(TagKey::Date, d.clone());
    }
    if let Some(g) = &meta.genre {
        tags.set(TagKey::Genre, g.clone());
    }
    if let Some(isrc) = &t.isrc {
        tags.set(TagKey::Isrc, isrc.clone());
    }
    if let Some(r) = &meta.release {
        tags.set(TagKey::MusicBrainzReleaseId, r.id.clone());
        if let Some(g) = &r.release_group_id {
            tags.set(TagKey::MusicBrainzReleaseGroupId, g.clone());
        }
        for a in &r.artist.artists {
            tags.push(TagKey::MusicBrainzReleaseArtistId, a.id.clone());
        }
        if let Some(b) = r.barcode.as_ref().filter(|b| !b.is_empty()) {
            tags.set(TagKey::Other("BARCODE".into()), b.clone());
        }
        if let Some(l) = r.labels.first() {
            if let Some(name) = &l.label {
                tags.set(TagKey::Other("LABEL".into()), name.clone());
            }
            if let Some(c) = &l.catalog_number {
                tags.set(TagKey::Other("CATALOGNUMBER".into()), c.clone());
            }
        }
    }
    if let Some(id) = &t.recording_id {
        tags.set(TagKey::MusicBrainzRecordingId, id.clone());
    }
    if let Some(id) = &t.track_id {
        tags.set(TagKey::MusicBrainzTrackId, id.clone());
    }
    for a in &t.artist_ids {
        tags.push(TagKey::MusicBrainzArtistId, a.clone());
    }
    if let Some(ids) = ids {
        tags.set(TagKey::MusicBrainzDiscId, ids.musicbrainz.clone());
    }
    if let Some(mcn) = &disc.mcn {
        tags.set(TagKey::Other("MCN".into()), mcn.clone());
    }
    if let Some(p) = &meta.cover {
        tags.pictures.push(p.clone());
    }
    tags
}
