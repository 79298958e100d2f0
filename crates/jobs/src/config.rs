//! The configuration file: service base URLs, remembered drive offsets and
//! cache sizes.
//!
//! A TOML file, `$AJ_CONFIG`, else `$XDG_CONFIG_HOME/audiojuggler/config.toml`,
//! else `~/.config/audiojuggler/config.toml`. A missing file is an empty
//! configuration. Writing keeps the user's comments and layout (the file is
//! edited, not regenerated) and replaces the file atomically.
//!
//! ```toml
//! # service base URLs (scheme and host; the services' own paths are kept)
//! accuraterip_url = "http://www.accuraterip.com"
//! musicbrainz_url = "https://musicbrainz.org"
//!
//! [drive."PLEXTOR DVDR PX-716A"]
//! offset = 30        # read offset in samples, as AccurateRip lists it
//! cache_sectors = 1200  # the drive's audio cache, as `aj drive cache` measured it
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{value, DocumentMut, Item, Table};

/// A configuration that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {key}: {message}")]
    Value {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// The configuration file, as read (and as it will be written).
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    doc: DocumentMut,
}

/// The largest read offset accepted from the file (samples); drives list
/// up to about ±3000.
const MAX_OFFSET: i64 = 44_100;

/// The largest cache size accepted (sectors): a whole 100-minute disc
/// (100 × 60 × 75 sectors, Red Book); a cache beyond it means nothing.
pub const MAX_CACHE_SECTORS: u32 = 450_000;

impl Config {
    /// Where the configuration lives (see the module doc); `None` when no
    /// variable names a home.
    pub fn default_path() -> Option<PathBuf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(p) = var("AJ_CONFIG") {
            return Some(PathBuf::from(p));
        }
        let base = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("audiojuggler").join("config.toml"))
    }

    /// An empty configuration that would be saved at `path`.
    pub fn empty(path: impl Into<PathBuf>) -> Config {
        Config {
            path: path.into(),
            doc: DocumentMut::new(),
        }
    }

    /// Reads the file at [`Config::default_path`], or an empty configuration.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_default() -> Result<Config, ConfigError> {
        match Self::default_path() {
            Some(p) => Self::load(&p),
            None => Ok(Self::empty("config.toml")),
        }
    }

    /// Reads `path`; a file that does not exist is an empty configuration.
    ///
    /// # Errors
    /// [`ConfigError::Io`] when it exists but cannot be read,
    /// [`ConfigError::Syntax`] when it is not TOML.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| ConfigError::Syntax {
                path: path.to_path_buf(),
                message: e.to_string().trim().replace('\n', " "),
            })?;
        Ok(Config {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// The file this configuration is read from and saved to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A top-level string value (`accuraterip_url`…).
    ///
    /// # Errors
    /// [`ConfigError::Value`] when the key holds something other than a string.
    pub fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.doc.get(key) {
            None => Ok(None),
            Some(item) => match item.as_str() {
                Some(s) => Ok(Some(s.to_string())),
                None => Err(self.value_error(key, "expected a string")),
            },
        }
    }

    /// Every top-level string value, for services that look keys up by name.
    pub fn strings(&self) -> Vec<(String, String)> {
        self.doc
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.to_string(), s.to_string())))
            .collect()
    }

    /// The value `key` of a drive's table (`[drive."VENDOR MODEL"]`).
    fn drive_item(&self, drive: &str, key: &str) -> Option<&Item> {
        self.doc
            .get("drive")
            .and_then(Item::as_table_like)
            .and_then(|t| t.get(drive))
            .and_then(Item::as_table_like)
            .and_then(|t| t.get(key))
    }

    /// The read offset remembered for a drive (`[drive."VENDOR MODEL"]`).
    ///
    /// # Errors
    /// [`ConfigError::Value`] when the offset is not a whole number of
    /// samples in range.
    pub fn drive_offset(&self, drive: &str) -> Result<Option<i32>, ConfigError> {
        let Some(item) = self.drive_item(drive, "offset") else {
            return Ok(None);
        };
        let key = format!("drive.\"{drive}\".offset");
        match item.as_integer() {
            Some(n) if n.abs() <= MAX_OFFSET => Ok(i32::try_from(n).ok()),
            _ => Err(self.value_error(
                &key,
                &format!("expected a whole number of samples from -{MAX_OFFSET} to {MAX_OFFSET}"),
            )),
        }
    }

    /// The cache size remembered for a drive, in sectors (0: no cache).
    ///
    /// # Errors
    /// [`ConfigError::Value`] when it is not a whole number of sectors from
    /// 0 to [`MAX_CACHE_SECTORS`].
    pub fn drive_cache(&self, drive: &str) -> Result<Option<u32>, ConfigError> {
        let Some(item) = self.drive_item(drive, "cache_sectors") else {
            return Ok(None);
        };
        match item
            .as_integer()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n <= MAX_CACHE_SECTORS)
        {
            Some(n) => Ok(Some(n)),
            None => Err(self.value_error(
                &format!("drive.\"{drive}\".cache_sectors"),
                &format!("expected a whole number of sectors from 0 to {MAX_CACHE_SECTORS}"),
            )),
        }
    }

    /// Remembers a drive's read offset (saved by [`Config::save`]).
    pub fn set_drive_offset(&mut self, drive: &str, offset: i32) {
        self.set_drive_value(drive, "offset", i64::from(offset));
    }

    /// Remembers a drive's cache size in sectors (saved by [`Config::save`]).
    pub fn set_drive_cache(&mut self, drive: &str, sectors: u32) {
        self.set_drive_value(drive, "cache_sectors", i64::from(sectors));
    }

    /// Sets `key` in the drive's table, creating what is missing.
    fn set_drive_value(&mut self, drive: &str, key: &str, v: i64) {
        let drives = self
            .doc
            .entry("drive")
            .or_insert_with(|| {
                let mut t = Table::new();
                t.set_implicit(true);
                Item::Table(t)
            })
            .as_table_mut();
        let Some(drives) = drives else {
            // `drive` held something other than a table: replace it.
            let mut t = Table::new();
            t.set_implicit(true);
            self.doc.insert("drive", Item::Table(t));
            return self.set_drive_value(drive, key, v);
        };
        let entry = drives
            .entry(drive)
            .or_insert_with(|| Item::Table(Table::new()));
        if !entry.is_table_like() {
            *entry = Item::Table(Table::new());
        }
        entry[key] = value(v);
    }

    /// Writes the file (creating its folder), atomically: a temporary file
    /// beside it, synced, then renamed.
    ///
    /// # Errors
    /// [`ConfigError::Io`].
    pub fn save(&self) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".config.toml.")
            .tempfile_in(&dir)
            .map_err(io)?;
        tmp.write_all(self.doc.to_string().as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }

    fn value_error(&self, key: &str, message: &str) -> ConfigError {
        ConfigError::Value {
            path: self.path.clone(),
            key: key.to_string(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&dir.path().join("none.toml")).unwrap();
        assert_eq!(c.string("accuraterip_url").unwrap(), None);
        assert_eq!(c.drive_offset("X").unwrap(), None);
    }

    #[test]
    fn offsets_round_trip_and_comments_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "# my settings\nmusicbrainz_url = \"http://127.0.0.1:1\" # local mirror\n",
        )
        .unwrap();
        let mut c = Config::load(&path).unwrap();
        c.set_drive_offset("PLEXTOR DVDR PX-716A", 30);
        c.set_drive_offset("HL-DT-ST BD-RE", -1164);
        c.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# my settings"), "{text}");
        assert!(text.contains("# local mirror"), "{text}");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.drive_offset("PLEXTOR DVDR PX-716A").unwrap(), Some(30));
        assert_eq!(c.drive_offset("HL-DT-ST BD-RE").unwrap(), Some(-1164));
        assert_eq!(
            c.string("musicbrainz_url").unwrap().as_deref(),
            Some("http://127.0.0.1:1")
        );
        // Changing a remembered offset replaces it.
        let mut c = c;
        c.set_drive_offset("HL-DT-ST BD-RE", 6);
        c.save().unwrap();
        assert_eq!(
            Config::load(&path)
                .unwrap()
                .drive_offset("HL-DT-ST BD-RE")
                .unwrap(),
            Some(6)
        );
    }

    #[test]
    fn cache_sizes_sit_beside_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let mut c = Config::load(&path).unwrap();
        assert_eq!(c.drive_cache("A B").unwrap(), None);
        c.set_drive_offset("A B", 6);
        c.set_drive_cache("A B", 1200);
        c.set_drive_cache("C D", 0);
        c.save().unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.drive_cache("A B").unwrap(), Some(1200));
        assert_eq!(c.drive_offset("A B").unwrap(), Some(6));
        assert_eq!(c.drive_cache("C D").unwrap(), Some(0));
        assert_eq!(c.drive_offset("C D").unwrap(), None);
        for bad in ["-1", "\"big\"", "450001"] {
            std::fs::write(&path, format!("[drive.\"A B\"]\ncache_sectors = {bad}\n")).unwrap();
            let e = Config::load(&path)
                .unwrap()
                .drive_cache("A B")
                .unwrap_err()
                .to_string();
            assert!(e.contains("cache_sectors") && e.contains("sectors"), "{e}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "accuraterip_url = 3\n[drive.\"A B\"]\noffset = \"six\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        let e = c.string("accuraterip_url").unwrap_err().to_string();
        assert!(e.contains("accuraterip_url") && e.contains("string"), "{e}");
        let e = c.drive_offset("A B").unwrap_err().to_string();
        assert!(e.contains("offset") && e.contains("samples"), "{e}");
        std::fs::write(&path, "this is = = not toml").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.contains("not valid TOML"), "{e}");
    }
}
