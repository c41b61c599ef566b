//! Who sent a request: the socket's peer, unless that peer is a proxy the configuration trusts
//! (`http.trusted_proxies`); then the right-most address in the proxy's forwarding header that is
//! not itself a trusted proxy. Anyone can send `X-Forwarded-For`: only a trusted proxy's word
//! about the client counts, and only for the hop that proxy added.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::HttpRequest;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// The header a trusted proxy writes the client's address into.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (ingress-nginx and most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239: `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl ForwardedHeader {
    fn name(self) -> HeaderName {
        match self {
            ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ForwardedHeader::Forwarded => HeaderName::from_static("forwarded"),
        }
    }
}

/// Addresses and CIDR ranges of the proxies in front of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// An entry of `http.trusted_proxies` that is neither an IP address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("http.trusted_proxies: {0:?} is neither an IP address nor a CIDR range")]
pub struct BadProxyEntry(pub String);

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `192.0.2.7`, `fd00::/8`, `::1`; blank entries are skipped (an empty
    /// environment variable means none).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadProxyEntry> {
        let mut nets = Vec::new();
        for entry in entries.iter().map(|e| e.as_ref().trim()).filter(|e| !e.is_empty()) {
            let net = IpNet::from_str(entry)
                .map(|net| net.trunc())
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .map_err(|_| BadProxyEntry(entry.to_string()))?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address) is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(deserializer)?;
        TrustedProxies::parse(&entries).map_err(serde::de::Error::custom)
    }
}

/// The `[http]` keys about proxies (every key has a default: no proxy is trusted).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProxySettings {
    /// Proxies whose forwarding header is believed. Empty: none, the client is the peer.
    #[serde(default)]
    pub trusted_proxies: TrustedProxies,
    /// Where those proxies put the client's address (`x-forwarded-for` or `forwarded`). Only
    /// this header is read: one the proxy does not set passes through from the client unchecked.
    #[serde(default)]
    pub forwarded_header: ForwardedHeader,
}

/// Where a request came from, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress {
    /// The socket's peer: the only address nobody can forge by sending a header.
    pub peer: Option<SocketAddr>,
    /// The client: the peer's address, or what a trusted proxy said the client was.
    pub client: Option<IpAddr>,
}

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.client {
            Some(client) => write!(f, "{client}"),
            None => f.write_str("unknown"),
        }
    }
}

impl ProxySettings {
    /// Where `request` came from.
    pub fn client_of(&self, request: &HttpRequest) -> ClientAddress {
        let peer = request.peer_addr();
        let client = peer.map(|peer| self.client_ip(peer.ip(), request.headers()));
        ClientAddress { peer, client }
    }

    /// The client's address, for a request from `peer` with `headers`: `peer` itself unless it
    /// is a trusted proxy; else, reading the forwarding header from the right, the first address
    /// that is not a trusted proxy (all trusted: the left-most). An entry that is not an address
    /// (`unknown`, garbage, an obfuscated node) ends the walk at the last trusted hop: nothing
    /// to its left was written by anyone we trust.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusted_proxies.contains(peer) {
            return peer;
        }
        let hops = forwarded_hops(self.forwarded_header, headers);
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            let Some(hop) = hop else { return client };
            client = hop.to_canonical();
            if !self.trusted_proxies.contains(client) {
                return client;
            }
        }
        client
    }
}

/// The addresses in `header`, left (first sent) to right (added last), over every occurrence of
/// the header in order; `None` for an entry that is not an address.
fn forwarded_hops(header: ForwardedHeader, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(header.name()) {
        let Ok(text) = value.to_str() else {
            hops.push(None);
            continue;
        };
        // Elements are split at every comma, quoted or not: a quoted comma can only come from the
        // left of the header, which is read only once everything to its right is trusted.
        for element in text.split(',') {
            let node = match header {
                ForwardedHeader::XForwardedFor => Some(element),
                ForwardedHeader::Forwarded => forwarded_for(element),
            };
            hops.push(node.and_then(node_address));
        }
    }
    hops
}

/// The `for=` parameter of one RFC 7239 element (`for=192.0.2.60;proto=http;by=203.0.113.43`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value)
    })
}

/// An address from a node: `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, optionally quoted. `unknown` and obfuscated names are not addresses.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    let node = node.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(node).trim();
    if let Ok(ip) = IpAddr::from_str(node) {
        return Some(ip);
    }
    if let Ok(socket) = SocketAddr::from_str(node) {
        return Some(socket.ip());
    }
    let bracketed = node.strip_prefix('[')?.strip_suffix(']')?;
    IpAddr::from_str(bracketed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_static(name), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn trusting(entries: &[&str], header: ForwardedHeader) -> ProxySettings {
        ProxySettings {
            trusted_proxies: TrustedProxies::parse(entries).unwrap(),
            forwarded_header: header,
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let forged = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
            ("x-real-ip", "203.0.113.9"),
        ]);
        for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            let nobody = trusting(&[], header);
            assert_eq!(nobody.client_ip(ip("198.51.100.4"), &forged), ip("198.51.100.4"));
            let other = trusting(&["10.0.0.0/8"], header);
            assert_eq!(other.client_ip(ip("198.51.100.4"), &forged), ip("198.51.100.4"));
        }
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let proxies = trusting(&["10.0.0.0/8", "192.0.2.1"], ForwardedHeader::XForwardedFor);
        let peer = ip("10.1.2.3");
        // The client forged the first entry; the proxy appended what it saw.
        let sent = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.4")]);
        assert_eq!(proxies.client_ip(peer, &sent), ip("198.51.100.4"));
        // Through two trusted proxies.
        let sent = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.4, 192.0.2.1")]);
        assert_eq!(proxies.client_ip(peer, &sent), ip("198.51.100.4"));
        // Occurrences of the header are read in order, as one list.
        let sent = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.4, 10.9.9.9"),
        ]);
        assert_eq!(proxies.client_ip(peer, &sent), ip("198.51.100.4"));
        // Every hop trusted: the left-most.
        let sent = headers(&[("x-forwarded-for", "10.0.0.7, 192.0.2.1")]);
        assert_eq!(proxies.client_ip(peer, &sent), ip("10.0.0.7"));
        // No header: the proxy itself.
        assert_eq!(proxies.client_ip(peer, &HeaderMap::new()), peer);
        // The other header is not read.
        let sent = headers(&[("forwarded", "for=203.0.113.9")]);
        assert_eq!(proxies.client_ip(peer, &sent), peer);
    }

    #[test]
    fn an_entry_that_is_not_an_address_stops_the_walk_at_the_last_trusted_hop() {
        let proxies = trusting(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let peer = ip("10.1.2.3");
        let sent = headers(&[("x-forwarded-for", "203.0.113.9, garbage")]);
        assert_eq!(proxies.client_ip(peer, &sent), peer);
        let sent = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.8")]);
        assert_eq!(proxies.client_ip(peer, &sent), ip("10.0.0.8"));
        let sent = headers(&[("x-forwarded-for", "")]);
        assert_eq!(proxies.client_ip(peer, &sent), peer);
        let mut raw = HeaderMap::new();
        raw.append(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_bytes(b"203.0.113.9\xff").unwrap(),
        );
        assert_eq!(proxies.client_ip(peer, &raw), peer);
    }

    #[test]
    fn rfc_7239_forwarded_elements_are_read_when_configured() {
        let proxies = trusting(&["10.0.0.0/8", "fd00::/8"], ForwardedHeader::Forwarded);
        let peer = ip("10.1.2.3");
        let sent = headers(&[(
            "forwarded",
            "for=203.0.113.9, for=\"[2001:db8::17]:4711\";proto=https;by=10.0.0.1, For=fd00::5",
        )]);
        assert_eq!(proxies.client_ip(peer, &sent), ip("2001:db8::17"));
        let sent = headers(&[("forwarded", "proto=https;for=198.51.100.4:8080")]);
        assert_eq!(proxies.client_ip(peer, &sent), ip("198.51.100.4"));
        // An obfuscated or undisclosed hop ends the walk.
        let sent = headers(&[("forwarded", "for=203.0.113.9, for=_hidden")]);
        assert_eq!(proxies.client_ip(peer, &sent), peer);
        let sent = headers(&[("forwarded", "for=203.0.113.9, proto=https")]);
        assert_eq!(proxies.client_ip(peer, &sent), peer);
        // X-Forwarded-For is not read.
        let sent = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(proxies.client_ip(peer, &sent), peer);
    }

    #[test]
    fn ipv4_mapped_peers_and_hops_count_as_their_ipv4_address() {
        let proxies = trusting(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let sent = headers(&[("x-forwarded-for", "::ffff:198.51.100.4")]);
        assert_eq!(proxies.client_ip(ip("::ffff:10.1.2.3"), &sent), ip("198.51.100.4"));
        assert_eq!(proxies.client_ip(ip("::ffff:198.51.100.9"), &sent), ip("198.51.100.9"));
    }

    #[test]
    fn nodes_parse_with_ports_brackets_and_quotes() {
        assert_eq!(node_address(" 192.0.2.60 "), Some(ip("192.0.2.60")));
        assert_eq!(node_address("192.0.2.60:4711"), Some(ip("192.0.2.60")));
        assert_eq!(node_address("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(node_address("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(node_address("\"[2001:db8::1]:4711\""), Some(ip("2001:db8::1")));
        for junk in ["unknown", "_hidden", "", "[]", "1.2.3", "example.com", "\"", "[::1"] {
            assert_eq!(node_address(junk), None, "{junk}");
        }
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_ranges_and_refuse_anything_else() {
        let proxies = TrustedProxies::parse(&["10.1.2.3/8", "192.0.2.7", " ::1 ", ""]).unwrap();
        assert!(proxies.contains(ip("10.200.0.1")), "a host bit in the range is ignored");
        assert!(proxies.contains(ip("192.0.2.7")));
        assert!(!proxies.contains(ip("192.0.2.8")));
        assert!(proxies.contains(ip("::1")));
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert_eq!(
            TrustedProxies::parse(&["proxy.internal"]).unwrap_err(),
            BadProxyEntry("proxy.internal".into())
        );
        assert!(TrustedProxies::parse::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_settings_deserialize_with_defaults_and_refuse_bad_entries() {
        let none: ProxySettings = serde_json::from_str("{}").unwrap();
        assert!(none.trusted_proxies.is_empty());
        assert_eq!(none.forwarded_header, ForwardedHeader::XForwardedFor);
        let some: ProxySettings = serde_json::from_str(
            r#"{"trusted_proxies": ["10.0.0.0/8"], "forwarded_header": "forwarded"}"#,
        )
        .unwrap();
        assert!(some.trusted_proxies.contains(ip("10.3.3.3")));
        assert_eq!(some.forwarded_header, ForwardedHeader::Forwarded);
        let bad = serde_json::from_str::<ProxySettings>(r#"{"trusted_proxies": ["nope"]}"#);
        assert!(bad.unwrap_err().to_string().contains("\"nope\""));
    }
}
