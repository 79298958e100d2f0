//! The rip log's seal: a SHA-256 of the log's own text on its last line, so
//! that a log passed around later can be shown to be unedited
//! (`aj rip --check-log FILE`).
//!
//! The seal line is `==== Log checksum SHA-256 <64 hex digits> ====`; the
//! digest covers every byte before that line (UTF-8, line ends as written).
//! Unlike EAC's log checksum it is not a secret: it proves a log was not
//! edited by accident or by a careless hand, not that AudioJuggler wrote it.

use sha2::{Digest, Sha256};

const PREFIX: &str = "==== Log checksum SHA-256 ";
const SUFFIX: &str = " ====";

/// `text` with its seal line appended (a newline is added first if `text`
/// does not end with one).
pub fn seal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 100);
    out.push_str(text);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let digest = hex(&Sha256::digest(out.as_bytes()));
    out.push_str(PREFIX);
    out.push_str(&digest);
    out.push_str(SUFFIX);
    out.push('\n');
    out
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogCheck {
    /// The seal matches the text.
    Intact,
    /// The text was changed after sealing.
    Modified { expected: String, actual: String },
    /// No seal line at the end.
    Unsealed,
}

/// Checks a sealed log. Trailing blank lines after the seal are ignored;
/// anything else after it counts as an edit.
pub fn check(text: &[u8]) -> LogCheck {
    let trimmed_len = text
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    let body = &text[..trimmed_len];
    let line_start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = String::from_utf8_lossy(&body[line_start..]);
    let line = line.trim_end_matches('\r');
    let Some(expected) = line
        .strip_prefix(PREFIX)
        .and_then(|r| r.strip_suffix(SUFFIX))
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return LogCheck::Unsealed;
    };
    let actual = hex(&Sha256::digest(&body[..line_start]));
    if actual.eq_ignore_ascii_case(expected) {
        LogCheck::Intact
    } else {
        LogCheck::Modified {
            expected: expected.to_ascii_lowercase(),
            actual,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_text_checks() {
        let log = seal("AudioJuggler rip log\nTrack 1 CRC 12345678\n");
        assert_eq!(check(log.as_bytes()), LogCheck::Intact);
        // Known digest: SHA-256 of "a\n".
        let sealed = seal("a");
        assert!(sealed.starts_with("a\n==== Log checksum SHA-256 87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7 ====\n"), "{sealed}");
        // CRLF line ends (a log opened in an editor that keeps them) still
        // check when the text was not edited.
        let crlf = seal("a\r\nb\r\n");
        assert_eq!(check(crlf.as_bytes()), LogCheck::Intact);
        // Trailing blank lines are ignored.
        assert_eq!(check(format!("{log}\n\n").as_bytes()), LogCheck::Intact);
    }

    #[test]
    fn edits_are_caught() {
        let log = seal("Track 1 CRC 12345678\nAccurately ripped: no\n");
        let edited = log.replace("no", "yes");
        assert!(matches!(
            check(edited.as_bytes()),
            LogCheck::Modified { .. }
        ));
        assert_eq!(check(b"no seal here\n"), LogCheck::Unsealed);
        assert_eq!(check(b""), LogCheck::Unsealed);
        let appended = format!("{log}Extra line\n");
        assert_eq!(check(appended.as_bytes()), LogCheck::Unsealed);
    }
}
