//! Embedded cover art scaled down (`--art-max N`): a portable player does
//! not need a 3000 px scan inside every track.

use std::io::Cursor;

use aj_codec::tags::{Picture, Tags};
use image::{imageops::FilterType, DynamicImage, ImageFormat, ImageReader, Limits};

/// JPEG quality of scaled-down pictures (libjpeg's scale, 1 to 100).
const JPEG_QUALITY: u8 = 90;

/// Memory a picture may take to decode: a damaged or hostile header that
/// claims a huge image is refused instead of allocated.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// True when some JPEG or PNG picture of `tags` is larger than `max` px on
/// a side (reads the headers only).
pub fn needs_scaling(tags: &Tags, max: u32) -> bool {
    tags.pictures.iter().any(|p| {
        dimensions(&p.data).is_some_and(|(w, h)| w > max || h > max) && format_of(&p.data).is_some()
    })
}

/// Scales every JPEG and PNG picture of `tags` larger than `max` px on a
/// side down to fit in `max` × `max` (aspect kept, Lanczos filter), in its
/// own format. Other pictures, and pictures that do not decode, are left as
/// they are. Returns the pictures that could not be scaled, with why.
pub fn scale_pictures(tags: &mut Tags, max: u32) -> Vec<String> {
    let mut problems = Vec::new();
    for p in &mut tags.pictures {
        match scale(p, max) {
            Ok(()) => {}
            Err(e) => problems.push(format!("{} picture: {e}", p.mime)),
        }
    }
    problems
}

fn format_of(data: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(data).ok()? {
        f @ (ImageFormat::Jpeg | ImageFormat::Png) => Some(f),
        _ => None,
    }
}

fn dimensions(data: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

fn scale(p: &mut Picture, max: u32) -> Result<(), String> {
    let Some(format) = format_of(&p.data) else {
        return Ok(());
    };
    let max = max.max(1);
    let Some((w, h)) = dimensions(&p.data) else {
        return Err("cannot read its size".into());
    };
    if w <= max && h <= max {
        return Ok(());
    }
    let mut reader = ImageReader::new(Cursor::new(&p.data))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let small = img.resize(max, max, FilterType::Lanczos3);
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg => {
            // JPEG has no alpha: flatten to RGB (or keep grey).
            let small = match small {
                DynamicImage::ImageLuma8(_) => small,
                other => DynamicImage::ImageRgb8(other.to_rgb8()),
            };
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            small.write_with_encoder(enc).map_err(|e| e.to_string())?;
        }
        _ => {
            small
                .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
                .map_err(|e| e.to_string())?;
        }
    }
    p.data = out;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aj_codec::tags::PictureKind;

    pub(crate) fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out, 80,
            ))
            .unwrap();
        out
    }

    #[test]
    fn large_pictures_shrink_small_ones_and_junk_stay() {
        let mut t = Tags::new();
        t.pictures
            .push(Picture::new(PictureKind::FrontCover, "", jpeg(1200, 800)));
        t.pictures
            .push(Picture::new(PictureKind::BackCover, "", jpeg(300, 300)));
        t.pictures.push(Picture::new(
            PictureKind::Other,
            "",
            b"not a picture".to_vec(),
        ));
        let small = t.pictures[1].data.clone();
        assert!(needs_scaling(&t, 600));
        assert!(scale_pictures(&mut t, 600).is_empty());
        assert_eq!(dimensions(&t.pictures[0].data), Some((600, 400)));
        assert_eq!(format_of(&t.pictures[0].data), Some(ImageFormat::Jpeg));
        assert_eq!(t.pictures[1].data, small);
        assert_eq!(t.pictures[2].data, b"not a picture");
        assert!(!needs_scaling(&t, 600));
    }
}
