//! The variables Kubernetes injects for each Service of the namespace, which land in
//! tinysup's `TINYSUP_*` namespace when a Service is named `tinysup` or `tinysup-…`.
//!
//! For a Service `tinysup-db` the kubelet sets, per port (the first one also without the
//! port number), with the name upper-cased and `-` as `_`:
//!
//! ```text
//! TINYSUP_DB_SERVICE_HOST=10.96.0.5           the cluster IP
//! TINYSUP_DB_SERVICE_PORT=5432                the first port
//! TINYSUP_DB_SERVICE_PORT_<PORT NAME>=5432    each named port
//! TINYSUP_DB_PORT=tcp://10.96.0.5:5432        the first port, Docker links' style
//! TINYSUP_DB_PORT_5432_TCP=tcp://10.96.0.5:5432
//! TINYSUP_DB_PORT_5432_TCP_PROTO=tcp
//! TINYSUP_DB_PORT_5432_TCP_PORT=5432
//! TINYSUP_DB_PORT_5432_TCP_ADDR=10.96.0.5
//! ```
//!
//! (UDP and SCTP ports likewise; an IPv6 address in brackets before a port.) Such a variable
//! is not a tinysup setting, and refusing it would stop every pod of the namespace from
//! starting. So a variable whose name AND value have one of these shapes is recognised, and
//! everything else in `TINYSUP_*` stays an error: `TINYSUP_SERVICE_PORT=http` or
//! `TINYSUP_PORT_80_TCP=udp://…:80` is still a mistake worth stopping for.

use std::net::IpAddr;

/// The protocols of a Service port, as they appear in variable names.
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

/// If `key=value` is a variable the kubelet made for a Service, the Service's name.
pub fn service_of(key: &str, value: &str) -> Option<String> {
    let service = |prefix: &str| service_name(prefix);
    // X_SERVICE_HOST=IP
    if let Some(prefix) = key.strip_suffix("_SERVICE_HOST") {
        if is_ip(value) {
            return service(prefix);
        }
    }
    // X_SERVICE_PORT=N
    if let Some(prefix) = key.strip_suffix("_SERVICE_PORT") {
        if port(value).is_some() {
            return service(prefix);
        }
    }
    // X_SERVICE_PORT_<NAME>=N (the service's name may itself hold _SERVICE_PORT_).
    if port(value).is_some() {
        for (at, _) in key.match_indices("_SERVICE_PORT_") {
            let name = &key[at + "_SERVICE_PORT_".len()..];
            if is_upper_name(name) {
                if let Some(found) = service(&key[..at]) {
                    return Some(found);
                }
            }
        }
    }
    // X_PORT=proto://IP:N
    if let Some(prefix) = key.strip_suffix("_PORT") {
        if address(value).is_some() {
            if let Some(found) = service(prefix) {
                return Some(found);
            }
        }
    }
    // X_PORT_<N>_<PROTO>, and the same with _PROTO, _PORT or _ADDR after it.
    for (field, rest) in [
        ("", Some(key)),
        ("PROTO", key.strip_suffix("_PROTO")),
        ("PORT", key.strip_suffix("_PORT")),
        ("ADDR", key.strip_suffix("_ADDR")),
    ] {
        let Some((prefix, number, protocol)) = rest.and_then(port_name) else {
            continue;
        };
        let fits = match field {
            "" => address(value) == Some((protocol.to_ascii_lowercase(), number)),
            "PROTO" => value == protocol.to_ascii_lowercase(),
            "PORT" => port(value) == Some(number),
            _ => is_ip(value),
        };
        if fits {
            if let Some(found) = service(prefix) {
                return Some(found);
            }
        }
    }
    None
}

/// `X_PORT_<N>_<PROTO>` as (X, N, PROTO).
fn port_name(key: &str) -> Option<(&str, u16, &str)> {
    let (rest, protocol) = key.rsplit_once('_')?;
    if !PROTOCOLS.contains(&protocol) {
        return None;
    }
    let (rest, number) = rest.rsplit_once('_')?;
    let number = port(number)?;
    let prefix = rest.strip_suffix("_PORT")?;
    Some((prefix, number, protocol))
}

/// The Service a variable prefix names: `TINYSUP` is `tinysup`, `TINYSUP_DB` is
/// `tinysup-db`. Service names are lower-case DNS labels, so the prefix is upper-case
/// letters, digits and `_` only.
fn service_name(prefix: &str) -> Option<String> {
    let rest = prefix.strip_prefix("TINYSUP")?;
    if !(rest.is_empty() || rest.strip_prefix('_').is_some_and(is_upper_name)) {
        return None;
    }
    Some(prefix.to_ascii_lowercase().replace('_', "-"))
}

/// Upper-case letters, digits and `_`; not empty.
fn is_upper_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A port number as the kubelet writes it: 1 to 65535, no sign, no leading zero.
fn port(text: &str) -> Option<u16> {
    if text.is_empty() || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&n| n != 0)
}

fn is_ip(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok()
}

/// `tcp://10.0.0.1:80` (or `udp`, `sctp`; IPv6 in brackets, or bare as older kubelets
/// wrote it) as (protocol, port).
fn address(value: &str) -> Option<(String, u16)> {
    let (protocol, host_port) = value.split_once("://")?;
    if !PROTOCOLS.iter().any(|p| p.eq_ignore_ascii_case(protocol))
        || protocol.bytes().any(|b| b.is_ascii_uppercase())
    {
        return None;
    }
    let (host, number) = host_port.rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.strip_suffix(']').filter(|h| h.contains(':'))?,
        None => host,
    };
    if !is_ip(host) {
        return None;
    }
    Some((protocol.to_string(), port(number)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_of_the_kubelet() {
        for (key, value, service) in [
            ("TINYSUP_SERVICE_HOST", "10.96.0.10", "tinysup"),
            ("TINYSUP_SERVICE_PORT", "80", "tinysup"),
            ("TINYSUP_SERVICE_PORT_HTTP", "80", "tinysup"),
            ("TINYSUP_SERVICE_PORT_GRPC_WEB", "8080", "tinysup"),
            ("TINYSUP_PORT", "tcp://10.96.0.10:80", "tinysup"),
            ("TINYSUP_PORT_80_TCP", "tcp://10.96.0.10:80", "tinysup"),
            ("TINYSUP_PORT_80_TCP_PROTO", "tcp", "tinysup"),
            ("TINYSUP_PORT_80_TCP_PORT", "80", "tinysup"),
            ("TINYSUP_PORT_80_TCP_ADDR", "10.96.0.10", "tinysup"),
            ("TINYSUP_PORT_53_UDP", "udp://10.96.0.10:53", "tinysup"),
            ("TINYSUP_PORT_9_SCTP_PROTO", "sctp", "tinysup"),
            ("TINYSUP_DB_SERVICE_HOST", "fd00::5", "tinysup-db"),
            ("TINYSUP_DB_PORT", "tcp://[fd00::5]:5432", "tinysup-db"),
            (
                "TINYSUP_DB_PORT_5432_TCP",
                "tcp://fd00::5:5432",
                "tinysup-db",
            ),
            // Services whose names look like tinysup's own words.
            (
                "TINYSUP_PROGRAM_WEB_SERVICE_HOST",
                "10.0.0.1",
                "tinysup-program-web",
            ),
            ("TINYSUP_PORT_SERVICE_PORT", "80", "tinysup-port"),
            ("TINYSUP_PORT_PORT", "tcp://10.0.0.1:80", "tinysup-port"),
            // Ambiguous (the port "service-port-a" of tinysup, or "a" of tinysup-service-port):
            // a service variable either way; the note names the first reading.
            ("TINYSUP_SERVICE_PORT_SERVICE_PORT_A", "80", "tinysup"),
            ("TINYSUP_2_PORT_80_TCP_PORT", "80", "tinysup-2"),
        ] {
            assert_eq!(
                service_of(key, value).as_deref(),
                Some(service),
                "{key}={value}"
            );
        }
    }

    #[test]
    fn near_misses_are_not_service_variables() {
        for (key, value) in [
            ("TINYSUP_SERVICE_HOST", "tinysup.default"),
            ("TINYSUP_SERVICE_HOST", ""),
            ("TINYSUP_SERVICE_PORT", "http"),
            ("TINYSUP_SERVICE_PORT", "080"),
            ("TINYSUP_SERVICE_PORT", "70000"),
            ("TINYSUP_SERVICE_PORT_http", "80"),
            ("TINYSUP_SERVICE_PORT_", "80"),
            ("TINYSUP_PORT", "10.0.0.1:80"),
            ("TINYSUP_PORT", "http://10.0.0.1:80"),
            ("TINYSUP_PORT", "TCP://10.0.0.1:80"),
            ("TINYSUP_PORT", "tcp://example.com:80"),
            ("TINYSUP_PORT", "tcp://[10.0.0.1]:80"),
            ("TINYSUP_PORT_80_TCP", "udp://10.0.0.1:80"),
            ("TINYSUP_PORT_80_TCP", "tcp://10.0.0.1:81"),
            ("TINYSUP_PORT_80_TCP_PROTO", "udp"),
            ("TINYSUP_PORT_80_TCP_PORT", "81"),
            ("TINYSUP_PORT_80_TCP_ADDR", "localhost"),
            ("TINYSUP_PORT_80_HTTP", "tcp://10.0.0.1:80"),
            ("TINYSUP_PORT_X_TCP_PORT", "80"),
            ("TINYSUP_db_SERVICE_HOST", "10.0.0.1"),
            ("TINYSUP__SERVICE_HOST", "10.0.0.1"),
            ("TINYSUPX_SERVICE_HOST", "10.0.0.1"),
            ("TINYSUP_SERVCE_HOST", "10.0.0.1"),
            ("TINYSUP_SHUTDOWN_TIMEOUT", "10"),
        ] {
            assert_eq!(service_of(key, value), None, "{key}={value}");
        }
    }
}
