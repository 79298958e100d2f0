//! CLI tests for `aj disc id`.

#![allow(clippy::unwrap_used)]

mod util;

use serde_json::Value;

const MB_DOC_TOC: &str = "1 6 95462 150 15363 32314 46592 63414 80489";

#[test]
fn disc_id_json_has_every_identity() {
    let r = util::run(&["disc", "id", "--toc", MB_DOC_TOC, "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["musicbrainz"], "49HHV7Eb8UKF3aQiNmu1GR8vKTY-");
    assert_eq!(v["cddb"], "3404f606");
    let ar = &v["accuraterip"];
    for key in ["id1", "id2", "cddb"] {
        let s = ar[key].as_str().unwrap();
        assert_eq!(s.len(), 8, "{key}");
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
    assert_eq!(ar["cddb"], "3404f606");
    let id1 = ar["id1"].as_str().unwrap();
    let path = ar["path"].as_str().unwrap();
    let d: Vec<char> = id1.chars().rev().take(3).collect();
    assert_eq!(
        path,
        format!(
            "{}/{}/{}/dBAR-006-{id1}-{}-3404f606.bin",
            d[0],
            d[1],
            d[2],
            ar["id2"].as_str().unwrap()
        )
    );
    assert_eq!(v["ctdb"].as_str().unwrap().len(), 28);
}

#[test]
fn disc_id_text_lists_the_ids() {
    // libdiscid's test_put.c vector, written with '+' as MusicBrainz URLs carry it.
    let toc = "1+22+303602+150+9700+25887+39297+53795+63735+77517+94877+107270+123552+\
               135522+148422+161197+174790+192022+205545+218010+228700+239590+255470+266932+288750";
    let r = util::run(&["disc", "id", "--toc", toc]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("xUp1F2NkfP8s8jaeFn_Av3jNEI4-"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("370fce16"), "{}", r.stdout);
    assert!(r.stdout.contains("dBAR-022-"), "{}", r.stdout);
}

#[test]
fn malformed_toc_is_a_usage_error() {
    for (toc, says) in [
        ("1 6 95462 150", "need 6 offsets"),
        ("1 2 95462 150 abc", "not a whole number"),
        ("1 2 95462 20000 150", "does not come after"),
        ("", "at least 4"),
    ] {
        let r = util::run(&["disc", "id", "--toc", toc, "--json"]);
        assert_eq!(r.status, 2, "{toc}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{toc}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}
