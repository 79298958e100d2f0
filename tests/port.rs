//! `aj port` against sockets this test process holds.

#![allow(clippy::unwrap_used)]

mod util;

use std::net::{TcpListener, UdpSocket};

use serde_json::Value;
use util::run;

#[test]
fn port_names_the_process_that_listens() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    // A UDP socket on the same number: both protocols are reported.
    let udp = UdpSocket::bind(("127.0.0.1", port)).ok();
    let r = run(&["port", &port.to_string(), "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let reports = v.as_array().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["port"], port);
    let listeners = reports[0]["listeners"].as_array().unwrap();
    let tcp_row = listeners
        .iter()
        .find(|l| l["protocol"] == "tcp")
        .unwrap_or_else(|| panic!("no TCP listener in {v}"));
    assert_eq!(tcp_row["address"], "127.0.0.1");
    let pids: Vec<u64> = tcp_row["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, [u64::from(std::process::id())]);
    if udp.is_some() {
        assert!(
            listeners.iter().any(|l| l["protocol"] == "udp"),
            "bound UDP socket missing: {v}"
        );
    }

    let r = run(&["port", &port.to_string()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let line = format!("{port}/tcp  127.0.0.1  pid {} ", std::process::id());
    assert!(r.stdout.contains(&line), "{}", r.stdout);
    drop(tcp);
}

#[test]
fn port_says_when_nothing_listens() {
    // Bind and release a port: nothing holds it afterwards.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = run(&["port", &port.to_string()]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nothing listening"), "{}", r.stdout);
    let r = run(&["port", "--json"]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v[0]["port"], 3643);
    assert_eq!(v[0]["service"]["name"], "audiojuggler");
}

#[test]
fn port_rejects_a_number_out_of_range() {
    let r = run(&["port", "70000"]);
    assert_eq!(r.status, 2, "{}", r.stdout);
}
