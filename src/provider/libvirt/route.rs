//! The service addresses on libvirt: host routes, the way Hetzner routes a
//! floating IP to a server. Each VM has its own addresses (DHCP, router
//! advertisements) and puts the floating ones on `lo` (templates/start.sh.tera);
//! the host sends each floating address's traffic to whichever VM holds the
//! data volume: `ip -4 route replace <floating>/32 via <VM's DHCP address>`,
//! and for IPv6 `ip -6 route replace <floating>/128 via <VM's link-local>
//! dev <bridge>`. The link-local is the one the kernel derives from the
//! NIC's MAC (EUI-64, RFC 4291 appendix A), which the domain's MAC fixes:
//! libvirt's leases know no address a VM gave itself by SLAAC, and a
//! link-local next hop is what routers use. Replies leave the VM from the
//! floating address: Docker's DNAT of the published port is undone on the
//! way back. Moving a route is one atomic netlink change, so clients see the
//! old VM or the new one, never neither through it.
//!
//! It runs `ip` (iproute2) where torrust-bake runs: the host of the
//! libvirt network's bridge, or the network namespace it lives in (the
//! end-to-end test's); changing routes takes root (CAP_NET_ADMIN). No crate
//! here: rtnetlink would add an async runtime for a few calls.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use anyhow::Result;

use crate::error::{Error, Kind};

/// The VM a route leads to: its name, its IPv4 addresses as libvirt knows
/// them, its NIC's MAC and the bridge of its network.
pub struct Target<'a> {
    pub name: &'a str,
    pub addresses: &'a [String],
    pub mac: &'a str,
    pub bridge: Option<&'a str>,
}

/// The link-local address the kernel gives a NIC with `mac` (EUI-64:
/// the MAC split by ff:fe, its universal/local bit flipped).
pub fn link_local(mac: &str) -> Option<Ipv6Addr> {
    let b: Vec<u8> = mac
        .split(':')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b1, c, d, e, f] = <[u8; 6]>::try_from(b).ok()?;
    let word = |hi: u8, lo: u8| (u16::from(hi) << 8) | u16::from(lo);
    Some(Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        word(a ^ 0x02, b1),
        word(c, 0xff),
        word(0xfe, d),
        word(e, f),
    ))
}

/// Routes `address` to the VM `to`; says what it did.
pub fn point(address: IpAddr, to: &Target) -> Result<String> {
    let (family, dest, via, dev) = match address {
        IpAddr::V4(a) => {
            let Some(via) = to.addresses.iter().find_map(|a| a.parse::<Ipv4Addr>().ok()) else {
                return Err(Error::new(
                    Kind::Protocol,
                    format!(
                        "cannot route the service address {a} to {}: libvirt knows no IPv4 address of it \
                         (virsh domifaddr {} --source lease); its network must hand out addresses by DHCP",
                        to.name, to.name
                    ),
                )
                .into());
            };
            ("-4", format!("{a}/32"), via.to_string(), None)
        }
        IpAddr::V6(a) => {
            let (Some(via), Some(bridge)) = (link_local(to.mac), to.bridge) else {
                return Err(Error::new(
                    Kind::Protocol,
                    format!(
                        "cannot route the service address {a} to {}: its network's bridge or its NIC's MAC ({}) is unknown \
                         (virsh net-info, virsh domiflist {})",
                        to.name, to.mac, to.name
                    ),
                )
                .into());
            };
            ("-6", format!("{a}/128"), via.to_string(), Some(bridge))
        }
    };
    if self::via(address).as_deref() == Some(via.as_str()) {
        return Ok(format!("{address} already routed to {} ({via})", to.name));
    }
    let mut args = vec![family, "route", "replace", &dest, "via", &via];
    if let Some(dev) = dev {
        args.extend(["dev", dev]);
    }
    let out = Command::new("ip").args(&args).output().map_err(|e| {
        Error::new(
            Kind::Unreachable,
            format!("running ip (iproute2) to route {address}: {e}; install iproute2"),
        )
    })?;
    if !out.status.success() {
        return Err(Error::new(
            Kind::Protocol,
            format!(
                "cannot route the service address {address} to {} ({via}): ip route replace: {}; \
                 run torrust-bake as root where the libvirt network's bridge is (or in its network namespace)",
                to.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
        .into());
    }
    Ok(format!("{address} routed to {} ({via})", to.name))
}

/// The address `address` is routed through, if a host route for it exists.
pub fn via(address: IpAddr) -> Option<String> {
    let (family, dest) = match address {
        IpAddr::V4(a) => ("-4", format!("{a}/32")),
        IpAddr::V6(a) => ("-6", format!("{a}/128")),
    };
    let out = Command::new("ip")
        .args([family, "route", "show", &dest])
        .output()
        .ok()?;
    parse_via(&String::from_utf8_lossy(&out.stdout))
}

/// The gateway of `ip route show` output: `10.9.0.7 via 192.168.123.150 dev virbr0`.
fn parse_via(out: &str) -> Option<String> {
    let mut words = out.split_whitespace();
    words.find(|w| *w == "via")?;
    words.next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_read_from_ip_route() {
        assert_eq!(
            parse_via("10.9.0.7 via 192.168.123.150 dev virbr-torrust \n").as_deref(),
            Some("192.168.123.150")
        );
        assert_eq!(
            parse_via(
                "fd12::10 via fe80::5054:ff:fe12:3456 dev virbr-torrust metric 1024 pref medium"
            )
            .as_deref(),
            Some("fe80::5054:ff:fe12:3456")
        );
        assert_eq!(parse_via(""), None);
        assert_eq!(parse_via("10.9.0.7 dev lo scope link"), None);
    }

    #[test]
    fn the_link_local_is_the_kernels_eui64_of_the_mac() {
        // As `ip -6 addr` shows for a NIC with this MAC.
        assert_eq!(
            link_local("52:54:00:12:34:56"),
            Some("fe80::5054:ff:fe12:3456".parse().unwrap())
        );
        assert_eq!(link_local("52:54:00:12:34"), None);
        assert_eq!(link_local("zz:54:00:12:34:56"), None);
    }

    #[test]
    fn a_vm_without_an_address_cannot_be_routed_to() {
        let v6only = ["fe80::1".to_string()];
        let to = Target {
            name: "vm",
            addresses: &v6only,
            mac: "52:54:00:12:34:56",
            bridge: None,
        };
        let e = point("10.9.0.7".parse().unwrap(), &to).unwrap_err();
        assert!(e.to_string().contains("knows no IPv4 address"), "{e}");
        let e = point("fd12::10".parse().unwrap(), &to).unwrap_err();
        assert!(e.to_string().contains("bridge"), "{e}");
    }
}
