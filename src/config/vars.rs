//! The one table of every variable torrust-bake reads. Validation (`check`),
//! `show`, and the README's variable table are all generated from it, so a
//! variable exists exactly when it has a row here.

/// The value type of a variable; `validate` parses each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
    /// Free text on one line (no control characters).
    Text,
    /// A DNS label usable as a host name.
    Hostname,
    /// An ext4 file-system label (1-16 characters).
    VolumeLabel,
    /// A whole number within the bounds.
    Number { min: u64, max: u64 },
    /// A TCP/UDP port, 1-65535.
    Port,
    /// A comma-separated list of distinct ports.
    Ports,
    /// An IPv4 or IPv6 address.
    IpAddr,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// An IPv4 address with its prefix length, `192.0.2.10/24`.
    Ipv4Cidr,
    /// A comma-separated list of IP addresses.
    IpList,
    /// `sqlite:///path` or `mysql://user@host:port/db`.
    DatabaseUrl,
    /// A Prometheus duration such as `15s`, `30d`, `1y`.
    Duration,
    /// A secret; only ever written to 0600 files, never printed.
    Secret { min_len: usize },
    /// An OpenSSH public key line.
    SshPublicKey,
    /// A fully qualified domain name.
    Domain,
    /// An e-mail address.
    Email,
}

#[derive(Debug)]
pub struct Var {
    pub name: &'static str,
    pub kind: Kind,
    /// The built-in default; "" means unset.
    pub default: &'static str,
    /// Environments in which the variable must be set explicitly (not the default).
    pub required_in: &'static [&'static str],
    pub help: &'static str,
}

impl Var {
    pub fn is_secret(&self) -> bool {
        matches!(self.kind, Kind::Secret { .. })
    }

    pub fn type_name(&self) -> String {
        match self.kind {
            Kind::OneOf(words) => words.join(" \\| "),
            Kind::Text => "text".into(),
            Kind::Hostname => "host name".into(),
            Kind::VolumeLabel => "volume label".into(),
            Kind::Number { min, max } => format!("number {min}-{max}"),
            Kind::Port => "port".into(),
            Kind::Ports => "ports, comma-separated".into(),
            Kind::IpAddr => "IP address".into(),
            Kind::Ipv4 => "IPv4 address".into(),
            Kind::Ipv6 => "IPv6 address".into(),
            Kind::Ipv4Cidr => "IPv4 address/prefix".into(),
            Kind::IpList => "IP addresses, comma-separated".into(),
            Kind::DatabaseUrl => "database URL".into(),
            Kind::Duration => "duration".into(),
            Kind::Secret { min_len } => format!("secret, min {min_len} chars"),
            Kind::SshPublicKey => "SSH public key".into(),
            Kind::Domain => "domain name".into(),
            Kind::Email => "e-mail".into(),
        }
    }
}

/// The environments torrust-bake knows. Each reads `environments/<name>.env`.
pub const ENVIRONMENTS: &[&str] = &["local", "staging", "production"];

/// Environments where secrets must be real: set, not a placeholder, long enough.
pub const STRICT_ENVIRONMENTS: &[&str] = &["staging", "production"];

const STRICT: &[&str] = STRICT_ENVIRONMENTS;
const NONE: &[&str] = &[];

pub const VARS: &[Var] = &[
    Var {
        name: "INFRASTRUCTURE_PROVIDER",
        kind: Kind::OneOf(super::provider::Provider::NAMES),
        default: "libvirt",
        required_in: NONE,
        help: "Where the VM runs: local KVM through libvirt, or Hetzner Cloud.",
    },
    Var {
        name: "INFRASTRUCTURE_REGION",
        kind: Kind::Text,
        default: "",
        required_in: NONE,
        help: "Hetzner location (fsn1, nbg1, hel1, ash, hil, sin); required with hetzner.",
    },
    Var {
        name: "INFRASTRUCTURE_INSTANCE_TYPE",
        kind: Kind::Text,
        default: "",
        required_in: NONE,
        help: "Hetzner server type (cx22, ccx23, ...); required with hetzner.",
    },
    Var {
        name: "INFRASTRUCTURE_IMAGE",
        kind: Kind::Text,
        default: "debian-12",
        required_in: NONE,
        help: "Base OS image the VM boots (debian-12, debian-13, ubuntu-24.04).",
    },
    Var {
        name: "INFRASTRUCTURE_HOSTNAME",
        kind: Kind::Hostname,
        default: "torrust-tracker",
        required_in: NONE,
        help: "The VM's host name; with the release version it makes the cloud-init instance-id.",
    },
    Var {
        name: "INFRASTRUCTURE_DATA_VOLUME",
        kind: Kind::VolumeLabel,
        default: "",
        required_in: NONE,
        help: "Label of the persistent data volume mounted at /var/lib/torrust; unset keeps data on the VM disk.",
    },
    Var {
        name: "INFRASTRUCTURE_DATA_VOLUME_SIZE_GB",
        kind: Kind::Number { min: 10, max: 10240 },
        default: "10",
        required_in: NONE,
        help: "Size of the data volume when it is created, in GB.",
    },
    Var {
        name: "INFRASTRUCTURE_IPV4_ADDRESS",
        kind: Kind::Ipv4Cidr,
        default: "",
        required_in: NONE,
        help: "Static IPv4 address/prefix of the VM's first NIC (writes network-config); unset: DHCP.",
    },
    Var {
        name: "INFRASTRUCTURE_IPV4_GATEWAY",
        kind: Kind::Ipv4,
        default: "",
        required_in: NONE,
        help: "Default IPv4 gateway with a static address.",
    },
    Var {
        name: "INFRASTRUCTURE_DNS_SERVERS",
        kind: Kind::IpList,
        default: "",
        required_in: NONE,
        help: "Comma-separated name servers with a static address.",
    },
    Var {
        name: "INFRASTRUCTURE_FLOATING_IPV4",
        kind: Kind::Ipv4,
        default: "",
        required_in: NONE,
        help: "Floating IPv4 address the tracker answers on; moves to a new VM once it is healthy.",
    },
    Var {
        name: "INFRASTRUCTURE_FLOATING_IPV6",
        kind: Kind::Ipv6,
        default: "",
        required_in: NONE,
        help: "Floating IPv6 address (one address of the floating /64).",
    },
    Var {
        name: "TORRUST_TRACKER_MODE",
        kind: Kind::OneOf(&["public", "private", "whitelisted"]),
        default: "public",
        required_in: NONE,
        help: "public: any torrent; whitelisted: listed torrents only; private: peers need a key.",
    },
    Var {
        name: "TORRUST_TRACKER_DATABASE_URL",
        kind: Kind::DatabaseUrl,
        default: "sqlite:///var/lib/torrust/tracker/database/sqlite3.db",
        required_in: NONE,
        help: "sqlite:///path, or mysql://user@host:port/db without a password (host mysql = the bundled container).",
    },
    Var {
        name: "TORRUST_TRACKER_LOG_LEVEL",
        kind: Kind::OneOf(&["off", "error", "warn", "info", "debug", "trace"]),
        default: "info",
        required_in: NONE,
        help: "Tracker log threshold.",
    },
    Var {
        name: "TORRUST_TRACKER_API_TOKEN",
        kind: Kind::Secret { min_len: 32 },
        default: "MyAccessToken",
        required_in: STRICT,
        help: "Admin token of the tracker's REST API (and of Prometheus scraping it).",
    },
    Var {
        name: "TORRUST_TRACKER_BIND_ADDRESS",
        kind: Kind::IpAddr,
        default: "::",
        required_in: NONE,
        help: "Address the tracker's listeners bind inside its container; :: is dual stack.",
    },
    Var {
        name: "TORRUST_TRACKER_UDP_PORTS",
        kind: Kind::Ports,
        default: "6868,6969",
        required_in: NONE,
        help: "UDP tracker (BEP 15) ports, published on every address.",
    },
    Var {
        name: "TORRUST_TRACKER_HTTP_PORTS",
        kind: Kind::Ports,
        default: "7070",
        required_in: NONE,
        help: "HTTP tracker ports; behind the reverse proxy when DOMAIN_NAME is set.",
    },
    Var {
        name: "TORRUST_TRACKER_API_PORT",
        kind: Kind::Port,
        default: "1212",
        required_in: NONE,
        help: "REST API port; published on 127.0.0.1 only, public through the proxy.",
    },
    Var {
        name: "TORRUST_TRACKER_HEALTH_CHECK_PORT",
        kind: Kind::Port,
        default: "1313",
        required_in: NONE,
        help: "Health-check API port; published on 127.0.0.1 only.",
    },
    Var {
        name: "TORRUST_TRACKER_ANNOUNCE_INTERVAL",
        kind: Kind::Number { min: 1, max: 86400 },
        default: "300",
        required_in: NONE,
        help: "Seconds a client should wait between announces.",
    },
    Var {
        name: "TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN",
        kind: Kind::Number { min: 1, max: 86400 },
        default: "300",
        required_in: NONE,
        help: "Minimum announce interval in seconds; at most the announce interval.",
    },
    Var {
        name: "TORRUST_TRACKER_EXTERNAL_IP",
        kind: Kind::IpAddr,
        default: "",
        required_in: NONE,
        help: "Public address the tracker reports for peers on its own network.",
    },
    Var {
        name: "PROMETHEUS_RETENTION_TIME",
        kind: Kind::Duration,
        default: "15d",
        required_in: NONE,
        help: "How long Prometheus keeps metrics.",
    },
    Var {
        name: "PROMETHEUS_SCRAPE_INTERVAL",
        kind: Kind::Duration,
        default: "15s",
        required_in: NONE,
        help: "How often Prometheus scrapes the tracker.",
    },
    Var {
        name: "PROMETHEUS_PORT",
        kind: Kind::Port,
        default: "9090",
        required_in: NONE,
        help: "Port Prometheus is published on, on the VM's 127.0.0.1 only.",
    },
    Var {
        name: "GRAFANA_PORT",
        kind: Kind::Port,
        default: "3000",
        required_in: NONE,
        help: "Port Grafana is published on, on the VM's 127.0.0.1 (public through the proxy).",
    },
    Var {
        name: "GRAFANA_ADMIN_USER",
        kind: Kind::Text,
        default: "admin",
        required_in: NONE,
        help: "Grafana administrator login.",
    },
    Var {
        name: "GRAFANA_ADMIN_PASSWORD",
        kind: Kind::Secret { min_len: 16 },
        default: "admin",
        required_in: STRICT,
        help: "Grafana administrator password.",
    },
    Var {
        name: "MYSQL_PASSWORD",
        kind: Kind::Secret { min_len: 16 },
        default: "",
        required_in: NONE,
        help: "Password of the database URL's user; required with a MySQL database.",
    },
    Var {
        name: "MYSQL_ROOT_PASSWORD",
        kind: Kind::Secret { min_len: 16 },
        default: "",
        required_in: NONE,
        help: "Root password of the bundled MySQL; required when the URL's host is mysql.",
    },
    Var {
        name: "SSH_PUBLIC_KEY",
        kind: Kind::SshPublicKey,
        default: "",
        required_in: NONE,
        help: "Key allowed to log in as the admin user (key only, no passwords); unset: no SSH login.",
    },
    Var {
        name: "DOMAIN_NAME",
        kind: Kind::Domain,
        default: "",
        required_in: NONE,
        help: "Base domain; enables Caddy with TLS for api., http1., grafana. sub-domains.",
    },
    Var {
        name: "SSL_EMAIL",
        kind: Kind::Email,
        default: "",
        required_in: NONE,
        help: "ACME account e-mail for the TLS certificates; required with DOMAIN_NAME.",
    },
];

pub fn find(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.name == name)
}

/// Values that are never acceptable as secrets outside `local`.
pub const PLACEHOLDERS: &[&str] = &[
    "myaccesstoken",
    "changeme",
    "change-me",
    "change_me",
    "admin",
    "password",
    "secret",
    "root",
    "root_secret_password",
    "db_user_secret_password",
    "example",
    "xxx",
    "todo",
];

/// The README's variable table, generated from `VARS`.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| Variable | Type | Default | Required in | Description |\n|---|---|---|---|---|\n",
    );
    for v in VARS {
        let default = if v.default.is_empty() {
            "".to_string()
        } else if v.is_secret() {
            format!("`{}` (local only)", v.default)
        } else {
            format!("`{}`", v.default)
        };
        let required = if v.required_in.is_empty() {
            "".to_string()
        } else {
            v.required_in.join(", ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            v.name,
            v.type_name(),
            default,
            required,
            v.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn readme_variable_table_is_generated_from_the_table() {
        let readme = include_str!("../../README.md");
        let table = super::markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's variable table drifted from src/config/vars.rs; replace it with:\n{table}"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = super::VARS.iter().map(|v| v.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::VARS.len());
    }
}
