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
    /// A comma-separated list of distinct IPv4 addresses.
    Ipv4List,
    /// A comma-separated list of distinct IPv6 addresses.
    Ipv6List,
    /// The VM's own IPv6: `auto` (router advertisements) or address/prefix.
    Ipv6Setting,
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
    /// A registry's `host` or `host:port`, as Docker names it.
    RegistryHost,
    /// A path relative to the project directory, inside it.
    RelativePath,
    /// A comma-separated list of distinct names or ids of a provider's
    /// resources (Hetzner SSH keys, firewalls).
    NameList,
}

impl VarId {
    /// The variable's row in the table.
    pub fn var(self) -> &'static Var {
        // In bounds and in order: `variables!` makes the ids and the rows
        // from one list.
        &VARS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.var().name
    }
}

#[derive(Debug)]
pub struct Var {
    pub id: VarId,
    pub name: &'static str,
    pub kind: Kind,
    /// The built-in default; "" means unset.
    pub default: &'static str,
    /// Whether the variable must be set explicitly (not the default).
    pub required: Required,
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
            Kind::Ipv4List => "IPv4 addresses, comma-separated".into(),
            Kind::Ipv6List => "IPv6 addresses, comma-separated".into(),
            Kind::Ipv6Setting => "auto \\| IPv6 address/prefix".into(),
            Kind::DatabaseUrl => "database URL".into(),
            Kind::Duration => "duration".into(),
            Kind::Secret { min_len } => format!("secret, min {min_len} chars"),
            Kind::SshPublicKey => "SSH public key".into(),
            Kind::Domain => "domain name".into(),
            Kind::Email => "e-mail".into(),
            Kind::RegistryHost => "host[:port]".into(),
            Kind::RelativePath => "path in the project".into(),
            Kind::NameList => "names or ids, comma-separated".into(),
        }
    }
}

/// The words of a yes/no variable.
pub const BOOLEAN: &[&str] = &["true", "false"];

/// Where a variable must be set explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    No,
    /// In strict environments (staging, production, and any declared strict).
    InStrict,
    /// In the file of every environment but the built-in ones
    /// (`config/environment.rs` checks it).
    OutsideBuiltIns,
}

/// Declares every variable once, by its name, and generates from that one
/// row its `VarId` (the typed key: code reaches a value through
/// `raw[VarId::TORRUST_TRACKER_MODE]`, never through a string, so a
/// misspelt name does not compile), its name as text, the count, and the
/// table `VARS` in declaration order.
macro_rules! variables {
    ($(
        $name:ident {
            kind: $kind:expr,
            default: $default:expr,
            required: $required:expr,
            help: $help:expr $(,)?
        }
    ),* $(,)?) => {
        /// Every variable, by name: the typed key of the table.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum VarId {
            $($name,)*
        }

        impl VarId {
            pub const COUNT: usize = [$(stringify!($name)),*].len();
        }

        pub const VARS: [Var; VarId::COUNT] = [
            $(Var {
                id: VarId::$name,
                name: stringify!($name),
                kind: $kind,
                default: $default,
                required: $required,
                help: $help,
            },)*
        ];
    };
}

variables! {
    TORRUST_BAKE_STRICTNESS {
            kind: Kind::OneOf(super::strictness::Strictness::NAMES),
            default: "",
            required: Required::OutsideBuiltIns,
            help: "How strict validation is on the environment: strict (real secrets, images by digest only, unknown variables refused, like staging and production) or lenient (local defaults, tags with a warning, like local). Declared in environments/<env>.env of every environment but local (lenient), staging and production (strict), whose strictness is built in and cannot be changed. The process environment may make an environment strict, never lenient.",
    },
    INFRASTRUCTURE_PROVIDER {
            kind: Kind::OneOf(super::provider::Provider::NAMES),
            default: "libvirt",
            required: Required::No,
            help: "Where the VM runs: local KVM through libvirt, or Hetzner Cloud.",
    },
    INFRASTRUCTURE_REGION {
            kind: Kind::Text,
            default: "",
            required: Required::No,
            help: "Hetzner location (fsn1, nbg1, hel1, ash, hil, sin); required with hetzner.",
    },
    INFRASTRUCTURE_INSTANCE_TYPE {
            kind: Kind::Text,
            default: "",
            required: Required::No,
            help: "Hetzner server type (cx22, ccx23, ...); required with hetzner.",
    },
    INFRASTRUCTURE_IMAGE {
            kind: Kind::Text,
            default: "debian-12",
            required: Required::No,
            help: "Base OS image the VM boots (debian-12, debian-13, ubuntu-24.04).",
    },
    INFRASTRUCTURE_HOSTNAME {
            kind: Kind::Hostname,
            default: "torrust-tracker",
            required: Required::No,
            help: "The VM's host name; with the release version it makes the cloud-init instance-id.",
    },
    INFRASTRUCTURE_DATA_VOLUME {
            kind: Kind::VolumeLabel,
            default: "torrust-data",
            required: Required::No,
            help: "Label (and libvirt disk serial) of the persistent data volume mounted at /var/lib/torrust, formatted on first use and kept across releases. Empty, or left at its default with an external MySQL: no volume (data stays on the VM's disk and dies with it).",
    },
    INFRASTRUCTURE_DATA_VOLUME_SIZE_GB {
            kind: Kind::Number { min: 10, max: 10240 },
            default: "10",
            required: Required::No,
            help: "Size of the data volume when it is created, in GB.",
    },
    INFRASTRUCTURE_IPV4_ADDRESS {
            kind: Kind::Ipv4Cidr,
            default: "",
            required: Required::No,
            help: "Static IPv4 address/prefix of the VM's first NIC (writes network-config); unset: DHCP. A host's address: not the network or broadcast address of its prefix (a /31 or /32 has neither), nor loopback, multicast, link-local, 0.0.0.0/8 or 240.0.0.0/4.",
    },
    INFRASTRUCTURE_IPV4_GATEWAY {
            kind: Kind::Ipv4,
            default: "",
            required: Required::No,
            help: "Default IPv4 gateway with a static address: another host inside the address's prefix (so none fits a /32).",
    },
    INFRASTRUCTURE_DNS_SERVERS {
            kind: Kind::IpList,
            default: "",
            required: Required::No,
            help: "Comma-separated name servers with a static address.",
    },
    INFRASTRUCTURE_IPV6_ADDRESS {
            kind: Kind::Ipv6Setting,
            default: "",
            required: Required::No,
            help: "The VM's own IPv6 on libvirt: auto (router advertisements, SLAAC; each VM its own address, so a standby boots beside the VM it replaces), or a static address/prefix (writes network-config, with INFRASTRUCTURE_IPV6_GATEWAY; one VM at a time). Unset: none. A Hetzner server always has its own /64 from Hetzner's metadata: leave it unset there.",
    },
    INFRASTRUCTURE_IPV6_GATEWAY {
            kind: Kind::Ipv6,
            default: "",
            required: Required::No,
            help: "Default IPv6 gateway with a static IPv6 address: a link-local router address (fe80::1) or one inside the address's prefix.",
    },
    INFRASTRUCTURE_FLOATING_IPV4 {
            kind: Kind::Ipv4List,
            default: "",
            required: Required::No,
            help: "Floating IPv4 addresses the tracker answers on, comma-separated (e.g. one per UDP tracker); they move to a new VM once it is healthy. Public unicast addresses, not the VM's own.",
    },
    INFRASTRUCTURE_FLOATING_IPV6 {
            kind: Kind::Ipv6List,
            default: "",
            required: Required::No,
            help: "Floating IPv6 addresses, comma-separated: of each floating /64, the one address served. Needs IPv6 on the VM (INFRASTRUCTURE_IPV6_ADDRESS on libvirt; always there on Hetzner).",
    },
    TORRUST_TRACKER_MODE {
            kind: Kind::OneOf(super::types::TrackerMode::NAMES),
            default: "public",
            required: Required::No,
            help: "public: any torrent; whitelisted: listed torrents only; private: peers need a key.",
    },
    TORRUST_TRACKER_DATABASE_URL {
            kind: Kind::DatabaseUrl,
            default: "sqlite:///var/lib/torrust/tracker/database/sqlite3.db",
            required: Required::No,
            help: "sqlite:///path, or mysql://user@host:port/db without a password (host mysql = the bundled container).",
    },
    TORRUST_TRACKER_LOG_LEVEL {
            kind: Kind::OneOf(&["off", "error", "warn", "info", "debug", "trace"]),
            default: "info",
            required: Required::No,
            help: "Tracker log threshold.",
    },
    TORRUST_TRACKER_API_TOKEN {
            kind: Kind::Secret { min_len: 32 },
            default: "MyAccessToken",
            required: Required::InStrict,
            help: "Admin token of the tracker's REST API (and of Prometheus scraping it).",
    },
    TORRUST_TRACKER_BIND_ADDRESS {
            kind: Kind::IpAddr,
            default: "::",
            required: Required::No,
            help: "Address the tracker's listeners bind inside its container; :: binds each family on its own socket (0.0.0.0 and [::], IPv6-only), so IPv4 clients get IPv4 replies.",
    },
    TORRUST_TRACKER_UDP_PORTS {
            kind: Kind::Ports,
            default: "6868,6969",
            required: Required::No,
            help: "UDP tracker (BEP 15) ports, published on every address.",
    },
    TORRUST_TRACKER_HTTP_PORTS {
            kind: Kind::Ports,
            default: "7070",
            required: Required::No,
            help: "HTTP tracker ports; behind the reverse proxy when DOMAIN_NAME is set.",
    },
    TORRUST_TRACKER_API_PORT {
            kind: Kind::Port,
            default: "1212",
            required: Required::No,
            help: "REST API port; published on the VM's 127.0.0.1 (unless PUBLISH_ADMIN_PORTS), public through the proxy.",
    },
    TORRUST_TRACKER_HEALTH_CHECK_PORT {
            kind: Kind::Port,
            default: "1313",
            required: Required::No,
            help: "Health-check API port; published on the VM's 127.0.0.1 (unless PUBLISH_ADMIN_PORTS).",
    },
    TORRUST_TRACKER_ANNOUNCE_INTERVAL {
            kind: Kind::Number { min: 1, max: 86400 },
            default: "300",
            required: Required::No,
            help: "Seconds a client should wait between announces.",
    },
    TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN {
            kind: Kind::Number { min: 1, max: 86400 },
            default: "300",
            required: Required::No,
            help: "Minimum announce interval in seconds; at most the announce interval.",
    },
    TORRUST_TRACKER_EXTERNAL_IP {
            kind: Kind::IpAddr,
            default: "",
            required: Required::No,
            help: "Public address the tracker reports for peers on its own network.",
    },
    PROMETHEUS_RETENTION_TIME {
            kind: Kind::Duration,
            default: "15d",
            required: Required::No,
            help: "How long Prometheus keeps metrics.",
    },
    PROMETHEUS_SCRAPE_INTERVAL {
            kind: Kind::Duration,
            default: "15s",
            required: Required::No,
            help: "How often Prometheus scrapes the tracker.",
    },
    PROMETHEUS_PORT {
            kind: Kind::Port,
            default: "9090",
            required: Required::No,
            help: "Port Prometheus is published on, on the VM's 127.0.0.1 (unless PUBLISH_ADMIN_PORTS).",
    },
    GRAFANA_PORT {
            kind: Kind::Port,
            default: "3000",
            required: Required::No,
            help: "Port Grafana is published on, on the VM's 127.0.0.1 (unless PUBLISH_ADMIN_PORTS; public through the proxy).",
    },
    GRAFANA_ADMIN_USER {
            kind: Kind::Text,
            default: "admin",
            required: Required::No,
            help: "Grafana administrator login.",
    },
    GRAFANA_ADMIN_PASSWORD {
            kind: Kind::Secret { min_len: 16 },
            default: "admin",
            required: Required::InStrict,
            help: "Grafana administrator password; not needed with GRAFANA_ENABLED=false.",
    },
    GRAFANA_ENABLED {
            kind: Kind::OneOf(BOOLEAN),
            default: "true",
            required: Required::No,
            help: "Run Grafana (dashboards over Prometheus); false leaves it out of the stack, for small VMs.",
    },
    STATS_EXPORTER_ENABLED {
            kind: Kind::OneOf(BOOLEAN),
            default: "true",
            required: Required::No,
            help: "Run the stats exporter that turns the tracker's API stats into Prometheus metrics; false leaves it and Prometheus's tracker metrics out.",
    },
    MYSQL_PASSWORD {
            kind: Kind::Secret { min_len: 16 },
            default: "",
            required: Required::No,
            help: "Password of the database URL's user; required with a MySQL database.",
    },
    MYSQL_ROOT_PASSWORD {
            kind: Kind::Secret { min_len: 16 },
            default: "",
            required: Required::No,
            help: "Root password of the bundled MySQL; required when the URL's host is mysql.",
    },
    BACKUP_REPOSITORY {
            kind: Kind::Text,
            default: "",
            required: Required::No,
            help: "Where the VM's backups go, off the VM and encrypted by restic: sftp:user@host:/path (or sftp://user@host:port/path; e.g. a Hetzner Storage Box), s3:https://host/bucket[/prefix], or rest:https://host:port/path (no credentials in the URL: restic 0.14 cannot take them otherwise). Unset: backups stay on the data volume and die with it. restic's own variables (RESTIC_*) are not read: an operator's exported repository never reaches a server by accident.",
    },
    BACKUP_PASSWORD {
            kind: Kind::Secret { min_len: 16 },
            default: "",
            required: Required::No,
            help: "The restic repository's password; required with BACKUP_REPOSITORY (`secrets init` makes one). Keep a copy away from this machine: without it no backup can be read.",
    },
    BACKUP_S3_ACCESS_KEY_ID {
            kind: Kind::Secret { min_len: 3 },
            default: "",
            required: Required::No,
            help: "Access key id of an s3: repository (AWS_ACCESS_KEY_ID on the VM); required with s3:.",
    },
    BACKUP_S3_SECRET_ACCESS_KEY {
            kind: Kind::Secret { min_len: 8 },
            default: "",
            required: Required::No,
            help: "Secret access key of an s3: repository (AWS_SECRET_ACCESS_KEY on the VM); required with s3:.",
    },
    BACKUP_SFTP_KEY_FILE {
            kind: Kind::RelativePath,
            default: "",
            required: Required::No,
            help: "OpenSSH private key (no passphrase) the VM logs in to an sftp: repository with, a path relative to the project directory, mode 0600; shipped 0600 to root on the VM. Required with sftp:.",
    },
    BACKUP_SFTP_KNOWN_HOSTS_FILE {
            kind: Kind::RelativePath,
            default: "",
            required: Required::No,
            help: "known_hosts lines of an sftp: repository's server (ssh-keyscan -p PORT HOST, checked by hand), a path relative to the project directory: the VM trusts that key only. Required with sftp:.",
    },
    BACKUP_SCHEDULE {
            kind: Kind::OneOf(&["hourly", "daily", "weekly", "off"]),
            default: "daily",
            required: Required::No,
            help: "How often the VM's timer backs up the tracker's database; off: only at each hand-over (the old VM's shutdown).",
    },
    BACKUP_KEEP {
            kind: Kind::Number { min: 1, max: 1000 },
            default: "7",
            required: Required::No,
            help: "How many backups are kept (restic forget --keep-last, or copies on the data volume without a repository); hand-over backups count.",
    },
    BACKUP_SQLITE_METHOD {
            kind: Kind::OneOf(&["online", "stopped"]),
            default: "online",
            required: Required::No,
            help: "How a scheduled backup copies SQLite: online (VACUUM INTO while the tracker runs: announces go on, database writes wait for the copy, 4-7 s a GiB) or stopped (the tracker's stack stopped for a local copy: its stop and start, and 1-3.4 s a GiB for the copy; restic uploads it after). A hand-over's backup always copies the stopped tracker's file.",
    },
    BACKUP_HANDOVER_TIMEOUT_SECS {
            kind: Kind::Number { min: 10, max: 3600 },
            default: "300",
            required: Required::No,
            help: "How long the old VM's shutdown may spend on the hand-over backup before it gives up (the hand-over then refuses, unless deploy --no-backup); a stop waits this long plus 60 s before it forces the VM off.",
    },
    BACKUP_RESTORE_SNAPSHOT {
            kind: Kind::Text,
            default: "",
            required: Required::No,
            help: "Restore this snapshot (latest, or a restic snapshot id) onto an empty data volume at first boot, before the tracker starts; a volume that already holds data is refused. Usually given as `deploy --restore`, not set in a file.",
    },
    TORRUST_BAKE_RELEASE_KEY {
            kind: Kind::Secret { min_len: 32 },
            default: "torrust-bake-local-release-key-not-a-secret",
            required: Required::InStrict,
            help: "Key of every value derived from a secret: the release version and the checksums of secret-bearing files. Keep it with the secrets; a new key is a new version of every release.",
    },
    SSH_PUBLIC_KEY {
            kind: Kind::SshPublicKey,
            default: "",
            required: Required::No,
            help: "Key allowed to log in as the admin user (key only, no passwords); unset: no SSH login.",
    },
    DOMAIN_NAME {
            kind: Kind::Domain,
            default: "",
            required: Required::No,
            help: "Base domain; enables Caddy with TLS for api., http1. and (with GRAFANA_ENABLED) grafana. sub-domains. Strict environments refuse an example domain (example.com/.net/.org, .example, .test, .invalid, .localhost).",
    },
    SSL_EMAIL {
            kind: Kind::Email,
            default: "",
            required: Required::No,
            help: "ACME account e-mail for the TLS certificates; required with DOMAIN_NAME. A plain address: letters, digits and . _ % + - before the @, a domain name after it; strict environments refuse one at an example domain.",
    },
    ACME_CA_URL {
            kind: Kind::Text,
            default: "",
            required: Required::No,
            help: "The ACME directory Caddy gets its certificates from, an https:// URL: Let's Encrypt's staging (https://acme-staging-v02.api.letsencrypt.org/directory), step-ca or another internal CA; empty: Let's Encrypt. Needs DOMAIN_NAME.",
    },
    ACME_CA_ROOT_FILE {
            kind: Kind::RelativePath,
            default: "",
            required: Required::No,
            help: "PEM CA certificate(s) that signed ACME_CA_URL's own HTTPS certificate, when a private CA serves it, a path relative to the project directory; certificates only, since the release installs the file as is, world-readable, for Caddy.",
    },
    CONTAINER_REGISTRY {
            kind: Kind::RegistryHost,
            default: "",
            required: Required::No,
            help: "A private registry (host or host:port) the VM pulls images from, when it needs trust set up: see CONTAINER_REGISTRY_CA_FILE and CONTAINER_REGISTRY_INSECURE.",
    },
    CONTAINER_REGISTRY_CA_FILE {
            kind: Kind::RelativePath,
            default: "",
            required: Required::No,
            help: "PEM CA certificate(s) of CONTAINER_REGISTRY, a path relative to the project directory; certificates only (blank lines between them at most), since the release installs the file as is, world-readable, as /etc/docker/certs.d/<registry>/ca.crt.",
    },
    CONTAINER_REGISTRY_INSECURE {
            kind: Kind::OneOf(BOOLEAN),
            default: "false",
            required: Required::No,
            help: "Pull from CONTAINER_REGISTRY over plain HTTP (Docker's insecure-registries); lenient environments only.",
    },
    PUBLISH_ADMIN_PORTS {
            kind: Kind::OneOf(BOOLEAN),
            default: "false",
            required: Required::No,
            help: "Publish the REST API, health-check API, Prometheus and Grafana on the VM's address instead of its 127.0.0.1 (a test VM on an isolated network); lenient environments with INFRASTRUCTURE_PROVIDER=libvirt only.",
    },
    HETZNER_SSH_KEYS {
            kind: Kind::NameList,
            default: "",
            required: Required::No,
            help: "Hetzner: the project's SSH keys (names or ids, comma-separated) new servers get; required to deploy with hetzner (without one the API makes a root password, a secret torrust-bake will not hold). The release's own key is SSH_PUBLIC_KEY.",
    },
    HETZNER_FIREWALLS {
            kind: Kind::NameList,
            default: "",
            required: Required::No,
            help: "Hetzner: firewalls (names or ids, comma-separated) applied to new servers. Open the tracker's ports to everyone and TCP 9099 (the boot status a deploy reads) to the hosts you deploy from.",
    },
    LIBVIRT_VCPUS {
            kind: Kind::Number { min: 1, max: 256 },
            default: "2",
            required: Required::No,
            help: "libvirt: virtual CPUs of the VM.",
    },
    LIBVIRT_MEMORY_MIB {
            kind: Kind::Number {
                min: 512,
                max: 1_048_576,
            },
            default: "2048",
            required: Required::No,
            help: "libvirt: memory of the VM in MiB.",
    },
    LIBVIRT_DISK_SIZE_GB {
            kind: Kind::Number { min: 1, max: 4096 },
            default: "20",
            required: Required::No,
            help: "libvirt: size of the VM's system disk (a copy-on-write overlay over the base image) in GiB; never below the base image's own size.",
    },
    LIBVIRT_BASE_IMAGE {
            kind: Kind::Text,
            default: DEBIAN_GENERICCLOUD_URL,
            required: Required::No,
            help: "libvirt: the cloud image the VM boots (qcow2 or raw, with its own bootloader and cloud-init): an absolute path, or an http(s) URL downloaded once into LIBVIRT_STORAGE_DIR/cache and checked against LIBVIRT_BASE_IMAGE_SHA512.",
    },
    LIBVIRT_BASE_IMAGE_SHA512 {
            kind: Kind::Text,
            default: DEBIAN_GENERICCLOUD_SHA512,
            required: Required::No,
            help: "libvirt: SHA-512 of the base image (128 hex digits, as in Debian's SHA512SUMS); required with a URL, checked when set with a path.",
    },
    LIBVIRT_DOMAIN_TYPE {
            kind: Kind::OneOf(&["auto", "kvm", "qemu"]),
            default: "auto",
            required: Required::No,
            help: "libvirt: kvm (hardware virtualisation), qemu (TCG emulation, slow but runs anywhere), or auto: kvm when libvirt offers it. Use qemu where KVM is offered but guests hang (nested virtualisation).",
    },
    LIBVIRT_FIRMWARE {
            kind: Kind::OneOf(&["efi", "bios"]),
            default: "efi",
            required: Required::No,
            help: "libvirt: firmware the base image boots with: efi (OVMF, Secure Boot off) or bios (SeaBIOS). Debian's cloud images boot both.",
    },
    LIBVIRT_NETWORK {
            kind: Kind::Text,
            default: "default",
            required: Required::No,
            help: "libvirt: the libvirt network the VM's NIC joins (`virsh net-list --all`).",
    },
    LIBVIRT_STORAGE_DIR {
            kind: Kind::Text,
            default: "/var/lib/libvirt/images/torrust-bake",
            required: Required::No,
            help: "libvirt: absolute directory for the VMs' overlays, seeds, data disks, console logs and the base-image cache; libvirt's QEMU user must be able to read it (not under /root); not / nor under /proc, /sys or /dev.",
    },
}

/// Debian's 12 (bookworm) genericcloud image, a dated build so that its
/// SHA-512 (from the build's SHA512SUMS) stays true; Debian prunes old
/// builds: pick a newer one from https://cloud.debian.org/images/cloud/bookworm/.
pub const DEBIAN_GENERICCLOUD_URL: &str = "https://cloud.debian.org/images/cloud/bookworm/20250210-2019/debian-12-genericcloud-amd64-20250210-2019.qcow2";
pub const DEBIAN_GENERICCLOUD_SHA512: &str = "a58d86525d75fd8e139a2302531ce5d2ab75ef0273cfe78f9d53aada4b23efd45f8433b4806fa4570cfe981c8fae26f5e5e855cbd66ba2198862f28125fd2d45";

/// The variable called `name`, for names read from a file or the process
/// environment.
pub fn find(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.name == name)
}

/// The prefixes that make an exported name look like one of ours: for
/// every first word (up to the first `_`) that two or more names of the
/// table share, the longest start those names share that ends at a word
/// (`TORRUST_`, `GRAFANA_`, `CONTAINER_REGISTRY`). Derived from the table,
/// so a new group of variables is covered without a list to keep in step;
/// a name alone in its group (`SSH_PUBLIC_KEY`) gives none, since `SSH_`,
/// `SSL_` or `DOMAIN_` names belong to other programs too.
pub fn prefixes() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for v in &VARS {
        let word = v.name.split('_').next().unwrap_or(v.name);
        let group: Vec<&'static str> = VARS
            .iter()
            .map(|v| v.name)
            .filter(|n| n.split('_').next() == Some(word))
            .collect();
        if group.len() < 2 {
            continue;
        }
        let mut len = group.iter().map(|n| n.len()).min().unwrap_or(0);
        for n in &group {
            len = len.min(
                n.bytes()
                    .zip(v.name.bytes())
                    .take_while(|(a, b)| a == b)
                    .count(),
            );
        }
        // Back to a word boundary: every name ends there or has a `_`.
        let at_boundary = |l: usize| {
            group
                .iter()
                .all(|n| n.len() == l || n.as_bytes()[l] == b'_')
        };
        while len > 0 && !at_boundary(len) {
            len -= 1;
        }
        let underscore = group.iter().all(|n| n.len() > len);
        let prefix = &v.name[..len + usize::from(underscore)];
        if !prefix.is_empty() && !out.contains(&prefix) {
            out.push(prefix);
        }
    }
    out.sort_unstable();
    out
}

/// Names with those prefixes that are not settings of a release, so in no
/// row of the table, but that torrust-bake, its scripts or the programs it
/// runs read from the environment it is given; a trailing `*` stands for
/// any rest. An exported one is not a typo.
pub const NOT_SETTINGS: &[(&str, &str)] = &[
    ("TORRUST_BAKE_SECRETS_DIR", "where the secrets files are (config/secrets_file.rs)"),
    ("TORRUST_BAKE_REGISTRY_*", "registry credentials of `images pin|verify` (images/registry.rs)"),
    ("TORRUST_BAKE_BIN", "the binary scripts/e2e-*.sh run"),
    ("TORRUST_BAKE_E2E_*", "the cache of scripts/e2e-*.sh and guest-image.sh"),
    ("TORRUST_BAKE_UPDATE_GOLDEN", "tests/libvirt.rs rewrites its golden file"),
    ("TORRUST_E2E_*", "scripts/libvirt-host.sh and scripts/e2e-*.sh"),
    ("TORRUST_TRACKER_CONFIG_*", "the tracker's own configuration (TORRUST_TRACKER_CONFIG_TOML_PATH, TORRUST_TRACKER_CONFIG_OVERRIDE_*)"),
    ("LIBVIRT_DEFAULT_URI", "virsh's connection (provider/libvirt/virsh.rs)"),
    ("LIBVIRT_ADMIN_DEFAULT_URI", "virt-admin's connection"),
    ("LIBVIRT_AUTH_FILE", "the libvirt client's credentials file"),
    ("LIBVIRT_DEBUG", "the libvirt client's logging"),
    ("LIBVIRT_LOG_FILTERS", "the libvirt client's logging"),
    ("LIBVIRT_LOG_OUTPUTS", "the libvirt client's logging"),
];

/// Whether an exported `name` looks like one of the table's variables (a
/// prefix of [`prefixes`]) without being one of them or of
/// [`NOT_SETTINGS`]: most likely a typo of one.
pub fn looks_like_ours(name: &str, prefixes: &[&str]) -> bool {
    let not_a_setting = NOT_SETTINGS.iter().any(|(n, _)| match n.strip_suffix('*') {
        Some(start) => name.starts_with(start),
        None => name == *n,
    });
    find(name).is_none() && !not_a_setting && prefixes.iter().any(|p| name.starts_with(p))
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
            format!("`{}` (lenient only)", v.default)
        } else {
            format!("`{}`", v.default)
        };
        let required = match v.required {
            Required::No => String::new(),
            Required::InStrict => "strict environments".into(),
            Required::OutsideBuiltIns => "any but local, staging, production".into(),
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

    #[test]
    fn prefixes_come_from_the_groups_of_the_table() {
        assert_eq!(
            super::prefixes(),
            [
                "ACME_CA_",
                "BACKUP_",
                "CONTAINER_REGISTRY",
                "GRAFANA_",
                "HETZNER_",
                "INFRASTRUCTURE_",
                "LIBVIRT_",
                "MYSQL_",
                "PROMETHEUS_",
                "TORRUST_"
            ]
        );
    }

    #[test]
    fn typos_look_like_ours_and_control_variables_do_not() {
        let p = super::prefixes();
        for typo in [
            "TORRUST_TRACKER_UDP_PORT",
            "TORRUST_BAKE_STRICTNES",
            "TORRUST_BAKE_RELEASE_KEYS",
            "INFRASTRUCTURE_REGIONS",
            "LIBVIRT_VCPU",
            "CONTAINER_REGISTRY_CA",
            "CONTAINER_REGISTRYS",
            "MYSQL_PASSWD",
            "GRAFANA_PASSWORD",
            "PROMETHEUS_RETENTION",
        ] {
            assert!(super::looks_like_ours(typo, &p), "{typo}");
        }
        for other in [
            "TORRUST_TRACKER_MODE",
            "TORRUST_BAKE_SECRETS_DIR",
            "TORRUST_BAKE_REGISTRY_GHCR_IO_PASSWORD",
            "TORRUST_BAKE_BIN",
            "TORRUST_BAKE_E2E_CACHE",
            "TORRUST_E2E_NETNS",
            "TORRUST_TRACKER_CONFIG_TOML_PATH",
            "TORRUST_TRACKER_CONFIG_OVERRIDE_CORE__DATABASE__DRIVER",
            "LIBVIRT_DEFAULT_URI",
            "SSH_AUTH_SOCK",
            "SSL_CERT_FILE",
            "DOMAIN",
            "CONTAINER",
            "HOME",
        ] {
            assert!(!super::looks_like_ours(other, &p), "{other}");
        }
        // A control variable is never also a row of the table.
        for (name, _) in super::NOT_SETTINGS {
            let start = name.trim_end_matches('*');
            assert!(
                !super::VARS.iter().any(|v| v.name.starts_with(start)),
                "{name} would hide a variable of the table"
            );
        }
    }
}
