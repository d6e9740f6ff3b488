//! The validated configuration: what every later stage reads. Built only by
//! `validate`, so holding a `Config` means every rule passed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::Ipv4Net;
use serde::{Serialize, Serializer};

use super::provider::{Libvirt, Provider};
use super::types::{Database, Environment, TcpPort, TrackerMode, UdpPort};

/// Secret values. Kept out of `Config`'s serialization so a template can only
/// reach one through the explicit `secrets` context the renderer passes.
#[derive(Clone, Default)]
pub struct Secrets {
    pub api_token: String,
    pub grafana_admin_password: String,
    pub mysql_password: Option<String>,
    pub mysql_root_password: Option<String>,
    /// The key of every value derived from a secret (`digest::Keyed`).
    pub release_key: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(redacted)")
    }
}

/// A private registry the VM's Docker must trust: by a CA certificate the
/// release installs, or over plain HTTP (lenient environments only).
#[derive(Debug, Clone, Serialize)]
pub struct RegistryTrust {
    /// `host[:port]`, as image references name it.
    pub host: String,
    /// The CA certificate's PEM text, read from CONTAINER_REGISTRY_CA_FILE.
    pub ca_pem: Option<String>,
    pub insecure: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub env: Environment,
    pub provider: Provider,
    pub region: String,
    pub instance_type: String,
    pub image: String,
    pub hostname: String,
    pub data_volume: Option<String>,
    pub data_volume_size_gb: u64,
    /// Static addressing of the first NIC: address/prefix, gateway, DNS.
    pub ipv4_address: Option<Ipv4Net>,
    pub ipv4_gateway: Option<Ipv4Addr>,
    pub dns_servers: Vec<IpAddr>,
    pub floating_ipv4: Option<Ipv4Addr>,
    pub floating_ipv6: Option<Ipv6Addr>,
    pub mode: TrackerMode,
    pub database: Database,
    pub log_level: String,
    /// The address the tracker's listeners bind; templates read it as
    /// `bind_host`, the form that goes before `:port` (`[::]`, `127.0.0.1`).
    #[serde(rename = "bind_host", serialize_with = "bracketed")]
    pub bind_address: IpAddr,
    pub udp_ports: Vec<UdpPort>,
    pub http_ports: Vec<TcpPort>,
    pub api_port: TcpPort,
    pub health_check_port: TcpPort,
    pub announce_interval: u64,
    pub announce_interval_min: u64,
    pub external_ip: Option<IpAddr>,
    pub prometheus_retention_time: String,
    pub prometheus_scrape_interval: String,
    pub prometheus_port: TcpPort,
    pub grafana_port: TcpPort,
    pub grafana_admin_user: String,
    pub ssh_public_key: Option<String>,
    pub domain_name: Option<String>,
    pub ssl_email: Option<String>,
    /// Optional services: Grafana, and the stats exporter that feeds
    /// Prometheus the tracker's metrics (GRAFANA_ENABLED, STATS_EXPORTER_ENABLED).
    pub grafana: bool,
    pub stats_exporter: bool,
    /// How the VM's Docker trusts a private registry (CONTAINER_REGISTRY*).
    pub registry: Option<RegistryTrust>,
    /// The admin ports (API, health-check API, Prometheus, Grafana) on the
    /// VM's address, not only its 127.0.0.1 (PUBLISH_ADMIN_PORTS; lenient only).
    pub publish_admin_ports: bool,
    /// The libvirt VM's shape; not in the templates' context (it shapes
    /// the VM, not the release).
    #[serde(skip)]
    pub libvirt: Libvirt,
    #[serde(skip)]
    pub secrets: Secrets,
}

impl Config {
    /// The bind address as it goes before `:port`.
    pub fn bind_host(&self) -> String {
        host_form(self.bind_address)
    }
}

/// An address as it goes before `:port`: IPv6 in brackets.
pub fn host_form(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(a) => format!("[{a}]"),
        IpAddr::V4(a) => a.to_string(),
    }
}

fn bracketed<S: Serializer>(ip: &IpAddr, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&host_form(*ip))
}
