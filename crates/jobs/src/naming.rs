//! Output names from tags: the template language of `aj convert --name`.
//!
//! ```text
//! {albumartist|artist}/{album} ({date:4})/{disc}{track:02} - {title}
//! ```
//!
//! # Grammar
//!
//! - Text outside braces is literal; `/` separates folders. The extension of
//!   the output format is always added (a trailing `.{ext}` is accepted and
//!   ignored; `{ext}` elsewhere is an error).
//! - `{a|b|"text"}` is the first alternative that is not empty. An
//!   alternative is a field name, optionally with `:N`, or a literal in
//!   double quotes (`\"` and `\\` inside it stand for `"` and `\`). A brace
//!   outside a field is written `{"{"}` or `{"}"}`.
//! - `:N` (`{track:02}`, `{date:4}`) zero-pads a number to `N` digits
//!   (never cutting it) and keeps the first `N` characters of other text.
//! - Field names are case-insensitive: any tag by its Vorbis-comment name
//!   (`title`, `artist`, `albumartist`, `album`, `date`, `genre`, `composer`,
//!   `label`, any other key), plus:
//!   - `track` (= `tracknumber`) and `disc` (= `discnumber`): the number
//!     alone (`3/12` gives `3`, `03` gives `3`: pad with `:02`);
//!     `tracktotal` and `disctotal` also come from the part after the `/`;
//!   - `disc` is empty on a single-disc album: when the disc total is 1, or
//!     when there is no total and the disc number is not above 1;
//!   - `year`: a `YEAR` tag, else the first 4 characters of `date`;
//!   - `filename`: the input's name without its extension;
//!   - `format`: the output format (`flac`, `mp3`…).
//!
//!   A tag given several times (two `ARTIST`s) gives its values joined by
//!   `, `. A tag the file does not have is empty.
//!
//! # Cleaning
//!
//! Each folder name and the file name are cleaned after the fields are put
//! in, so that missing tags leave no stray punctuation:
//! 1. brackets left empty (`()`, `[]`) are removed;
//! 2. runs of white space (tabs, new lines too) become one space, and a
//!    separator left doubled (`A - - B`) becomes one (`A - B`);
//! 3. white space and `- _ , ; :` are trimmed at both ends, dots at both
//!    ends too (a leading dot would hide the file);
//! 4. characters the system cannot take are replaced by `_` (see
//!    [`SafeNames`]), and names longer than 255 bytes are cut (a file name
//!    keeps its extension);
//! 5. a folder name left empty is dropped (`{genre}/{album}` without genre
//!    is just `{album}`); a file name left empty becomes the input's name.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use aj_codec::tags::{TagKey, Tags};
use aj_codec::Format;

/// Longest name of one folder or file, in bytes: `NAME_MAX` on Linux and
/// most Unix file systems; NTFS and FAT count 255 UTF-16 units, never more
/// than this many UTF-8 bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Widest `:N` accepted.
const MAX_WIDTH: usize = 255;

/// What characters names may hold.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SafeNames {
    /// Linux, macOS: `/` and NUL are replaced.
    #[default]
    Posix,
    /// Windows and FAT/exFAT drives (players, USB sticks): also
    /// `< > : " \ | ? *` and control characters; names the system reserves
    /// (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9`, with any
    /// extension) get a `_`; outputs differing only in case collide.
    Windows,
}

impl FromStr for SafeNames {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "posix" | "unix" | "linux" => Ok(SafeNames::Posix),
            "windows" | "fat" | "ntfs" => Ok(SafeNames::Windows),
            other => Err(format!(
                "unknown name policy '{other}' (expected posix or windows)"
            )),
        }
    }
}

impl fmt::Display for SafeNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SafeNames::Posix => "posix",
            SafeNames::Windows => "windows",
        })
    }
}

/// A template that does not parse; `position` counts characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("name template {template:?}, at character {position}: {problem}")]
pub struct TemplateError {
    pub template: String,
    pub position: usize,
    pub problem: String,
}

/// A parsed naming template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// One list of pieces per path component, the file name last.
    components: Vec<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Vec<Alternative>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Alternative {
    Literal(String),
    /// A field name in lowercase, and the `:N` width.
    Field {
        name: String,
        width: Option<usize>,
    },
}

/// What a template is rendered from, for one input.
#[derive(Debug, Clone, Copy)]
pub struct NameContext<'a> {
    pub tags: &'a Tags,
    /// The input's file name without its extension.
    pub filename: &'a str,
    /// The output format (its extension is added to the name).
    pub format: Format,
}

impl Template {
    /// Parses `text`.
    ///
    /// # Errors
    /// [`TemplateError`] naming the character where the problem is: an
    /// unclosed `{` or `"`, a `}` without its `{`, an empty field, a width
    /// that is not a number, `{ext}` anywhere but at the end.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Parser {
            text,
            chars: text.chars().collect(),
            at: 0,
        }
        .parse()
    }

    /// The relative path (folders and file name with the format's
    /// extension) for one input. Never empty, never absolute, never with
    /// `.` or `..` components.
    pub fn render(&self, ctx: &NameContext<'_>, safe: SafeNames) -> PathBuf {
        let mut path = PathBuf::new();
        let last = self.components.len().saturating_sub(1);
        let ext = ctx.format.extension();
        for (i, pieces) in self.components.iter().enumerate() {
            let raw: String = pieces.iter().map(|p| render_piece(p, ctx)).collect();
            if i == last {
                let mut stem = safe_name(&raw, safe, ext.len() + 1);
                if stem.is_empty() {
                    stem = safe_name(ctx.filename, safe, ext.len() + 1);
                }
                if stem.is_empty() {
                    stem = "output".into();
                }
                path.push(format!("{stem}.{ext}"));
            } else {
                let name = safe_name(&raw, safe, 0);
                if !name.is_empty() {
                    path.push(name);
                }
            }
        }
        path
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, position: usize, problem: impl Into<String>) -> TemplateError {
        TemplateError {
            template: self.text.to_string(),
            position: position + 1,
            problem: problem.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn parse(mut self) -> Result<Template, TemplateError> {
        if self.chars.iter().all(|c| c.is_whitespace()) {
            return Err(self.error(0, "the template is empty"));
        }
        let mut components = vec![Vec::new()];
        let mut text = String::new();
        let mut ext_at = None;
        while let Some(c) = self.peek() {
            let here = self.at;
            self.at += 1;
            if let Some(at) = ext_at {
                return Err(self.error(
                    at,
                    "{ext} may only end the template (the extension is added anyway)",
                ));
            }
            match c {
                '/' => {
                    flush(&mut components, &mut text);
                    components.push(Vec::new());
                }
                '}' => {
                    return Err(self.error(here, "a } without its { (write {\"}\"} for a brace)"))
                }
                '{' => {
                    flush(&mut components, &mut text);
                    let alternatives = self.field(here)?;
                    if matches!(alternatives.as_slice(), [Alternative::Field { name, .. }] if name == "ext")
                    {
                        ext_at = Some(here);
                    } else if alternatives
                        .iter()
                        .any(|a| matches!(a, Alternative::Field { name, .. } if name == "ext"))
                    {
                        return Err(self.error(
                            here,
                            "{ext} cannot be an alternative (the extension is added anyway)",
                        ));
                    } else if let Some(pieces) = components.last_mut() {
                        pieces.push(Piece::Field(alternatives));
                    }
                }
                c => text.push(c),
            }
        }
        flush(&mut components, &mut text);
        if let Some(at) = ext_at {
            // `….{ext}`: the dot before it goes too, the extension is added.
            let ends_with_dot = match components.last_mut().and_then(|p| p.last_mut()) {
                Some(Piece::Text(t)) if t.ends_with('.') => {
                    t.pop();
                    true
                }
                _ => false,
            };
            if !ends_with_dot {
                return Err(self.error(
                    at,
                    "{ext} is added by itself: end the template with the name, or with .{ext}",
                ));
            }
            if let Some(pieces) = components.last_mut() {
                pieces.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
            }
        }
        if components.last().is_some_and(|p| p.is_empty()) {
            return Err(self.error(
                self.chars.len().saturating_sub(1),
                "the template ends with a folder: add the file name after the last /",
            ));
        }
        Ok(Template { components })
    }

    /// After a `{` at `open`: alternatives up to the closing `}`.
    fn field(&mut self, open: usize) -> Result<Vec<Alternative>, TemplateError> {
        let mut alternatives = Vec::new();
        loop {
            self.skip_spaces();
            let start = self.at;
            let alternative = match self.peek() {
                None => return Err(self.error(open, "a { without its }")),
                Some('"') => {
                    self.at += 1;
                    Alternative::Literal(self.literal(start)?)
                }
                Some(_) => self.named(open, start)?,
            };
            alternatives.push(alternative);
            self.skip_spaces();
            match self.peek() {
                Some('|') => self.at += 1,
                Some('}') => {
                    self.at += 1;
                    return Ok(alternatives);
                }
                None => return Err(self.error(open, "a { without its }")),
                Some(c) => {
                    return Err(self.error(
                        self.at,
                        format!("unexpected {c:?}: expected | or }} after an alternative"),
                    ))
                }
            }
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// After an opening `"` at `start`: the literal's text.
    fn literal(&mut self, start: usize) -> Result<String, TemplateError> {
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error(start, "a \" without its closing \"")),
                Some('"') => {
                    self.at += 1;
                    break;
                }
                Some('\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => {
                            out.push(c);
                            self.at += 1;
                        }
                        _ => out.push('\\'),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
        if self.peek() == Some(':') {
            return Err(self.error(self.at, "a literal takes no :width"));
        }
        Ok(out)
    }

    /// A field name and its optional `:N`, starting at `start`.
    fn named(&mut self, open: usize, start: usize) -> Result<Alternative, TemplateError> {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if matches!(c, '|' | '}' | ':') {
                break;
            }
            if c == '{' || c == '"' || c == '/' || c.is_control() {
                return Err(self.error(self.at, format!("{c:?} cannot be part of a field name")));
            }
            name.push(c);
            self.at += 1;
        }
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(self.error(
                if self.peek().is_some() { start } else { open },
                "an empty field: name a tag, like {title}",
            ));
        }
        let mut width = None;
        if self.peek() == Some(':') {
            self.at += 1;
            let digits_at = self.at;
            let mut digits = String::new();
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                digits.push(c);
                self.at += 1;
            }
            let n = digits
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_WIDTH).contains(n))
                .ok_or_else(|| {
                    self.error(
                        digits_at,
                        format!("after : a width from 1 to {MAX_WIDTH}, like {{track:02}}"),
                    )
                })?;
            width = Some(n);
        }
        Ok(Alternative::Field { name, width })
    }
}

fn flush(components: &mut [Vec<Piece>], text: &mut String) {
    if text.is_empty() {
        return;
    }
    if let Some(pieces) = components.last_mut() {
        pieces.push(Piece::Text(std::mem::take(text)));
    }
}

fn render_piece(piece: &Piece, ctx: &NameContext<'_>) -> String {
    match piece {
        Piece::Text(t) => t.clone(),
        Piece::Field(alternatives) => alternatives
            .iter()
            .map(|a| match a {
                Alternative::Literal(t) => t.clone(),
                Alternative::Field { name, width } => apply_width(&field_value(name, ctx), *width),
            })
            .find(|v| !v.is_empty())
            .unwrap_or_default(),
    }
}

/// Zero-pads a number to `width` digits; keeps the first `width`
/// characters of anything else.
fn apply_width(value: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return value.to_string();
    };
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        format!("{value:0>width$}")
    } else {
        value.chars().take(width).collect()
    }
}

/// The text of field `name` (lowercase) for one input; empty when missing.
pub fn field_value(name: &str, ctx: &NameContext<'_>) -> String {
    let tags = ctx.tags;
    match name {
        "filename" => ctx.filename.to_string(),
        "format" => ctx.format.extension().to_string(),
        "track" | "tracknumber" => number(&joined(tags, &TagKey::TrackNumber)),
        "tracktotal" | "totaltracks" => total(tags, TagKey::TrackTotal, TagKey::TrackNumber),
        "disctotal" | "totaldiscs" => total(tags, TagKey::DiscTotal, TagKey::DiscNumber),
        "disc" | "discnumber" => {
            let disc = number(&joined(tags, &TagKey::DiscNumber));
            let total = total(tags, TagKey::DiscTotal, TagKey::DiscNumber);
            let several = match total.parse::<u64>() {
                Ok(t) => t > 1,
                Err(_) => disc.parse::<u64>().is_ok_and(|d| d > 1),
            };
            if several {
                disc
            } else {
                String::new()
            }
        }
        "year" => {
            let year = joined(tags, &TagKey::Other("YEAR".into()));
            if year.is_empty() {
                joined(tags, &TagKey::Date).chars().take(4).collect()
            } else {
                year
            }
        }
        other => joined(tags, &TagKey::from_name(other)),
    }
}

/// Every value of `key`, trimmed and joined by `, `.
fn joined(tags: &Tags, key: &TagKey) -> String {
    let values: Vec<&str> = tags
        .get_all(key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    values.join(", ")
}

/// `3/12` → `3`, `03` → `3`; text that is not a number stays as it is.
fn number(value: &str) -> String {
    let head = value.split('/').next().unwrap_or_default().trim();
    if !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()) {
        let stripped = head.trim_start_matches('0');
        if stripped.is_empty() {
            "0".into()
        } else {
            stripped.into()
        }
    } else {
        head.to_string()
    }
}

/// A total from its own tag, else from the part after `/` in the number.
fn total(tags: &Tags, total: TagKey, number_key: TagKey) -> String {
    let own = number(&joined(tags, &total));
    if !own.is_empty() {
        return own;
    }
    joined(tags, &number_key)
        .split_once('/')
        .map(|(_, t)| number(t))
        .unwrap_or_default()
}

/// Cleans one rendered name (see the module docs) and makes it safe; the
/// result plus `reserve` bytes fits [`MAX_NAME_BYTES`]. Empty when nothing
/// is left.
pub fn safe_name(raw: &str, safe: SafeNames, reserve: usize) -> String {
    let mut name = clean(raw);
    name = name
        .chars()
        .map(|c| if unsafe_char(c, safe) { '_' } else { c })
        .collect();
    // Not `trim_ends`: a `_` standing for a replaced character stays.
    name = trim_system(&name).to_string();
    if safe == SafeNames::Windows && reserved(&name) {
        let cut = name.find('.').unwrap_or(name.len());
        name.insert(cut, '_');
    }
    let max = MAX_NAME_BYTES.saturating_sub(reserve);
    if name.len() > max {
        let mut cut = max;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
        name = trim_system(&name).to_string();
    }
    name
}

/// Steps 1 to 3 of the cleaning.
fn clean(raw: &str) -> String {
    let mut s = raw.to_string();
    for (open, close) in [('(', ')'), ('[', ']')] {
        while let Some(at) = find_empty_pair(&s, open, close) {
            s.replace_range(at.0..at.1, "");
        }
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    while out.contains(" - - ") {
        out = out.replace(" - - ", " - ");
    }
    trim_ends(&out).to_string()
}

/// Byte range of a bracket pair holding only white space.
fn find_empty_pair(s: &str, open: char, close: char) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(rel) = s.get(from..)?.find(open) {
        let start = from + rel;
        let after = start + open.len_utf8();
        let rest = s.get(after..)?;
        let inner = rest.len() - rest.trim_start().len();
        if rest.get(inner..)?.starts_with(close) {
            return Some((start, after + inner + close.len_utf8()));
        }
        from = after;
    }
    None
}

fn trim_ends(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '_' | ',' | ';' | ':' | '.'))
}

/// White space and dots at the ends, which Windows drops from names.
fn trim_system(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '.')
}

fn unsafe_char(c: char, safe: SafeNames) -> bool {
    match safe {
        SafeNames::Posix => c == '/' || c == '\0',
        SafeNames::Windows => {
            c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
        }
    }
}

/// Names Windows keeps for devices, whatever follows the first dot
/// (Microsoft, "Naming Files, Paths, and Namespaces").
fn reserved(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or_default().trim_end();
    let upper = base.to_uppercase();
    if matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL") {
        return true;
    }
    let mut chars = upper.chars();
    let head: String = chars.by_ref().take(3).collect();
    let tail: Vec<char> = chars.collect();
    (head == "COM" || head == "LPT")
        && matches!(tail.as_slice(), [c] if c.is_ascii_digit() || matches!(c, '¹' | '²' | '³'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(apply_width("3", Some(2)), "03");
        assert_eq!(apply_width("123", Some(2)), "123");
        assert_eq!(apply_width("2024-05-01", Some(4)), "2024");
        assert_eq!(apply_width("", Some(2)), "");
        assert_eq!(number("03/12"), "3");
        assert_eq!(number("000"), "0");
        assert_eq!(number("A1"), "A1");
    }

    #[test]
    fn reserved_names() {
        for n in ["CON", "con", "Aux.x", "COM1", "lpt9", "NUL .txt", "COM¹"] {
            assert!(reserved(n), "{n}");
        }
        for n in ["CONSOLE", "COM10", "LPT", "x.CON", "COMA"] {
            assert!(!reserved(n), "{n}");
        }
    }

    #[test]
    fn empty_brackets_go() {
        assert_eq!(clean("Album ( )"), "Album");
        assert_eq!(clean("A [] (x) ()B"), "A (x) B");
        assert_eq!(clean(" -  - Title"), "Title");
        assert_eq!(clean("A - - - B"), "A - B");
    }
}
