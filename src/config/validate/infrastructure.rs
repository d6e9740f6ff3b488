//! Infrastructure rules: what the provider requires, and addressing (an
//! address of a host, never a network, broadcast, loopback, multicast or
//! other special one; a gateway that is another host of its own network;
//! floating addresses that are public unicast, not the VM's own, and of a
//! family the VM has).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Checker;
use crate::config::model::Ipv6;
use crate::config::provider::Provider;
use crate::config::vars::VarId::{self, *};

pub(super) fn check(c: &mut Checker) {
    provider_requirements(c);
    region(c);
    static_addressing(c);
    static_ipv6(c);
    floating(c);
}

fn provider(c: &Checker) -> Option<Provider> {
    Provider::parse(&c.text(INFRASTRUCTURE_PROVIDER))
}

/// The VM's own IPv6, from values that passed the rules.
pub(super) fn ipv6_setup(c: &Checker) -> Ipv6 {
    if let (Some(address), Some(IpAddr::V6(gateway))) = (
        c.net6(INFRASTRUCTURE_IPV6_ADDRESS),
        c.ip(INFRASTRUCTURE_IPV6_GATEWAY),
    ) {
        return Ipv6::Static { address, gateway };
    }
    // A Hetzner server always has its /64 (its metadata configures it).
    if c.text(INFRASTRUCTURE_IPV6_ADDRESS) == "auto" || provider(c) == Some(Provider::Hetzner) {
        Ipv6::Auto
    } else {
        Ipv6::None
    }
}

/// Why `ip` cannot be a host's IPv6 address (the VM's own, its service
/// address, or its gateway unless link-local is allowed).
fn not_an_ipv6_host(ip: Ipv6Addr, link_local_ok: bool) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        Some("the unspecified address ::")
    } else if ip.is_loopback() {
        Some("the loopback address ::1")
    } else if ip.is_multicast() {
        Some("a multicast address (ff00::/8)")
    } else if s[0] & 0xffc0 == 0xfe80 && !link_local_ok {
        Some("link-local (fe80::/10), which routers do not forward")
    } else if ip.to_ipv4_mapped().is_some() {
        Some("an IPv4-mapped address (::ffff:0:0/96); write the IPv4 address as such")
    } else {
        None
    }
}

/// A static IPv6 needs its gateway (and the gateway the address), both
/// addresses of hosts; Hetzner configures its servers' IPv6 itself.
fn static_ipv6(c: &mut Checker) {
    let net = c.net6(INFRASTRUCTURE_IPV6_ADDRESS);
    let gateway = ipv6(c.ip(INFRASTRUCTURE_IPV6_GATEWAY));
    if provider(c) == Some(Provider::Hetzner) && c.is_set(INFRASTRUCTURE_IPV6_ADDRESS) {
        c.fail(
            INFRASTRUCTURE_IPV6_ADDRESS,
            "is set with INFRASTRUCTURE_PROVIDER=hetzner, which gives each server its own /64 from its metadata".into(),
            "unset it; the IPv6 that moves from server to server is INFRASTRUCTURE_FLOATING_IPV6",
        );
        return;
    }
    match (net, gateway) {
        (Some(_), None) => c.fail(
            INFRASTRUCTURE_IPV6_ADDRESS,
            "is a static address without INFRASTRUCTURE_IPV6_GATEWAY".into(),
            "set INFRASTRUCTURE_IPV6_GATEWAY, the router (often fe80::1), or use auto for router advertisements",
        ),
        (None, Some(_)) if c.is_set(INFRASTRUCTURE_IPV6_GATEWAY) => c.fail(
            INFRASTRUCTURE_IPV6_GATEWAY,
            "is only used with a static IPv6 address".into(),
            "set INFRASTRUCTURE_IPV6_ADDRESS to address/prefix too, or unset the gateway",
        ),
        _ => {}
    }
    if let Some(net) = net {
        if let Some(what) = not_an_ipv6_host(net.addr(), false) {
            c.fail(
                INFRASTRUCTURE_IPV6_ADDRESS,
                format!("{} cannot be the VM's address: it is {what}", net.addr()),
                "use the VM's global address on its network, e.g. 2001:db8:1::10/64",
            );
        }
    }
    if let (Some(net), Some(gw)) = (net, gateway) {
        let bad = not_an_ipv6_host(gw, true).map(str::to_string).or_else(|| {
            let link_local = gw.segments()[0] & 0xffc0 == 0xfe80;
            if gw == net.addr() {
                Some("the VM's own address".into())
            } else if !link_local && !net.contains(&gw) {
                Some(format!("outside the VM's network {}", net.trunc()))
            } else {
                None
            }
        });
        if let Some(what) = bad {
            c.fail(
                INFRASTRUCTURE_IPV6_GATEWAY,
                format!("{gw} cannot be the gateway: it is {what}"),
                "use the router's link-local address (fe80::1 on many networks) or its address inside INFRASTRUCTURE_IPV6_ADDRESS's prefix",
            );
        }
    }
}

/// Floating addresses: unicast addresses a router forwards, not the VM's
/// own, and IPv6 ones only where the VM has IPv6 (else nothing carries
/// their replies back).
fn floating(c: &mut Checker) {
    let own4 = c.net(INFRASTRUCTURE_IPV4_ADDRESS).map(|n| n.addr());
    for a in c.ips(INFRASTRUCTURE_FLOATING_IPV4) {
        let IpAddr::V4(a) = a else { continue };
        if let Some((what, _)) = not_a_host(a, None) {
            c.fail(
                INFRASTRUCTURE_FLOATING_IPV4,
                format!("{a} cannot be a service address: it is {what}"),
                "use the floating IP's address as the provider shows it (hcloud floating-ip list), or the address the host routes to the VM",
            );
        } else if Some(a) == own4 {
            c.fail(
                INFRASTRUCTURE_FLOATING_IPV4,
                format!("{a} is the VM's own address (INFRASTRUCTURE_IPV4_ADDRESS)"),
                "a floating address moves between VMs: use another one, or leave it out (clients can use the VM's address)",
            );
        }
    }
    let own6 = c.net6(INFRASTRUCTURE_IPV6_ADDRESS).map(|n| n.addr());
    let floating6 = c.ips(INFRASTRUCTURE_FLOATING_IPV6);
    for a in &floating6 {
        let IpAddr::V6(a) = *a else { continue };
        if let Some(what) = not_an_ipv6_host(a, false) {
            c.fail(
                INFRASTRUCTURE_FLOATING_IPV6,
                format!("{a} cannot be a service address: it is {what}"),
                "use an address of the floating /64 (hcloud floating-ip list), e.g. its ::1",
            );
        } else if Some(a) == own6 {
            c.fail(
                INFRASTRUCTURE_FLOATING_IPV6,
                format!("{a} is the VM's own address (INFRASTRUCTURE_IPV6_ADDRESS)"),
                "a floating address moves between VMs: use another one",
            );
        }
    }
    if !floating6.is_empty() && ipv6_setup(c) == Ipv6::None {
        c.fail(
            INFRASTRUCTURE_FLOATING_IPV6,
            "is set, but the VM has no IPv6 of its own to answer it with".into(),
            "set INFRASTRUCTURE_IPV6_ADDRESS=auto (router advertisements) or a static address/prefix, or unset INFRASTRUCTURE_FLOATING_IPV6",
        );
    }
}

/// The region is one of the provider's (#29 item 3: `mars1` was taken),
/// or marked with `+` as one torrust-bake does not know yet.
fn region(c: &mut Checker) {
    let Some(provider) = Provider::parse(&c.text(INFRASTRUCTURE_PROVIDER)) else {
        return;
    };
    let (Some(known), true) = (provider.regions(), c.is_set(INFRASTRUCTURE_REGION)) else {
        return;
    };
    let given = c.text(INFRASTRUCTURE_REGION);
    if given.starts_with('+') || known.contains(&given.as_str()) {
        return;
    }
    let closest = known
        .iter()
        .min_by_key(|k| strsim::levenshtein(k, &given))
        .filter(|k| strsim::levenshtein(k, &given) <= 2);
    let hint = closest.map_or(String::new(), |k| format!("did you mean {k}? "));
    c.fail(
        INFRASTRUCTURE_REGION,
        format!(
            "'{given}' is not a {} location ({})",
            provider.name(),
            known.join(", ")
        ),
        &format!(
            "{hint}use one of them; for a location opened since, write it with a + in front (INFRASTRUCTURE_REGION=+{given}) to use it unchecked"
        ),
    );
}

/// Variables `provider` cannot do without, each with an example.
fn required_vars(provider: Provider) -> &'static [(VarId, &'static str)] {
    match provider {
        Provider::Libvirt => &[],
        Provider::Hetzner => &[
            (INFRASTRUCTURE_REGION, "fsn1"),
            (INFRASTRUCTURE_INSTANCE_TYPE, "cx22"),
        ],
    }
}

fn provider_requirements(c: &mut Checker) {
    let Some(provider) = Provider::parse(&c.text(INFRASTRUCTURE_PROVIDER)) else {
        return;
    };
    for &(id, example) in required_vars(provider) {
        if !c.is_set(id) {
            c.fail(
                id,
                format!(
                    "is required with INFRASTRUCTURE_PROVIDER={}",
                    provider.name()
                ),
                &format!("set it, e.g. {}={example}", id.name()),
            );
        }
    }
}

fn static_addressing(c: &mut Checker) {
    let address_set = c.is_set(INFRASTRUCTURE_IPV4_ADDRESS);
    for id in [INFRASTRUCTURE_IPV4_GATEWAY, INFRASTRUCTURE_DNS_SERVERS] {
        if c.is_set(id) && !address_set {
            c.fail(
                id,
                "is only used with a static address".into(),
                "set INFRASTRUCTURE_IPV4_ADDRESS (address/prefix) too, or unset it for DHCP",
            );
        }
    }
    if address_set && !c.is_set(INFRASTRUCTURE_IPV4_GATEWAY) {
        c.fail(
            INFRASTRUCTURE_IPV4_ADDRESS,
            "is set without INFRASTRUCTURE_IPV4_GATEWAY".into(),
            "set INFRASTRUCTURE_IPV4_GATEWAY, the router of that network",
        );
    }
    let net = c.net(INFRASTRUCTURE_IPV4_ADDRESS);
    if let Some(net) = net {
        if let Some((what, fix)) = not_a_host(net.addr(), Some(net)) {
            c.fail(
                INFRASTRUCTURE_IPV4_ADDRESS,
                format!("{} is {what}", net.addr()),
                &fix,
            );
            // The gateway is judged against a usable address only.
            return;
        }
    }
    let (Some(net), Some(IpAddr::V4(gateway))) = (net, c.ip(INFRASTRUCTURE_IPV4_GATEWAY)) else {
        return;
    };
    let gateway_fix = "use the router's address inside INFRASTRUCTURE_IPV4_ADDRESS's network";
    if net.prefix_len() == 32 {
        c.fail(
            INFRASTRUCTURE_IPV4_GATEWAY,
            format!(
                "{gateway} cannot be reached: the VM's network {net} holds no address but its own"
            ),
            "give INFRASTRUCTURE_IPV4_ADDRESS its network's prefix (e.g. /24) and the router's address inside it here",
        );
    } else if let Some((what, _)) = not_a_host(gateway, None) {
        c.fail(
            INFRASTRUCTURE_IPV4_GATEWAY,
            format!("{gateway} cannot be the gateway: it is {what}"),
            gateway_fix,
        );
    } else if !net.trunc().contains(&gateway) || gateway == net.addr() {
        c.fail(
            INFRASTRUCTURE_IPV4_GATEWAY,
            format!(
                "{gateway} is not another host of the VM's network {}",
                net.trunc()
            ),
            gateway_fix,
        );
    } else if let Some((what, _)) = not_a_host(gateway, Some(net)) {
        c.fail(
            INFRASTRUCTURE_IPV4_GATEWAY,
            format!("{gateway} cannot be the gateway: it is {what}"),
            gateway_fix,
        );
    }
}

/// Why `ip` cannot be a host's own address on a LAN (as the VM's address
/// or its router), with the fix; `net`: the prefix it is on, whose network
/// and broadcast addresses are not hosts either, except in a /31 (RFC 3021:
/// both addresses are hosts) and a /32 (the one address is the host).
fn not_a_host(ip: Ipv4Addr, net: Option<ipnet::Ipv4Net>) -> Option<(String, String)> {
    let fix = "use the address of a host on the VM's network, e.g. 192.0.2.10/24";
    let special = if ip.is_unspecified() || ip.octets()[0] == 0 {
        Some("in 0.0.0.0/8 (\"this network\"), not a host address")
    } else if ip.is_loopback() {
        Some("a loopback address (127.0.0.0/8)")
    } else if ip.is_broadcast() {
        Some("the limited broadcast address")
    } else if ip.is_multicast() {
        Some("a multicast address (224.0.0.0/4)")
    } else if ip.octets()[0] >= 240 {
        Some("in the reserved block 240.0.0.0/4")
    } else if ip.is_link_local() {
        Some("link-local (169.254.0.0/16), which routers do not forward")
    } else {
        None
    };
    if let Some(what) = special {
        return Some((what.to_string(), fix.to_string()));
    }
    let net = net?;
    if net.prefix_len() >= 31 {
        return None;
    }
    let what = if ip == net.network() {
        "network"
    } else if ip == net.broadcast() {
        "broadcast"
    } else {
        return None;
    };
    // In bounds: a prefix of at most /30 has two hosts or more.
    let (first, last) = (
        Ipv4Addr::from(u32::from(net.network()) + 1),
        Ipv4Addr::from(u32::from(net.broadcast()) - 1),
    );
    Some((
        format!("the {what} address of {}", net.trunc()),
        format!("use a host address of {}: {first} to {last}", net.trunc()),
    ))
}

/// The IPv4 address of a value that the kind `Ipv4` already checked.
pub(super) fn ipv4(ip: Option<IpAddr>) -> Option<Ipv4Addr> {
    match ip {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    }
}

/// The IPv6 address of a value that the kind `Ipv6` already checked.
pub(super) fn ipv6(ip: Option<IpAddr>) -> Option<Ipv6Addr> {
    match ip {
        Some(IpAddr::V6(a)) => Some(a),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use super::*;

    #[test]
    fn the_region_is_one_the_provider_has() {
        let hetzner = |region: &str| {
            let (_, r) = run(
                "local",
                &[
                    (INFRASTRUCTURE_PROVIDER, "hetzner"),
                    (INFRASTRUCTURE_INSTANCE_TYPE, "cx22"),
                    (INFRASTRUCTURE_REGION, region),
                ],
            );
            about(&r, INFRASTRUCTURE_REGION)
        };
        assert_eq!(hetzner("nbg1"), Vec::<String>::new());
        assert_eq!(hetzner("+xyz1"), Vec::<String>::new());
        let bad = hetzner("fsn2");
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].starts_with("Error: 'fsn2' is not a hetzner location (fsn1, nbg1, hel1, ash, hil, sin) | did you mean fsn1? use one of them; for a location opened since, write it with a + in front (INFRASTRUCTURE_REGION=+fsn2)"), "{bad:?}");
        assert!(!hetzner("mars1")[0].contains("did you mean"));
        // libvirt has no regions to check.
        let (_, r) = run("local", &[(INFRASTRUCTURE_REGION, "mars1")]);
        assert_eq!(about(&r, INFRASTRUCTURE_REGION), Vec::<String>::new());
    }

    #[test]
    fn hetzner_needs_a_region_and_a_type() {
        let (_, r) = run("local", &[(INFRASTRUCTURE_PROVIDER, "hetzner")]);
        assert_eq!(
            about(&r, INFRASTRUCTURE_REGION),
            vec!["Error: is required with INFRASTRUCTURE_PROVIDER=hetzner | set it, e.g. INFRASTRUCTURE_REGION=fsn1 | default"]
        );
        assert_eq!(about(&r, INFRASTRUCTURE_INSTANCE_TYPE).len(), 1);
        let set = [
            (INFRASTRUCTURE_PROVIDER, "hetzner"),
            (INFRASTRUCTURE_REGION, "fsn1"),
            (INFRASTRUCTURE_INSTANCE_TYPE, "cx22"),
        ];
        assert_eq!(config(&set).provider, Provider::Hetzner);
        assert_eq!(config(&[]).provider, Provider::Libvirt);
    }

    #[test]
    fn a_static_address_needs_a_gateway_in_its_network() {
        let (_, r) = run("local", &[(INFRASTRUCTURE_IPV4_ADDRESS, "10.0.2.15/24")]);
        assert_eq!(
            about(&r, INFRASTRUCTURE_IPV4_ADDRESS),
            vec!["Error: is set without INFRASTRUCTURE_IPV4_GATEWAY | set INFRASTRUCTURE_IPV4_GATEWAY, the router of that network | environments/local.env:1"]
        );
        let ok = [
            (INFRASTRUCTURE_IPV4_ADDRESS, "10.0.2.15/24"),
            (INFRASTRUCTURE_IPV4_GATEWAY, "10.0.2.2"),
        ];
        let c = config(&ok);
        assert_eq!(c.ipv4_address.unwrap().to_string(), "10.0.2.15/24");
        assert_eq!(c.ipv4_gateway.unwrap().to_string(), "10.0.2.2");
        for gateway in ["10.0.3.2", "10.0.2.15"] {
            let (_, r) = run(
                "local",
                &[
                    (INFRASTRUCTURE_IPV4_ADDRESS, "10.0.2.15/24"),
                    (INFRASTRUCTURE_IPV4_GATEWAY, gateway),
                ],
            );
            let got = about(&r, INFRASTRUCTURE_IPV4_GATEWAY);
            assert_eq!(got.len(), 1, "{gateway}: {got:?}");
            assert!(got[0].contains("not another host of the VM's network 10.0.2.0/24"));
        }
        // Boundary: a /31's other address is a valid gateway.
        config(&[
            (INFRASTRUCTURE_IPV4_ADDRESS, "192.0.2.0/31"),
            (INFRASTRUCTURE_IPV4_GATEWAY, "192.0.2.1"),
        ]);
    }

    #[test]
    fn floating_addresses_are_service_addresses_of_a_family_the_vm_has() {
        let c = config(&[
            (INFRASTRUCTURE_FLOATING_IPV4, "203.0.113.10, 203.0.113.11"),
            (INFRASTRUCTURE_IPV6_ADDRESS, "auto"),
            (INFRASTRUCTURE_FLOATING_IPV6, "2001:db8:1::1,2001:db8:2::1"),
        ]);
        assert_eq!(c.floating().len(), 4);
        assert_eq!(c.ipv6, Ipv6::Auto);
        assert!(c.side_by_side());
        assert_eq!(
            c.lo_addresses(),
            [
                "203.0.113.10/32",
                "203.0.113.11/32",
                "2001:db8:1::1/128",
                "2001:db8:2::1/128"
            ]
        );
        let fails = |set: &[(VarId, &str)], id: VarId| {
            let (_, r) = run("local", set);
            about(&r, id)
        };
        let got = fails(
            &[(INFRASTRUCTURE_FLOATING_IPV6, "2001:db8:1::1")],
            INFRASTRUCTURE_FLOATING_IPV6,
        );
        assert_eq!(
            got,
            ["Error: is set, but the VM has no IPv6 of its own to answer it with | set INFRASTRUCTURE_IPV6_ADDRESS=auto (router advertisements) or a static address/prefix, or unset INFRASTRUCTURE_FLOATING_IPV6 | environments/local.env:1"]
        );
        for bad in ["127.0.0.1", "224.0.0.1", "169.254.169.254", "0.0.0.1"] {
            let got = fails(
                &[(INFRASTRUCTURE_FLOATING_IPV4, bad)],
                INFRASTRUCTURE_FLOATING_IPV4,
            );
            assert_eq!(got.len(), 1, "{bad}: {got:?}");
            assert!(got[0].contains("cannot be a service address"), "{got:?}");
        }
        for bad in ["fe80::1", "::1", "ff02::1", "::ffff:192.0.2.1"] {
            let set = [
                (INFRASTRUCTURE_IPV6_ADDRESS, "auto"),
                (INFRASTRUCTURE_FLOATING_IPV6, bad),
            ];
            let got = fails(&set, INFRASTRUCTURE_FLOATING_IPV6);
            assert_eq!(got.len(), 1, "{bad}: {got:?}");
        }
        // Not the VM's own address, of either family.
        let own = [
            (INFRASTRUCTURE_IPV4_ADDRESS, "192.0.2.10/24"),
            (INFRASTRUCTURE_IPV4_GATEWAY, "192.0.2.1"),
            (INFRASTRUCTURE_FLOATING_IPV4, "192.0.2.10"),
        ];
        assert!(fails(&own, INFRASTRUCTURE_FLOATING_IPV4)[0].contains("the VM's own address"));
        let own6 = [
            (INFRASTRUCTURE_IPV6_ADDRESS, "2001:db8:1::10/64"),
            (INFRASTRUCTURE_IPV6_GATEWAY, "fe80::1"),
            (INFRASTRUCTURE_FLOATING_IPV6, "2001:db8:1::10"),
        ];
        assert!(fails(&own6, INFRASTRUCTURE_FLOATING_IPV6)[0].contains("the VM's own address"));
    }

    #[test]
    fn a_static_ipv6_needs_its_gateway_and_one_vm_at_a_time() {
        let c = config(&[
            (INFRASTRUCTURE_IPV6_ADDRESS, "2001:db8:1::10/64"),
            (INFRASTRUCTURE_IPV6_GATEWAY, "fe80::1"),
        ]);
        assert!(matches!(c.ipv6, Ipv6::Static { .. }));
        assert!(!c.side_by_side());
        let (_, r) = run(
            "local",
            &[(INFRASTRUCTURE_IPV6_ADDRESS, "2001:db8:1::10/64")],
        );
        assert!(about(&r, INFRASTRUCTURE_IPV6_ADDRESS)[0]
            .contains("without INFRASTRUCTURE_IPV6_GATEWAY"));
        let (_, r) = run("local", &[(INFRASTRUCTURE_IPV6_GATEWAY, "fe80::1")]);
        assert!(about(&r, INFRASTRUCTURE_IPV6_GATEWAY)[0].contains("only used with a static IPv6"));
        let (_, r) = run(
            "local",
            &[
                (INFRASTRUCTURE_IPV6_ADDRESS, "2001:db8:1::10/64"),
                (INFRASTRUCTURE_IPV6_GATEWAY, "2001:db8:2::1"),
            ],
        );
        assert!(about(&r, INFRASTRUCTURE_IPV6_GATEWAY)[0]
            .contains("outside the VM's network 2001:db8:1::/64"));
        // Hetzner gives each server its /64: a static one is refused, and
        // a floating IPv6 needs nothing more.
        let hetzner = [
            (INFRASTRUCTURE_PROVIDER, "hetzner"),
            (INFRASTRUCTURE_REGION, "fsn1"),
            (INFRASTRUCTURE_INSTANCE_TYPE, "cx22"),
        ];
        let mut set = hetzner.to_vec();
        set.push((INFRASTRUCTURE_FLOATING_IPV6, "2001:db8:1::1"));
        assert_eq!(config(&set).ipv6, Ipv6::Auto);
        set.push((INFRASTRUCTURE_IPV6_ADDRESS, "2001:db8:1::10/64"));
        let (_, r) = run("local", &set);
        assert!(about(&r, INFRASTRUCTURE_IPV6_ADDRESS)[0].contains("gives each server its own /64"));
    }

    #[test]
    fn gateway_and_dns_only_with_a_static_address() {
        let (_, r) = run(
            "local",
            &[
                (INFRASTRUCTURE_IPV4_GATEWAY, "10.0.2.2"),
                (INFRASTRUCTURE_DNS_SERVERS, "10.0.2.3"),
            ],
        );
        for id in [INFRASTRUCTURE_IPV4_GATEWAY, INFRASTRUCTURE_DNS_SERVERS] {
            let got = about(&r, id);
            assert_eq!(got.len(), 1);
            assert!(got[0].starts_with(
                "Error: is only used with a static address | set INFRASTRUCTURE_IPV4_ADDRESS"
            ));
        }
    }

    fn problems(address: &str, gateway: &str) -> (Vec<String>, Vec<String>) {
        let (_, r) = run(
            "local",
            &[
                (INFRASTRUCTURE_IPV4_ADDRESS, address),
                (INFRASTRUCTURE_IPV4_GATEWAY, gateway),
            ],
        );
        (
            about(&r, INFRASTRUCTURE_IPV4_ADDRESS),
            about(&r, INFRASTRUCTURE_IPV4_GATEWAY),
        )
    }

    #[test]
    fn the_address_is_a_host_of_its_network() {
        for (address, what) in [
            ("10.0.2.0/24", "10.0.2.0 is the network address of 10.0.2.0/24 | use a host address of 10.0.2.0/24: 10.0.2.1 to 10.0.2.254"),
            ("10.0.2.255/24", "10.0.2.255 is the broadcast address of 10.0.2.0/24 | use a host address"),
            ("192.0.2.4/30", "192.0.2.4 is the network address of 192.0.2.4/30 | use a host address of 192.0.2.4/30: 192.0.2.5 to 192.0.2.6"),
            ("127.0.0.2/8", "127.0.0.2 is a loopback address (127.0.0.0/8) |"),
            ("0.0.0.0/24", "0.0.0.0 is in 0.0.0.0/8 (\"this network\"), not a host address"),
            ("0.1.2.3/8", "0.1.2.3 is in 0.0.0.0/8"),
            ("224.0.0.5/24", "224.0.0.5 is a multicast address (224.0.0.0/4)"),
            ("255.255.255.255/24", "255.255.255.255 is the limited broadcast address"),
            ("240.0.0.1/24", "240.0.0.1 is in the reserved block 240.0.0.0/4"),
            ("169.254.3.4/16", "169.254.3.4 is link-local (169.254.0.0/16), which routers do not forward"),
        ] {
            let (a, g) = problems(address, "10.0.2.2");
            assert_eq!(a.len(), 1, "{address}: {a:?}");
            assert!(a[0].starts_with(&format!("Error: {what}")), "{address}: {a:?}");
            // The gateway is not judged against an unusable address.
            assert!(g.is_empty(), "{address}: {g:?}");
        }
        // /31 (RFC 3021) and /32 have no network or broadcast address.
        for address in ["192.0.2.0/31", "192.0.2.1/31"] {
            let other = if address.starts_with("192.0.2.0") {
                "192.0.2.1"
            } else {
                "192.0.2.0"
            };
            assert_eq!(problems(address, other), (vec![], vec![]), "{address}");
        }
        let (a, g) = problems("192.0.2.7/32", "192.0.2.1");
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(g, vec!["Error: 192.0.2.1 cannot be reached: the VM's network 192.0.2.7/32 holds no address but its own | give INFRASTRUCTURE_IPV4_ADDRESS its network's prefix (e.g. /24) and the router's address inside it here | environments/local.env:2"]);
        assert_eq!(problems("192.0.2.7/32", "192.0.2.7").1.len(), 1);
    }

    #[test]
    fn the_gateway_is_another_host_of_the_network() {
        for (gateway, what) in [
            (
                "10.0.2.0",
                "10.0.2.0 cannot be the gateway: it is the network address of 10.0.2.0/24",
            ),
            (
                "10.0.2.255",
                "10.0.2.255 cannot be the gateway: it is the broadcast address of 10.0.2.0/24",
            ),
            (
                "127.0.0.1",
                "127.0.0.1 cannot be the gateway: it is a loopback address (127.0.0.0/8)",
            ),
            (
                "169.254.0.1",
                "169.254.0.1 cannot be the gateway: it is link-local (169.254.0.0/16)",
            ),
            (
                "224.0.0.1",
                "224.0.0.1 cannot be the gateway: it is a multicast address (224.0.0.0/4)",
            ),
            (
                "0.0.0.0",
                "0.0.0.0 cannot be the gateway: it is in 0.0.0.0/8",
            ),
            (
                "255.255.255.255",
                "255.255.255.255 cannot be the gateway: it is the limited broadcast address",
            ),
            (
                "10.0.3.1",
                "10.0.3.1 is not another host of the VM's network 10.0.2.0/24",
            ),
            (
                "10.0.2.15",
                "10.0.2.15 is not another host of the VM's network 10.0.2.0/24",
            ),
        ] {
            let (a, g) = problems("10.0.2.15/24", gateway);
            assert!(a.is_empty(), "{gateway}: {a:?}");
            assert_eq!(g.len(), 1, "{gateway}: {g:?}");
            assert!(
                g[0].starts_with(&format!("Error: {what}")),
                "{gateway}: {g:?}"
            );
            assert!(
                g[0].contains(
                    "| use the router's address inside INFRASTRUCTURE_IPV4_ADDRESS's network |"
                ),
                "{g:?}"
            );
        }
        for gateway in ["10.0.2.1", "10.0.2.254"] {
            assert_eq!(
                problems("10.0.2.15/24", gateway),
                (vec![], vec![]),
                "{gateway}"
            );
        }
    }
}
