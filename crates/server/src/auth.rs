//! Bearer tokens: required on any address but loopback.
//!
//! A token is 32 random bytes in hex, kept in a file readable by its owner
//! only (0600). Requests carry `Authorization: Bearer TOKEN`; the comparison
//! takes the same time whatever the first wrong byte (RFC 6750 for the
//! header).

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::App;

/// Bytes of randomness in a generated token.
const TOKEN_BYTES: usize = 32;

/// Reads the token in `path`.
///
/// # Errors
/// The file cannot be read, or holds no token.
pub fn read_token(path: &Path) -> io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the token file is empty",
        ));
    }
    Ok(token)
}

/// Reads the token in `path`, or makes one and writes it there (mode 0600).
/// The flag says whether it was made now (to print it once).
///
/// # Errors
/// The file can be neither read nor written.
pub fn load_or_create(path: &Path) -> io::Result<(String, bool)> {
    match read_token(path) {
        Ok(t) => return Ok((t, false)),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let token = generate()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    Ok((token, true))
}

/// Creates `dir` and its missing parents, readable by their owner only
/// (0700), as a folder holding a token and the job store must be. A folder
/// that exists is left as it is.
///
/// # Errors
/// The folder cannot be created.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The permission bits of the file at `path` when its group or others may
/// read or write it (a token anyone on the machine can use); `None` when
/// only its owner may, or it cannot be asked.
pub fn loose_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// A new random token, hex.
///
/// # Errors
/// The system's random source cannot be read.
pub fn generate() -> io::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// True when `given` is `expected`, in time that does not depend on where
/// they differ.
pub fn token_matches(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Middleware: when the server has a token, every request must carry it.
pub async fn require_token(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(expected) = app.token() else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match given {
        Some(t) if token_matches(t, expected) => next.run(req).await,
        Some(_) => {
            eprintln!("aj serve: refused a request with a wrong token");
            ApiError::unauthorized("wrong token").into_response()
        }
        None => ApiError::unauthorized(
            "this server needs a token: send 'Authorization: Bearer TOKEN' (the token is in the server's data folder)",
        )
        .into_response(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_made_once_and_private() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("data/token");
        let (a, made) = load_or_create(&path).unwrap();
        assert!(made);
        assert_eq!(a.len(), TOKEN_BYTES * 2);
        let (b, made) = load_or_create(&path).unwrap();
        assert!(!made);
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_ne!(generate().unwrap(), a);
        assert_eq!(loose_mode(&path), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let dir = std::fs::metadata(t.path().join("data")).unwrap();
            assert_eq!(dir.permissions().mode() & 0o777, 0o700);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(loose_mode(&path), Some(0o644));
        }
    }

    #[test]
    fn comparison() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
        assert!(!token_matches("", "abc"));
    }
}
