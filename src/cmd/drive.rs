//! `aj drive list`.

use aj_cd::mmc::{Capabilities, Configuration, Drive};
use aj_cd::transport::{self, DriveInfo};
use serde_json::{json, Value};

use crate::cli::DriveListArgs;
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
