//! Measuring a drive's audio cache once (`aj drive cache`), so that rips
//! can use the size remembered for the drive instead of measuring it each
//! time, as EAC does: timing re-reads takes seconds on a real drive (see
//! [`aj_cd::rip::cache`]).

use aj_cd::mmc::scan;
use aj_cd::rip::{CacheCheck, CacheMeasurement, CacheSource, ReadOptions, SecureReader};
use aj_cd::transport;
use aj_core::CancelToken;

/// What [`measure`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CacheReport {
    /// The drive's name and its key in the configuration (vendor and model,
    /// as for the read offset).
    pub drive: String,
    pub drive_key: String,
    /// The buffer size the drive reports (MODE SENSE page 2Ah), in sectors.
    pub reported_sectors: u32,
    /// The cache size a rip would assume, in sectors.
    pub cache_sectors: u32,
    /// Where that size comes from: the measurement, the drive's report, or
    /// an assumption when the measurement could not decide.
    pub source: CacheSource,
    /// The measurement itself (`None` only if the reader made none).
    pub measurement: Option<CacheMeasurement>,
}

impl CacheReport {
    /// One line: the verdict and the size a rip would use.
    pub fn summary(&self) -> String {
        let verdict = self
            .measurement
            .as_ref()
            .map_or_else(|| "not measured".to_string(), CacheMeasurement::summary);
        let size = match self.source {
            CacheSource::Assumed => format!(
                "{} sectors (assumed: the measurement could not decide)",
                self.cache_sectors
            ),
            CacheSource::Measured => format!(
                "{} sectors (measured; the drive reports {})",
                self.cache_sectors, self.reported_sectors
            ),
            _ if self.cache_sectors == 0 => "none (the drive reports none)".to_string(),
            _ => format!("{} sectors (as the drive reports)", self.cache_sectors),
        };
        format!("{verdict}; a rip would assume {size}")
    }
}

/// Measures the cache of the drive named by `spec` (`None`: the first
/// drive) with the disc in it, whatever size the drive reports
/// ([`CacheCheck::Always`]).
///
/// # Errors
/// The drive or its disc cannot be read, the disc has no audio, or
/// `cancel` was set.
pub fn measure(spec: Option<&str>, cancel: &CancelToken) -> Result<CacheReport, String> {
    let mut drive = transport::open(spec).map_err(|e| e.to_string())?;
    let name = drive.name();
    let drive_key = drive
        .inquiry()
        .map(|i| format!("{} {}", i.vendor.trim(), i.model.trim()))
        .unwrap_or_else(|_| name.clone());
    let disc = scan::read_disc(&mut drive)
        .map_err(|e| format!("{name}: {e}"))?
        .disc;
    if disc.audio_tracks().next().is_none() {
        return Err(format!(
            "{name}: the disc has no audio tracks: the cache is measured on audio"
        ));
    }
    let reader = SecureReader::with_cache_check(
        &mut drive,
        &disc,
        ReadOptions {
            offset: 0,
            ..ReadOptions::default()
        },
        CacheCheck::Always,
        cancel,
    )
    .map_err(|e| e.to_string())?;
    let r = reader.drive_report();
    Ok(CacheReport {
        drive: name,
        drive_key,
        reported_sectors: r.cache_reported,
        cache_sectors: r.cache_sectors,
        source: r.cache_source,
        measurement: r.cache_measurement.clone(),
    })
}
