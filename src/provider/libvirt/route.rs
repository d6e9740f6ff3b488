//! The service address on libvirt: a host route, the way Hetzner routes a
//! floating IP to a server. Each VM has its own (DHCP) address and puts the
//! floating address on `lo` (templates/start.sh.tera); the host sends the
//! floating address's traffic to whichever VM holds the data volume with
//! `ip route replace <floating>/32 via <VM's address>`. Replies leave the
//! VM from the floating address: Docker's DNAT of the published port is
//! undone on the way back. Moving the route is one atomic netlink change,
//! so clients see the old VM or the new one, never neither through it.
//!
//! It runs `ip` (iproute2) where torrust-bake runs: the host of the
//! libvirt network's bridge, or the network namespace it lives in (the
//! end-to-end test's); changing routes takes root (CAP_NET_ADMIN). No crate
//! here: rtnetlink would add an async runtime for two calls.

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::Result;

use crate::error::{Error, Kind};

/// Routes `address` to the VM `name` at the first of its IPv4 `addresses`;
/// says what it did.
pub fn point(address: Ipv4Addr, name: &str, addresses: &[String]) -> Result<String> {
    let Some(via) = addresses.iter().find_map(|a| a.parse::<Ipv4Addr>().ok()) else {
        return Err(Error::new(
            Kind::Protocol,
            format!(
                "cannot route the service address {address} to {name}: libvirt knows no IPv4 address of it \
                 (virsh domifaddr {name} --source lease); its network must hand out addresses by DHCP"
            ),
        )
        .into());
    };
    if self::via(address).as_deref() == Some(&via.to_string()) {
        return Ok(format!("{address} already routed to {name} ({via})"));
    }
    let dest = format!("{address}/32");
    let out = Command::new("ip")
        .args(["-4", "route", "replace", &dest, "via", &via.to_string()])
        .output()
        .map_err(|e| {
            Error::new(
                Kind::Unreachable,
                format!("running ip (iproute2) to route {address}: {e}; install iproute2"),
            )
        })?;
    if !out.status.success() {
        return Err(Error::new(
            Kind::Protocol,
            format!(
                "cannot route the service address {address} to {name} ({via}): ip route replace: {}; \
                 run torrust-bake as root where the libvirt network's bridge is (or in its network namespace)",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
        .into());
    }
    Ok(format!("{address} routed to {name} ({via})"))
}

/// The address `address` is routed through, if a host route for it exists.
pub fn via(address: Ipv4Addr) -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "route", "show", &format!("{address}/32")])
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
        assert_eq!(parse_via(""), None);
        assert_eq!(parse_via("10.9.0.7 dev lo scope link"), None);
    }

    #[test]
    fn a_vm_without_an_address_cannot_be_routed_to() {
        let e = point(Ipv4Addr::new(10, 9, 0, 7), "vm", &["fe80::1".into()]).unwrap_err();
        assert!(e.to_string().contains("knows no IPv4 address"), "{e}");
    }
}
