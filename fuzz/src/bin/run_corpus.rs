//! Runs the `flac_encode` checks over every file of the folders (or files)
//! given, without libFuzzer: for replaying a corpus or a crash on any
//! toolchain. A failed check panics, naming the input.
//!
//! ```text
//! cargo run --release --bin run_corpus -- corpus/flac_encode [more…]
//! ```

use std::path::PathBuf;

fn main() {
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in std::env::args_os().skip(1) {
        let p = PathBuf::from(arg);
        match std::fs::read_dir(&p) {
            Ok(dir) => files.extend(dir.filter_map(|e| e.ok()).map(|e| e.path())),
            Err(_) => files.push(p),
        }
    }
    if files.is_empty() {
        eprintln!("usage: run_corpus FOLDER_OR_FILE…");
        std::process::exit(2);
    }
    files.sort();
    for f in &files {
        let Ok(data) = std::fs::read(f) else {
            eprintln!("skipped {} (unreadable)", f.display());
            continue;
        };
        eprintln!("{}", f.display());
        aj_fuzz::flac_encode(&data);
    }
    eprintln!("{} inputs passed", files.len());
}
