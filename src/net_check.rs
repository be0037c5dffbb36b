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

use crate::config::shown::quoted;

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

#[cfg(test)]
mod tests {
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
}
