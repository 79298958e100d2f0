//! The service clients against a local fixture server answering in the real
//! services' formats: exact URLs, parsing, not-found, errors, redirects, timeouts.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aj_cd::disc::Disc;
use aj_lookup::accuraterip::{
    encode_dbar, ArDatabase, ArRecord, ArStatus, ArTrackEntry, ArVersion,
};
use aj_lookup::coverart::CoverSize;
use aj_lookup::ctdb::CtdbStatus;
use aj_lookup::{Error, Failure, Lookup, Options, Service, Services, USER_AGENT};
use aj_testkit::http::{refused_base_url, FixtureServer, Route};

const DISC_ID: &str = "MXsnrcgOkbb2H34IbwspNVMJMwA-";
const AR_PATH: &str = "/accuraterip/0/9/f/dBAR-003-00015f90-000493e1-0c025803.bin";
const RELEASE: &str = "0d3c6b64-3b5e-4c8e-9a57-5a2d5b0a1f01";

fn disc() -> Disc {
    aj_cd::id::parse_toc_string("1 3 45150 150 15150 30150").unwrap()
}

fn all(base: &str) -> Services {
    Services {
        accuraterip: base.into(),
        ctdb: base.into(),
        musicbrainz: base.into(),
        gnudb: base.into(),
        coverart: base.into(),
    }
}

fn quick() -> Options {
    Options {
        musicbrainz_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

fn client(server: &FixtureServer) -> Lookup {
    Lookup::new(all(&server.base_url()), quick())
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

fn record(conf: [u8; 3], crcs: [u32; 3]) -> ArRecord {
    ArRecord {
        id1: 0x0001_5f90,
        id2: 0x0004_93e1,
        cddb: 0x0c02_5803,
        tracks: conf
            .iter()
            .zip(crcs)
            .map(|(&confidence, crc)| ArTrackEntry {
                confidence,
                crc,
                frame450_crc: crc.rotate_left(8),
            })
            .collect(),
    }
}

#[test]
fn accuraterip_fetches_the_dbar_file_and_compares() {
    let db = ArDatabase {
        records: vec![
            record([20, 18, 17], [0xaaaa_0001, 0xaaaa_0002, 0xaaaa_0003]),
            record([4, 4, 3], [0xbbbb_0001, 0xaaaa_0002, 0xbbbb_0003]),
        ],
    };
    let server = FixtureServer::start(vec![
        Route::get(AR_PATH).body("application/octet-stream", encode_dbar(&db))
    ]);
    let lookup = client(&server);
    let id = aj_cd::id::accuraterip_id(&disc()).unwrap();
    assert_eq!(
        lookup.accuraterip_url(&id),
        format!("{}{AR_PATH}", server.base_url())
    );
    let got = lookup.accuraterip(&id).unwrap().unwrap();
    assert_eq!(got, db);

    let req = &server.requests()[0];
    assert_eq!(req.target, AR_PATH);
    assert_eq!(req.header("user-agent"), Some(USER_AGENT));

    // Track 1: our v2 is the second pressing's, our v1 the first's.
    let m = got.compare(1, 0xaaaa_0001, 0xbbbb_0001);
    assert_eq!(
        (m.status, m.version, m.confidence),
        (ArStatus::Match, Some(ArVersion::V1), 20)
    );
    assert_eq!(
        (m.v1_confidence, m.v2_confidence, m.total_submissions),
        (20, 4, 24)
    );
    // Track 2: both pressings agree: confidences sum.
    let m = got.compare(2, 0, 0xaaaa_0002);
    assert_eq!(
        (m.status, m.version, m.confidence, m.best_record_confidence),
        (ArStatus::Match, Some(ArVersion::V2), 22, 18)
    );
    assert_eq!(got.compare(3, 1, 2).status, ArStatus::Mismatch);
    assert_eq!(got.compare(4, 1, 2).status, ArStatus::NotFound);
    assert_eq!(
        got.frame450_crcs(3),
        vec![
            (0xaaaa_0003u32.rotate_left(8), 17),
            (0xbbbb_0003u32.rotate_left(8), 3)
        ]
    );
}

#[test]
fn accuraterip_not_found_garbage_and_foreign_files() {
    let id = aj_cd::id::accuraterip_id(&disc()).unwrap();
    let empty = FixtureServer::start(vec![]);
    assert_eq!(client(&empty).accuraterip(&id).unwrap(), None);

    let garbage = FixtureServer::start(vec![
        Route::get(AR_PATH).body("text/html", "<html>maintenance</html>")
    ]);
    let e = client(&garbage).accuraterip(&id).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("AccurateRip: http://127.0.0.1:"), "{text}");
    assert!(
        text.contains(AR_PATH) && text.contains("unreadable response"),
        "{text}"
    );

    let mut other = record([1, 1, 1], [1, 2, 3]);
    other.id1 ^= 1;
    let foreign = FixtureServer::start(vec![Route::get(AR_PATH).body(
        "application/octet-stream",
        encode_dbar(&ArDatabase {
            records: vec![other],
        }),
    )]);
    assert!(client(&foreign)
        .accuraterip(&id)
        .unwrap_err()
        .to_string()
        .contains("another disc"));

    let mut bytes = encode_dbar(&ArDatabase {
        records: vec![record([1, 1, 1], [1, 2, 3])],
    });
    bytes.truncate(30);
    let cut = FixtureServer::start(vec![
        Route::get(AR_PATH).body("application/octet-stream", bytes)
    ]);
    assert!(client(&cut)
        .accuraterip(&id)
        .unwrap_err()
        .to_string()
        .contains("truncated"));
}

#[test]
fn ctdb_lookup_by_toc() {
    let target = "/lookup2.php?version=3&ctdb=1&fuzzy=1&toc=0:15000:30000:45000";
    let server = FixtureServer::start(vec![
        Route::get(target).body("text/xml; charset=utf-8", data("ctdb-lookup.xml"))
    ]);
    let lookup = client(&server);
    let r = lookup.ctdb(&disc()).unwrap().unwrap();
    assert_eq!(server.targets(), vec![target.to_string()]);
    assert_eq!(r.entries.len(), 3);
    assert_eq!(r.metadata[0].attributes["artist"], "Alpha & Beta");
    let toc = aj_lookup::ctdb::ctdb_toc(&disc());
    let m = r.compare(&toc, 0x13f5_25de, &[0x40c5_dc10, 0x65df_cc8a, 0x1ef7_b539]);
    assert_eq!(
        (m.status, m.confidence, m.total, m.other_tocs),
        (CtdbStatus::Match, 42, 45, 1)
    );
    assert_eq!(m.entry_id.as_deref(), Some("113068"));
    assert_eq!(
        m.tracks.iter().map(|t| t.confidence).collect::<Vec<_>>(),
        vec![45, 42, 42]
    );
    let m = r.compare(&toc, 0x5701_aff0, &[0x40c5_dc10, 0x3fa3_4037, 0]);
    assert_eq!((m.status, m.confidence), (CtdbStatus::Match, 3));
    assert_eq!(m.tracks[2].status, CtdbStatus::Mismatch);

    let empty = FixtureServer::start(vec![Route::get("/lookup2.php").body(
        "text/xml",
        "<ctdb xmlns=\"http://db.cuetools.net/ns/mmd-1.0#\"></ctdb>",
    )]);
    assert_eq!(client(&empty).ctdb(&disc()).unwrap(), None);
    let none = FixtureServer::start(vec![]);
    assert_eq!(client(&none).ctdb(&disc()).unwrap(), None);
    let html = FixtureServer::start(vec![Route::get("/lookup2.php").body("text/html", "<html/>")]);
    let e = client(&html).ctdb(&disc()).unwrap_err().to_string();
    assert!(
        e.starts_with("CUETools DB: ") && e.contains("<html>"),
        "{e}"
    );
}

#[test]
fn musicbrainz_disc_lookup_builds_the_release_model() {
    let target = format!(
        "/ws/2/discid/{DISC_ID}?inc=artist-credits+recordings+release-groups+isrcs+labels&cdstubs=no&toc=1+3+45150+150+15150+30150&fmt=json"
    );
    let server = FixtureServer::start(vec![
        Route::get(&target).body("application/json", data("musicbrainz-discid.json"))
    ]);
    let releases = client(&server).musicbrainz_disc(&disc()).unwrap();
    assert_eq!(server.targets(), vec![target]);
    assert_eq!(server.requests()[0].header("user-agent"), Some(USER_AGENT));
    assert_eq!(releases.len(), 2);
    let r = &releases[0];
    assert_eq!(r.id, RELEASE);
    assert_eq!(r.title, "Test Tones");
    assert_eq!(
        (
            r.date.as_deref(),
            r.country.as_deref(),
            r.barcode.as_deref()
        ),
        (Some("1999-03-01"), Some("GB"), Some("5012345678900"))
    );
    assert_eq!(r.artist.text, "Alpha & Beta");
    assert_eq!(r.artist.artists[0].name, "Alpha Group");
    assert_eq!(r.artist.artists[0].credited_as, "Alpha");
    assert_eq!(r.labels[0].catalog_number.as_deref(), Some("TT 001"));
    assert_eq!(r.labels[0].label.as_deref(), Some("Tone Records"));
    assert_eq!(
        r.release_group_id.as_deref(),
        Some("d0000000-0000-4000-8000-000000000004")
    );
    assert_eq!((r.total_discs(), r.matched_medium), (2, Some(1)));
    let medium = r.medium().unwrap();
    assert_eq!(medium.title, None);
    let t = &medium.tracks;
    assert_eq!(t.len(), 3);
    assert_eq!(
        (t[0].position, t[0].number.as_str(), t[0].title.as_str()),
        (1, "1", "Sine")
    );
    assert_eq!(
        t[0].recording_id.as_deref(),
        Some("f0000000-0000-4000-8000-000000000021")
    );
    assert_eq!(t[0].track_id, "e0000000-0000-4000-8000-000000000011");
    assert_eq!(t[0].isrcs, vec!["GBAAA9900001"]);
    assert_eq!(t[0].length_ms, Some(200_000));
    // No track credit: the recording's; no recording credit either: the album's.
    assert_eq!(t[1].artist.text, "Beta");
    assert_eq!(t[2].artist.text, "Alpha & Beta");
    assert_eq!(t[2].length_ms, Some(200_000));
    assert_eq!(t[2].isrcs.len(), 2);
    assert_eq!(r.media[1].title.as_deref(), Some("Bonus"));
    assert_eq!(releases[1].barcode, None);
    assert_eq!(releases[1].date.as_deref(), Some("2005"));
}

#[test]
fn musicbrainz_release_not_found_bad_ids_and_rate_limit() {
    let body = serde_json::json!({
        "id": RELEASE, "title": "Test Tones", "artist-credit": [],
        "media": [{"position": 1, "discs": [{"id": DISC_ID}], "tracks": []}]
    })
    .to_string();
    let target = format!("/ws/2/release/{RELEASE}?inc=artist-credits+recordings+release-groups+isrcs+labels+discids&fmt=json");
    let server = FixtureServer::start(vec![
        Route::get(&target).body("application/json", body),
        Route::get("/ws/2/discid/*")
            .status(404)
            .body("application/json", "{\"error\":\"Not Found\"}"),
    ]);
    let lookup = Lookup::new(
        all(&server.base_url()),
        Options {
            musicbrainz_interval: Duration::from_millis(300),
            ..quick()
        },
    );
    let start = Instant::now();
    let r = lookup.musicbrainz_release(RELEASE).unwrap().unwrap();
    assert_eq!(r.media[0].disc_ids, vec![DISC_ID]);
    assert_eq!(
        lookup.musicbrainz_discid(DISC_ID, None).unwrap(),
        Vec::new()
    );
    assert_eq!(
        lookup
            .musicbrainz_release("0d3c6b64-3b5e-4c8e-9a57-5a2d5b0a1f99")
            .unwrap(),
        None
    );
    // Three requests, at least two intervals apart.
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.targets()[1], format!("/ws/2/discid/{DISC_ID}?inc=artist-credits+recordings+release-groups+isrcs+labels&cdstubs=no&fmt=json"));

    let e = lookup.musicbrainz_release("../../etc").unwrap_err();
    assert!(matches!(
        e,
        Error::Argument {
            service: Service::MusicBrainz,
            ..
        }
    ));
    assert!(lookup.musicbrainz_discid("x/y", None).is_err());
    assert_eq!(server.requests().len(), 3, "malformed IDs are never sent");
}

#[test]
fn gnudb_query_then_read() {
    let hello = "hello=aj+localhost+AudioJuggler+0.1.0&proto=6";
    let query = format!("/~cddb/cddb.cgi?cmd=cddb+query+0c025803+3+150+15150+30150+602&{hello}");
    let read = format!("/~cddb/cddb.cgi?cmd=cddb+read+rock+0c025803&{hello}");
    let server = FixtureServer::start(vec![
        Route::get(&query).body("text/plain; charset=UTF-8", "211 Found inexact matches, list follows (until terminating `.')\r\nrock 0c025803 Alpha / Test Tones\r\nmisc 0c025804 Other / Thing\r\n.\r\n"),
        Route::get(&read).body(
            "text/plain; charset=UTF-8",
            "210 rock 0c025803 CD database entry follows (until terminating `.')\r\n# xmcd\r\n#\r\n# Track frame offsets:\r\n#\t150\r\n#\t15150\r\n#\t30150\r\n#\r\n# Disc length: 602 seconds\r\n#\r\nDISCID=0c025803\r\nDTITLE=Alpha / Test Tones\r\nDYEAR=1999\r\nDGENRE=Electronic\r\nTTITLE0=Sine\r\nTTITLE1=Square\r\nTTITLE2=Noise\r\nEXTD=\r\nEXTT0=\r\nEXTT1=\r\nEXTT2=\r\nPLAYORDER=\r\n.\r\n",
        ),
    ]);
    let lookup = client(&server);
    let matches = lookup.gnudb_query(&disc()).unwrap();
    assert_eq!(matches.len(), 2);
    assert!(!matches[0].exact);
    let entry = lookup.gnudb_read(&matches[0]).unwrap().unwrap();
    assert_eq!(server.targets(), vec![query, read]);
    assert_eq!(
        (entry.artist.as_str(), entry.title.as_str()),
        ("Alpha", "Test Tones")
    );
    assert_eq!(
        entry
            .tracks
            .iter()
            .map(|t| t.title.as_str())
            .collect::<Vec<_>>(),
        vec!["Sine", "Square", "Noise"]
    );
    assert_eq!(entry.year.as_deref(), Some("1999"));

    let none = FixtureServer::start(vec![
        Route::get("/~cddb/cddb.cgi").body("text/plain", "202 No match found.\r\n")
    ]);
    assert!(client(&none).gnudb_query(&disc()).unwrap().is_empty());
    let gone =
        FixtureServer::start(vec![Route::get("/~cddb/cddb.cgi")
            .body("text/plain", "401 Specified CDDB entry not found.\r\n")]);
    assert_eq!(client(&gone).gnudb_read(&matches[0]).unwrap(), None);
    let refused = FixtureServer::start(vec![
        Route::get("/~cddb/cddb.cgi").body("text/plain", "409 No handshake.\r\n")
    ]);
    let e = client(&refused).gnudb_query(&disc()).unwrap_err();
    assert!(
        matches!(&e, Error::Request { failure: Failure::Service(m), .. } if m.contains("409")),
        "{e}"
    );
}

#[test]
fn cover_art_follows_a_redirect_to_another_host() {
    let jpeg = [0xffu8, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F'];
    let storage = FixtureServer::start(vec![
        Route::get("/images/front.jpg").body("image/jpeg", jpeg.to_vec())
    ]);
    let location = format!("{}/images/front.jpg", storage.base_url());
    let caa = FixtureServer::start(vec![
        Route::get(&format!("/release/{RELEASE}/front-500")).redirect(307, &location),
        Route::get(&format!("/release/{RELEASE}/front")).redirect(302, &location),
    ]);
    let lookup = client(&caa);
    let img = lookup
        .front_cover(RELEASE, CoverSize::Px500)
        .unwrap()
        .unwrap();
    assert_eq!(
        (img.bytes.as_slice(), img.mime.as_str()),
        (&jpeg[..], "image/jpeg")
    );
    assert_eq!(caa.targets(), vec![format!("/release/{RELEASE}/front-500")]);
    assert_eq!(storage.targets(), vec!["/images/front.jpg".to_string()]);
    assert!(lookup
        .front_cover(RELEASE, CoverSize::Original)
        .unwrap()
        .is_some());
    assert_eq!(
        lookup
            .front_cover("0d3c6b64-3b5e-4c8e-9a57-5a2d5b0a1f99", CoverSize::Px250)
            .unwrap(),
        None
    );

    let png = FixtureServer::start(vec![Route::get("/release/*").body(
        "application/octet-stream",
        b"\x89PNG\r\n\x1a\n....".to_vec(),
    )]);
    assert_eq!(
        client(&png)
            .front_cover(RELEASE, CoverSize::Px1200)
            .unwrap()
            .unwrap()
            .mime,
        "image/png"
    );
    let html = FixtureServer::start(vec![Route::get("/release/*").body("text/html", "<html/>")]);
    assert!(client(&html)
        .front_cover(RELEASE, CoverSize::Px1200)
        .unwrap_err()
        .to_string()
        .contains("not an image"));
}

#[test]
fn offline_names_the_service_and_url() {
    let lookup = Lookup::new(all(&refused_base_url()), quick());
    let e = lookup.musicbrainz_release(RELEASE).unwrap_err();
    assert!(e.is_offline(), "{e:?}");
    assert!(e.is_transient());
    let text = e.to_string();
    assert!(
        text.starts_with("MusicBrainz: http://127.0.0.1:")
            && text.contains("/ws/2/release/")
            && text.contains("offline"),
        "{text}"
    );
    let id = aj_cd::id::accuraterip_id(&disc()).unwrap();
    let e = lookup.accuraterip(&id).unwrap_err();
    assert_eq!(e.service(), Service::AccurateRip);
    assert!(e.is_offline());
}

#[test]
fn slow_dropped_and_failing_servers() {
    let server = FixtureServer::start(vec![
        Route::get("/accuraterip/*")
            .body("application/octet-stream", vec![0u8; 4])
            .delay(Duration::from_secs(3)),
        Route::get("/lookup2.php").drop_connection(),
        Route::get("/ws/2/*").status(503).body("text/plain", "busy"),
    ]);
    let lookup = Lookup::new(
        all(&server.base_url()),
        Options {
            timeout: Duration::from_millis(400),
            ..quick()
        },
    );
    let start = Instant::now();
    let id = aj_cd::id::accuraterip_id(&disc()).unwrap();
    let e = lookup.accuraterip(&id).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            &e,
            Error::Request {
                failure: Failure::Timeout(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("timed out"), "{e}");

    let e = lookup.ctdb(&disc()).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Request {
                service: Service::Ctdb,
                failure: Failure::Connection(_),
                ..
            }
        ),
        "{e:?}"
    );

    let e = lookup.musicbrainz_disc(&disc()).unwrap_err();
    assert!(e.to_string().contains("HTTP status 503"), "{e}");
    assert!(e.is_transient() && !e.is_offline());
}

#[test]
fn base_urls_env_over_config_over_defaults() {
    let env = |k: &str| (k == "AJ_MUSICBRAINZ_URL").then(|| "http://env.example:8000/".to_string());
    let config = |k: &str| match k {
        "musicbrainz_url" => Some("http://config.example".to_string()),
        "ctdb_url" => Some("https://ctdb.example".to_string()),
        "gnudb_url" => Some("  ".to_string()),
        _ => None,
    };
    let s = Services::resolve_with(&env, &config).unwrap();
    assert_eq!(s.musicbrainz, "http://env.example:8000");
    assert_eq!(s.ctdb, "https://ctdb.example");
    assert_eq!(s.gnudb, Services::default().gnudb);
    assert_eq!(s.accuraterip, "http://www.accuraterip.com");
    assert_eq!(s.coverart, "https://coverartarchive.org");
    assert_eq!(Services::default().musicbrainz, "https://musicbrainz.org");

    let bad_env =
        |k: &str| (k == "AJ_COVERART_URL").then(|| "http://caa.example/release".to_string());
    let e = Services::resolve_with(&bad_env, &|_: &str| None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Cover Art Archive") && e.contains("AJ_COVERART_URL") && e.contains("path"),
        "{e}"
    );

    let map: BTreeMap<String, String> =
        [("accuraterip_url".to_string(), "ftp://x".to_string())].into();
    if std::env::var_os("AJ_ACCURATERIP_URL").is_none() {
        let e = Services::from_map(&map).unwrap_err().to_string();
        assert!(
            e.contains("configuration key accuraterip_url") && e.contains("http://"),
            "{e}"
        );
    }
}

#[test]
fn responses_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let target = "/lookup2.php?version=3&ctdb=1&fuzzy=1&toc=0:15000:30000:45000";
    let server = FixtureServer::start(vec![
        Route::get(target).body("text/xml", data("ctdb-lookup.xml"))
    ]);
    let options = Options {
        cache_dir: Some(dir.path().to_path_buf()),
        ..quick()
    };
    let first = Lookup::new(all(&server.base_url()), options.clone())
        .ctdb(&disc())
        .unwrap();
    let second = Lookup::new(all(&server.base_url()), options.clone())
        .ctdb(&disc())
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(server.requests().len(), 1);
    let stale = Options {
        cache_ttl: Duration::ZERO,
        ..options
    };
    std::thread::sleep(Duration::from_millis(20));
    Lookup::new(all(&server.base_url()), stale)
        .ctdb(&disc())
        .unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn unresolvable_host_is_reported_as_dns() {
    // RFC 6761: names under .invalid never resolve.
    let lookup = Lookup::new(all("http://no-such-host.invalid"), quick());
    let e = lookup.ctdb(&disc()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("CUETools DB: http://no-such-host.invalid/lookup2.php?"),
        "{text}"
    );
    // A resolver that answers reports DNS; one that cannot be reached times out.
    assert!(
        e.is_offline()
            || matches!(
                &e,
                Error::Request {
                    failure: Failure::Timeout(_),
                    ..
                }
            ),
        "{text}"
    );
}
