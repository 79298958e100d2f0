//! `aj serve`: the daemon on port 3643.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;

use aj_server::port::{self, System};
use aj_server::{auth, App, Config};
use anyhow::Context;

use crate::cli::ServeArgs;
use crate::Outcome;

/// `HOST`, `HOST:PORT` or `[IPv6]:PORT`; the port defaults to 3643.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, aj_server::DEFAULT_PORT));
    }
    let with_port = if s.contains(':') {
        s.to_string()
    } else {
        format!("{s}:{}", aj_server::DEFAULT_PORT)
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("--listen {s}: not an address (HOST, HOST:PORT or [IPv6]:PORT)"))
}

/// `$XDG_DATA_HOME/audiojuggler`, else `~/.local/share/audiojuggler`.
fn default_data_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|h| h.join(".local/share"))
    })?;
    Some(base.join("audiojuggler"))
}

/// The token file the server uses: the one given, else on any address but
/// loopback `DATA/token`; none on loopback without `--token-file`.
fn token_path(
    addr: SocketAddr,
    token_file: Option<&std::path::Path>,
    data_dir: &std::path::Path,
) -> Option<PathBuf> {
    match (token_file, addr.ip().to_canonical().is_loopback()) {
        (Some(f), _) => Some(f.to_path_buf()),
        (None, false) => Some(data_dir.join("token")),
        (None, true) => None,
    }
}

/// Binds `addr`; when it is taken, names who holds it.
fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let holders = port::tcp_listeners(&System::default(), addr.port()).unwrap_or_default();
            let mut msg = format!("cannot listen on {addr}: port {} is taken", addr.port());
            if holders.is_empty() {
                msg.push_str(" (by a process this system does not show)");
            } else {
                msg.push_str(" by:");
                for h in &holders {
                    for line in h.to_string().lines() {
                        msg.push_str("\n  ");
                        msg.push_str(line);
                    }
                }
            }
            msg.push_str("\nStop it, or choose another address with --listen.");
            Err(anyhow::anyhow!(msg))
        }
        Err(e) => Err(e).with_context(|| format!("cannot listen on {addr}")),
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<Outcome> {
    let addr = match parse_listen(&args.listen) {
        Ok(a) => a,
        Err(e) => return Ok(Outcome::Usage(e)),
    };
    let Some(data_dir) = args.data.clone().or_else(default_data_dir) else {
        return Ok(Outcome::Usage(
            "no data folder: give --data DIR (or set HOME)".into(),
        ));
    };
    let token_path = token_path(addr, args.token_file.as_deref(), &data_dir);

    // Bound first: a start that fails (the port is taken) makes no token
    // that nobody is shown.
    let listener = bind(addr)?;
    let local = listener.local_addr().context("the listening address")?;
    let mut made_token = None;
    let token = match &token_path {
        Some(path) => {
            if let Some(mode) = auth::loose_mode(path) {
                eprintln!(
                    "aj serve: warning: the token file {} can be read by other users (mode {mode:03o}): anyone on this machine can use the server; make it private with: chmod 600 {}",
                    path.display(),
                    path.display()
                );
            }
            let (token, made) = auth::load_or_create(path)
                .with_context(|| format!("token file {}", path.display()))?;
            if made {
                made_token = Some(token.clone());
            }
            Some(token)
        }
        None => None,
    };
    let app = App::open(Config {
        libraries: args.libraries.clone(),
        data_dir: data_dir.clone(),
        token,
        max_encoders: args.encoders.unwrap_or(0),
        drives: args.drives.clone(),
    });
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            // A token made now and never shown would stay unknown: gone
            // with the failed start, made again by the next one.
            if let (Some(_), Some(path)) = (&made_token, &token_path) {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
    };

    let mut out = std::io::stdout().lock();
    writeln!(out, "aj serve: listening on http://{local}")?;
    if app.library.roots().is_empty() {
        writeln!(
            out,
            "aj serve: no library folder: jobs will be refused (give --library DIR)"
        )?;
    }
    for root in app.library.roots() {
        writeln!(out, "aj serve: library {}", root.display())?;
    }
    writeln!(out, "aj serve: data in {}", data_dir.display())?;
    if app.manager.drives().discovered() {
        let found = app.manager.drives().entries();
        if found.is_empty() {
            writeln!(
                out,
                "aj serve: no CD drive found (give --drive SPEC, e.g. --drive demo)"
            )?;
        }
    }
    for d in app.manager.drives().entries() {
        writeln!(out, "aj serve: drive {} ({})", d.id, d.spec)?;
    }
    if let (Some(t), Some(path)) = (&made_token, &token_path) {
        writeln!(
            out,
            "aj serve: a token was made and kept in {} (readable by you only); it is shown only now:\n  {t}\nSend it as 'Authorization: Bearer TOKEN'.",
            path.display()
        )?;
    } else if let Some(path) = &token_path {
        writeln!(
            out,
            "aj serve: requests need the token in {}",
            path.display()
        )?;
    }
    out.flush()?;
    drop(out);

    aj_server::run_until_signal(listener, app)?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("127.0.0.1:3643"),
            Ok("127.0.0.1:3643".parse().unwrap())
        );
        assert_eq!(parse_listen("0.0.0.0").map(|a| a.port()), Ok(3643));
        assert_eq!(parse_listen("::1").map(|a| a.port()), Ok(3643));
        assert_eq!(parse_listen("[::1]:8000").map(|a| a.port()), Ok(8000));
        assert!(parse_listen("not an address!").is_err());
    }

    #[test]
    fn a_token_is_required_beyond_loopback() {
        let data = std::path::Path::new("data");
        let at = |a: &str| token_path(a.parse().unwrap(), None, data);
        assert_eq!(at("0.0.0.0:3643"), Some(data.join("token")));
        assert_eq!(at("192.168.1.2:3643"), Some(data.join("token")));
        assert_eq!(at("[::]:3643"), Some(data.join("token")));
        assert_eq!(at("127.0.0.1:3643"), None);
        assert_eq!(at("[::1]:3643"), None);
        let given = std::path::Path::new("my-token");
        assert_eq!(
            token_path("127.0.0.1:1".parse().unwrap(), Some(given), data),
            Some(given.to_path_buf())
        );
    }
}
