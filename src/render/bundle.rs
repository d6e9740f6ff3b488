//! The bundle table: every templated file of a release, with its place in
//! the VM, mode, owner, whether it holds a secret and when the
//! configuration has it; and the files that are not templates (the secrets
//! the services read through `*_FILE`, the registry's CA).

use std::path::Path;

use serde::Serialize;

use super::file::File;
use super::secrets::SecretContext;
use crate::config::types::Database;
use crate::config::Config;

/// A templated file of the bundle: where it goes, how it is owned, and
/// when the configuration has it.
pub(super) struct Entry {
    pub(super) template: &'static str,
    pub(super) embedded: &'static str,
    pub(super) path: &'static str,
    pub(super) mode: u32,
    /// uid = gid of the container user that reads the file.
    pub(super) owner: u32,
    pub(super) secret: bool,
    pub(super) when: fn(&Config) -> bool,
}

fn always(_: &Config) -> bool {
    true
}

fn proxied(c: &Config) -> bool {
    c.domain_name.is_some()
}

fn grafana(c: &Config) -> bool {
    c.grafana
}

/// The VM has IPv6 of its own (router advertisements keep it: see
/// templates/docker-ipv6.conf.tera).
fn ipv6(c: &Config) -> bool {
    c.ipv6 != crate::config::model::Ipv6::None
}

fn data_volume(c: &Config) -> bool {
    c.data_volume.is_some()
}

fn stats_exporter(c: &Config) -> bool {
    c.stats_exporter
}

/// One row of the table, every field named; the template's built-in copy
/// is read from templates/ at compile time.
macro_rules! entry {
    {
        template: $t:literal,
        path: $path:literal,
        mode: $mode:literal,
        owner: $owner:expr,
        secret: $secret:literal,
        when: $when:expr $(,)?
    } => {
        Entry {
            template: $t,
            embedded: include_str!(concat!("../../templates/", $t)),
            path: $path,
            mode: $mode,
            owner: $owner,
            secret: $secret,
            when: $when,
        }
    };
}

/// uid of the users the images run as.
pub(super) const TRACKER_UID: u32 = 1000;
pub(super) const NOBODY_UID: u32 = 65534;
pub(super) const GRAFANA_UID: u32 = 472;
pub(super) const MYSQL_UID: u32 = 999;

pub(super) const ENTRIES: &[Entry] = &[
    entry! {
        template: "tracker.toml.tera",
        path: "opt/torrust/tracker/tracker.toml",
        mode: 0o600,
        owner: TRACKER_UID,
        secret: true,
        when: always,
    },
    entry! {
        template: "compose.yaml.tera",
        path: "opt/torrust/compose.yaml",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "prometheus.yml.tera",
        path: "opt/torrust/prometheus/prometheus.yml",
        mode: 0o600,
        owner: NOBODY_UID,
        secret: true,
        when: always,
    },
    entry! {
        template: "stats-exporter.yml.tera",
        path: "opt/torrust/stats-exporter/config.yml",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: stats_exporter,
    },
    entry! {
        template: "grafana-datasource.yaml.tera",
        path: "opt/torrust/grafana/provisioning/datasources/prometheus.yaml",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: grafana,
    },
    entry! {
        template: "grafana-dashboards.yaml.tera",
        path: "opt/torrust/grafana/provisioning/dashboards/torrust.yaml",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: grafana,
    },
    entry! {
        template: "grafana-tracker-dashboard.json.tera",
        path: "opt/torrust/grafana/dashboards/tracker.json",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: grafana,
    },
    entry! {
        template: "Caddyfile.tera",
        path: "opt/torrust/caddy/Caddyfile",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: proxied,
    },
    entry! {
        template: "sysctl.conf.tera",
        path: "etc/sysctl.d/60-torrust-tracker.conf",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "modules-load.conf.tera",
        path: "etc/modules-load.d/torrust-tracker.conf",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "daemon.json.tera",
        path: "etc/docker/daemon.json",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "rps-rfs.sh.tera",
        path: "usr/local/sbin/torrust-rps-rfs",
        mode: 0o755,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "rps-rfs.service.tera",
        path: "etc/systemd/system/torrust-rps-rfs.service",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "docker-metadata.conf.tera",
        path: "etc/systemd/system/docker.service.d/torrust-metadata.conf",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "docker-ipv6.conf.tera",
        path: "etc/systemd/system/docker.service.d/torrust-ipv6.conf",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: ipv6,
    },
    entry! {
        template: "firewall.nft.tera",
        path: "etc/torrust-bake/firewall.nft",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "firewall.service.tera",
        path: "etc/systemd/system/torrust-firewall.service",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "status.service.tera",
        path: "etc/systemd/system/torrust-status.service",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "status-dir.conf.tera",
        path: "usr/lib/tmpfiles.d/torrust-bake-status.conf",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "tracker.service.tera",
        path: "etc/systemd/system/torrust-tracker.service",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "start.sh.tera",
        path: "usr/local/sbin/torrust-start",
        mode: 0o755,
        owner: 0,
        secret: false,
        when: always,
    },
    entry! {
        template: "data-volume.sh.tera",
        path: "usr/local/sbin/torrust-data-volume",
        mode: 0o755,
        owner: 0,
        secret: false,
        when: data_volume,
    },
    entry! {
        template: "prepare-data.sh.tera",
        path: "usr/local/sbin/torrust-prepare-data",
        mode: 0o755,
        owner: 0,
        secret: false,
        when: always,
    },
];

/// Files holding the secrets themselves, read by the services through
/// compose `secrets:` (the images' `*_FILE` variables).
pub(super) fn secret_files(config: &Config, secrets: &SecretContext) -> Vec<File> {
    let mut out = Vec::new();
    if config.grafana {
        out.push(secret_file(
            "grafana_admin_password",
            &secrets.grafana_admin_password,
            GRAFANA_UID,
        ));
    }
    if config.database.mysql().is_some_and(|m| m.bundled) {
        out.push(secret_file(
            "mysql_password",
            &secrets.mysql_password,
            MYSQL_UID,
        ));
        out.push(secret_file(
            "mysql_root_password",
            &secrets.mysql_root_password,
            MYSQL_UID,
        ));
    }
    out
}

/// The private registry's CA where Docker looks for it
/// (`/etc/docker/certs.d/<host[:port]>/ca.crt`): trust set up by the
/// release, never by editing the VM image.
pub(super) fn registry_ca_file(config: &Config) -> Option<File> {
    let trust = config.registry.as_ref()?;
    let pem = trust.ca_pem.as_ref()?;
    Some(File {
        path: format!("etc/docker/certs.d/{}/ca.crt", trust.host),
        content: pem.clone().into_bytes(),
        mode: 0o644,
        uid: 0,
        gid: 0,
        secret: false,
    })
}

/// Where the SQLite file's directory is on the VM: the tracker does not
/// create it, and its volume `/var/lib/torrust/tracker` is
/// `/var/lib/torrust/tracker/lib` there (validation keeps the file under it).
pub(super) fn sqlite_host_dir(config: &Config) -> Option<String> {
    let Database::Sqlite { path } = &config.database else {
        return None;
    };
    let dir = Path::new(path).parent()?;
    let inside = dir.strip_prefix("/var/lib/torrust/tracker").ok()?;
    let host = Path::new("/var/lib/torrust/tracker/lib").join(inside);
    Some(host.to_string_lossy().trim_end_matches('/').to_string())
}

fn secret_file(name: &str, value: &str, uid: u32) -> File {
    File {
        path: format!("opt/torrust/secrets/{name}"),
        content: value.as_bytes().to_vec(),
        mode: 0o600,
        uid,
        gid: uid,
        secret: true,
    }
}

#[derive(Serialize)]
pub(super) struct OwnedFile {
    pub(super) path: String,
    pub(super) owner: String,
    pub(super) mode: String,
}
