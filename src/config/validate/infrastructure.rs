//! Infrastructure rules: what the provider requires, and static addressing
//! (an address needs its gateway, inside its own network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Checker;
use crate::config::provider::Provider;
use crate::config::vars::VarId::*;

pub(super) fn check(c: &mut Checker) {
    provider_requirements(c);
    static_addressing(c);
}

fn provider_requirements(c: &mut Checker) {
    let Some(provider) = Provider::parse(&c.text(INFRASTRUCTURE_PROVIDER)) else {
        return;
    };
    for &(id, example) in provider.required_vars() {
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
    let (Some(net), Some(IpAddr::V4(gateway))) = (
        c.net(INFRASTRUCTURE_IPV4_ADDRESS),
        c.ip(INFRASTRUCTURE_IPV4_GATEWAY),
    ) else {
        return;
    };
    if !net.trunc().contains(&gateway) || gateway == net.addr() {
        c.fail(
            INFRASTRUCTURE_IPV4_GATEWAY,
            format!(
                "{gateway} is not another host of the VM's network {}",
                net.trunc()
            ),
            "use the router's address inside INFRASTRUCTURE_IPV4_ADDRESS's network",
        );
    }
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
}
