//! The Cover Art Archive: a release's front image.
//!
//! `GET /release/{mbid}/front` answers `307` to the image on the archive's storage
//! host (another host, followed like any redirect); `front-250`, `front-500` and
//! `front-1200` are thumbnails ("Cover Art Archive / API"). 404 means the release has
//! no front image (or is unknown).

use crate::client::Lookup;
use crate::error::{Error, Failure, Service};
use crate::musicbrainz::is_mbid;

/// Which rendition to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoverSize {
    /// The image as uploaded.
    #[default]
    Original,
    Px250,
    Px500,
    Px1200,
}

impl CoverSize {
    fn suffix(self) -> &'static str {
        match self {
            CoverSize::Original => "front",
            CoverSize::Px250 => "front-250",
            CoverSize::Px500 => "front-500",
            CoverSize::Px1200 => "front-1200",
        }
    }
}

/// A fetched image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverImage {
    pub bytes: Vec<u8>,
    /// `image/jpeg`, `image/png`, … (from the header, or the bytes when the header
    /// is missing or generic).
    pub mime: String,
}

/// The image type of `bytes` from its signature (JPEG, PNG, GIF, WebP).
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else {
        None
    }
}

impl Lookup {
    /// The front-image URL of a release.
    pub fn cover_url(&self, release_mbid: &str, size: CoverSize) -> String {
        self.url(
            Service::CoverArt,
            &format!("/release/{release_mbid}/{}", size.suffix()),
        )
    }

    /// The release's front image; `None` when there is none.
    ///
    /// # Errors
    /// [`Error::Argument`] for a malformed MBID; [`Error::Request`] for transport
    /// failures, other statuses, or a body that is not an image.
    pub fn front_cover(
        &self,
        release_mbid: &str,
        size: CoverSize,
    ) -> Result<Option<CoverImage>, Error> {
        if !is_mbid(release_mbid) {
            return Err(Error::Argument {
                service: Service::CoverArt,
                message: format!("{release_mbid:?} is not a MusicBrainz release ID"),
            });
        }
        let url = self.cover_url(release_mbid, size);
        let Some(f) = self.get_found(Service::CoverArt, &url)? else {
            return Ok(None);
        };
        if f.body.is_empty() {
            return Err(Error::Request {
                service: Service::CoverArt,
                url,
                failure: Failure::Body("the image is empty".into()),
            });
        }
        let header = f
            .content_type
            .as_deref()
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|c| c.starts_with("image/"));
        let mime = match (header, sniff_image(&f.body)) {
            (Some(h), _) => h,
            (None, Some(s)) => s.to_string(),
            (None, None) => {
                return Err(Error::Request {
                    service: Service::CoverArt,
                    url,
                    failure: Failure::Body(format!(
                        "not an image ({} bytes, Content-Type {})",
                        f.body.len(),
                        f.content_type.as_deref().unwrap_or("missing")
                    )),
                })
            }
        };
        Ok(Some(CoverImage {
            bytes: f.body,
            mime,
        }))
    }
}
