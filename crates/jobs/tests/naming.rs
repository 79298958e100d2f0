//! The name template language (`aj convert --name`) and planning with it:
//! grammar, fallbacks, widths, the single-disc rule, cleaning, safe names,
//! `--keep-tree` and collisions.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use aj_codec::tags::{self, TagKey, Tags};
use aj_codec::Format;
use aj_core::CancelToken;
use aj_jobs::convert::{self, PlanError, Planned};
use aj_jobs::naming::{NameContext, SafeNames, Template, MAX_NAME_BYTES};
use aj_jobs::ConvertSpec;

fn tags(pairs: &[(&str, &str)]) -> Tags {
    let mut t = Tags::new();
    for (k, v) in pairs {
        t.push(TagKey::from_name(k), *v);
    }
    t
}

fn render_with(template: &str, pairs: &[(&str, &str)], safe: SafeNames) -> String {
    let t = tags(pairs);
    let ctx = NameContext {
        tags: &t,
        filename: "input name",
        format: Format::Flac,
    };
    Template::parse(template)
        .unwrap()
        .render(&ctx, safe)
        .to_str()
        .unwrap()
        .to_string()
}

fn render(template: &str, pairs: &[(&str, &str)]) -> String {
    render_with(template, pairs, SafeNames::Posix)
}

const ALBUM: &[(&str, &str)] = &[
    ("ARTIST", "Track Artist"),
    ("ALBUMARTIST", "The Band"),
    ("ALBUM", "Songs"),
    ("DATE", "2024-06-15"),
    ("TITLE", "Opening"),
    ("TRACKNUMBER", "3/12"),
    ("DISCNUMBER", "2"),
    ("DISCTOTAL", "2"),
    ("LABEL", "Indie Records"),
];

#[test]
fn the_documented_example() {
    let t = "{albumartist|artist}/{album} ({date:4})/{disc}{track:02} - {title}";
    assert_eq!(render(t, ALBUM), "The Band/Songs (2024)/203 - Opening.flac");
}

#[test]
fn fallbacks_and_literals() {
    let only_artist = &[("ARTIST", "Solo"), ("TITLE", "T")];
    assert_eq!(
        render("{albumartist|artist}/{title}", only_artist),
        "Solo/T.flac"
    );
    assert_eq!(
        render(
            "{albumartist|\"Unknown Artist\"}/{title}",
            &[("TITLE", "T")]
        ),
        "Unknown Artist/T.flac"
    );
    // A literal with quotes, a bar and braces inside.
    assert_eq!(
        render(r#"{"a \"b\" | {c}"} {title}"#, &[("TITLE", "T")]),
        "a \"b\" | {c} T.flac"
    );
    // An empty literal is an explicit nothing.
    assert_eq!(render("{genre|\"\"}{title}", &[("TITLE", "T")]), "T.flac");
    // Spaces around alternatives do not matter; names are case-insensitive.
    assert_eq!(render("{ ALBUMARTIST | Artist }", ALBUM), "The Band.flac");
}

#[test]
fn widths_pad_numbers_and_cut_text() {
    assert_eq!(render("{track:02}", ALBUM), "03.flac");
    assert_eq!(render("{track:3}", ALBUM), "003.flac");
    assert_eq!(render("{track}", ALBUM), "3.flac");
    assert_eq!(render("{tracktotal}", ALBUM), "12.flac");
    assert_eq!(render("{date:4}", ALBUM), "2024.flac");
    assert_eq!(render("{year}", ALBUM), "2024.flac");
    assert_eq!(render("{title:4}", ALBUM), "Open.flac");
    // A number is never cut.
    assert_eq!(render("{track:1}", &[("TRACKNUMBER", "115")]), "115.flac");
    // Leading zeros in the tag are not kept without a width.
    assert_eq!(render("{track}", &[("TRACKNUMBER", "007")]), "7.flac");
}

#[test]
fn disc_is_empty_on_single_disc_albums() {
    let name = |pairs: &[(&str, &str)]| render("{disc}{track:02}", pairs);
    assert_eq!(name(&[("TRACKNUMBER", "4")]), "04.flac");
    assert_eq!(
        name(&[
            ("TRACKNUMBER", "4"),
            ("DISCNUMBER", "1"),
            ("DISCTOTAL", "1")
        ]),
        "04.flac"
    );
    assert_eq!(
        name(&[("TRACKNUMBER", "4"), ("DISCNUMBER", "1")]),
        "04.flac"
    );
    assert_eq!(
        name(&[("TRACKNUMBER", "4"), ("DISCNUMBER", "1/2")]),
        "104.flac"
    );
    assert_eq!(
        name(&[
            ("TRACKNUMBER", "4"),
            ("DISCNUMBER", "2"),
            ("TOTALDISCS", "3")
        ]),
        "204.flac"
    );
    // Disc 2 with no total: not a single disc.
    assert_eq!(
        name(&[("TRACKNUMBER", "4"), ("DISCNUMBER", "2")]),
        "204.flac"
    );
    assert_eq!(render("{disctotal}", &[("DISCNUMBER", "1/3")]), "3.flac");
}

#[test]
fn any_tag_and_the_special_fields() {
    assert_eq!(render("{label}", ALBUM), "Indie Records.flac");
    assert_eq!(render("{LABEL} {format}", ALBUM), "Indie Records flac.flac");
    // A field the file does not have is empty: the input's name is used.
    assert_eq!(render("{nosuchtag}", ALBUM), "input name.flac");
    assert_eq!(render("{filename} ({nosuchtag})", ALBUM), "input name.flac");
    // Several values are joined.
    let two = &[("ARTIST", "A"), ("ARTIST", "B")];
    assert_eq!(render("{artist}", two), "A, B.flac");
    // A trailing .{ext} is the extension added anyway.
    assert_eq!(render("{title}.{ext}", ALBUM), "Opening.flac");
}

#[test]
fn missing_fields_leave_no_stray_punctuation() {
    let t = "{genre}/{albumartist} - {album} [{label}]/{disc}{track:02} - {artist} - {title}";
    let pairs = &[("ALBUM", "X"), ("TITLE", "Y"), ("TRACKNUMBER", "1")];
    // No genre folder, no " - " at the start, no empty brackets, no
    // doubled separator.
    assert_eq!(render(t, pairs), "X/01 - Y.flac");
    assert_eq!(render("{artist} - {title}", &[]), "input name.flac");
    assert_eq!(
        render("({date})  {title}", &[("TITLE", "  a\tb ")]),
        "a b.flac"
    );
    // A leading dot would hide the file.
    assert_eq!(
        render("{title}", &[("TITLE", "...And Then")]),
        "And Then.flac"
    );
}

#[test]
fn safe_names_posix_and_windows() {
    let pairs = &[
        ("ARTIST", "AC/DC"),
        ("TITLE", "What? <Live>: \"Now\"* | x\\y."),
    ];
    assert_eq!(
        render_with("{artist}/{title}", pairs, SafeNames::Posix),
        "AC_DC/What? <Live>: \"Now\"* | x\\y.flac"
    );
    assert_eq!(
        render_with("{artist}/{title}", pairs, SafeNames::Windows),
        "AC_DC/What_ _Live__ _Now__ _ x_y.flac"
    );
    // Device names Windows reserves, with or without an extension.
    for (title, want) in [
        ("CON", "CON_.flac"),
        ("nul", "nul_.flac"),
        ("com1", "com1_.flac"),
        ("Aux.Mix", "Aux_.Mix.flac"),
        ("Console", "Console.flac"),
        ("COM10", "COM10.flac"),
    ] {
        assert_eq!(
            render_with("{title}", &[("TITLE", title)], SafeNames::Windows),
            want
        );
    }
    assert_eq!(
        render_with("{title}", &[("TITLE", "CON")], SafeNames::Posix),
        "CON.flac"
    );
    // Control characters.
    assert_eq!(
        render_with("{title}", &[("TITLE", "a\u{7}b")], SafeNames::Windows),
        "a_b.flac"
    );
}

#[test]
fn long_names_are_cut_keeping_the_extension() {
    let long = "é".repeat(300);
    let path = render_with(
        "{album}/{title}",
        &[("ALBUM", &long), ("TITLE", &long)],
        SafeNames::Posix,
    );
    let parts: Vec<&str> = path.split('/').collect();
    assert_eq!(parts.len(), 2);
    assert!(parts[0].len() <= MAX_NAME_BYTES && parts[0].len() >= MAX_NAME_BYTES - 1);
    assert!(
        parts[1].len() <= MAX_NAME_BYTES && parts[1].ends_with("é.flac"),
        "{}",
        parts[1]
    );
    assert!(parts[1].len() >= MAX_NAME_BYTES - 1);
}

#[test]
fn parse_errors_say_where() {
    for (template, position, words) in [
        ("{title", 1, "without its }"),
        ("a}b", 2, "without its {"),
        ("x {}", 4, "empty field"),
        ("{track:x}", 8, "width"),
        ("{track:0}", 8, "width"),
        ("{\"abc}", 2, "closing"),
        ("{\"a\":2}", 5, "no :width"),
        ("{title|}", 8, "empty field"),
        ("{ti\"tle}", 4, "cannot be part"),
        ("{ext}/{title}", 1, "end the template"),
        ("{title}{ext}", 8, "added by itself"),
        ("{title|ext}", 1, "alternative"),
        ("{album}/", 8, "ends with a folder"),
        ("   ", 1, "empty"),
        ("{title} x}", 10, "without its {"),
    ] {
        let e = Template::parse(template).unwrap_err();
        assert_eq!(e.position, position, "{template}: {e}");
        assert!(e.to_string().contains(words), "{template}: {e}");
        assert!(
            e.to_string().contains(&format!("character {position}")),
            "{e}"
        );
    }
}

#[test]
fn rendered_paths_stay_relative() {
    for title in ["..", ".", "/", "/etc/passwd", "../../x", ""] {
        let p = PathBuf::from(render(
            "{album}/{title}",
            &[("ALBUM", title), ("TITLE", title)],
        ));
        assert!(p.is_relative(), "{title}: {}", p.display());
        assert!(
            p.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{title}: {}",
            p.display()
        );
    }
}

fn tagged_wav(path: &Path, pairs: &[(&str, &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    aj_testkit::write_wav(
        path,
        &aj_testkit::sine(441, 2, 44_100, 16, 440.0, 0.1),
        2,
        44_100,
        16,
    );
    tags::write(path, Format::Wav, &tags(pairs)).unwrap();
}

fn planned(spec: &ConvertSpec) -> Vec<Planned> {
    convert::plan(spec, &CancelToken::new())
        .into_iter()
        .map(|i| i.plan)
        .collect()
}

#[test]
fn plan_names_below_the_output_folder_or_keeps_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tagged_wav(
        &d.join("in/cd1/a.wav"),
        &[
            ("ARTIST", "X"),
            ("ALBUM", "A"),
            ("TITLE", "One"),
            ("TRACKNUMBER", "1"),
        ],
    );
    tagged_wav(
        &d.join("in/cd2/b.wav"),
        &[
            ("ARTIST", "X"),
            ("ALBUM", "A"),
            ("TITLE", "Two"),
            ("TRACKNUMBER", "2"),
        ],
    );
    let mut spec = ConvertSpec::new(vec![d.join("in")], Format::Flac);
    spec.output_dir = Some(d.join("out"));
    spec.name = Some("{artist}/{album}/{track:02} {title}".into());
    assert_eq!(
        planned(&spec),
        vec![
            Planned::Convert(d.join("out/X/A/01 One.flac")),
            Planned::Convert(d.join("out/X/A/02 Two.flac")),
        ]
    );
    spec.keep_tree = true;
    spec.name = Some("{track:02} {title}".into());
    assert_eq!(
        planned(&spec),
        vec![
            Planned::Convert(d.join("out/cd1/01 One.flac")),
            Planned::Convert(d.join("out/cd2/02 Two.flac")),
        ]
    );
    // Without -o: below the input folder (its sub-folders with keep_tree).
    spec.output_dir = None;
    assert_eq!(
        planned(&spec),
        vec![
            Planned::Convert(d.join("in/cd1/01 One.flac")),
            Planned::Convert(d.join("in/cd2/02 Two.flac")),
        ]
    );
    spec.keep_tree = false;
    spec.name = Some("{album}/{title}".into());
    assert_eq!(
        planned(&spec),
        vec![
            Planned::Convert(d.join("in/A/One.flac")),
            Planned::Convert(d.join("in/A/Two.flac")),
        ]
    );
    // A file input: beside it.
    let mut spec = ConvertSpec::new(vec![d.join("in/cd1/a.wav")], Format::Flac);
    spec.name = Some("{title}".into());
    assert_eq!(
        planned(&spec),
        vec![Planned::Convert(d.join("in/cd1/One.flac"))]
    );
    assert!(convert::plan_checked(&spec, &CancelToken::new()).is_ok());
}

#[test]
fn collisions_stop_the_whole_job() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tagged_wav(&d.join("in/a.wav"), &[("ALBUM", "A"), ("TITLE", "Same")]);
    tagged_wav(&d.join("in/b.wav"), &[("ALBUM", "A"), ("TITLE", "Same")]);
    tagged_wav(&d.join("in/c.wav"), &[("ALBUM", "A"), ("TITLE", "Other")]);
    let mut spec = ConvertSpec::new(vec![d.join("in")], Format::Flac);
    spec.output_dir = Some(d.join("out"));
    spec.name = Some("{album}/{title}".into());
    let p = planned(&spec);
    assert!(
        matches!(&p[0], Planned::Fail(e) if e.contains("also from") && e.contains("b.wav")),
        "{p:?}"
    );
    assert!(
        matches!(&p[1], Planned::Fail(e) if e.contains("a.wav")),
        "{p:?}"
    );
    assert!(
        matches!(&p[2], Planned::Skip { reason, .. } if reason.contains("not converted")),
        "{p:?}"
    );
    let Err(PlanError::Collisions(c)) = convert::plan_checked(&spec, &CancelToken::new()) else {
        panic!("no collision found")
    };
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].output, d.join("out/A/Same.flac"));
    assert_eq!(c[0].inputs, vec![d.join("in/a.wav"), d.join("in/b.wav")]);

    // Names that differ only in case collide on Windows drives only.
    std::fs::remove_file(d.join("in/b.wav")).unwrap();
    tagged_wav(&d.join("in/b.wav"), &[("ALBUM", "A"), ("TITLE", "SAME")]);
    assert!(convert::plan_checked(&spec, &CancelToken::new()).is_ok());
    spec.safe_names = SafeNames::Windows;
    assert!(matches!(
        convert::plan_checked(&spec, &CancelToken::new()),
        Err(PlanError::Collisions(_))
    ));

    // An output named like another input of the job is refused too.
    let mut spec = ConvertSpec::new(vec![d.join("in/a.wav"), d.join("in/c.wav")], Format::Wav);
    spec.name = Some("{\"c\"}".into());
    let Err(PlanError::Collisions(c)) = convert::plan_checked(&spec, &CancelToken::new()) else {
        panic!("no collision found")
    };
    assert_eq!(c[0].inputs, vec![d.join("in/a.wav"), d.join("in/c.wav")]);
    // ...while an input named to itself is skipped, as without a template.
    spec.inputs = vec![d.join("in/c.wav")];
    assert!(matches!(
        planned(&spec).as_slice(),
        [Planned::Skip { reason, .. }] if reason.contains("own path")
    ));
}

#[test]
fn an_invalid_template_fails_every_input() {
    let mut spec = ConvertSpec::new(vec!["a.wav".into(), "b.wav".into()], Format::Flac);
    spec.name = Some("{title".into());
    let p = planned(&spec);
    assert_eq!(p.len(), 2);
    assert!(p
        .iter()
        .all(|p| matches!(p, Planned::Fail(e) if e.contains("character 1"))));
    assert!(matches!(
        convert::plan_checked(&spec, &CancelToken::new()),
        Err(PlanError::Template(_))
    ));
}

#[test]
fn spec_fields_read_from_json_with_defaults() {
    let spec: ConvertSpec = serde_json::from_str(
        r#"{"inputs":["x.wav"],"format":"flac","name":"{title}","safe_names":"windows",
            "keep_tree":true,"on_exists":"rename","delete_source":true}"#,
    )
    .unwrap();
    assert_eq!(spec.name.as_deref(), Some("{title}"));
    assert_eq!(spec.safe_names, SafeNames::Windows);
    assert!(spec.keep_tree && spec.delete_source);
    assert_eq!(spec.on_exists, convert::OnExists::Rename);
    let plain: ConvertSpec =
        serde_json::from_str(r#"{"inputs":["x.wav"],"format":"flac"}"#).unwrap();
    assert_eq!(plain.on_exists, convert::OnExists::Skip);
    assert_eq!(plain.when_exists(), convert::OnExists::Skip);
    let old: ConvertSpec =
        serde_json::from_str(r#"{"inputs":["x.wav"],"format":"flac","overwrite":true}"#).unwrap();
    assert_eq!(old.when_exists(), convert::OnExists::Overwrite);
}
