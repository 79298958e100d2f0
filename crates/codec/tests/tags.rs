//! Tags and cover art: round trips of a rich tag set through every output
//! format, cross-checked with independent tools (ffprobe, metaflac, flac -t,
//! opusinfo, oggdec); tags written by other tools (metaflac, lame, oggenc,
//! opusenc, ffmpeg) read back; the audio checked intact after tagging; and
//! damaged tag data read without a panic.
//!
//! Audio files are made by our own encoders; should one fail, the test falls
//! back to the peer tool for that format (and says so).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aj_codec::encode::{create, input_spec, EncoderOptions};
use aj_codec::tags::{self, Picture, PictureKind, TagKey, Tags};
use aj_codec::Format;
use aj_core::{AudioSpec, Block, SampleFormat, Samples};
use aj_testkit::{have_tool, sine, write_wav, Rng};

// ---------------------------------------------------------------- images

/// CRC-32 of PNG chunks (ISO 3309, reflected polynomial 0xEDB88320).
fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid 1×1 RGB PNG (PNG spec §5, zlib stored block per RFC 1950/1951).
fn png_1x1() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, ty: &[u8; 4], body: &[u8]) {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let mut c = ty.to_vec();
        c.extend_from_slice(body);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32_ieee(&c).to_be_bytes());
    }
    let raw = [0u8, 200, 30, 60]; // filter 0, one RGB pixel
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    let mut z = vec![0x78, 0x01, 0x01, 4, 0, 0xFB, 0xFF];
    z.extend_from_slice(&raw);
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut v, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    chunk(&mut v, b"IDAT", &z);
    chunk(&mut v, b"IEND", &[]);
    v
}

/// A valid PNG of about `extra` bytes more: [`png_1x1`] with a `tEXt` chunk
/// of random printable text.
fn big_png(extra: usize, seed: u64) -> Vec<u8> {
    let small = png_1x1();
    let iend = small.len() - 12;
    let mut rng = Rng::new(seed);
    let mut body = b"Comment\0".to_vec();
    body.extend((0..extra).map(|_| b' ' + (rng.next_u64() % 94) as u8));
    let mut c = b"tEXt".to_vec();
    c.extend_from_slice(&body);
    let mut v = small[..iend].to_vec();
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(&c);
    v.extend_from_slice(&crc32_ieee(&c).to_be_bytes());
    v.extend_from_slice(&small[iend..]);
    v
}

/// A valid JPEG of about `extra` bytes more: [`jpeg_8x8`] with COM segments
/// of random bytes after SOI.
fn big_jpeg(extra: usize, seed: u64) -> Vec<u8> {
    let small = jpeg_8x8();
    let mut rng = Rng::new(seed);
    let mut v = small[..2].to_vec();
    let mut left = extra;
    while left > 0 {
        let n = left.min(60_000);
        v.extend_from_slice(&[0xFF, 0xFE]);
        v.extend_from_slice(&((n + 2) as u16).to_be_bytes());
        v.extend((0..n).map(|_| rng.next_u64() as u8));
        left -= n;
    }
    v.extend_from_slice(&small[2..]);
    v
}

/// A valid 8×8 grey baseline JPEG (ITU T.81): unit quantisation, one-code
/// Huffman tables, one block whose DC difference and AC run are both zero.
fn jpeg_8x8() -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8];
    v.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    v.extend_from_slice(&[1u8; 64]);
    v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
    for class in [0x00u8, 0x10] {
        v.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, class, 1]);
        v.extend_from_slice(&[0u8; 15]);
        v.push(0);
    }
    v.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
    v.push(0x3F); // DC code "0", EOB code "0", padded with ones
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

// ---------------------------------------------------------------- tags

const RECORDING: &str = "7d3d1f1e-61a4-4b1e-9a0b-2f2a9c3b1d01";
const RELEASE: &str = "0b0f4c1c-8f5e-4d8a-9c6a-3a2f1e0d9c02";

/// Every standard key, a second artist, free-form keys and two pictures.
fn rich_tags() -> Tags {
    let mut t = Tags::new();
    t.push(TagKey::Title, "Título – テスト");
    t.push(TagKey::Artist, "First Artist");
    t.push(TagKey::Artist, "Second Artist");
    t.push(TagKey::Album, "An Album");
    t.push(TagKey::AlbumArtist, "Various Artists");
    t.push(TagKey::TrackNumber, "3");
    t.push(TagKey::TrackTotal, "12");
    t.push(TagKey::DiscNumber, "1");
    t.push(TagKey::DiscTotal, "2");
    t.push(TagKey::Date, "2024-06-15");
    t.push(TagKey::Genre, "Electronic");
    t.push(TagKey::Composer, "A. Composer");
    t.push(TagKey::Comment, "a comment");
    t.push(TagKey::Isrc, "GBAYE2400001");
    t.push(
        TagKey::MusicBrainzTrackId,
        "1c5a0a5e-8c1b-4c53-8e4e-55e2d7f00003",
    );
    t.push(TagKey::MusicBrainzRecordingId, RECORDING);
    t.push(TagKey::MusicBrainzReleaseId, RELEASE);
    t.push(
        TagKey::MusicBrainzReleaseGroupId,
        "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f0004",
    );
    t.push(
        TagKey::MusicBrainzArtistId,
        "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a0005",
    );
    t.push(
        TagKey::MusicBrainzReleaseArtistId,
        "89ad4ac3-39f7-470e-963a-56509c546377",
    );
    t.push(TagKey::MusicBrainzDiscId, "lwHl8fGzJyLXQR33ug60E8jhf4k-");
    t.push(TagKey::ReplayGainTrackGain, "-7.03 dB");
    t.push(TagKey::ReplayGainTrackPeak, "0.988525");
    t.push(TagKey::ReplayGainAlbumGain, "-6.50 dB");
    t.push(TagKey::ReplayGainAlbumPeak, "1.000000");
    t.push(TagKey::Other("LABEL".into()), "A Label");
    t.push(TagKey::Other("CATALOGNUMBER".into()), "CAT-001");
    t.push(TagKey::Other("AJ_TEST_KEY".into()), "free-form value");
    t.pictures
        .push(Picture::new(PictureKind::FrontCover, "front", png_1x1()));
    t.pictures
        .push(Picture::new(PictureKind::BackCover, "back", jpeg_8x8()));
    t
}

/// Asserts that `got` holds every value of every key of `want` (in the
/// same order per key) and the same pictures.
fn assert_same(got: &Tags, want: &Tags, what: &str) {
    let mut keys: Vec<&TagKey> = Vec::new();
    for i in &want.items {
        if !keys.contains(&&i.key) {
            keys.push(&i.key);
        }
    }
    for k in keys {
        let g: Vec<&str> = got.get_all(k).collect();
        let w: Vec<&str> = want.get_all(k).collect();
        assert_eq!(g, w, "{what}: key {k}\n got: {got:#?}");
    }
    assert_eq!(
        got.pictures.len(),
        want.pictures.len(),
        "{what}: pictures {:?}",
        got.pictures
    );
    for (g, w) in got.pictures.iter().zip(&want.pictures) {
        assert_eq!(g.kind, w.kind, "{what}");
        assert_eq!(g.mime, w.mime, "{what}");
        assert_eq!(g.description, w.description, "{what}");
        assert!(g.data == w.data, "{what}: picture bytes differ");
    }
}

// ---------------------------------------------------------------- audio

const RATE: u32 = 44100;
const FRAMES: usize = 44100;

/// The peer tool that makes `format` from a WAV file.
fn peer_tool(format: Format) -> &'static str {
    match format {
        Format::Wav => "true",
        Format::Aiff => "sox",
        Format::Flac => "flac",
        Format::Mp3 => "lame",
        Format::Ogg => "oggenc",
        Format::Opus => "opusenc",
    }
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A second of stereo sine in `format`, by our encoder, else by the peer
/// tool. `None` when neither can make it (tool missing).
fn make_audio(dir: &Path, name: &str, format: Format) -> Option<PathBuf> {
    make_audio_by(dir, name, format, true)
}

/// [`make_audio`], by our encoder only when `ours`.
fn make_audio_by(dir: &Path, name: &str, format: Format, ours: bool) -> Option<PathBuf> {
    let path = dir.join(format!("{name}.{}", format.extension()));
    let ints = sine(FRAMES, 2, RATE, 16, 440.0, 0.5);
    let spec = input_spec(format, AudioSpec::int(RATE, 2, 16), 16);
    let samples = match spec.format {
        SampleFormat::Int { .. } => Samples::Int(ints.clone()),
        SampleFormat::Float => Samples::Float(ints.iter().map(|&s| s as f32 / 32768.0).collect()),
    };
    let encoded = (|| -> Result<(), aj_codec::Error> {
        if !ours {
            return Err(aj_codec::Error::Unsupported(
                "a peer tool's file was asked for".into(),
            ));
        }
        let mut enc = create(
            format,
            spec,
            &EncoderOptions::default(),
            std::fs::File::create(&path)?,
        )?;
        enc.write(&Block { spec, samples })?;
        enc.finish()
    })();
    match encoded {
        Ok(()) => return Some(path),
        Err(_) if !ours => {}
        Err(e) => eprintln!(
            "our {format} encoder failed ({e}); using {}",
            peer_tool(format)
        ),
    }
    if !have_tool(peer_tool(format)) {
        return None;
    }
    let wav = dir.join(format!("{name}-src.wav"));
    write_wav(&wav, &ints, 2, RATE, 16);
    match format {
        Format::Wav => {
            std::fs::copy(&wav, &path).unwrap();
        }
        Format::Aiff => {
            run(Command::new("sox").arg(&wav).arg(&path));
        }
        Format::Flac => {
            run(Command::new("flac")
                .args(["-s", "-f", "-o"])
                .arg(&path)
                .arg(&wav));
        }
        Format::Mp3 => {
            run(Command::new("lame").arg("--quiet").arg(&wav).arg(&path));
        }
        Format::Ogg => {
            run(Command::new("oggenc")
                .args(["-Q", "-o"])
                .arg(&path)
                .arg(&wav));
        }
        Format::Opus => {
            run(Command::new("opusenc").arg("--quiet").arg(&wav).arg(&path));
        }
    }
    Some(path)
}

/// Decodes with ffmpeg; returns the PCM byte count. Any message on stderr
/// (at level "error") fails the test.
fn ffmpeg_decoded_len(path: &Path) -> usize {
    let out = run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-"]));
    assert!(
        out.stderr.is_empty(),
        "ffmpeg complained about {path:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len()
}

/// ffprobe's tags of the file (format and first stream merged), keys lowercased.
fn ffprobe_tags(path: &Path) -> std::collections::BTreeMap<String, String> {
    let out = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(path));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut m = std::collections::BTreeMap::new();
    let mut add = |tags: Option<&serde_json::Value>| {
        if let Some(obj) = tags.and_then(|t| t.as_object()) {
            for (k, val) in obj {
                m.insert(
                    k.to_ascii_lowercase(),
                    val.as_str().unwrap_or_default().to_string(),
                );
            }
        }
    };
    add(v["format"].get("tags"));
    add(v["streams"][0].get("tags"));
    m
}

/// Writes the rich tags onto a fresh file of `format`, reads them back, and
/// checks the audio decodes to the same length as before. Returns the file.
fn round_trip(dir: &Path, format: Format) -> Option<PathBuf> {
    let path = make_audio(dir, "rt", format)?;
    let check_audio = have_tool("ffmpeg");
    let before = check_audio.then(|| ffmpeg_decoded_len(&path));
    let want = rich_tags();
    tags::write(&path, format, &want).unwrap();
    let got = tags::read(&path).unwrap();
    assert_same(&got, &want, &format!("{format} round trip"));
    if let Some(before) = before {
        assert_eq!(
            ffmpeg_decoded_len(&path),
            before,
            "{format}: decoded length changed by tagging"
        );
    }
    // Our own decoder still reads the whole file too.
    let mut dec = aj_codec::decode::open(&path).unwrap();
    let mut frames = 0;
    while let Some(b) = dec.read(4096).unwrap() {
        frames += b.frames();
    }
    assert!(
        frames >= FRAMES,
        "{format}: our decoder read {frames} frames after tagging"
    );
    Some(path)
}

/// The ffprobe names for our rich tags in ID3v2-based files.
fn check_ffprobe_id3(path: &Path) {
    if !have_tool("ffprobe") {
        return;
    }
    let m = ffprobe_tags(path);
    assert_eq!(
        m.get("title").map(String::as_str),
        Some("Título – テスト"),
        "{m:?}"
    );
    // ffmpeg shows only the first value of an ID3v2.4 multi-value frame
    // (and both from a WAV's INFO chunk).
    assert!(
        m.get("artist")
            .is_some_and(|a| a.starts_with("First Artist")),
        "{m:?}"
    );
    assert_eq!(m.get("album").map(String::as_str), Some("An Album"));
    assert_eq!(
        m.get("album_artist").map(String::as_str),
        Some("Various Artists"),
        "{m:?}"
    );
    assert_eq!(m.get("track").map(String::as_str), Some("3/12"), "{m:?}");
    assert_eq!(m.get("disc").map(String::as_str), Some("1/2"), "{m:?}");
    assert_eq!(
        m.get("date").map(String::as_str),
        Some("2024-06-15"),
        "{m:?}"
    );
    assert_eq!(m.get("genre").map(String::as_str), Some("Electronic"));
    assert_eq!(m.get("composer").map(String::as_str), Some("A. Composer"));
    assert_eq!(
        m.get("publisher").map(String::as_str),
        Some("A Label"),
        "{m:?}"
    );
    assert_eq!(
        m.get("tsrc").map(String::as_str),
        Some("GBAYE2400001"),
        "{m:?}"
    );
    assert_eq!(
        m.get("musicbrainz album id").map(String::as_str),
        Some(RELEASE),
        "{m:?}"
    );
    assert_eq!(
        m.get("replaygain_track_gain").map(String::as_str),
        Some("-7.03 dB"),
        "{m:?}"
    );
    assert_eq!(
        m.get("catalognumber").map(String::as_str),
        Some("CAT-001"),
        "{m:?}"
    );
}

/// The ffprobe names for our rich tags in Vorbis-comment files.
fn check_ffprobe_vorbis(path: &Path) {
    if !have_tool("ffprobe") {
        return;
    }
    let m = ffprobe_tags(path);
    assert_eq!(
        m.get("title").map(String::as_str),
        Some("Título – テスト"),
        "{m:?}"
    );
    assert_eq!(
        m.get("tracknumber").or(m.get("track")).map(String::as_str),
        Some("3"),
        "{m:?}"
    );
    assert_eq!(m.get("tracktotal").map(String::as_str), Some("12"), "{m:?}");
    assert_eq!(m.get("disctotal").map(String::as_str), Some("2"), "{m:?}");
    assert_eq!(
        m.get("musicbrainz_trackid").map(String::as_str),
        Some(RECORDING),
        "{m:?}"
    );
    assert_eq!(
        m.get("musicbrainz_albumid").map(String::as_str),
        Some(RELEASE),
        "{m:?}"
    );
    assert_eq!(
        m.get("replaygain_album_peak").map(String::as_str),
        Some("1.000000"),
        "{m:?}"
    );
    assert_eq!(
        m.get("aj_test_key").map(String::as_str),
        Some("free-form value"),
        "{m:?}"
    );
}

// ---------------------------------------------------------------- round trips

/// A quarter of the test length of stereo sine, as `s.wav` in `dir`: the
/// input the peer tools tag in the tests below.
fn short_wav(dir: &Path) -> PathBuf {
    let wav = dir.join("s.wav");
    write_wav(
        &wav,
        &sine(FRAMES / 4, 2, RATE, 16, 440.0, 0.5),
        2,
        RATE,
        16,
    );
    wav
}

#[test]
fn flac_round_trip_uses_the_padding() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = make_audio(dir.path(), "pad", Format::Flac) else {
        return;
    };
    let len = std::fs::metadata(&path).unwrap().len();
    tags::write(&path, Format::Flac, &rich_tags()).unwrap();
    // Tags and two tiny pictures fit in the encoder's 8 KiB of padding:
    // nothing moved, the file kept its size.
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        len,
        "FLAC tags did not go into the padding"
    );

    let path = round_trip(dir.path(), Format::Flac).unwrap();
    if have_tool("flac") {
        run(Command::new("flac").args(["-t", "-s"]).arg(&path));
        let list = String::from_utf8(run(Command::new("metaflac").arg("--list").arg(&path)).stdout)
            .unwrap();
        assert!(
            list.contains("TRACKNUMBER=3") && list.contains("TRACKTOTAL=12"),
            "{list}"
        );
        assert!(
            list.contains("MUSICBRAINZ_RELEASETRACKID=1c5a0a5e"),
            "{list}"
        );
        assert!(list.contains("REPLAYGAIN_TRACK_GAIN=-7.03 dB"), "{list}");
        assert!(
            list.contains("ARTIST=First Artist") && list.contains("ARTIST=Second Artist"),
            "{list}"
        );
        // Both pictures, typed and sized (dimensions read from the images).
        assert!(
            list.contains("type: 3 (Cover (front))") && list.contains("type: 4 (Cover (back))"),
            "{list}"
        );
        assert!(
            list.contains("MIME type: image/png") && list.contains("MIME type: image/jpeg"),
            "{list}"
        );
        assert!(
            list.contains("width: 8") && list.contains("height: 8"),
            "{list}"
        );
        assert!(list.contains("type: 1 (PADDING)"), "padding kept: {list}");
    }
    check_ffprobe_vorbis(&path);
}

#[test]
fn flac_tags_larger_than_the_padding_move_the_audio() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = make_audio(dir.path(), "big", Format::Flac) else {
        return;
    };
    let before = have_tool("ffmpeg").then(|| ffmpeg_decoded_len(&path));
    let mut t = rich_tags();
    t.pictures
        .push(Picture::new(PictureKind::Artist, "big", big_png(40_000, 7)));
    tags::write(&path, Format::Flac, &t).unwrap();
    assert_same(&tags::read(&path).unwrap(), &t, "big FLAC");
    if let Some(before) = before {
        assert_eq!(ffmpeg_decoded_len(&path), before);
    }
    if have_tool("flac") {
        run(Command::new("flac").args(["-t", "-s"]).arg(&path));
    }
    // Tagging again with small tags shrinks the metadata back into padding.
    let small = Tags {
        items: rich_tags().items,
        pictures: Vec::new(),
    };
    tags::write(&path, Format::Flac, &small).unwrap();
    assert_same(&tags::read(&path).unwrap(), &small, "re-tagged FLAC");
    if have_tool("flac") {
        run(Command::new("flac").args(["-t", "-s"]).arg(&path));
    }
}

#[test]
fn mp3_round_trip_keeps_the_lame_frame() {
    let dir = tempfile::tempdir().unwrap();
    let Some(plain) = make_audio(dir.path(), "plain", Format::Mp3) else {
        return;
    };
    let Some(path) = round_trip(dir.path(), Format::Mp3) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"ID3\x04", "an ID3v2.4 tag starts the file");
    let size = bytes[6..10]
        .iter()
        .fold(0usize, |a, &b| (a << 7) | usize::from(b & 0x7F));
    let audio = &bytes[10 + size..];
    // The audio after the tag is the untagged file, byte for byte: the
    // LAME/Xing frame is still the first frame.
    let plain = std::fs::read(plain).unwrap();
    assert!(
        audio == plain.as_slice(),
        "audio after the ID3v2 tag differs from the untagged file"
    );
    let first_frame = &audio[..audio.len().min(1200)];
    assert!(
        first_frame.windows(4).any(|w| w == b"Xing" || w == b"Info"),
        "no Xing/Info header in the first frame"
    );
    check_ffprobe_id3(&path);
}

#[test]
fn ogg_vorbis_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = round_trip(dir.path(), Format::Ogg) else {
        return;
    };
    check_ffprobe_vorbis(&path);
    if have_tool("oggdec") {
        let out = run(Command::new("oggdec").args(["-Q", "-o", "-"]).arg(&path));
        assert!(
            out.stderr.is_empty(),
            "oggdec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn opus_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = round_trip(dir.path(), Format::Opus) else {
        return;
    };
    check_ffprobe_vorbis(&path);
    if have_tool("opusinfo") {
        let out = run(Command::new("opusinfo").arg(&path));
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains("WARNING") && !text.contains("ERROR"),
            "{text}"
        );
        assert!(text.contains("TITLE=Título"), "{text}");
    }
}

#[test]
fn ogg_comment_header_over_many_pages() {
    // A 200 kB picture makes the comment header span several pages, so every
    // audio page is renumbered; decoders must still read all of it.
    for format in [Format::Opus, Format::Ogg] {
        let dir = tempfile::tempdir().unwrap();
        let Some(path) = make_audio(dir.path(), "many", format) else {
            continue;
        };
        let before = have_tool("ffmpeg").then(|| ffmpeg_decoded_len(&path));
        let mut t = rich_tags();
        t.pictures.push(Picture::new(
            PictureKind::Leaflet,
            "leaflet",
            big_jpeg(200_000, 11),
        ));
        tags::write(&path, format, &t).unwrap();
        assert_same(
            &tags::read(&path).unwrap(),
            &t,
            &format!("{format} with a large picture"),
        );
        if let Some(before) = before {
            assert_eq!(ffmpeg_decoded_len(&path), before, "{format}");
        }
        if format == Format::Opus && have_tool("opusinfo") {
            let out = run(Command::new("opusinfo").arg(&path));
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                !text.contains("WARNING") && !text.contains("ERROR"),
                "{text}"
            );
        }
        if format == Format::Ogg && have_tool("oggdec") {
            let out = run(Command::new("oggdec").args(["-Q", "-o", "-"]).arg(&path));
            assert!(
                out.stderr.is_empty(),
                "oggdec: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // And back to small tags: fewer pages, renumbered the other way.
        let small = Tags {
            items: rich_tags().items,
            pictures: Vec::new(),
        };
        tags::write(&path, format, &small).unwrap();
        assert_same(
            &tags::read(&path).unwrap(),
            &small,
            &format!("{format} re-tagged"),
        );
        if let Some(before) = before {
            assert_eq!(ffmpeg_decoded_len(&path), before, "{format} re-tagged");
        }
    }
}

#[test]
fn wav_round_trip_has_info_and_id3() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = round_trip(dir.path(), Format::Wav) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let find = |pat: &[u8]| bytes.windows(pat.len()).position(|w| w == pat);
    assert!(find(b"LISTINFO").is_none(), "LIST size sits between");
    let list = find(b"INFOINAM").expect("a LIST/INFO chunk with INAM");
    assert_eq!(&bytes[list - 8..list - 4], b"LIST");
    for id in [&b"IART"[..], b"IPRD", b"ICMT", b"ICRD", b"IGNR", b"ITRK"] {
        assert!(
            find(id).is_some(),
            "INFO lacks {}",
            String::from_utf8_lossy(id)
        );
    }
    assert!(find(b"id3 ").is_some(), "no id3 chunk");
    let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff + 8, bytes.len(), "RIFF size patched");
    if have_tool("ffprobe") {
        // ffmpeg reads a WAV's INFO chunk and ignores its id3 chunk when
        // both are there; the id3 side is checked through our reader above
        // and through ffprobe on AIFF and MP3.
        let m = ffprobe_tags(&path);
        assert_eq!(
            m.get("title").map(String::as_str),
            Some("Título – テスト"),
            "{m:?}"
        );
        assert_eq!(
            m.get("artist").map(String::as_str),
            Some("First Artist; Second Artist"),
            "{m:?}"
        );
        assert_eq!(
            m.get("album").map(String::as_str),
            Some("An Album"),
            "{m:?}"
        );
        assert_eq!(
            m.get("comment").map(String::as_str),
            Some("a comment"),
            "{m:?}"
        );
        assert_eq!(
            m.get("date").map(String::as_str),
            Some("2024-06-15"),
            "{m:?}"
        );
        assert_eq!(
            m.get("genre").map(String::as_str),
            Some("Electronic"),
            "{m:?}"
        );
        assert_eq!(m.get("track").map(String::as_str), Some("3"), "{m:?}");
    }
}

#[test]
fn aiff_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = round_trip(dir.path(), Format::Aiff) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let form = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(form + 8, bytes.len(), "FORM size patched");
    assert!(bytes.windows(4).any(|w| w == b"ID3 "), "no ID3 chunk");
    check_ffprobe_id3(&path);
}

#[test]
fn tags_are_replaced_not_added() {
    let dir = tempfile::tempdir().unwrap();
    for format in Format::ALL {
        let Some(path) = make_audio(dir.path(), "twice", format) else {
            continue;
        };
        tags::write(&path, format, &rich_tags()).unwrap();
        let mut second = Tags::new();
        second.push(TagKey::Title, "Second");
        second.push(TagKey::Artist, "Only");
        second
            .pictures
            .push(Picture::new(PictureKind::FrontCover, "", jpeg_8x8()));
        tags::write(&path, format, &second).unwrap();
        let got = tags::read(&path).unwrap();
        assert_eq!(got, second, "{format}: old tags left behind");
        if format == Format::Wav || format == Format::Aiff {
            let bytes = std::fs::read(&path).unwrap();
            let n = bytes
                .windows(4)
                .filter(|w| *w == b"id3 " || *w == b"ID3 ")
                .count();
            assert_eq!(n, 1, "{format}: one ID3 chunk");
        }
        // Empty tags clear them.
        tags::write(&path, format, &Tags::new()).unwrap();
        assert!(
            tags::read(&path).unwrap().is_empty(),
            "{format}: tags not cleared"
        );
    }
}

#[test]
fn carried_through_every_format_in_turn() {
    // FLAC → MP3 → WAV → Opus → AIFF → Ogg: what one format reads, the next
    // writes, and nothing is lost on the way.
    let dir = tempfile::tempdir().unwrap();
    let mut t = rich_tags();
    t.push(TagKey::Other("LYRICS".into()), "line one\nline two");
    t.push(TagKey::Other("ORIGINALDATE".into()), "1999");
    for (i, format) in [
        Format::Flac,
        Format::Mp3,
        Format::Wav,
        Format::Opus,
        Format::Aiff,
        Format::Ogg,
    ]
    .into_iter()
    .enumerate()
    {
        let Some(path) = make_audio(dir.path(), &format!("chain{i}"), format) else {
            continue;
        };
        tags::write(&path, format, &t).unwrap();
        let got = tags::read(&path).unwrap();
        assert_same(&got, &t, &format!("chain step {format}"));
        t = got;
    }
}

#[test]
fn tags_files_made_by_peer_encoders() {
    // flac, lame, oggenc, opusenc and sox lay out their headers their own
    // way (oggenc packs the comment and setup headers; opusenc pads its
    // comment header): tagging must work on those too.
    for format in Format::ALL {
        let dir = tempfile::tempdir().unwrap();
        let Some(path) = make_audio_by(dir.path(), "peer", format, false) else {
            continue;
        };
        let before = have_tool("ffmpeg").then(|| ffmpeg_decoded_len(&path));
        let want = rich_tags();
        tags::write(&path, format, &want).unwrap();
        assert_same(
            &tags::read(&path).unwrap(),
            &want,
            &format!("peer-made {format}"),
        );
        if let Some(before) = before {
            assert_eq!(
                ffmpeg_decoded_len(&path),
                before,
                "peer-made {format}: decoded length changed"
            );
        }
    }
}

// ---------------------------------------------------------------- other tools' tags

#[test]
fn reads_metaflac_tags() {
    if !have_tool("flac") || !have_tool("metaflac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = short_wav(dir.path());
    let flac = dir.path().join("m.flac");
    run(Command::new("flac")
        .args(["-s", "-f", "-o"])
        .arg(&flac)
        .arg(&wav));
    let cover = dir.path().join("cover.png");
    std::fs::write(&cover, png_1x1()).unwrap();
    run(Command::new("metaflac")
        .args([
            "--set-tag=TITLE=Meta",
            "--set-tag=ARTIST=One",
            "--set-tag=ARTIST=Two",
        ])
        .args([
            "--set-tag=TRACKNUMBER=5/9",
            "--set-tag=MUSICBRAINZ_ALBUMID=abc",
            "--set-tag=Label=L",
        ])
        .arg(format!(
            "--import-picture-from=3|image/png|the cover||{}",
            cover.display()
        ))
        .arg(&flac));
    let t = tags::read(&flac).unwrap();
    assert_eq!(t.get(&TagKey::Title), Some("Meta"));
    assert_eq!(
        t.get_all(&TagKey::Artist).collect::<Vec<_>>(),
        ["One", "Two"]
    );
    assert_eq!(t.get(&TagKey::TrackNumber), Some("5"));
    assert_eq!(t.get(&TagKey::TrackTotal), Some("9"));
    assert_eq!(t.get(&TagKey::MusicBrainzReleaseId), Some("abc"));
    assert_eq!(t.get(&TagKey::Other("LABEL".into())), Some("L"));
    assert_eq!(t.pictures.len(), 1);
    assert_eq!(t.pictures[0].kind, PictureKind::FrontCover);
    assert_eq!(t.pictures[0].description, "the cover");
    assert_eq!(t.pictures[0].data, png_1x1());
}

#[test]
fn reads_lame_id3_tags_and_cover() {
    if !have_tool("lame") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = short_wav(dir.path());
    let cover = dir.path().join("cover.jpg");
    std::fs::write(&cover, jpeg_8x8()).unwrap();
    let mp3 = dir.path().join("l.mp3");
    run(Command::new("lame")
        .args([
            "--quiet",
            "--tt",
            "Lame Title",
            "--ta",
            "Lame Artist",
            "--tl",
            "Lame Album",
        ])
        .args([
            "--tn",
            "4/10",
            "--ty",
            "2001",
            "--tg",
            "Rock",
            "--tc",
            "lame comment",
            "--ti",
        ])
        .arg(&cover)
        .arg(&wav)
        .arg(&mp3));
    let t = tags::read(&mp3).unwrap();
    assert_eq!(t.get(&TagKey::Title), Some("Lame Title"));
    assert_eq!(t.get(&TagKey::Artist), Some("Lame Artist"));
    assert_eq!(t.get(&TagKey::Album), Some("Lame Album"));
    assert_eq!(t.get(&TagKey::TrackNumber), Some("4"));
    assert_eq!(t.get(&TagKey::TrackTotal), Some("10"));
    assert_eq!(t.get(&TagKey::Date), Some("2001"));
    assert_eq!(t.get(&TagKey::Genre), Some("Rock"));
    assert_eq!(t.get(&TagKey::Comment), Some("lame comment"));
    assert_eq!(t.pictures.len(), 1, "{t:?}");
    assert_eq!(t.pictures[0].mime, "image/jpeg");
    assert_eq!(t.pictures[0].data, jpeg_8x8());
}

#[test]
fn reads_ffmpeg_metadata_in_m4a_mp3_wav_aiff() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = short_wav(dir.path());
    for (ext, extra) in [
        ("m4a", &["-c:a", "aac"][..]),
        ("mp3", &["-c:a", "libmp3lame"][..]),
        ("wav", &[][..]),
        ("aiff", &["-write_id3v2", "1"][..]),
        ("flac", &[][..]),
        ("opus", &["-c:a", "libopus"][..]),
    ] {
        let out = dir.path().join(format!("f.{ext}"));
        let st = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-i"])
            .arg(&wav)
            .args(extra)
            .args([
                "-metadata",
                "title=FF Title",
                "-metadata",
                "artist=FF Artist",
                "-metadata",
                "album=FF Album",
            ])
            .args([
                "-metadata",
                "track=2/5",
                "-metadata",
                "date=2020",
                "-metadata",
                "genre=Jazz",
            ])
            .arg(&out)
            .status()
            .unwrap();
        if !st.success() {
            eprintln!("skipping {ext}: this ffmpeg cannot write it");
            continue;
        }
        let t = tags::read(&out).unwrap();
        assert_eq!(t.get(&TagKey::Title), Some("FF Title"), "{ext}: {t:?}");
        assert_eq!(t.get(&TagKey::Artist), Some("FF Artist"), "{ext}");
        assert_eq!(t.get(&TagKey::Album), Some("FF Album"), "{ext}");
        assert_eq!(t.get(&TagKey::TrackNumber), Some("2"), "{ext}: {t:?}");
        if ext != "wav" {
            // RIFF INFO has no field for a track total.
            assert_eq!(t.get(&TagKey::TrackTotal), Some("5"), "{ext}: {t:?}");
        }
        assert_eq!(t.get(&TagKey::Date), Some("2020"), "{ext}: {t:?}");
        assert_eq!(t.get(&TagKey::Genre), Some("Jazz"), "{ext}");
    }
}

#[test]
fn reads_oggenc_and_opusenc_comments() {
    let dir = tempfile::tempdir().unwrap();
    let wav = short_wav(dir.path());
    if have_tool("oggenc") {
        let ogg = dir.path().join("o.ogg");
        run(Command::new("oggenc")
            .args(["-Q", "-t", "Ogg Title", "-a", "Ogg Artist", "-N", "7", "-c"])
            .arg(format!("MUSICBRAINZ_TRACKID={RECORDING}"))
            .args(["-c", "TOTALTRACKS=11", "-o"])
            .arg(&ogg)
            .arg(&wav));
        let t = tags::read(&ogg).unwrap();
        assert_eq!(t.get(&TagKey::Title), Some("Ogg Title"));
        assert_eq!(t.get(&TagKey::Artist), Some("Ogg Artist"));
        assert_eq!(t.get(&TagKey::TrackNumber), Some("7"));
        assert_eq!(t.get(&TagKey::TrackTotal), Some("11"));
        assert_eq!(t.get(&TagKey::MusicBrainzRecordingId), Some(RECORDING));
    }
    if have_tool("opusenc") {
        let cover = dir.path().join("c.png");
        std::fs::write(&cover, png_1x1()).unwrap();
        let opus = dir.path().join("o.opus");
        run(Command::new("opusenc")
            .args([
                "--quiet",
                "--title",
                "Opus Title",
                "--artist",
                "A1",
                "--artist",
                "A2",
            ])
            .args(["--comment", "REPLAYGAIN_TRACK_GAIN=-3.00 dB", "--picture"])
            .arg(format!("3||opus cover||{}", cover.display()))
            .arg(&wav)
            .arg(&opus));
        let t = tags::read(&opus).unwrap();
        assert_eq!(t.get(&TagKey::Title), Some("Opus Title"));
        assert_eq!(t.get_all(&TagKey::Artist).collect::<Vec<_>>(), ["A1", "A2"]);
        assert_eq!(t.get(&TagKey::ReplayGainTrackGain), Some("-3.00 dB"));
        assert_eq!(t.pictures.len(), 1, "{t:?}");
        assert_eq!(t.pictures[0].kind, PictureKind::FrontCover);
        assert_eq!(t.pictures[0].data, png_1x1());
    }
}

// ---------------------------------------------------------------- damage

#[test]
fn missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = tags::read(&dir.path().join("nope.flac")).unwrap_err();
    assert!(matches!(e, aj_codec::Error::Io(_)), "{e:?}");
}

#[test]
fn garbage_where_an_id3_header_should_be() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mp3) = make_audio(dir.path(), "g", Format::Mp3) else {
        return;
    };
    let audio = std::fs::read(&mp3).unwrap();
    let mut rng = Rng::new(3);
    let cases: Vec<Vec<u8>> = vec![
        // A header claiming a huge tag, then noise.
        [
            b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f".to_vec(),
            (0..300).map(|_| rng.next_u64() as u8).collect(),
        ]
        .concat(),
        // A valid-size header whose frames are noise, then the audio.
        [
            b"ID3\x04\x00\x00\x00\x00\x02\x00".to_vec(),
            (0..256).map(|_| rng.next_u64() as u8).collect(),
            audio.clone(),
        ]
        .concat(),
        // Frames with impossible sizes.
        [
            b"ID3\x03\x00\x00\x00\x00\x00\x20TIT2\xff\xff\xff\xff\x00\x00".to_vec(),
            vec![0x41; 22],
            audio.clone(),
        ]
        .concat(),
        // Only a header.
        b"ID3\x04\x00".to_vec(),
        Vec::new(),
    ];
    for (i, bytes) in cases.into_iter().enumerate() {
        let p = dir.path().join(format!("bad{i}.mp3"));
        std::fs::write(&p, &bytes).unwrap();
        match tags::read(&p) {
            Ok(t) => assert!(
                t.get(&TagKey::Title).is_none_or(|s| !s.is_empty()),
                "case {i}"
            ),
            Err(e) => assert!(matches!(e, aj_codec::Error::Tags(_)), "case {i}: {e:?}"),
        }
    }
}

#[test]
fn damaged_tagged_files_never_panic() {
    // Every format, tagged, then bytes flipped through the start of the file
    // (where the tags are): read must return, and so must write.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(99);
    for format in Format::ALL {
        let Some(path) = make_audio(dir.path(), "dmg", format) else {
            continue;
        };
        tags::write(&path, format, &rich_tags()).unwrap();
        let good = std::fs::read(&path).unwrap();
        let span = good.len().min(12_000);
        for round in 0..40 {
            let mut bad = good.clone();
            for _ in 0..(1 + round % 4) {
                let at = (rng.next_u64() as usize) % span;
                bad[at] = rng.next_u64() as u8;
            }
            if round % 10 == 9 {
                bad.truncate((rng.next_u64() as usize) % span);
            }
            let p = dir
                .path()
                .join(format!("dmg-{round}.{}", format.extension()));
            std::fs::write(&p, &bad).unwrap();
            let _ = tags::read(&p);
            let _ = tags::write(&p, format, &rich_tags());
        }
    }
}

#[test]
fn not_audio_reads_as_no_tags() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, b"just some text, not audio at all").unwrap();
    assert!(tags::read(&p).unwrap().is_empty());
    let e = tags::write(&p, Format::Flac, &rich_tags()).unwrap_err();
    assert!(e.to_string().contains("not a FLAC file"), "{e}");
    let e = tags::write(&p, Format::Wav, &rich_tags()).unwrap_err();
    assert!(e.to_string().contains("not a WAV file"), "{e}");
    let e = tags::write(&p, Format::Opus, &rich_tags()).unwrap_err();
    assert!(e.to_string().contains("Ogg"), "{e}");
}

#[test]
fn wav_with_unpatched_sizes_and_trailing_junk() {
    // A streaming writer's WAV (RIFF size left at 0xFFFFFFFF) keeps all its
    // audio; junk after the RIFF end is dropped.
    let dir = tempfile::tempdir().unwrap();
    let ints = sine(1000, 2, RATE, 16, 440.0, 0.5);
    let good = aj_testkit::wav_bytes(&ints, 2, RATE, 16);

    let mut streaming = good.clone();
    streaming[4..8].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    let p = dir.path().join("stream.wav");
    std::fs::write(&p, &streaming).unwrap();
    tags::write(&p, Format::Wav, &rich_tags()).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert!(bytes[8..good.len()] == good[8..], "audio kept");
    assert_same(&tags::read(&p).unwrap(), &rich_tags(), "streaming WAV");

    let mut junk = good.clone();
    junk.extend_from_slice(b"junk\xff\xff\xff\x7f trailing");
    let p = dir.path().join("junk.wav");
    std::fs::write(&p, &junk).unwrap();
    tags::write(&p, Format::Wav, &rich_tags()).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert!(bytes[8..good.len()] == good[8..], "audio kept");
    assert!(!bytes.windows(4).any(|w| w == b"junk"), "junk dropped");
    assert_same(&tags::read(&p).unwrap(), &rich_tags(), "WAV with junk");
}

#[test]
fn empty_audio_files_take_tags() {
    // No samples at all: in Ogg the header pages also end the stream.
    let dir = tempfile::tempdir().unwrap();
    for format in Format::ALL {
        let path = dir.path().join(format!("empty.{}", format.extension()));
        let spec = input_spec(format, AudioSpec::int(RATE, 2, 16), 16);
        let made = (|| -> Result<(), aj_codec::Error> {
            create(
                format,
                spec,
                &EncoderOptions::default(),
                std::fs::File::create(&path)?,
            )?
            .finish()
        })();
        if let Err(e) = made {
            eprintln!("skipping empty {format}: our encoder refused ({e})");
            continue;
        }
        // ffprobe must accept the untagged file for its view of the tagged
        // one to mean anything.
        let probe_ok = have_tool("ffprobe")
            && Command::new("ffprobe")
                .args(["-v", "error"])
                .arg(&path)
                .status()
                .is_ok_and(|s| s.success());
        if !probe_ok {
            eprintln!("ffprobe rejects the empty untagged {format}; not checking its view");
        }
        tags::write(&path, format, &rich_tags()).unwrap();
        assert_same(
            &tags::read(&path).unwrap(),
            &rich_tags(),
            &format!("empty {format}"),
        );
        if probe_ok {
            let m = ffprobe_tags(&path);
            assert!(
                m.contains_key("title"),
                "{format}: ffprobe sees no title in {m:?}"
            );
        }
    }
}

/// Regression: an MP4 `covr` picture was read with kind "other"; iTunes and
/// ffmpeg mean the front cover by it.
#[test]
fn mp4_cover_is_the_front_cover() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = short_wav(dir.path());
    let cover = dir.path().join("cover.jpg");
    std::fs::write(&cover, jpeg_8x8()).unwrap();
    let m4a = dir.path().join("c.m4a");
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(&wav)
        .arg("-i")
        .arg(&cover)
        .args(["-map", "0:a", "-map", "1", "-c:a", "aac", "-c:v", "copy"])
        .args(["-disposition:v:0", "attached_pic"])
        .arg(&m4a));
    let t = tags::read(&m4a).unwrap();
    assert_eq!(t.pictures.len(), 1, "{t:?}");
    assert_eq!(t.pictures[0].kind, PictureKind::FrontCover);
    assert_eq!(t.pictures[0].data, jpeg_8x8());
}
