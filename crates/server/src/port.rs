//! Who holds a port: the sockets listening on it (TCP) or bound to it (UDP),
//! over IPv4 and IPv6, and the processes that own them.
//!
//! On Linux everything comes from `/proc`: the socket tables in
//! `/proc/net/{tcp,tcp6,udp,udp6}` (proc(5)) give each socket's local address,
//! state, owner uid and inode; the links in `/proc/PID/fd` (`socket:[INODE]`)
//! tie inodes to processes. Processes whose descriptors we may not read (other
//! users' without privilege) are reported as unknown, never as an error.
//!
//! The service registered for a port comes from IANA's registry for 3643
//! (AudioJuggler) and from the system's services database (services(5))
//! for the others, where it has them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::DEFAULT_PORT;

/// TCP state `LISTEN` as the kernel numbers it in `/proc/net/tcp*`
/// (include/net/tcp_states.h: `TCP_LISTEN = 10`).
const TCP_LISTEN: u8 = 0x0A;

/// What can go wrong while looking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// None of the socket tables could be read (not Linux, or `/proc` missing).
    #[error("cannot read the socket tables in {path} ({source}); aj port needs Linux's /proc")]
    NoSocketTables { path: PathBuf, source: io::Error },
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One row of a `/proc/net/{tcp,udp}[6]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEntry {
    pub protocol: Protocol,
    pub address: IpAddr,
    pub port: u16,
    /// The kernel's state number (`0A` = listen for TCP, `07` = unconnected for UDP).
    pub state: u8,
    pub uid: u32,
    pub inode: u64,
}

/// A process that holds a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    /// The short name (`/proc/PID/comm`).
    pub name: String,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// The command line, one argument per element (empty for kernel threads).
    pub command: Vec<String>,
}

/// A socket listening on (TCP) or bound to (UDP) the port asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub protocol: Protocol,
    pub address: IpAddr,
    pub port: u16,
    /// The socket's owner.
    pub uid: u32,
    pub user: Option<String>,
    pub inode: u64,
    /// Every process that has the socket open (several after a fork).
    pub processes: Vec<Process>,
    /// Why no process is named, when none is: `"no permission"` when some
    /// processes could not be inspected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// A service registered for a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    pub protocols: Vec<Protocol>,
    pub description: Option<String>,
    /// `"iana"` (built in) or `"services"` (the system's services database).
    pub source: &'static str,
}

/// What `aj port` says about one port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortReport {
    pub port: u16,
    pub service: Option<Service>,
    pub listeners: Vec<Listener>,
}

/// Where to look: the live system, or a copy of its files (tests).
#[derive(Debug, Clone)]
pub struct System {
    pub proc: PathBuf,
    pub passwd: PathBuf,
    pub services: PathBuf,
}

impl Default for System {
    fn default() -> Self {
        System {
            proc: PathBuf::from("/proc"),
            passwd: PathBuf::from("/etc/passwd"),
            services: PathBuf::from("/etc/services"),
        }
    }
}

/// Looks up every port in `ports` on `system`.
///
/// # Errors
/// [`Error::NoSocketTables`] when none of the four socket tables can be read.
pub fn scan(system: &System, ports: &[u16]) -> Result<Vec<PortReport>, Error> {
    let wanted: HashSet<u16> = ports.iter().copied().collect();
    let sockets: Vec<SocketEntry> = read_tables(&system.proc)?
        .into_iter()
        .filter(|s| wanted.contains(&s.port) && holds_port(s))
        .collect();
    let inodes: HashSet<u64> = sockets.iter().map(|s| s.inode).collect();
    let owners = socket_owners(&system.proc, &inodes);
    let users = std::fs::read_to_string(&system.passwd)
        .map(|t| parse_passwd(&t))
        .unwrap_or_default();
    let services = std::fs::read_to_string(&system.services).unwrap_or_default();

    let mut seen = HashSet::new();
    let mut reports = Vec::new();
    for &port in ports {
        if !seen.insert(port) {
            continue;
        }
        let mut listeners: Vec<Listener> = sockets
            .iter()
            .filter(|s| s.port == port)
            .map(|s| {
                let processes: Vec<Process> = owners
                    .pids
                    .get(&s.inode)
                    .map(|pids| {
                        pids.iter()
                            .map(|&pid| process(&system.proc, pid, &users))
                            .collect()
                    })
                    .unwrap_or_default();
                let unknown = if !processes.is_empty() {
                    None
                } else if owners.denied {
                    Some("no permission".to_string())
                } else {
                    Some("not found".to_string())
                };
                Listener {
                    protocol: s.protocol,
                    address: s.address,
                    port: s.port,
                    uid: s.uid,
                    user: users.get(&s.uid).cloned(),
                    inode: s.inode,
                    processes,
                    unknown,
                }
            })
            .collect();
        listeners.sort_by(|a, b| {
            (a.protocol, a.address.is_ipv6(), a.address, a.inode).cmp(&(
                b.protocol,
                b.address.is_ipv6(),
                b.address,
                b.inode,
            ))
        });
        reports.push(PortReport {
            port,
            service: service(port, &services),
            listeners,
        });
    }
    Ok(reports)
}

/// The TCP listeners on `port` (what stops a server from binding it).
///
/// # Errors
/// As [`scan`].
pub fn tcp_listeners(system: &System, port: u16) -> Result<Vec<Listener>, Error> {
    Ok(scan(system, &[port])?
        .into_iter()
        .flat_map(|r| r.listeners)
        .filter(|l| l.protocol == Protocol::Tcp)
        .collect())
}

/// A TCP socket holds its port when listening; a UDP socket whenever bound.
fn holds_port(s: &SocketEntry) -> bool {
    match s.protocol {
        Protocol::Tcp => s.state == TCP_LISTEN,
        Protocol::Udp => true,
    }
}

/// Reads the four tables; a missing IPv6 table (IPv6 disabled) is no error.
fn read_tables(proc: &Path) -> Result<Vec<SocketEntry>, Error> {
    let mut all = Vec::new();
    let mut first_error = None;
    let mut any = false;
    for (file, protocol) in [
        ("tcp", Protocol::Tcp),
        ("tcp6", Protocol::Tcp),
        ("udp", Protocol::Udp),
        ("udp6", Protocol::Udp),
    ] {
        let path = proc.join("net").join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                any = true;
                all.extend(parse_table(&text, protocol));
            }
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some((path, e));
                }
            }
        }
    }
    match (any, first_error) {
        (false, Some((path, source))) => Err(Error::NoSocketTables { path, source }),
        _ => Ok(all),
    }
}

/// Parses one `/proc/net/{tcp,udp}[6]` table (proc(5)). Lines that do not
/// parse (the header, anything unexpected) are passed over.
pub fn parse_table(text: &str, protocol: Protocol) -> Vec<SocketEntry> {
    text.lines()
        .filter_map(|line| parse_line(line, protocol))
        .collect()
}

fn parse_line(line: &str, protocol: Protocol) -> Option<SocketEntry> {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = fields.get(1)?;
    let state = u8::from_str_radix(fields.get(3)?, 16).ok()?;
    let uid = fields.get(7)?.parse().ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    let (addr, port) = local.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let address = parse_address(addr)?;
    Some(SocketEntry {
        protocol,
        address,
        port,
        state,
        uid,
        inode,
    })
}

/// The kernel prints an address as 32-bit words in host byte order, in hex:
/// one word for IPv4, four for IPv6.
fn parse_address(hex: &str) -> Option<IpAddr> {
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_ne_bytes);
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(hex)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(hex.get(i * 8..i * 8 + 8)?)?);
            }
            let v6 = Ipv6Addr::from(bytes);
            Some(IpAddr::V6(v6))
        }
        _ => None,
    }
}

/// Which processes hold which of `inodes`, and whether some process could
/// not be inspected.
#[derive(Debug, Default)]
struct Owners {
    pids: HashMap<u64, Vec<u32>>,
    denied: bool,
}

fn socket_owners(proc: &Path, inodes: &HashSet<u64>) -> Owners {
    let mut owners = Owners::default();
    if inodes.is_empty() {
        return owners;
    }
    let Ok(entries) = std::fs::read_dir(proc) else {
        owners.denied = true;
        return owners;
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let fd_dir = proc.join(pid.to_string()).join("fd");
        let fds = match std::fs::read_dir(&fd_dir) {
            Ok(fds) => fds,
            Err(e) => {
                // A process that ended meanwhile is no secret; anything else is.
                if e.kind() != io::ErrorKind::NotFound {
                    owners.denied = true;
                }
                continue;
            }
        };
        let mut found = HashSet::new();
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = target.to_str().and_then(socket_inode) else {
                continue;
            };
            if inodes.contains(&inode) && found.insert(inode) {
                owners.pids.entry(inode).or_default().push(pid);
            }
        }
    }
    owners
}

/// `socket:[12345]` → 12345.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn process(proc: &Path, pid: u32, users: &HashMap<u32, String>) -> Process {
    let dir = proc.join(pid.to_string());
    let name = std::fs::read_to_string(dir.join("comm"))
        .map(|s| s.trim_end_matches('\n').to_string())
        .unwrap_or_default();
    let command = std::fs::read(dir.join("cmdline"))
        .map(|b| parse_cmdline(&b))
        .unwrap_or_default();
    let uid = std::fs::read_to_string(dir.join("status"))
        .ok()
        .and_then(|s| status_uid(&s));
    Process {
        pid,
        name,
        uid,
        user: uid.and_then(|u| users.get(&u).cloned()),
        command,
    }
}

/// `/proc/PID/cmdline`: arguments separated (and ended) by NUL bytes.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The real uid from `/proc/PID/status` (`Uid:\treal\teffective\tsaved\tfs`).
pub fn status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// uid → user name, from passwd(5) text.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut users = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(uid) = uid.parse() {
            users.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    users
}

/// The service registered for `port`: AudioJuggler's own for 3643, else the
/// entries of the services(5) text, when there are any.
pub fn service(port: u16, services: &str) -> Option<Service> {
    if port == DEFAULT_PORT {
        // IANA Service Name and Transport Protocol Port Number Registry:
        // audiojuggler 3643 tcp and udp, "AudioJuggler", registered 2002-11.
        return Some(Service {
            name: "audiojuggler".into(),
            protocols: vec![Protocol::Tcp, Protocol::Udp],
            description: Some("AudioJuggler: a suite of audio utilities".into()),
            source: "iana",
        });
    }
    // name port/proto [aliases…] [# comment]
    let mut found: BTreeMap<String, (Vec<Protocol>, Option<String>)> = BTreeMap::new();
    let mut order = Vec::new();
    for line in services.lines() {
        let (entry, comment) = match line.split_once('#') {
            Some((e, c)) => (e, Some(c.trim()).filter(|c| !c.is_empty())),
            None => (line, None),
        };
        let mut f = entry.split_whitespace();
        let (Some(name), Some(pp)) = (f.next(), f.next()) else {
            continue;
        };
        let Some((p, proto)) = pp.split_once('/') else {
            continue;
        };
        if p.parse::<u16>().ok() != Some(port) {
            continue;
        }
        let proto = match proto.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => continue,
        };
        let slot = found.entry(name.to_string()).or_insert_with(|| {
            order.push(name.to_string());
            (Vec::new(), None)
        });
        if !slot.0.contains(&proto) {
            slot.0.push(proto);
        }
        if slot.1.is_none() {
            slot.1 = comment.map(str::to_string);
        }
    }
    let name = order.into_iter().next()?;
    let (mut protocols, description) = found.remove(&name)?;
    protocols.sort();
    Some(Service {
        name,
        protocols,
        description,
        source: "services",
    })
}

impl fmt::Display for Process {
    /// `pid 1234 aj (user root): aj serve --listen …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} {}", self.pid, self.name)?;
        match (&self.user, self.uid) {
            (Some(u), _) => write!(f, " (user {u})")?,
            (None, Some(uid)) => write!(f, " (uid {uid})")?,
            (None, None) => {}
        }
        if !self.command.is_empty() {
            let args: Vec<String> = self.command.iter().map(|a| shell_word(a)).collect();
            write!(f, ": {}", args.join(" "))?;
        }
        Ok(())
    }
}

/// An argument as a reader can take it back: plain when it is plain, quoted
/// with escapes when it holds spaces, quotes or control characters.
fn shell_word(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '"' | '\'' | '\\'))
    {
        arg.to_string()
    } else {
        format!("{arg:?}")
    }
}

impl fmt::Display for Listener {
    /// `3643/tcp  127.0.0.1  pid 1234 aj (user root): aj serve`, one line per
    /// process holding the socket.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = format!("{}/{}  {}", self.port, self.protocol, self.address);
        if self.processes.is_empty() {
            let owner = match &self.user {
                Some(u) => format!("user {u}"),
                None => format!("uid {}", self.uid),
            };
            let why = self.unknown.as_deref().unwrap_or("not found");
            return write!(
                f,
                "{head}  process unknown ({why}), socket owned by {owner}"
            );
        }
        for (i, p) in self.processes.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{head}  {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Captured from a Linux 6.x machine (x86-64, little-endian), trimmed.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0E3B 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0E3B 0100007F:A2C4 01 00000000:00000000 02:000A7D8F 00000000  1000        0 5555 2 0000000000000000 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0E3B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000200A8C0:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0
";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 00000000:0E3B 00000000:0000 07 00000000:00000000 00:00000000 00000000   105        0 777 2 0000000000000000 0
";

    #[test]
    fn tcp_table_rows_parse() {
        let rows = parse_table(TCP, Protocol::Tcp);
        assert_eq!(rows.len(), 3, "the header is passed over");
        assert_eq!(
            rows[0],
            SocketEntry {
                protocol: Protocol::Tcp,
                address: "127.0.0.1".parse().unwrap(),
                port: 3643,
                state: TCP_LISTEN,
                uid: 1000,
                inode: 4242,
            }
        );
        assert_eq!(rows[1].address, "0.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(rows[1].port, 22);
        assert!(holds_port(&rows[0]));
        assert!(
            !holds_port(&rows[2]),
            "an established connection holds no port"
        );
    }

    #[test]
    fn tcp6_addresses_are_host_order_words() {
        let rows = parse_table(TCP6, Protocol::Tcp);
        assert_eq!(rows[0].address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(rows[0].port, 3643);
        assert_eq!(
            rows[1].address,
            "::ffff:192.168.0.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(rows[1].port, 8080);
    }

    #[test]
    fn udp_bound_sockets_hold_their_port() {
        let rows = parse_table(UDP, Protocol::Udp);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].port, 3643);
        assert_eq!(rows[0].uid, 105);
        assert!(holds_port(&rows[0]));
    }

    #[test]
    fn garbage_lines_are_passed_over() {
        let text = "nonsense\n 0: ZZZZ:0E3B 0:0 0A x x x 0 0 1\n 0: 0100007F:0E3B\n\n";
        assert!(parse_table(text, Protocol::Tcp).is_empty());
    }

    #[test]
    fn small_parsers() {
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(
            parse_cmdline(b"aj\0serve\0--listen\x000.0.0.0:3643\0"),
            ["aj", "serve", "--listen", "0.0.0.0:3643"]
        );
        assert!(parse_cmdline(b"").is_empty());
        assert_eq!(shell_word("--listen"), "--listen");
        assert_eq!(shell_word("two words\n"), "\"two words\\n\"");
        assert_eq!(
            status_uid("Name:\taj\nUid:\t1000\t1000\t1000\t1000\n"),
            Some(1000)
        );
        let users = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbad\nann:x:1000:1000::/home/ann:/bin/sh\n",
        );
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&1000).map(String::as_str), Some("ann"));
    }

    #[test]
    fn services_database() {
        let db = "# comment\nssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol\nhttp-alt\t8080/tcp\twebcache\t# WWW caching service\nhttp-alt 8080/udp\n";
        let s = service(22, db).unwrap();
        assert_eq!(s.name, "ssh");
        assert_eq!(s.protocols, [Protocol::Tcp]);
        assert_eq!(s.description.as_deref(), Some("SSH Remote Login Protocol"));
        let s = service(8080, db).unwrap();
        assert_eq!(s.protocols, [Protocol::Tcp, Protocol::Udp]);
        assert!(service(9, db).is_none());
        let aj = service(3643, "").unwrap();
        assert_eq!(aj.name, "audiojuggler");
        assert_eq!(aj.source, "iana");
    }

    /// A copy of /proc in a folder: socket tables, one process that holds the
    /// listening socket, one whose descriptors cannot be read.
    #[test]
    fn scan_of_a_fake_proc() {
        let t = tempfile::tempdir().unwrap();
        let proc = t.path().join("proc");
        std::fs::create_dir_all(proc.join("net")).unwrap();
        std::fs::write(proc.join("net/tcp"), TCP).unwrap();
        std::fs::write(proc.join("net/tcp6"), TCP6).unwrap();
        std::fs::write(proc.join("net/udp"), UDP).unwrap();
        // no udp6: IPv6 UDP table missing is fine
        let p = proc.join("1234");
        std::fs::create_dir_all(p.join("fd")).unwrap();
        std::os::unix::fs::symlink("socket:[4242]", p.join("fd/3")).unwrap();
        std::os::unix::fs::symlink("/dev/null", p.join("fd/0")).unwrap();
        std::fs::write(p.join("comm"), "aj\n").unwrap();
        std::fs::write(p.join("cmdline"), b"aj\0serve\0").unwrap();
        std::fs::write(
            p.join("status"),
            "Name:\taj\nUid:\t1000\t1000\t1000\t1000\n",
        )
        .unwrap();
        let passwd = t.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0::/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\n",
        )
        .unwrap();
        let system = System {
            proc,
            passwd,
            services: t.path().join("no-services"),
        };
        let reports = scan(&system, &[3643, 3643, 4000]).unwrap();
        assert_eq!(reports.len(), 2, "a port asked twice is reported once");
        let r = &reports[0];
        assert_eq!(r.port, 3643);
        assert_eq!(r.service.as_ref().unwrap().name, "audiojuggler");
        let kinds: Vec<(Protocol, String)> = r
            .listeners
            .iter()
            .map(|l| (l.protocol, l.address.to_string()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Protocol::Tcp, "127.0.0.1".to_string()),
                (Protocol::Tcp, "::1".to_string()),
                (Protocol::Udp, "0.0.0.0".to_string()),
            ]
        );
        let v4 = &r.listeners[0];
        assert_eq!(v4.processes.len(), 1);
        assert_eq!(v4.processes[0].pid, 1234);
        assert_eq!(v4.processes[0].user.as_deref(), Some("ann"));
        assert_eq!(
            v4.to_string(),
            "3643/tcp  127.0.0.1  pid 1234 aj (user ann): aj serve"
        );
        assert!(r.listeners[1].processes.is_empty());
        assert_eq!(r.listeners[1].unknown.as_deref(), Some("not found"));
        assert!(reports[1].listeners.is_empty());
        assert!(reports[1].service.is_none());
    }

    #[test]
    fn no_proc_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let system = System {
            proc: t.path().join("nothing"),
            ..System::default()
        };
        let e = scan(&system, &[3643]).unwrap_err();
        assert!(e.to_string().contains("/proc"), "{e}");
    }
}
