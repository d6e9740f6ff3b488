//! The validated configuration: what every later stage reads. Built only by
//! `validate`, so holding a `Config` means every rule passed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Serialize, Serializer};

use super::environment::Environment;
use super::provider::{Hetzner, Libvirt, Provider};
use super::types::{Database, TcpPort, TrackerMode, UdpPort};

/// Secret values. Kept out of `Config`'s serialization so a template can only
/// reach one through the explicit `secrets` context the renderer passes.
/// The TCP port on which every release serves its boot status (the
/// `torrust-bake:` lines of this boot, nothing secret) read-only:
/// templates/status.service.tera; where the host reads how a boot goes
/// when it has no console (Hetzner).
pub const BOOT_STATUS_PORT: u16 = 9099;

#[derive(Clone, Default)]
pub struct Secrets {
    pub api_token: String,
    pub grafana_admin_password: String,
    pub mysql_password: Option<String>,
    pub mysql_root_password: Option<String>,
    /// The key of every value derived from a secret (`digest::Keyed`).
    pub release_key: String,
    /// The restic repository's password and an s3: repository's keys.
    pub backup_password: Option<String>,
    pub backup_s3_access_key_id: Option<String>,
    pub backup_s3_secret_access_key: Option<String>,
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

/// Where Caddy gets its certificates when not from Let's Encrypt
/// (ACME_CA_URL), and the CA its HTTPS is signed by, if a private one.
#[derive(Debug, Clone, Serialize)]
pub struct Acme {
    /// The ACME directory, `https://...`.
    pub url: String,
    /// The PEM text of ACME_CA_ROOT_FILE.
    pub root_pem: Option<String>,
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
    /// The VM's own IPv6 (INFRASTRUCTURE_IPV6_ADDRESS, _GATEWAY).
    pub ipv6: Ipv6,
    /// The service addresses that move from VM to VM, in the order given.
    pub floating_ipv4: Vec<Ipv4Addr>,
    pub floating_ipv6: Vec<Ipv6Addr>,
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
    /// A custom ACME directory (ACME_CA_URL); None: Let's Encrypt.
    pub acme: Option<Acme>,
    /// Optional services: Grafana, and the stats exporter that feeds
    /// Prometheus the tracker's metrics (GRAFANA_ENABLED, STATS_EXPORTER_ENABLED).
    pub grafana: bool,
    pub stats_exporter: bool,
    /// How the VM's Docker trusts a private registry (CONTAINER_REGISTRY*).
    pub registry: Option<RegistryTrust>,
    /// The admin ports (API, health-check API, Prometheus, Grafana) on the
    /// VM's address, not only its 127.0.0.1 (PUBLISH_ADMIN_PORTS; lenient only).
    pub publish_admin_ports: bool,
    /// The database's backups (BACKUP_*): schedule, repository, restore.
    pub backup: super::backup::Backup,
    /// The libvirt VM's shape; not in the templates' context (it shapes
    /// the VM, not the release).
    #[serde(skip)]
    pub libvirt: Libvirt,
    /// What a Hetzner server gets besides its release; not in the
    /// templates' context either.
    #[serde(skip)]
    pub hetzner: Hetzner,
    #[serde(skip)]
    pub secrets: Secrets,
}

/// The VM's own IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Ipv6 {
    /// None configured (libvirt's default: its networks have no IPv6
    /// unless they are given one).
    None,
    /// From router advertisements (SLAAC), each VM its own; on Hetzner,
    /// the server's /64 from its metadata.
    Auto,
    /// A static address/prefix and its gateway, in network-config.
    Static { address: Ipv6Net, gateway: Ipv6Addr },
}

impl Config {
    /// Whether two machines of the environment can run side by side (a
    /// warm-standby replacement): not when the VM has a static address of
    /// either family, which two VMs cannot share. With DHCP and router
    /// advertisements each VM has its own addresses and the floating ones
    /// are routed to whichever holds the data.
    pub fn side_by_side(&self) -> bool {
        self.ipv4_address.is_none() && !matches!(self.ipv6, Ipv6::Static { .. })
    }

    /// The floating addresses the VM puts on `lo` itself (start.sh), with
    /// their prefix, once it holds the data: a host route (libvirt) or the
    /// provider (a routed floating IP) brings their traffic, and Docker's
    /// published ports answer from the address a request came to. IPv4
    /// ones only with DHCP (a static address's network-config puts them
    /// on the NIC); IPv6 ones always: of each floating /64, the one
    /// address served.
    pub fn lo_addresses(&self) -> Vec<String> {
        let v4 = self
            .floating_ipv4
            .iter()
            .filter(|_| self.ipv4_address.is_none())
            .map(|a| format!("{a}/32"));
        let v6 = self.floating_ipv6.iter().map(|a| format!("{a}/128"));
        v4.chain(v6).collect()
    }

    /// Every service address, IPv4 first: where clients reach the tracker.
    pub fn floating(&self) -> Vec<IpAddr> {
        let v4 = self.floating_ipv4.iter().map(|a| IpAddr::V4(*a));
        v4.chain(self.floating_ipv6.iter().map(|a| IpAddr::V6(*a)))
            .collect()
    }

    /// The bind address as it goes before `:port`.
    pub fn bind_host(&self) -> String {
        host_form(self.bind_address)
    }

    /// The sockets the tracker's services bind, derived from the bind address.
    pub fn listeners(&self) -> Listeners {
        Listeners::of(self.bind_address)
    }
}

/// What the tracker binds, one socket per address family.
///
/// Why: tracker 3.0.0 picks a reply's peer format and the statistics'
/// family by `remote_addr.is_ipv4()`. On a dual-stack `[::]` socket an IPv4
/// client arrives as `::ffff:a.b.c.d`, so it got 18-byte IPv6 peer entries
/// over UDP (read as 6-byte ones: two junk peers per real one), its peers
/// in `peers6` over HTTP, and was counted as IPv6. So the wildcard `::`
/// becomes two sockets, `0.0.0.0:P` and `[::]:P`, which the kernel allows
/// only with `net.ipv6.bindv6only = 1` (compose sets it in the tracker's own
/// network namespace: `v6only`). The admin services (API, health-check API)
/// are single sockets: Docker reaches them over the container's IPv4
/// address, so the wildcard gives them `0.0.0.0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listeners {
    /// Hosts (as they go before `:port`) every UDP and HTTP tracker port binds.
    pub trackers: Vec<String>,
    /// The host the API and the health-check API bind.
    pub admin: String,
    /// The tracker's namespace needs `net.ipv6.bindv6only = 1`.
    pub v6only: bool,
}

impl Listeners {
    pub fn of(bind: IpAddr) -> Listeners {
        if bind == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
            Listeners {
                trackers: vec!["0.0.0.0".into(), "[::]".into()],
                admin: "0.0.0.0".into(),
                v6only: true,
            }
        } else {
            Listeners {
                trackers: vec![host_form(bind)],
                admin: host_form(bind),
                v6only: false,
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wildcard_binds_each_family_on_its_own_socket() {
        let dual = Listeners::of("::".parse().unwrap());
        assert_eq!(dual.trackers, ["0.0.0.0", "[::]"]);
        assert_eq!((dual.admin.as_str(), dual.v6only), ("0.0.0.0", true));
        for (bind, host) in [
            ("0.0.0.0", "0.0.0.0"),
            ("127.0.0.1", "127.0.0.1"),
            ("2001:db8::5", "[2001:db8::5]"),
        ] {
            let one = Listeners::of(bind.parse().unwrap());
            assert_eq!(one.trackers, [host]);
            assert_eq!((one.admin.as_str(), one.v6only), (host, false));
        }
    }
}
