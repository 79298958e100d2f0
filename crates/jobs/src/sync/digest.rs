//! What a source is, apart from where it sits: its audio and its tags,
//! fingerprinted separately so that a tag edit is told from new audio.

use std::io::Read;
use std::path::Path;

use aj_codec::decode;
use aj_codec::tags::Tags;
use aj_core::{CancelToken, SampleFormat, Samples};
use sha2::{Digest, Sha256};

/// Frames per block read when hashing decoded audio.
const BLOCK_FRAMES: usize = 8192;

/// A fingerprint of the audio of `path`.
///
/// A FLAC file carries the MD5 of its decoded samples in STREAMINFO
/// (RFC 9639 §8.2: bytes 18 to 33 of the block, the first after `fLaC`);
/// when it is set, it is taken as is (`flac-md5:…`), which costs one read of
/// 42 bytes. Other files (and FLAC files whose encoder left it zero) are
/// decoded, and the samples hashed with their layout (`pcm-sha256:…`).
///
/// # Errors
/// A message naming the problem (unreadable, not audio, cancelled).
pub fn audio(path: &Path, cancel: &CancelToken) -> Result<String, String> {
    if let Some(md5) = flac_md5(path) {
        return Ok(format!("flac-md5:{}", hex(&md5)));
    }
    let mut decoder = decode::open(path).map_err(|e| e.to_string())?;
    let spec = decoder.spec();
    let mut h = Sha256::new();
    h.update(spec.sample_rate.to_le_bytes());
    h.update(spec.channels.to_le_bytes());
    match spec.format {
        SampleFormat::Int { bits } => h.update([b'i', bits]),
        SampleFormat::Float => h.update([b'f', 32]),
    }
    while let Some(block) = decoder.read(BLOCK_FRAMES).map_err(|e| e.to_string())? {
        cancel.check().map_err(|e| e.to_string())?;
        match &block.samples {
            Samples::Int(v) => {
                for s in v {
                    h.update(s.to_le_bytes());
                }
            }
            Samples::Float(v) => {
                for s in v {
                    h.update(s.to_bits().to_le_bytes());
                }
            }
        }
    }
    Ok(format!("pcm-sha256:{}", hex(&h.finalize())))
}

/// The STREAMINFO MD5 of a native FLAC file, when it is set.
fn flac_md5(path: &Path) -> Option<[u8; 16]> {
    let mut head = [0u8; 42];
    let mut f = std::fs::File::open(path).ok()?;
    f.read_exact(&mut head).ok()?;
    // "fLaC", then a metadata block header whose type (low 7 bits) is 0,
    // STREAMINFO, of 34 bytes (RFC 9639 §8.1, §8.2).
    if head.get(..4)? != b"fLaC" || head.get(4)? & 0x7f != 0 || head.get(5..8)? != [0, 0, 34] {
        return None;
    }
    let md5: [u8; 16] = head.get(26..42)?.try_into().ok()?;
    (md5 != [0; 16]).then_some(md5)
}

/// A fingerprint of tags: every item in order and every picture's bytes.
pub fn tags(tags: &Tags) -> String {
    let mut h = Sha256::new();
    for item in &tags.items {
        field(&mut h, item.key.name().as_bytes());
        field(&mut h, item.value.as_bytes());
    }
    h.update([0xff]);
    for p in &tags.pictures {
        h.update([p.kind.code()]);
        field(&mut h, p.mime.as_bytes());
        field(&mut h, p.description.as_bytes());
        field(&mut h, &p.data);
    }
    hex(&h.finalize())
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// SHA-256 of a whole file.
///
/// # Errors
/// I/O errors.
pub fn file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex(&h.finalize()))
}

/// SHA-256 of some text, as hex.
pub fn text(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aj_codec::tags::TagKey;

    #[test]
    fn tag_digest_changes_with_any_item_or_picture() {
        let mut t = Tags::new();
        t.push(TagKey::Title, "a");
        let d1 = tags(&t);
        t.set(TagKey::Title, "b");
        let d2 = tags(&t);
        assert_ne!(d1, d2);
        t.pictures.push(aj_codec::tags::Picture::new(
            aj_codec::tags::PictureKind::FrontCover,
            "",
            vec![1, 2, 3],
        ));
        assert_ne!(tags(&t), d2);
    }

    #[test]
    fn audio_digest_of_a_wav_is_its_samples() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.wav");
        let b = dir.path().join("b.wav");
        let s = aj_testkit::sine(1000, 2, 8000, 16, 440.0, 0.5);
        aj_testkit::write_wav(&a, &s, 2, 8000, 16);
        aj_testkit::write_wav(&b, &s, 2, 8000, 16);
        let c = CancelToken::new();
        assert_eq!(audio(&a, &c).unwrap(), audio(&b, &c).unwrap());
        let s2 = aj_testkit::sine(1000, 2, 8000, 16, 441.0, 0.5);
        aj_testkit::write_wav(&b, &s2, 2, 8000, 16);
        assert_ne!(audio(&a, &c).unwrap(), audio(&b, &c).unwrap());
        assert!(audio(&a, &c).unwrap().starts_with("pcm-sha256:"));
    }
}
