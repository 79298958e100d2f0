//! Helpers for the CLI tests: run the real `aj` binary, read its JSON lines.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn aj() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aj"))
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON lines printed on stdout.
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The events named `name`.
    pub fn named(&self, name: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    pub fn summary(&self) -> Value {
        let all = self.events();
        let last = all.last().expect("at least one event").clone();
        assert_eq!(last["event"], "summary", "summary is the last event");
        last
    }
}

pub fn run(args: &[&str]) -> Run {
    let out: Output = aj().args(args).output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file below `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// Decodes a file with our decoder: (spec, all samples as i64, float samples scaled to 16-bit).
pub fn decode_all(path: &Path) -> (aj_core::AudioSpec, Vec<i32>) {
    let mut d = aj_codec::decode::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = d.spec();
    let mut out = Vec::new();
    while let Some(b) = d.read(4096).unwrap() {
        match b.samples {
            aj_core::Samples::Int(v) => out.extend(v),
            aj_core::Samples::Float(v) => {
                out.extend(v.iter().map(|x| (x * 32768.0).round() as i32))
            }
        }
    }
    (spec, out)
}
