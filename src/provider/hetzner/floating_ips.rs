//! Floating IPs: get, find by address or label, assign, unassign.
//!
//! Shapes from hcloud-go `hcloud/schema/floating_ip.go`: a floating IP is
//! `{id, name, description, ip, type (ipv4 | ipv6), server (id or null),
//! home_location {name}, blocked, labels, protection, dns_ptr}`; assign is
//! `POST /floating_ips/{id}/actions/assign {server}`, unassign `POST
//! /floating_ips/{id}/actions/unassign {}`. It moves while both servers run
//! (a primary IP would not), and must also be configured inside the OS.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::client::Client;
use super::error::Failure;
use super::servers::{by_labels, Named};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FloatingIp {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    pub ip: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub server: Option<u64>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub home_location: Option<Named>,
}

fn parse_ip(v: &Value, what: &str) -> Result<FloatingIp, Failure> {
    serde_json::from_value(v.clone()).map_err(|e| Failure::Protocol {
        request: what.to_string(),
        why: format!("not a floating IP: {e}"),
    })
}

impl Client {
    /// The floating IP `id`; `None` when it does not exist.
    pub fn floating_ip(&self, id: u64) -> Result<Option<FloatingIp>, Failure> {
        self.item(&format!("/floating_ips/{id}"), "floating_ip", parse_ip)
    }

    /// Every floating IP matching `label_selector` (all with "").
    pub fn floating_ips(&self, label_selector: &str) -> Result<Vec<FloatingIp>, Failure> {
        self.list("/floating_ips", "floating_ips", &by_labels(label_selector))?
            .iter()
            .map(|v| parse_ip(v, "GET /floating_ips"))
            .collect()
    }

    /// The floating IP whose address is `ip` (as INFRASTRUCTURE_FLOATING_IPV4
    /// names it); an IPv6 one is a /64 network (`2001:db8:1::/64` in the
    /// API) of which the configuration names the one address served, so it
    /// is the network that holds `ip`.
    pub fn floating_ip_by_address(&self, ip: &str) -> Result<Option<FloatingIp>, Failure> {
        let Ok(wanted) = ip
            .split('/')
            .next()
            .unwrap_or("")
            .parse::<std::net::IpAddr>()
        else {
            return Ok(None);
        };
        Ok(self
            .floating_ips("")?
            .into_iter()
            .find(|f| holds(&f.ip, wanted)))
    }

    /// Points the floating IP at `server` and waits; done already when it
    /// does.
    pub fn assign_floating_ip(&self, id: u64, server: u64) -> Result<(), Failure> {
        let done = || {
            Ok(self
                .floating_ip(id)?
                .is_some_and(|f| f.server == Some(server)))
        };
        if done()? {
            return Ok(());
        }
        self.act(
            &format!("/floating_ips/{id}/actions/assign"),
            &json!({ "server": server }),
            &done,
        )
    }

    pub fn unassign_floating_ip(&self, id: u64) -> Result<(), Failure> {
        let done = || Ok(self.floating_ip(id)?.is_some_and(|f| f.server.is_none()));
        if done()? {
            return Ok(());
        }
        self.act(
            &format!("/floating_ips/{id}/actions/unassign"),
            &json!({}),
            &done,
        )
    }
}

/// Whether the API's `ip` (an address, or a network for IPv6) is or holds
/// `wanted`.
fn holds(ip: &str, wanted: std::net::IpAddr) -> bool {
    if let Ok(net) = ip.parse::<ipnet::IpNet>() {
        return net.contains(&wanted);
    }
    ip.parse::<std::net::IpAddr>().is_ok_and(|a| a == wanted)
}

#[cfg(test)]
mod tests {
    use super::holds;

    #[test]
    fn an_ipv6_floating_ip_is_the_network_that_holds_the_address() {
        assert!(holds("2001:db8:1::/64", "2001:db8:1::1".parse().unwrap()));
        assert!(holds(
            "2001:db8:1::/64",
            "2001:db8:1:0:ff::2".parse().unwrap()
        ));
        assert!(!holds("2001:db8:1::/64", "2001:db8:2::1".parse().unwrap()));
        assert!(holds("192.0.2.7", "192.0.2.7".parse().unwrap()));
        assert!(!holds("192.0.2.7", "192.0.2.8".parse().unwrap()));
    }
}
