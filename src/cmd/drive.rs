//! `aj drive list` and `aj drive cache`.

use std::io::{BufRead, IsTerminal};

use aj_cd::mmc::{Capabilities, Configuration, Drive};
use aj_cd::transport::{self, DriveInfo};
use aj_core::CancelToken;
use aj_jobs::config::Config;
use serde_json::{json, Value};

use crate::cli::{DriveCacheArgs, DriveListArgs};
use crate::Outcome;

/// What a drive can do, from GET CONFIGURATION and mode page 2Ah.
fn capabilities(info: &DriveInfo) -> Result<Value, String> {
    let mut drive: Drive =
        transport::open(Some(&info.device.to_string_lossy())).map_err(|e| e.to_string())?;
    let config: Option<Configuration> = drive.configuration().ok();
    let caps: Option<Capabilities> = drive.capabilities().ok();
    let cd_read = config.as_ref().and_then(|c| c.cd_read);
    let mastering = config.as_ref().and_then(|c| c.cd_mastering);
    let profiles: Vec<&str> = config
        .as_ref()
        .map(|c| {
            c.profiles
                .iter()
                .map(|p| aj_cd::mmc::profile_name(p.code))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "profiles": profiles,
        "cd_text": cd_read.map(|r| r.cd_text),
        "c2_pointers": cd_read.map(|r| r.c2_flags).or(caps.as_ref().map(|c| c.c2_pointers)),
        "accurate_stream": caps.as_ref().map(|c| c.accurate_stream),
        "write_cd_r": caps.as_ref().map(|c| c.write_cd_r),
        "write_cd_rw": caps.as_ref().map(|c| c.write_cd_rw),
        "sao": mastering.map(|m| m.sao),
        "raw": mastering.map(|m| m.raw),
        "max_read_speed_kbs": caps.as_ref().map(|c| c.max_read_speed),
        "buffer_kib": caps.as_ref().map(|c| c.buffer_kib),
    }))
}

pub fn list(args: DriveListArgs) -> anyhow::Result<Outcome> {
    let drives = transport::discover();
    let rows: Vec<Value> = drives
        .iter()
        .map(|d| {
            let mut v = json!({
                "device": d.device.to_string_lossy(),
                "vendor": d.vendor,
                "model": d.model,
                "revision": d.revision,
            });
            if let Some(obj) = v.as_object_mut() {
                match capabilities(d) {
                    Ok(c) => {
                        obj.insert("capabilities".into(), c);
                    }
                    Err(e) => {
                        obj.insert("capabilities".into(), Value::Null);
                        obj.insert("error".into(), json!(e));
                    }
                }
            }
            v
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(Outcome::Ok);
    }
    if rows.is_empty() {
        println!("no CD drives found");
        return Ok(Outcome::Ok);
    }
    for (d, row) in drives.iter().zip(&rows) {
        println!(
            "{}  {} {} ({})",
            d.device.display(),
            d.vendor,
            d.model,
            d.revision
        );
        match row.get("capabilities") {
            Some(c) if !c.is_null() => {
                let yes = |k: &str| c.get(k).and_then(Value::as_bool).unwrap_or(false);
                let mut can = Vec::new();
                for (k, label) in [
                    ("cd_text", "CD-TEXT"),
                    ("c2_pointers", "C2 pointers"),
                    ("accurate_stream", "accurate stream"),
                    ("write_cd_r", "writes CD-R"),
                    ("write_cd_rw", "writes CD-RW"),
                    ("sao", "SAO/DAO"),
                    ("raw", "raw writing"),
                ] {
                    if yes(k) {
                        can.push(label);
                    }
                }
                println!(
                    "    {}",
                    if can.is_empty() {
                        "-".to_string()
                    } else {
                        can.join(", ")
                    }
                );
            }
            _ => {
                if let Some(e) = row.get("error").and_then(Value::as_str) {
                    println!("    capabilities unknown: {e}");
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

/// `aj drive cache`: measures the cache, says what a rip would assume, and
/// remembers it for the drive when asked.
pub fn cache(args: DriveCacheArgs) -> anyhow::Result<Outcome> {
    if let Some(d) = &args.drive.drive {
        if let Err(e) = aj_cd::transport::DriveSpec::parse(d) {
            return Ok(Outcome::Usage(format!("--drive {d}: {e}")));
        }
    }
    let mut config = match Config::load_default() {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::Usage(e.to_string())),
    };
    let cancel = CancelToken::new();
    crate::cmd::convert::install_interrupt_handler(&cancel);
    if !args.json {
        eprintln!("measuring the drive's cache (a few seconds)\u{2026}");
    }
    let report = match aj_jobs::rip::cache::measure(args.drive.drive.as_deref(), &cancel) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aj: {e}");
            return Ok(Outcome::Failed);
        }
    };
    let remembered = config.drive_cache(&report.drive_key).ok().flatten();
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("summary".into(), json!(report.summary()));
            o.insert("remembered_sectors".into(), json!(remembered));
        }
        println!("{v}");
    } else {
        if let Some(m) = &report.measurement {
            println!("{}: {}", report.drive_key, m.summary());
        }
        println!(
            "{}: a rip would assume {}",
            report.drive_key,
            match (report.cache_sectors, report.source) {
                (0, _) => "no cache".to_string(),
                (n, aj_cd::rip::CacheSource::Assumed) => {
                    format!("{n} sectors (the measurement could not decide: a safe size)")
                }
                (n, s) => format!("{n} sectors ({})", s.as_str()),
            }
        );
        if let Some(n) = remembered {
            println!("remembered for this drive until now: {n} sectors");
        }
    }
    let save = args.save
        || (!args.json && std::io::stdin().is_terminal() && {
            eprint!("Remember it for {}? [y/N] ", report.drive_key);
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).is_ok()
                && matches!(line.trim(), "y" | "Y" | "yes")
        });
    if save {
        config.set_drive_cache(&report.drive_key, report.cache_sectors);
        config.save()?;
        if !args.json {
            println!("saved in {}", config.path().display());
        }
    }
    Ok(Outcome::Ok)
}
