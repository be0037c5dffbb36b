//! Probes of kind `tcp` and `http`: one attempt is a [`NetCheck`], a non-blocking state
//! machine whose socket the loop polls.
//!
//! Nothing here blocks: the connect is started non-blocking (`EINPROGRESS`) and finished
//! when the socket is writable (`SO_ERROR`); the request is sent and the reply read only as
//! far as the socket takes and gives without waiting. An http check reads up to the end of
//! the status line and stops: headers and body are never waited for. Timeouts are the
//! caller's: at its deadline it drops the check, which closes the socket.
//!
//! No name lookups (they would block, and a container's resolver is often not what a probe
//! means): targets are IP literals (`127.0.0.1`, `[::1]`) or `localhost` (= 127.0.0.1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, SockaddrStorage, connect, getpeername, getsockopt,
    recv, send, socket, sockopt,
};

use crate::config::shown::quoted;

/// The longest status line read (with its CRLF); a longer one is an error.
pub const STATUS_LINE_MAX: usize = 1024;

/// A validated tcp target, from `{"tcp": "127.0.0.1:5432"}`.
pub fn parse_tcp(text: &str) -> Result<SocketAddr, String> {
    parse_authority(text, None)
}

/// A validated http target, from `{"http": "http://127.0.0.1:8080/health"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    pub addr: SocketAddr,
    /// The Host header's value, as written (`127.0.0.1:8080`).
    pub host: String,
    /// The request target: `/` when the URL has no path; includes the query.
    pub path: String,
}

pub fn parse_http(text: &str) -> Result<HttpTarget, String> {
    let shown = quoted(text);
    let scheme = text.find("://").map(|end| &text[..end]);
    let rest = match scheme {
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => &text[7..],
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => {
            return Err(
                "https is not supported (tinysup has no TLS): use a command probe, \
                 e.g. {\"command\": [\"curl\", \"-fsS\", \"URL\"]}"
                    .to_string(),
            );
        }
        _ => return Err(format!("{shown}: the URL must start with http://")),
    };
    if text.contains('#') {
        return Err(format!("{shown}: a fragment (#...) is not allowed"));
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(split);
    if host.contains('@') {
        return Err(format!("{shown}: user info (user@) is not supported"));
    }
    if path.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(format!(
            "{shown}: the path has a space, a control or a non-ASCII character \
             (percent-encode it, e.g. %20)"
        ));
    }
    let path = match path.as_bytes().first() {
        None => "/".to_string(),
        Some(b'?') => format!("/{path}"),
        Some(_) => path.to_string(),
    };
    Ok(HttpTarget {
        addr: parse_authority(host, Some(80))?,
        host: host.to_string(),
        path,
    })
}

/// `host:port` with the host an IP literal (`[v6]`) or `localhost`; without a port (or
/// with an empty one), `default` if there is one.
fn parse_authority(text: &str, default: Option<u16>) -> Result<SocketAddr, String> {
    let shown = quoted(text);
    let (host, port) = match text.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, rest)) => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("{shown}: expected :port after ]")),
            },
            None => return Err(format!("{shown}: missing ] after the IPv6 address")),
        },
        None => match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(format!(
                    "{shown}: an IPv6 address must be in brackets, e.g. \"[::1]:80\""
                ));
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    let ip = if text.starts_with('[') {
        host.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    };
    let port = match (port.filter(|p| !p.is_empty()), default) {
        (Some(port), _) => parse_port(port, &shown)?,
        (None, Some(default)) => default,
        (None, None) => return Err(format!("missing port in {shown}")),
    };
    match ip {
        Some(ip) => Ok(SocketAddr::new(ip, port)),
        None => Err(format!(
            "{shown}: the host must be an IP address or localhost (no name lookups)"
        )),
    }
}

fn parse_port(port: &str, shown: &str) -> Result<u16, String> {
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{shown}: the port {} is not a number",
            quoted(port)
        ));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "port {} is out of range (1-65535)",
            crate::config::shown::name(port)
        )),
    }
}

/// Where an attempt stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Pending,
    /// Ready, or why not, in words for the log (`connection refused`, `HTTP 503`).
    Done(Result<(), String>),
}

#[derive(Debug)]
enum Stage {
    Connecting,
    Sending,
    Receiving,
    Finished(Result<(), String>),
}

/// One attempt in flight. Dropping it closes its socket.
#[derive(Debug)]
pub struct NetCheck {
    socket: OwnedFd,
    stage: Stage,
    /// The http request, sent up to `sent`; empty for a tcp check (done once connected).
    request: Vec<u8>,
    sent: usize,
    /// The reply so far: at most [`STATUS_LINE_MAX`] bytes.
    reply: Vec<u8>,
}

impl NetCheck {
    /// Starts connecting to `addr`. It may succeed or fail at once: [`NetCheck::advance`]
    /// says so without waiting. An error here is only one making a socket (EMFILE).
    pub fn tcp(addr: SocketAddr) -> Result<NetCheck, String> {
        NetCheck::start(addr, Vec::new())
    }

    /// Starts a `GET` of `target`; ready when the status is 200-399 (redirects are not
    /// followed).
    pub fn http(target: &HttpTarget) -> Result<NetCheck, String> {
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tinysup\r\nConnection: close\r\n\r\n",
            target.path, target.host
        );
        NetCheck::start(target.addr, request.into_bytes())
    }

    fn start(addr: SocketAddr, request: Vec<u8>) -> Result<NetCheck, String> {
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::Inet,
            SocketAddr::V6(_) => AddressFamily::Inet6,
        };
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        let socket = socket(family, SockType::Stream, flags, None)
            .map_err(|error| format!("cannot make a socket: {}", describe(error)))?;
        let mut check = NetCheck {
            socket,
            stage: Stage::Connecting,
            request,
            sent: 0,
            reply: Vec::new(),
        };
        match connect(check.socket.as_raw_fd(), &SockaddrStorage::from(addr)) {
            Ok(()) => check.stage = check.connected(),
            // EINTR: the connect goes on in the background, as with EINPROGRESS.
            Err(Errno::EINPROGRESS | Errno::EINTR) => {}
            Err(error) => check.stage = failed(error),
        }
        Ok(check)
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// What to poll for: POLLOUT while connecting or sending, POLLIN while reading; nothing
    /// once done.
    pub fn interest(&self) -> PollFlags {
        match self.stage {
            Stage::Connecting | Stage::Sending => PollFlags::POLLOUT,
            Stage::Receiving => PollFlags::POLLIN,
            Stage::Finished(_) => PollFlags::empty(),
        }
    }

    /// Goes as far as it can without blocking. Called when poll says the socket is ready,
    /// or at any time (it then finds nothing to do, and says Pending). Once done, it says
    /// the same result again.
    pub fn advance(&mut self) -> Progress {
        loop {
            let next = match &self.stage {
                Stage::Connecting => self.connecting(),
                Stage::Sending => self.sending(),
                Stage::Receiving => self.receiving(),
                Stage::Finished(result) => return Progress::Done(result.clone()),
            };
            match next {
                Some(stage) => self.stage = stage,
                None => return Progress::Pending,
            }
        }
    }

    /// The next stage, or None to wait for the socket.
    fn connecting(&self) -> Option<Stage> {
        match getsockopt(&self.socket, sockopt::SocketError) {
            Ok(0) => {}
            Ok(code) => return Some(failed(Errno::from_raw(code))),
            Err(error) => return Some(failed(error)),
        }
        // No error yet: connected, or still connecting (when called before poll said so).
        match getpeername::<SockaddrStorage>(self.socket.as_raw_fd()) {
            Ok(_) => Some(self.connected()),
            Err(Errno::ENOTCONN) => None,
            Err(error) => Some(failed(error)),
        }
    }

    fn connected(&self) -> Stage {
        if self.request.is_empty() {
            Stage::Finished(Ok(()))
        } else {
            Stage::Sending
        }
    }

    fn sending(&mut self) -> Option<Stage> {
        let rest = &self.request[self.sent..];
        match send(self.socket.as_raw_fd(), rest, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => {
                self.sent += n;
                Some(if self.sent == self.request.len() {
                    Stage::Receiving
                } else {
                    Stage::Sending
                })
            }
            Err(Errno::EINTR) => Some(Stage::Sending),
            Err(Errno::EAGAIN) => None,
            Err(error) => Some(failed(error)),
        }
    }

    fn receiving(&mut self) -> Option<Stage> {
        let mut chunk = [0; STATUS_LINE_MAX];
        let room = STATUS_LINE_MAX - self.reply.len();
        match recv(
            self.socket.as_raw_fd(),
            &mut chunk[..room],
            MsgFlags::empty(),
        ) {
            Ok(0) => Some(Stage::Finished(Err(
                "connection closed before a status line".to_string(),
            ))),
            Ok(n) => {
                self.reply.extend_from_slice(&chunk[..n]);
                Some(status(&self.reply).map_or(Stage::Receiving, Stage::Finished))
            }
            Err(Errno::EINTR) => Some(Stage::Receiving),
            Err(Errno::EAGAIN) => None,
            Err(error) => Some(failed(error)),
        }
    }
}

/// What the reply so far says: None while the status line is incomplete (and could still
/// be one).
fn status(reply: &[u8]) -> Option<Result<(), String>> {
    let not_http = || {
        let line = reply.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Err(format!(
            "not HTTP: {}",
            quoted(&String::from_utf8_lossy(line))
        ))
    };
    if !reply.starts_with(&b"HTTP/"[..reply.len().min(5)]) {
        return Some(not_http());
    }
    let Some(end) = reply.iter().position(|&b| b == b'\n') else {
        return (reply.len() == STATUS_LINE_MAX).then(|| {
            Err(format!(
                "the status line is longer than {STATUS_LINE_MAX} bytes"
            ))
        });
    };
    // "HTTP/1.1 200 OK": a version, a space, three digits, then a space or the end.
    let line = &reply[5..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut words = line.split(|&b| b == b' ');
    let version = words.next().unwrap_or_default();
    let code = words.next().unwrap_or_default();
    if version.is_empty()
        || !version.iter().all(|&b| b.is_ascii_digit() || b == b'.')
        || code.len() != 3
        || !code.iter().all(u8::is_ascii_digit)
    {
        return Some(not_http());
    }
    let code = code
        .iter()
        .fold(0u16, |sum, &digit| sum * 10 + u16::from(digit - b'0'));
    Some(if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP {code}"))
    })
}

fn failed(error: Errno) -> Stage {
    Stage::Finished(Err(describe(error)))
}

/// `Connection refused` as `connection refused`, for a message.
fn describe(error: Errno) -> String {
    let mut text = error.desc().to_string();
    if let Some(first) = text.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use nix::poll::{PollFd, PollTimeout, poll};

    use super::*;

    #[test]
    fn parses_tcp_targets() {
        let good = [
            ("127.0.0.1:5432", "127.0.0.1:5432"),
            ("localhost:80", "127.0.0.1:80"),
            ("LocalHost:80", "127.0.0.1:80"),
            ("[::1]:8080", "[::1]:8080"),
            ("0.0.0.0:1", "0.0.0.0:1"),
            ("10.1.2.3:65535", "10.1.2.3:65535"),
        ];
        for (text, addr) in good {
            assert_eq!(parse_tcp(text), Ok(addr.parse().unwrap()), "{text}");
        }
        let bad = [
            (
                "db:5432",
                "\"db:5432\": the host must be an IP address or localhost (no name lookups)",
            ),
            ("127.0.0.1:70000", "port 70000 is out of range (1-65535)"),
            ("127.0.0.1:0", "port 0 is out of range (1-65535)"),
            ("127.0.0.1", "missing port in \"127.0.0.1\""),
            ("127.0.0.1:", "missing port in \"127.0.0.1:\""),
            ("[::1]", "missing port in \"[::1]\""),
            (
                "127.0.0.1:http",
                "\"127.0.0.1:http\": the port \"http\" is not a number",
            ),
            (
                "127.0.0.1:-1",
                "\"127.0.0.1:-1\": the port \"-1\" is not a number",
            ),
            (
                "::1:80",
                "\"::1:80\": an IPv6 address must be in brackets, e.g. \"[::1]:80\"",
            ),
            ("[::1:80", "\"[::1:80\": missing ] after the IPv6 address"),
            ("[::1]80", "\"[::1]80\": expected :port after ]"),
            (
                "[127.0.0.1]:80",
                "\"[127.0.0.1]:80\": the host must be an IP address or localhost (no name lookups)",
            ),
            (
                "127.1:80",
                "\"127.1:80\": the host must be an IP address or localhost (no name lookups)",
            ),
            (
                ":80",
                "\":80\": the host must be an IP address or localhost (no name lookups)",
            ),
            (
                "[fe80::1%eth0]:80",
                "\"[fe80::1%eth0]:80\": the host must be an IP address or localhost (no name lookups)",
            ),
        ];
        for (text, error) in bad {
            assert_eq!(parse_tcp(text), Err(error.to_string()), "{text}");
        }
    }

    #[test]
    fn parses_http_targets() {
        let good = [
            (
                "http://127.0.0.1:8080/health",
                "127.0.0.1:8080",
                "127.0.0.1:8080",
                "/health",
            ),
            ("http://127.0.0.1", "127.0.0.1:80", "127.0.0.1", "/"),
            (
                "http://localhost:9000/",
                "127.0.0.1:9000",
                "localhost:9000",
                "/",
            ),
            ("HTTP://[::1]/a/b?x=1&y", "[::1]:80", "[::1]", "/a/b?x=1&y"),
            ("http://[::1]:81?ready", "[::1]:81", "[::1]:81", "/?ready"),
            ("http://10.0.0.1:/%20x", "10.0.0.1:80", "10.0.0.1:", "/%20x"),
        ];
        for (text, addr, host, path) in good {
            let target = HttpTarget {
                addr: addr.parse().unwrap(),
                host: host.to_string(),
                path: path.to_string(),
            };
            assert_eq!(parse_http(text), Ok(target), "{text}");
        }
        let bad = [
            (
                "https://127.0.0.1/",
                "https is not supported (tinysup has no TLS): use a command probe, \
                 e.g. {\"command\": [\"curl\", \"-fsS\", \"URL\"]}",
            ),
            (
                "ftp://127.0.0.1/",
                "\"ftp://127.0.0.1/\": the URL must start with http://",
            ),
            (
                "127.0.0.1:8080/health",
                "\"127.0.0.1:8080/health\": the URL must start with http://",
            ),
            (
                "http://user:pw@127.0.0.1/",
                "\"http://user:pw@127.0.0.1/\": user info (user@) is not supported",
            ),
            (
                "http://127.0.0.1/#top",
                "\"http://127.0.0.1/#top\": a fragment (#...) is not allowed",
            ),
            (
                "http://127.0.0.1/a b",
                "\"http://127.0.0.1/a b\": the path has a space, a control or a non-ASCII \
                 character (percent-encode it, e.g. %20)",
            ),
            (
                "http://127.0.0.1/a\r\nX: y",
                "\"http://127.0.0.1/a\\r\\nX: y\": the path has a space, a control or a \
                 non-ASCII character (percent-encode it, e.g. %20)",
            ),
            (
                "http://127.0.0.1/é",
                "\"http://127.0.0.1/é\": the path has a space, a control or a non-ASCII \
                 character (percent-encode it, e.g. %20)",
            ),
            (
                "http://127.0.0.1:99999/",
                "port 99999 is out of range (1-65535)",
            ),
            (
                "http://web:8080/health",
                "\"web:8080\": the host must be an IP address or localhost (no name lookups)",
            ),
            (
                "http:///health",
                "\"\": the host must be an IP address or localhost (no name lookups)",
            ),
        ];
        for (text, error) in bad {
            assert_eq!(parse_http(text), Err(error.to_string()), "{text}");
        }
    }

    /// Advances `check`, polling its socket, until it is done or `limit` passes.
    fn drive(check: &mut NetCheck, limit: Duration) -> Progress {
        let deadline = Instant::now() + limit;
        loop {
            let progress = check.advance();
            let left = deadline.saturating_duration_since(Instant::now());
            if progress != Progress::Pending || left.is_zero() {
                return progress;
            }
            let mut fds = [PollFd::new(check.fd(), check.interest())];
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            poll(&mut fds, PollTimeout::from(millis.max(1))).unwrap();
        }
    }

    const LIMIT: Duration = Duration::from_secs(5);

    fn done(result: Result<(), &str>) -> Progress {
        Progress::Done(result.map_err(str::to_string))
    }

    #[test]
    fn tcp_connects_to_a_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut check = NetCheck::tcp(listener.local_addr().unwrap()).unwrap();
        assert_eq!(drive(&mut check, LIMIT), done(Ok(())));
        assert_eq!(check.advance(), done(Ok(())), "the result stays");
        assert_eq!(check.interest(), PollFlags::empty());
    }

    #[test]
    fn tcp_to_a_closed_port_is_refused() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut check = NetCheck::tcp(addr).unwrap();
        assert_eq!(drive(&mut check, LIMIT), done(Err("connection refused")));
    }

    #[test]
    fn tcp_and_http_over_ipv6() {
        let listener = match TcpListener::bind("[::1]:0") {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("skipped: cannot bind [::1]: {error}");
                return;
            }
        };
        let mut check = NetCheck::tcp(listener.local_addr().unwrap()).unwrap();
        assert_eq!(drive(&mut check, LIMIT), done(Ok(())));
        drop(check);
        drop(listener.accept().unwrap());
        let (_listener, mut check, mut server) = serve(listener);
        server
            .write_all(b"HTTP/1.0 204 No Content\r\n\r\n")
            .unwrap();
        assert_eq!(drive(&mut check, LIMIT), done(Ok(())));
    }

    /// The request as the server reads it (up to its blank line).
    fn read_request(server: &mut TcpStream) -> String {
        server.set_read_timeout(Some(LIMIT)).unwrap();
        let mut request = Vec::new();
        let mut byte = [0];
        while !request.ends_with(b"\r\n\r\n") {
            assert_eq!(
                server.read(&mut byte).unwrap(),
                1,
                "the request ended early"
            );
            request.push(byte[0]);
        }
        String::from_utf8(request).unwrap()
    }

    /// A listener, a started http check of `/health?x` on it, and the server's side of the
    /// connection, its request read.
    fn serve(listener: TcpListener) -> (TcpListener, NetCheck, TcpStream) {
        let url = format!("http://{}/health?x", listener.local_addr().unwrap());
        let mut check = NetCheck::http(&parse_http(&url).unwrap()).unwrap();
        // Connected and the request sent: loopback needs no accept for either.
        let deadline = Instant::now() + LIMIT;
        while check.advance() == Progress::Pending && check.interest() != PollFlags::POLLIN {
            assert!(Instant::now() < deadline, "the request was not sent");
            poll(&mut [PollFd::new(check.fd(), check.interest())], 100u16).unwrap();
        }
        assert_eq!(check.interest(), PollFlags::POLLIN);
        let (mut server, _) = listener.accept().unwrap();
        let request = read_request(&mut server);
        let expected = format!(
            "GET /health?x HTTP/1.1\r\nHost: {}\r\nUser-Agent: tinysup\r\n\
             Connection: close\r\n\r\n",
            listener.local_addr().unwrap()
        );
        assert_eq!(request, expected);
        (listener, check, server)
    }

    fn loopback() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").unwrap()
    }

    fn answer(reply: &[u8]) -> Progress {
        let (_listener, mut check, mut server) = serve(loopback());
        server.write_all(reply).unwrap();
        drive(&mut check, LIMIT)
    }

    #[test]
    fn http_statuses() {
        let rows: [(&[u8], Result<(), &str>); 10] = [
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Ok(())),
            (
                b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\r\n",
                Ok(()),
            ),
            (b"HTTP/1.1 399\r\n", Ok(())),
            (b"HTTP/1.1 503 Service Unavailable\r\n\r\n", Err("HTTP 503")),
            (b"HTTP/1.1 404 Not Found\n", Err("HTTP 404")),
            (b"HTTP/1.1 199 Odd\r\n", Err("HTTP 199")),
            (
                b"SSH-2.0-OpenSSH_9.6\r\n",
                Err("not HTTP: \"SSH-2.0-OpenSSH_9.6\""),
            ),
            (
                b"garbage without a newline",
                Err("not HTTP: \"garbage without a newline\""),
            ),
            (
                b"HTTP/1.1 2000 OK\r\n",
                Err("not HTTP: \"HTTP/1.1 2000 OK\""),
            ),
            (b"HTTP/x 200 OK\r\n", Err("not HTTP: \"HTTP/x 200 OK\"")),
        ];
        for (reply, result) in rows {
            let shown = String::from_utf8_lossy(reply);
            assert_eq!(answer(reply), done(result), "{shown}");
        }
    }

    #[test]
    fn http_status_line_too_long() {
        let mut reply = b"HTTP/1.1 200 ".to_vec();
        reply.resize(3000, b'x');
        assert_eq!(
            answer(&reply),
            done(Err("the status line is longer than 1024 bytes"))
        );
    }

    #[test]
    fn http_status_line_in_two_writes() {
        let (_listener, mut check, mut server) = serve(loopback());
        server.write_all(b"HTTP/1.1 2").unwrap();
        assert_eq!(
            drive(&mut check, Duration::from_millis(50)),
            Progress::Pending
        );
        server.write_all(b"00 OK\r\n\r\n").unwrap();
        assert_eq!(drive(&mut check, LIMIT), done(Ok(())));
    }

    #[test]
    fn http_closed_early() {
        let (_listener, mut check, server) = serve(loopback());
        drop(server);
        assert_eq!(
            drive(&mut check, LIMIT),
            done(Err("connection closed before a status line"))
        );
        let (_listener, mut check, mut server) = serve(loopback());
        server.write_all(b"HTTP/1.1 20").unwrap();
        drop(server);
        assert_eq!(
            drive(&mut check, LIMIT),
            done(Err("connection closed before a status line"))
        );
    }

    #[test]
    fn http_to_a_closed_port_is_refused() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let target = parse_http(&format!("http://{addr}/")).unwrap();
        let mut check = NetCheck::http(&target).unwrap();
        assert_eq!(drive(&mut check, LIMIT), done(Err("connection refused")));
    }

    #[test]
    fn a_silent_server_never_blocks_and_dropping_closes() {
        let (_listener, mut check, mut server) = serve(loopback());
        for _ in 0..3 {
            let started = Instant::now();
            assert_eq!(check.advance(), Progress::Pending);
            assert!(
                started.elapsed() < Duration::from_millis(100),
                "advance waited"
            );
        }
        assert_eq!(
            drive(&mut check, Duration::from_millis(100)),
            Progress::Pending
        );
        // The caller's deadline: dropping the check closes the connection.
        drop(check);
        let mut rest = Vec::new();
        assert_eq!(server.read_to_end(&mut rest).unwrap(), 0);
    }

    #[test]
    fn a_connect_in_progress_is_pending_until_it_completes() {
        // A full accept queue drops SYNs: connects to it stay in progress.
        let listener = loopback();
        nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(0).unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        let mut check = loop {
            assert!(queued.len() < 8, "the accept queue never filled");
            let mut check = NetCheck::tcp(addr).unwrap();
            if drive(&mut check, Duration::from_millis(50)) == Progress::Pending {
                break check;
            }
            queued.push(check);
        };
        let started = Instant::now();
        assert_eq!(check.advance(), Progress::Pending);
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "advance waited"
        );
        assert_eq!(check.interest(), PollFlags::POLLOUT);
        // Room in the queue: the SYN's retransmission (after about a second) gets in.
        for _ in &queued {
            drop(listener.accept().unwrap());
        }
        assert_eq!(drive(&mut check, LIMIT), done(Ok(())));
    }
}
