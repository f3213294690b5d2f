//! Who is calling, by address: the client IP behind trusted proxies, and
//! allow/deny lists of networks (CIDR, IPv4 and IPv6).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The header reverse proxies append the client address to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address. `X-Forwarded-For` is believed only when the peer is
/// a trusted proxy, and then only as far back as the chain stays trusted:
/// walking from the right (the hop our proxy added), the first address that
/// is not itself a trusted proxy is the client. Anything a client writes
/// into the header itself sits further left and is never reached.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if !contains(trusted, peer) {
        return peer;
    }
    let hops = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !contains(trusted, client) {
                    break;
                }
            }
            // A hop our proxies did not write correctly: stop at the last
            // address they vouch for.
            Err(_) => break,
        }
    }
    client
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) match IPv4 rules.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub fn contains(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|n| n.contains(&ip))
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It is in a deny list.
    Denied,
    /// An allow list exists and it is not in it.
    NotAllowed,
}

/// Deny wins over allow; an empty allow list allows every address.
pub fn check(allow: &[IpNet], deny: &[IpNet], ip: IpAddr) -> Result<(), Refusal> {
    if contains(deny, ip) {
        Err(Refusal::Denied)
    } else if !allow.is_empty() && !contains(allow, ip) {
        Err(Refusal::NotAllowed)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().expect("cidr")).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(FORWARDED_FOR, HeaderValue::from_str(value).expect("value"));
        h
    }

    #[test]
    fn forwarded_for_needs_a_trusted_peer() {
        let h = xff("203.0.113.9");
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn spoofed_hops_left_of_the_client_are_ignored() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client wrote "1.1.1.1"; our proxies appended the real address.
        let h = xff("1.1.1.1, 203.0.113.9, 10.0.0.7");
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        let h = xff("garbage, 203.0.113.9");
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        let h = xff("203.0.113.9, garbage");
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn ipv6_and_mapped_addresses() {
        let allow = nets(&["2001:db8::/32", "192.0.2.0/24"]);
        assert_eq!(check(&allow, &[], ip("2001:db8::1")), Ok(()));
        assert_eq!(
            check(&allow, &[], ip("2001:db9::1")),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(check(&allow, &[], ip("::ffff:192.0.2.7")), Ok(()));
        let deny = nets(&["2001:db8:1::/48"]);
        assert_eq!(
            check(&allow, &deny, ip("2001:db8:1::5")),
            Err(Refusal::Denied)
        );
    }
}
