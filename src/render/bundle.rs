//! The bundle table: every templated file of a release, with its place in
//! the VM, mode, owner, whether it holds a secret and when the
//! configuration has it; and the files that are not templates (the secrets
//! the services read through `*_FILE`, the registry's CA).

use std::path::Path;

use serde::Serialize;

use super::file::File;
use super::secrets::SecretContext;
use crate::config::backup::Backend;
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

/// The release backs up its database (SQLite: `config::backup`).
fn backup(c: &Config) -> bool {
    c.backup.enabled
}

fn backup_timer(c: &Config) -> bool {
    c.backup.enabled && c.backup.schedule.is_some()
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
        template: "backup.sh.tera",
        path: "usr/local/sbin/torrust-backup",
        mode: 0o755,
        owner: 0,
        secret: false,
        when: backup,
    },
    entry! {
        template: "backup.service.tera",
        path: "etc/systemd/system/torrust-backup.service",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: backup,
    },
    entry! {
        template: "backup.timer.tera",
        path: "etc/systemd/system/torrust-backup.timer",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: backup_timer,
    },
    entry! {
        template: "backup-handover.service.tera",
        path: "etc/systemd/system/torrust-backup-handover.service",
        mode: 0o644,
        owner: 0,
        secret: false,
        when: backup,
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

/// Where the VM keeps what restic needs: the repository's password, an
/// s3: repository's keys, an sftp: repository's key (root's alone, 0600)
/// and its server's known_hosts.
pub(super) const BACKUP_DIR: &str = "etc/torrust-bake/backup";

/// The files of the backup repository's credentials.
pub(super) fn backup_files(config: &Config, secrets: &SecretContext) -> Vec<File> {
    let Some(repo) = config
        .backup
        .repository
        .as_ref()
        .filter(|_| config.backup.enabled)
    else {
        return Vec::new();
    };
    let file = |name: &str, content: String, secret: bool| File {
        path: format!("{BACKUP_DIR}/{name}"),
        content: content.into_bytes(),
        mode: if secret { 0o600 } else { 0o644 },
        uid: 0,
        gid: 0,
        secret,
    };
    let mut out = vec![file("password", secrets.backup_password.clone(), true)];
    match &repo.backend {
        Backend::S3 { .. } => out.push(file(
            "s3.env",
            format!(
                "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
                super::filters::sh_quote(&secrets.backup_s3_access_key_id),
                super::filters::sh_quote(&secrets.backup_s3_secret_access_key)
            ),
            true,
        )),
        Backend::Sftp(sftp) => {
            out.push(file("ssh_key", secrets.backup_sftp_key.clone(), true));
            out.push(file("known_hosts", sftp.known_hosts.clone(), false));
        }
        Backend::Rest { .. } => {}
    }
    out
}

/// What the backup script needs besides the config: the SQLite file on
/// the VM, and restic's `sftp.command` with the release's key.
#[derive(Serialize)]
pub(super) struct BackupContext {
    pub(super) sqlite_file: Option<String>,
    pub(super) sftp_command: Option<String>,
}

pub(super) fn backup_context(config: &Config) -> BackupContext {
    let file = match &config.database {
        Database::Sqlite { path } => Path::new(path).file_name(),
        _ => None,
    };
    BackupContext {
        sqlite_file: sqlite_host_dir(config)
            .zip(file)
            .map(|(dir, f)| format!("{dir}/{}", f.to_string_lossy())),
        sftp_command: config
            .backup
            .repository
            .as_ref()
            .and_then(|r| r.sftp())
            .map(|s| {
                s.command(
                    &format!("/{BACKUP_DIR}/ssh_key"),
                    &format!("/{BACKUP_DIR}/known_hosts"),
                )
            }),
    }
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

/// Where Caddy reads a private ACME directory's CA (compose mounts it as
/// `/etc/caddy/acme-ca-root.pem`, which the Caddyfile names).
pub(super) fn acme_ca_root_file(config: &Config) -> Option<File> {
    let pem = config.acme.as_ref()?.root_pem.as_ref()?;
    Some(File {
        path: ACME_CA_ROOT.to_string(),
        content: pem.clone().into_bytes(),
        mode: 0o644,
        uid: 0,
        gid: 0,
        secret: false,
    })
}

/// The bundle's copy of ACME_CA_ROOT_FILE, beside the Caddyfile.
pub(super) const ACME_CA_ROOT: &str = "opt/torrust/caddy/acme-ca-root.pem";

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
