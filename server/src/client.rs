//! Who is at the other end of a request: the client's address (for the
//! audit log and the sign-in limits) and whether it reached us over TLS
//! (for the session cookie's `Secure`).
//!
//! `X-Forwarded-For` and `X-Forwarded-Proto` are honoured only when the
//! peer is a trusted proxy (`--trusted-proxy`): from anyone else they are
//! whatever the client chose to write, and would let it pick its own
//! address (dodging the per-address limits, forging the audit's "from
//! where"). Behind trusted proxies the client is the rightmost address in
//! `X-Forwarded-For` that is not itself a trusted proxy.

use crate::api::SharedState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// One trusted proxy: an address, or a network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for ProxyNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an IP address or a CIDR network (10.0.0.0/8)");
        let (a, p) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?
        };
        Ok(ProxyNet { addr, prefix })
    }
}

impl ProxyNet {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.addr), ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address that arrived mapped into IPv6 is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<ProxyNet>);

impl TrustedProxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }
}

/// The client of one request, in its extensions (see [`tag`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    pub addr: Option<IpAddr>,
    /// Reached over TLS (as a trusted proxy says).
    pub https: bool,
}

/// The client of a request from its peer and headers.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &TrustedProxies) -> Client {
    let Some(peer) = peer.map(canonical) else {
        return Client {
            addr: None,
            https: false,
        };
    };
    if !proxies.trusts(peer) {
        return Client {
            addr: Some(peer),
            https: false,
        };
    }
    let list = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut addr = peer;
    for hop in list("x-forwarded-for").iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        addr = ip;
        if !proxies.trusts(ip) {
            break;
        }
    }
    // The nearest proxy's word on the scheme.
    let https = list("x-forwarded-proto")
        .last()
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Client {
        addr: Some(addr),
        https,
    }
}

/// Middleware: puts the request's [`Client`] in its extensions.
pub async fn tag(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    let client = resolve(peer, req.headers(), &state.access.trusted_proxies);
    req.extensions_mut().insert(client);
    next.run(req).await
}

/// The request's client, as [`tag`] found it.
pub fn of(req: &Request) -> Client {
    req.extensions().get::<Client>().copied().unwrap_or(Client {
        addr: None,
        https: false,
    })
}

/// The client's address as text, for the audit log.
pub fn address(req: &Request) -> Option<String> {
    of(req).addr.map(|a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn forwarded_headers_only_from_trusted_proxies() {
        let proxies = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let fwd = h(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        let c = resolve(Some(stranger), &fwd, &proxies);
        assert_eq!(c.addr, Some(stranger), "a stranger cannot pick its address");
        assert!(!c.https, "nor claim TLS");
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let c = resolve(Some(proxy), &fwd, &proxies);
        assert_eq!(
            c.addr,
            Some("203.0.113.9".parse().unwrap()),
            "the rightmost untrusted hop"
        );
        assert!(c.https);
        // A chain of trusted proxies is walked through.
        let chain = h(&[("x-forwarded-for", "203.0.113.9, 10.9.9.9")]);
        let c = resolve(Some(proxy), &chain, &proxies);
        assert_eq!(c.addr, Some("203.0.113.9".parse().unwrap()));
        let c = resolve(Some(proxy), &HeaderMap::new(), &proxies);
        assert_eq!((c.addr, c.https), (Some(proxy), false));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(proxies.trusts(canonical(mapped)));
    }

    #[test]
    fn parses_networks() {
        assert!("127.0.0.1".parse::<ProxyNet>().is_ok());
        assert!("::1".parse::<ProxyNet>().is_ok());
        assert!("fd00::/8".parse::<ProxyNet>().is_ok());
        assert!("10.0.0.0/33".parse::<ProxyNet>().is_err());
        assert!("nope".parse::<ProxyNet>().is_err());
        let all: ProxyNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
    }
}
