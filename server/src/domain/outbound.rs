//! Which addresses Trailkeep's outbound calls (S3 destinations today; webhooks, SMTP and
//! witnesses next) may reach. An admin types an endpoint; the server connects to it from inside
//! the operator's network. Without a guard, a URL such as `http://169.254.169.254/` or
//! `http://10.0.0.5:5432/` turns the export scheduler into a probe of that network. So every
//! address an endpoint resolves to must be public — not loopback, private, link-local (the
//! cloud metadata address is one), shared (CGNAT), multicast, documentation or unspecified —
//! unless the operator allowed its network explicitly (`TRAILKEEP_OUTBOUND_ALLOW`, e.g.
//! `10.20.0.0/16` for a self-hosted MinIO, `127.0.0.1` for the tests' servers).
//!
//! The check runs on the addresses actually connected to (the resolver refuses the rest), so a
//! name that resolves to a private address is refused as an IP literal is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network an operator allowed: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Why an allow list or an address was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("{0:?} is not a network: give addresses or CIDR ranges separated by commas, such as \"127.0.0.1, 10.20.0.0/16, fd00::/8\"")]
    AllowList(String),
    #[error("{0} is a loopback, private, link-local or otherwise non-public address, which outbound calls may not reach: if this server is yours, the operator allows its network with TRAILKEEP_OUTBOUND_ALLOW (for example \"{0}\")")]
    Refused(IpAddr),
}

/// The operator's exceptions to "public addresses only".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub allow: Vec<Network>,
}

impl Policy {
    /// Parses `TRAILKEEP_OUTBOUND_ALLOW`: addresses or CIDR ranges, comma-separated.
    pub fn parse(text: &str) -> Result<Self, OutboundError> {
        let mut allow = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let refused = || OutboundError::AllowList(part.to_string());
            let (addr, prefix) = match part.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (part, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| refused())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(refused)?,
            };
            // An IPv4 address written as IPv6 (`::ffff:10.0.0.5/128`) is that IPv4 network:
            // its prefix counts from bit 96 (a shorter one would cover more than IPv4).
            let network = match (addr, canonical(addr)) {
                (IpAddr::V6(_), IpAddr::V4(v4)) => Network {
                    addr: IpAddr::V4(v4),
                    prefix: prefix.checked_sub(96).ok_or_else(refused)?,
                },
                (_, addr) => Network { addr, prefix },
            };
            allow.push(network);
        }
        Ok(Policy { allow })
    }

    /// Whether a call may connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), OutboundError> {
        if is_public(ip) || self.allow.iter().any(|n| n.contains(ip)) {
            Ok(())
        } else {
            Err(OutboundError::Refused(canonical(ip)))
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether `ip` is on the public internet (globally routable unicast).
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 (reaches IPv4 behind it)
        || (s[0] == 0x2002) // 6to4 (embeds an IPv4 address)
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0))
    // IPv4-compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_without_an_allow_list() {
        let p = Policy::default();
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
        ] {
            assert_eq!(
                p.check(ip(bad)),
                Err(OutboundError::Refused(canonical(ip(bad)))),
                "{bad}"
            );
        }
        for good in ["52.216.8.1", "8.8.8.8", "2600:1f18::1", "1.1.1.1"] {
            assert!(p.check(ip(good)).is_ok(), "{good}");
        }
    }

    #[test]
    fn an_allow_list_opens_exactly_its_networks() {
        let p = Policy::parse("127.0.0.1, 10.20.0.0/16,fd00::/8").unwrap();
        assert!(p.check(ip("127.0.0.1")).is_ok());
        assert!(p.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(p.check(ip("127.0.0.2")).is_err());
        assert!(p.check(ip("10.20.255.1")).is_ok());
        assert!(p.check(ip("10.21.0.1")).is_err());
        assert!(p.check(ip("fd12::1")).is_ok());
        assert!(p.check(ip("169.254.169.254")).is_err());
        assert_eq!(Policy::parse("").unwrap(), Policy::default());
        // An IPv4 address written as IPv6 allows that address (or range), not all of IPv4.
        let mapped = Policy::parse("::ffff:10.0.0.5").unwrap();
        assert!(mapped.check(ip("10.0.0.5")).is_ok());
        assert!(mapped.check(ip("169.254.169.254")).is_err());
        assert!(mapped.check(ip("127.0.0.1")).is_err());
        let range = Policy::parse("::ffff:10.0.0.0/120").unwrap();
        assert!(range.check(ip("10.0.0.77")).is_ok());
        assert!(range.check(ip("10.0.1.1")).is_err());
        assert!(matches!(
            Policy::parse("::ffff:0:0/64"),
            Err(OutboundError::AllowList(_))
        ));
        assert!(Policy::parse("0.0.0.0/0")
            .unwrap()
            .check(ip("10.0.0.1"))
            .is_ok());
        for bad in ["localhost", "10.0.0.0/33", "::/129", "10.0.0.0/x", "1.2.3"] {
            assert!(
                matches!(Policy::parse(bad), Err(OutboundError::AllowList(_))),
                "{bad}"
            );
        }
    }
}
