//! Which addresses this server may connect to on a relying party's behalf: pure rules,
//! no I/O.
//!
//! A relying party names URLs the server itself calls (`jwks_uri`,
//! `backchannel_logout_uri`). Whoever can register or rebind such a name could
//! otherwise point the server at its own loopback services, the cloud metadata service
//! (169.254.169.254), or the private network behind it (server-side request forgery).
//! The rule is an allowlist for IPv6 (global unicast 2000::/3 only, minus its special
//! blocks) and a denylist of the IANA special-purpose registry for IPv4. IPv6 forms
//! that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that
//! address, so `[::ffff:127.0.0.1]` is loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused; shown to operators (registration errors, logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    #[error("a loopback address")]
    Loopback,
    #[error("an unspecified address")]
    Unspecified,
    #[error("a link-local address (this includes cloud metadata services)")]
    LinkLocal,
    #[error("a private address (RFC 1918)")]
    Private,
    #[error("a shared carrier-grade NAT address (RFC 6598)")]
    SharedAddressSpace,
    #[error("a unique-local address (RFC 4193)")]
    UniqueLocal,
    #[error("a multicast address")]
    Multicast,
    #[error("the broadcast address")]
    Broadcast,
    #[error("a documentation address")]
    Documentation,
    #[error("a reserved or special-purpose address")]
    Reserved,
}

/// `Err` when this server must not connect to `ip`.
pub fn check(ip: IpAddr) -> Result<(), Forbidden> {
    match ip {
        IpAddr::V4(v4) => check_v4(v4),
        IpAddr::V6(v6) => check_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn check_v4(ip: Ipv4Addr) -> Result<(), Forbidden> {
    use Forbidden::*;
    // RFC 6890 and the IANA IPv4 special-purpose registry.
    let rules: [([u8; 4], u32, Forbidden); 17] = [
        ([0, 0, 0, 0], 8, Unspecified), // "this network"; 0.0.0.0 reaches the host itself
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedAddressSpace),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved), // IETF protocol assignments
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 31, 196, 0], 24, Reserved), // AS112
        ([192, 52, 193, 0], 24, Reserved), // AMT
        ([192, 88, 99, 0], 24, Reserved),  // 6to4 relay anycast
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Reserved), // benchmarking
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved), // "future use", and 255.255.255.255
    ];
    if ip == Ipv4Addr::BROADCAST {
        return Err(Broadcast);
    }
    match rules
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
    {
        Some((_, _, why)) => Err(*why),
        None => Ok(()),
    }
}

fn check_v6(ip: Ipv6Addr) -> Result<(), Forbidden> {
    use Forbidden::*;
    let s = ip.segments();
    if ip.is_unspecified() {
        return Err(Unspecified);
    }
    if ip.is_loopback() {
        return Err(Loopback);
    }
    // Forms that carry an IPv4 address: the connection goes to that address (mapped,
    // NAT64) or may be tunnelled to it (compatible, 6to4).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return check_v4(v4);
    }
    if s[..6] == [0; 6] {
        // ::a.b.c.d, IPv4-compatible (deprecated by RFC 4291 §2.5.5.1).
        return check_v4(embedded_v4(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 well-known prefix (RFC 6052): the translator connects to the IPv4.
        return check_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        // 6to4 (RFC 3056): the IPv4 address of the tunnel end follows the prefix.
        return check_v4(embedded_v4(s[1], s[2]));
    }
    match s[0] {
        0xfc00..=0xfdff => return Err(UniqueLocal),
        0xfe80..=0xfebf => return Err(LinkLocal),
        0xfec0..=0xfeff => return Err(Private), // site-local (deprecated)
        0xff00..=0xffff => return Err(Multicast),
        _ => {}
    }
    // Outside global unicast (2000::/3), nothing is routable on the internet:
    // 64:ff9b:1::/48 local NAT64, 100::/64 discard, and the unassigned rest.
    if s[0] & 0xe000 != 0x2000 {
        return Err(Reserved);
    }
    if s[0] == 0x2001 && s[1] == 0x0db8 || s[0] & 0xfff0 == 0x3ff0 {
        // 2001:db8::/32 and 3fff::/20 (RFC 9637).
        return Err(Documentation);
    }
    if s[0] == 0x2001 && s[1] < 0x0200 {
        // 2001::/23, IETF protocol assignments: Teredo (which tunnels to an IPv4
        // address), ORCHID, benchmarking, AMT.
        return Err(Reserved);
    }
    Ok(())
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> Result<(), Forbidden> {
        check(text.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_refused_with_their_reason() {
        use Forbidden::*;
        let cases = [
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("10.0.0.5", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("169.254.169.254", LinkLocal),
            ("192.0.2.10", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("198.18.0.1", Reserved),
            ("192.0.0.8", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Broadcast),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.0.0.5", Private),
            ("::127.0.0.1", Loopback),
            ("::ffff:0:0", Unspecified),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:0101::1", Private),
            ("fc00::1", UniqueLocal),
            ("fd12:3456:789a::1", UniqueLocal),
            ("fe80::1", LinkLocal),
            ("fec0::1", Private),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b:1::1", Reserved),
        ];
        for (address, expected) in cases {
            assert_eq!(verdict(address), Err(expected), "{address}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.3.1",
            "223.255.255.255",
            "14.160.0.1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert_eq!(verdict(address), Ok(()), "{address}");
        }
    }
}
