//! What the VM's own firewall opens (templates/firewall.nft.tera): the
//! ports the release serves on the VM's addresses and nothing else, for
//! both families. Derived from the configuration here, beside the compose
//! file's published ports that it mirrors, so the two cannot drift: a
//! port appears when compose publishes it beyond 127.0.0.1, or a host
//! service of the release listens on it.
//!
//! Docker forwards its published ports (DNAT before the input hook), so
//! the input chain guards the host's own listeners (the boot status, SSH);
//! the published ports are listed there too so the rules say the whole
//! truth and hold under Docker's userland proxy.

use serde::Serialize;

use crate::config::{Config, BOOT_STATUS_PORT};

/// One opened port and why it is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opening {
    pub port: u16,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Openings {
    pub udp: Vec<Opening>,
    pub tcp: Vec<Opening>,
}

impl Openings {
    /// `udp 6868, 6969; tcp 7070, 9099 open` (the boot says it).
    pub fn summary(&self) -> String {
        let list = |o: &[Opening]| {
            o.iter()
                .map(|o| o.port.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("udp {}; tcp {} open", list(&self.udp), list(&self.tcp))
    }
}

fn open(port: u16, why: &str) -> Opening {
    Opening {
        port,
        why: why.to_string(),
    }
}

/// The ports `config`'s release opens.
pub fn openings(config: &Config) -> Openings {
    let udp = config
        .udp_ports
        .iter()
        .map(|p| open(p.0, "UDP tracker"))
        .collect();
    let mut tcp = Vec::new();
    if config.ssh_public_key.is_some() {
        tcp.push(open(22, "SSH (SSH_PUBLIC_KEY is set)"));
    }
    if config.domain_name.is_some() {
        tcp.push(open(80, "Caddy: HTTP, ACME"));
        tcp.push(open(443, "Caddy: HTTPS"));
    } else {
        tcp.extend(config.http_ports.iter().map(|p| open(p.0, "HTTP tracker")));
    }
    tcp.push(open(BOOT_STATUS_PORT, "boot status (read-only)"));
    if config.publish_admin_ports {
        tcp.push(open(config.api_port.0, "tracker API (PUBLISH_ADMIN_PORTS)"));
        tcp.push(open(
            config.health_check_port.0,
            "health-check API (PUBLISH_ADMIN_PORTS)",
        ));
        tcp.push(open(
            config.prometheus_port.0,
            "Prometheus (PUBLISH_ADMIN_PORTS)",
        ));
        if config.grafana {
            tcp.push(open(config.grafana_port.0, "Grafana (PUBLISH_ADMIN_PORTS)"));
        }
    }
    Openings { udp, tcp }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::testing::config;
    use crate::config::vars::VarId::*;

    fn ports(o: &[Opening]) -> Vec<u16> {
        o.iter().map(|o| o.port).collect()
    }

    #[test]
    fn a_release_opens_what_it_serves_and_nothing_else() {
        let o = openings(&config(&[]));
        assert_eq!(ports(&o.udp), [6868, 6969]);
        assert_eq!(ports(&o.tcp), [7070, BOOT_STATUS_PORT]);
        assert_eq!(o.summary(), "udp 6868, 6969; tcp 7070, 9099 open");
        let o = openings(&config(&[
            (PUBLISH_ADMIN_PORTS, "true"),
            (TORRUST_TRACKER_UDP_PORTS, "6969,6870"),
        ]));
        assert_eq!(ports(&o.udp), [6969, 6870]);
        assert_eq!(
            ports(&o.tcp),
            [7070, BOOT_STATUS_PORT, 1212, 1313, 9090, 3000]
        );
    }
}
