//! cloud-init user-data, meta-data and network-config for a release (pure).
//!
//! Follows cloud-init's `#cloud-config` schema (write_files, runcmd, users,
//! locale, final_message), NoCloud's meta-data (`instance-id`,
//! `local-hostname`) and network config version 2.
//!
//! The bundle travels as one gzip'd tar in `write_files` (base64) plus a
//! first-boot install script, rather than one `gz+b64` entry per file: for
//! the production release that is 8.3 KB against 11.5 KB of base64
//! (`scripts/bench-build.sh` prints both), the tar keeps numeric owners
//! (write_files needs user names that do not exist yet on a fresh VM), and
//! the script controls the order the VM needs (checksums, nf_conntrack, sysctl, RPS/RFS,
//! daemon.json before Docker starts, data volume, then the unit). The archive
//! is made by release/archive.rs (gzip: cloud-init and minimal images
//! decompress gzip only); this module only places it.

use anyhow::{Context as _, Result};
use base64::Engine;
use serde::Serialize;
use serde_saphyr::LitString;

use crate::config::model::Ipv6;
use crate::config::provider::nic_mac;
use crate::config::Config;
use crate::digest::sha256_hex;
use crate::render::{File, Templates};

/// Where the install script and the archive land on the VM.
pub const STATE_DIR: &str = "/var/lib/torrust-bake/releases";
pub const INSTALL_PATH: &str = "/usr/local/sbin/torrust-bake-install";

pub struct CloudInit {
    pub user_data: String,
    pub meta_data: String,
    pub network_config: Option<String>,
}

#[derive(Serialize)]
struct UserData {
    locale: &'static str,
    ssh_pwauth: bool,
    disable_root: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<User>,
    write_files: Vec<WriteFile>,
    runcmd: Vec<Vec<String>>,
    final_message: String,
}

/// NoCloud meta-data, values quoted: a host name such as `null`, `no` or
/// `0x1f` is a valid DNS label that YAML would read as None, False or 31.
#[derive(Serialize)]
struct MetaData {
    #[serde(rename = "instance-id")]
    instance_id: String,
    #[serde(rename = "local-hostname")]
    local_hostname: String,
}

#[derive(Serialize)]
struct User {
    name: &'static str,
    shell: &'static str,
    sudo: &'static str,
    lock_passwd: bool,
    ssh_authorized_keys: Vec<String>,
}

#[derive(Serialize)]
struct WriteFile {
    path: String,
    owner: &'static str,
    permissions: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    content: Content,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content {
    Literal(LitString),
    Plain(String),
}

/// YAML with long one-line values (keys, base64) kept on one line: folding
/// them is valid YAML but hides them from grep and from readers.
fn to_yaml<T: Serialize>(value: &T, quote_all: bool) -> Result<String> {
    let options = serde_saphyr::SerializerOptions {
        prefer_block_scalars: false,
        quote_all,
        ..Default::default()
    };
    Ok(serde_saphyr::to_string_with_options(value, options)?)
}

/// The bundle as the gzip'd tar that travels in user-data.
pub struct Archive {
    pub gz: Vec<u8>,
    pub sha256: String,
}

/// user-data, meta-data and (with a static address) network-config.
pub fn generate(
    config: &Config,
    templates: &Templates,
    files: &[File],
    archive: &Archive,
    version: &str,
) -> Result<CloudInit> {
    let install = install_script(config, templates, files.len(), archive, version)?;
    let user_data = UserData {
        locale: "C.UTF-8",
        ssh_pwauth: false,
        disable_root: true,
        users: config.ssh_public_key.iter().map(|key| admin(key)).collect(),
        write_files: write_files(files, archive, install, version)?,
        runcmd: vec![vec![INSTALL_PATH.into()]],
        final_message: format!(
            "torrust-bake release {version} ({}) booted in $UPTIME s",
            config.env
        ),
    };
    let mut text = format!(
        "#cloud-config\n# torrust-bake release {version} ({}): secret-bearing, keep it 0600.\n",
        config.env
    );
    text.push_str(&to_yaml(&user_data, false).context("writing user-data")?);
    let meta_data = to_yaml(
        &MetaData {
            instance_id: format!("{}-{version}", config.hostname),
            local_hostname: config.hostname.clone(),
        },
        true,
    )
    .context("writing meta-data")?;
    Ok(CloudInit {
        user_data: text,
        meta_data,
        network_config: network_config(config)?,
    })
}

/// The first-boot install script (templates/install.sh.tera).
fn install_script(
    config: &Config,
    templates: &Templates,
    files: usize,
    archive: &Archive,
    version: &str,
) -> Result<String> {
    let mut ctx = tera::Context::new();
    ctx.insert("version", version);
    ctx.insert("env", &config.env);
    ctx.insert("archive_sha256", &archive.sha256);
    ctx.insert("files", &files);
    ctx.insert("data_volume", &config.data_volume);
    let b = &config.backup;
    ctx.insert(
        "backup",
        &serde_json::json!({
            "enabled": b.enabled,
            "timer": b.enabled && b.schedule.is_some(),
            "restic": b.enabled && b.repository.is_some(),
            "restore": b.restore,
        }),
    );
    ctx.insert("status_port", &crate::config::BOOT_STATUS_PORT);
    ctx.insert(
        "firewall_summary",
        &crate::render::firewall::openings(config).summary(),
    );
    templates.render_install(&ctx)
}

/// The admin user: SSH key login only, passwordless sudo.
fn admin(key: &str) -> User {
    User {
        name: "torrust",
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: vec![key.to_string()],
    }
}

/// gzip with mtime 0 and no file name in the header: the same bytes every
/// build. gzip, not zstd: cloud-init and minimal images decompress gzip only.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write as _;
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}

/// The archive, its checksum list and the install script.
fn write_files(
    files: &[File],
    archive: &Archive,
    install: String,
    version: &str,
) -> Result<Vec<WriteFile>> {
    let dir = format!("{STATE_DIR}/{version}");
    let sums: String = files
        .iter()
        .map(|f| format!("{}  {}\n", sha256_hex(&f.content), f.path))
        .collect();
    // gzip'd: lines of hex and paths shrink by a third, keeping user-data
    // within the 24 KiB the production release is held to (Hetzner takes
    // 32). Not the install script: the version is written into it later.
    let sums_gz = gzip(sums.as_bytes()).context("gzip of SHA256SUMS")?;
    let b64_of = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let root = |path: String, permissions, encoding, content| WriteFile {
        path,
        owner: "root:root",
        permissions,
        encoding,
        content,
    };
    Ok(vec![
        root(
            format!("{dir}/bundle.tar.gz"),
            "0600",
            Some("b64"),
            Content::Plain(b64_of(&archive.gz)),
        ),
        // 0600: it lists the secret files' plain SHA-256, an offline check
        // of a password for anyone who could read it.
        root(
            format!("{dir}/SHA256SUMS"),
            "0600",
            Some("gz+b64"),
            Content::Plain(b64_of(&sums_gz)),
        ),
        root(
            INSTALL_PATH.into(),
            "0700",
            None,
            Content::Literal(LitString(install)),
        ),
    ])
}

#[derive(Serialize)]
struct NetworkConfig {
    version: u8,
    ethernets: std::collections::BTreeMap<&'static str, Ethernet>,
}

#[derive(Serialize)]
struct Ethernet {
    #[serde(rename = "match")]
    matches: Match,
    #[serde(rename = "set-name")]
    set_name: &'static str,
    dhcp4: bool,
    addresses: Vec<String>,
    routes: Vec<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nameservers: Option<Nameservers>,
}

#[derive(Serialize)]
struct Match {
    macaddress: String,
}

#[derive(Serialize)]
struct Route {
    to: &'static str,
    via: String,
}

#[derive(Serialize)]
struct Nameservers {
    addresses: Vec<String>,
}

/// Version 2 network config for a static address of either family on the
/// first NIC (the other family by DHCP, or router advertisements), the
/// floating IPv4 addresses added to it (IPv6 ones go on `lo`:
/// `Config::lo_addresses`). The NIC is matched by MAC address and
/// named `eth0`: cloud-init renders v2 for ifupdown (Debian 12) and
/// networkd too, and there only a MAC match finds the NIC (a `name` glob
/// such as `e*` is taken as a literal interface name; found by the QEMU
/// boot in scripts/e2e-boot.sh).
fn network_config(config: &Config) -> Result<Option<String>> {
    let mut addresses = Vec::new();
    let mut routes = Vec::new();
    if let (Some(address), Some(gateway)) = (&config.ipv4_address, &config.ipv4_gateway) {
        addresses.push(address.to_string());
        addresses.extend(config.floating_ipv4.iter().map(|ip| format!("{ip}/32")));
        routes.push(Route {
            to: "0.0.0.0/0",
            via: gateway.to_string(),
        });
    }
    if let Ipv6::Static { address, gateway } = config.ipv6 {
        addresses.push(address.to_string());
        routes.push(Route {
            to: "::/0",
            via: gateway.to_string(),
        });
    }
    if addresses.is_empty() {
        return Ok(None);
    }
    let nic = Ethernet {
        matches: Match {
            macaddress: nic_mac(&config.hostname),
        },
        set_name: "eth0",
        dhcp4: config.ipv4_address.is_none(),
        addresses,
        routes,
        nameservers: (!config.dns_servers.is_empty()).then(|| Nameservers {
            addresses: config.dns_servers.iter().map(|ip| ip.to_string()).collect(),
        }),
    };
    let doc = NetworkConfig {
        version: 2,
        ethernets: [("eth0", nic)].into_iter().collect(),
    };
    // Quoted: PyYAML (YAML 1.1) reads an all-digit MAC such as
    // 52:54:00:12:34:56 as a base-60 integer.
    Ok(Some(to_yaml(&doc, true).context("writing network-config")?))
}
