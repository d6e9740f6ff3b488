//! The peer-list check: a second peer's announce must list the first peer
//! with its exact address and port, in the format of the family the client
//! asked in, and nothing that is not a peer. BEP 15 (UDP): 6-byte IPv4
//! entries to an IPv4 client, 18-byte IPv6 ones to an IPv6 client; BEP 23 and
//! BEP 7 (HTTP compact): IPv4 peers in `peers`, IPv6 ones in `peers6`.
//!
//! Why a check of its own: a tracker bound to one dual-stack `[::]` socket
//! sees an IPv4 client as `::ffff:a.b.c.d` and tracker 3.0.0 answered it in
//! IPv6 format: over UDP, read as 6-byte entries, every real peer came with
//! two junk ones (`0.0.0.0:0`, `0.0.0.0:65535`); over HTTP the IPv4 peers
//! sat v4-mapped in `peers6` and `peers` was empty. Every other check
//! passed (an 18-byte entry is also a multiple of 6 bytes).

use std::net::{IpAddr, SocketAddr};

use super::protocol;
use crate::error::Error;

/// The peers a reply lists, by the family of its format.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Listed {
    /// 6-byte entries (UDP to an IPv4 client, HTTP `peers`).
    pub v4: Vec<SocketAddr>,
    /// 18-byte entries (UDP to an IPv6 client, HTTP `peers6`).
    pub v6: Vec<SocketAddr>,
}

impl Listed {
    fn all(&self) -> impl Iterator<Item = &SocketAddr> {
        self.v4.iter().chain(&self.v6)
    }
}

/// What a tracker should list for the first peer: the address it sent
/// from, except that tracker 3.0.0 lists a loopback sender as
/// `[core.net] external_ip`, which defaults to 0.0.0.0 when tracker.toml
/// leaves it out (`Network::default_external_ip` in its configuration
/// crate): on loopback every peer is 0.0.0.0 unless TORRUST_TRACKER_EXTERNAL_IP
/// is set.
pub fn expected_ip(sent_from: IpAddr, external_ip: Option<IpAddr>) -> IpAddr {
    if sent_from.is_loopback() {
        external_ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    } else {
        sent_from
    }
}

/// How every failed verdict begins: a tracker check whose detail starts
/// so got its announces accepted (`health::counted_by` relies on it).
pub const FAILED: &str = "peer list:";

/// At most this many entries are quoted in a message.
const QUOTED: usize = 4;

fn quote(addrs: &[&SocketAddr]) -> String {
    let mut text: Vec<String> = addrs.iter().take(QUOTED).map(|a| a.to_string()).collect();
    if addrs.len() > QUOTED {
        text.push(format!("and {} more", addrs.len() - QUOTED));
    }
    text.join(", ")
}

/// The verdict on a second peer's reply. `first` is the first peer as the
/// tracker should list it; `exact` is false where a proxy or NAT may stand
/// between the probe and the tracker (a loopback target on a VM reaches the
/// container through Docker's proxy), and then another address of the
/// right family with the first peer's port is accepted and named.
pub fn verdict(listed: &Listed, first: SocketAddr, exact: bool) -> Result<String, Error> {
    let junk: Vec<&SocketAddr> = listed
        .all()
        .filter(|&&a| a != first && (a.ip().is_unspecified() || a.port() == 0))
        .collect();
    if !junk.is_empty() {
        return Err(protocol(format!(
            "{FAILED} {} of {} entries are no peer ({}): the reply is in the other address family's format (a tracker on one dual-stack [::] socket answers IPv4 clients so; bind each family on its own socket)",
            junk.len(),
            listed.all().count(),
            quote(&junk)
        )));
    }
    let (own, other) = match first {
        SocketAddr::V4(_) => (&listed.v4, &listed.v6),
        SocketAddr::V6(_) => (&listed.v6, &listed.v4),
    };
    if own.contains(&first) {
        return Ok(format!("peer list has the first peer {first}"));
    }
    let mapped: Vec<&SocketAddr> = listed
        .v6
        .iter()
        .filter(|a| matches!(a.ip(), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some()))
        .collect();
    if !mapped.is_empty() {
        return Err(protocol(format!(
            "{FAILED} IPv4 peers are listed as IPv6 ones ({}): the tracker takes IPv4 clients for IPv6 ones (a dual-stack [::] socket; bind each family on its own socket)",
            quote(&mapped)
        )));
    }
    if let Some(moved) = other
        .iter()
        .find(|a| a.port() == first.port() && a.ip() == first.ip())
    {
        return Err(protocol(format!(
            "{FAILED} the first peer is listed as {moved}, in the other family's list"
        )));
    }
    if !exact {
        if let Some(seen) = own.iter().find(|a| a.port() == first.port()) {
            return Ok(format!(
                "peer list has the first peer as {seen} (sent from {}: a proxy or NAT in between)",
                first.ip()
            ));
        }
    }
    let listed: Vec<&SocketAddr> = listed.all().collect();
    Err(protocol(format!(
        "{FAILED} the second peer's reply does not list the first peer {first}; it lists {}",
        if listed.is_empty() {
            "no peer".to_string()
        } else {
            quote(&listed)
        }
    )))
}

/// Compact entries (BEP 23: 4-byte address + port; BEP 7: 16 + port).
pub fn compact(bytes: &[u8], ipv4: bool) -> Result<Vec<SocketAddr>, String> {
    let size = if ipv4 { 6 } else { 18 };
    if !bytes.len().is_multiple_of(size) {
        return Err(format!(
            "{} bytes of compact peers are not a whole number of {size}-byte entries",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(size)
        .map(|entry| {
            let (ip, port) = entry.split_at(size - 2);
            let port = u16::from_be_bytes([port[0], port[1]]);
            let ip = match <[u8; 4]>::try_from(ip) {
                Ok(v4) => IpAddr::from(v4),
                Err(_) => {
                    let mut v6 = [0u8; 16];
                    v6.copy_from_slice(ip);
                    IpAddr::from(v6)
                }
            };
            SocketAddr::new(ip, port)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_peer_in_its_own_family_passes() {
        let first = addr("192.0.2.7:6881");
        let listed = Listed {
            v4: vec![addr("198.51.100.1:51413"), first],
            v6: vec![addr("[2001:db8::1]:6881")],
        };
        assert_eq!(
            verdict(&listed, first, true).unwrap(),
            "peer list has the first peer 192.0.2.7:6881"
        );
    }

    /// What the old `[::]` binding sent an IPv4 client over UDP: 18-byte
    /// entries, read as 6-byte ones.
    #[test]
    fn ipv6_entries_read_as_ipv4_are_junk() {
        let mut reply = vec![0u8; 10];
        reply.extend([0xff, 0xff, 192, 0, 2, 7]);
        reply.extend(6881u16.to_be_bytes());
        let v4 = compact(&reply, true).unwrap();
        assert_eq!(
            v4,
            [
                addr("0.0.0.0:0"),
                addr("0.0.0.0:65535"),
                addr("192.0.2.7:6881")
            ]
        );
        let e = verdict(&Listed { v4, v6: vec![] }, addr("192.0.2.7:6881"), true).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("peer list: 2 of 3 entries are no peer (0.0.0.0:0, 0.0.0.0:65535)"),
            "{e}"
        );
    }

    /// What the old binding sent an IPv4 client over HTTP: `peers` empty,
    /// the peer v4-mapped in `peers6`.
    #[test]
    fn an_ipv4_peer_in_peers6_fails() {
        let mut peers6 = vec![0u8; 10];
        peers6.extend([0xff, 0xff, 192, 0, 2, 7]);
        peers6.extend(6881u16.to_be_bytes());
        let listed = Listed {
            v4: compact(b"", true).unwrap(),
            v6: compact(&peers6, false).unwrap(),
        };
        let e = verdict(&listed, addr("192.0.2.7:6881"), true).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "peer list: IPv4 peers are listed as IPv6 ones ([::ffff:192.0.2.7]:6881): the tracker takes IPv4 clients for IPv6 ones"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_missing_or_moved_peer() {
        let first = addr("192.0.2.7:6881");
        let e = verdict(&Listed::default(), first, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "peer list: the second peer's reply does not list the first peer 192.0.2.7:6881; it lists no peer"
        );
        let proxied = Listed {
            v4: vec![addr("172.18.0.1:6881")],
            v6: vec![],
        };
        assert!(verdict(&proxied, first, true).is_err());
        assert_eq!(
            verdict(&proxied, first, false).unwrap(),
            "peer list has the first peer as 172.18.0.1:6881 (sent from 192.0.2.7: a proxy or NAT in between)"
        );
        // The port must match even where the address may not.
        let other_port = Listed {
            v4: vec![addr("172.18.0.1:6882")],
            v6: vec![],
        };
        assert!(verdict(&other_port, first, false).is_err());
    }

    #[test]
    fn compact_lengths_and_the_loopback_rule() {
        assert!(compact(&[0; 7], true).is_err());
        assert_eq!(
            compact(&[0; 18], false).unwrap(),
            [addr("[::]:0")],
            "an all-zero entry decodes, and verdict calls it junk"
        );
        let ext: IpAddr = "203.0.113.9".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lan: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(expected_ip(lo, Some(ext)), ext);
        assert_eq!(expected_ip(lan, Some(ext)), lan);
        assert_eq!(expected_ip(lo, None), "0.0.0.0".parse::<IpAddr>().unwrap());
        // The tracker's loopback stand-in is the first peer, not junk.
        let first = addr("0.0.0.0:6881");
        let listed = Listed {
            v4: vec![first],
            v6: vec![],
        };
        assert!(verdict(&listed, first, true).is_ok());
    }
}
