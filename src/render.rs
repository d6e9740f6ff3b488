//! Templates -> the release's file tree (pure: in-memory values only).
//!
//! Every file's place in the VM, mode, owner and secret flag is listed in
//! `ENTRIES`. Templates are read from the project's `templates/` directory
//! when a file exists there (operators may edit them) and from the copies
//! built into the binary otherwise. Every TOML, YAML and JSON file is parsed
//! back before it is accepted; values are escaped by filters made for the
//! format they land in (`toml_str`, `yaml_str`, `compose_str`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{anyhow, Context as _, Result};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use tera::{Context, Tera, Value};

use crate::config::types::Database;
use crate::config::Config;
use crate::images::ResolvedImage;

/// One file of the bundle, at its path relative to the VM's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub secret: bool,
}

#[cfg(test)]
impl File {
    /// A root-owned 0644 file that holds no secret, for unit tests.
    pub fn plain(path: &str, content: &str) -> File {
        File {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            secret: false,
        }
    }
}

struct Entry {
    template: &'static str,
    embedded: &'static str,
    path: &'static str,
    mode: u32,
    /// uid = gid of the container user that reads the file.
    owner: u32,
    secret: bool,
    when: fn(&Config) -> bool,
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

fn data_volume(c: &Config) -> bool {
    c.data_volume.is_some()
}

fn stats_exporter(c: &Config) -> bool {
    c.stats_exporter
}

macro_rules! entry {
    ($t:literal, $path:literal, $mode:literal, $owner:expr, $secret:literal, $when:expr) => {
        Entry {
            template: $t,
            embedded: include_str!(concat!("../templates/", $t)),
            path: $path,
            mode: $mode,
            owner: $owner,
            secret: $secret,
            when: $when,
        }
    };
}

/// uid of the users the images run as.
const TRACKER_UID: u32 = 1000;
const NOBODY_UID: u32 = 65534;
const GRAFANA_UID: u32 = 472;
const MYSQL_UID: u32 = 999;

const ENTRIES: &[Entry] = &[
    entry!(
        "tracker.toml.tera",
        "opt/torrust/tracker/tracker.toml",
        0o600,
        TRACKER_UID,
        true,
        always
    ),
    entry!(
        "compose.yaml.tera",
        "opt/torrust/compose.yaml",
        0o644,
        0,
        false,
        always
    ),
    entry!(
        "prometheus.yml.tera",
        "opt/torrust/prometheus/prometheus.yml",
        0o600,
        NOBODY_UID,
        true,
        always
    ),
    entry!(
        "stats-exporter.yml.tera",
        "opt/torrust/stats-exporter/config.yml",
        0o644,
        0,
        false,
        stats_exporter
    ),
    entry!(
        "grafana-datasource.yaml.tera",
        "opt/torrust/grafana/provisioning/datasources/prometheus.yaml",
        0o644,
        0,
        false,
        grafana
    ),
    entry!(
        "grafana-dashboards.yaml.tera",
        "opt/torrust/grafana/provisioning/dashboards/torrust.yaml",
        0o644,
        0,
        false,
        grafana
    ),
    entry!(
        "grafana-tracker-dashboard.json.tera",
        "opt/torrust/grafana/dashboards/tracker.json",
        0o644,
        0,
        false,
        grafana
    ),
    entry!(
        "Caddyfile.tera",
        "opt/torrust/caddy/Caddyfile",
        0o644,
        0,
        false,
        proxied
    ),
    entry!(
        "sysctl.conf.tera",
        "etc/sysctl.d/60-torrust-tracker.conf",
        0o644,
        0,
        false,
        always
    ),
    entry!(
        "modules-load.conf.tera",
        "etc/modules-load.d/torrust-tracker.conf",
        0o644,
        0,
        false,
        always
    ),
    entry!(
        "daemon.json.tera",
        "etc/docker/daemon.json",
        0o644,
        0,
        false,
        always
    ),
    entry!(
        "rps-rfs.sh.tera",
        "usr/local/sbin/torrust-rps-rfs",
        0o755,
        0,
        false,
        always
    ),
    entry!(
        "rps-rfs.service.tera",
        "etc/systemd/system/torrust-rps-rfs.service",
        0o644,
        0,
        false,
        always
    ),
    entry!(
        "tracker.service.tera",
        "etc/systemd/system/torrust-tracker.service",
        0o644,
        0,
        false,
        always
    ),
    entry!(
        "start.sh.tera",
        "usr/local/sbin/torrust-start",
        0o755,
        0,
        false,
        always
    ),
    entry!(
        "data-volume.sh.tera",
        "usr/local/sbin/torrust-data-volume",
        0o755,
        0,
        false,
        data_volume
    ),
    entry!(
        "prepare-data.sh.tera",
        "usr/local/sbin/torrust-prepare-data",
        0o755,
        0,
        false,
        always
    ),
];

/// Fields of tracker 3.0's `/api/v1/stats` exported as metrics.
const STATS_FIELDS: &[&str] = &[
    "torrents",
    "seeders",
    "completed",
    "leechers",
    "tcp4_connections_handled",
    "tcp4_announces_handled",
    "tcp4_scrapes_handled",
    "tcp6_connections_handled",
    "tcp6_announces_handled",
    "tcp6_scrapes_handled",
    "udp4_connections_handled",
    "udp4_announces_handled",
    "udp4_scrapes_handled",
    "udp6_connections_handled",
    "udp6_announces_handled",
    "udp6_scrapes_handled",
];

/// Characters kept as-is in a URL's user-info or query value (RFC 3986 unreserved).
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_VALUE).to_string()
}

/// The secret values the templates see. `redacted()` gives stand-ins with
/// the same structure, for the twin render that `diff` shows.
#[derive(Serialize, Clone)]
pub struct SecretContext {
    pub api_token: String,
    pub grafana_admin_password: String,
    pub mysql_password: String,
    pub mysql_root_password: String,
    pub database_path: String,
    pub stats_url: String,
}

impl SecretContext {
    pub fn real(config: &Config) -> Self {
        let s = &config.secrets;
        Self::build(
            config,
            s.api_token.clone(),
            s.grafana_admin_password.clone(),
            s.mysql_password.clone().unwrap_or_default(),
            s.mysql_root_password.clone().unwrap_or_default(),
        )
    }

    pub fn redacted(config: &Config) -> Self {
        let r = |name: &str| format!("REDACTED_{name}");
        Self::build(
            config,
            r("TORRUST_TRACKER_API_TOKEN"),
            r("GRAFANA_ADMIN_PASSWORD"),
            r("MYSQL_PASSWORD"),
            r("MYSQL_ROOT_PASSWORD"),
        )
    }

    fn build(
        config: &Config,
        api_token: String,
        grafana_admin_password: String,
        mysql_password: String,
        mysql_root_password: String,
    ) -> Self {
        let database_path = match &config.database {
            Database::Sqlite { path } => path.clone(),
            Database::Mysql(m) => format!(
                "mysql://{}:{}@{}:{}/{}",
                m.user,
                url_encode(&mysql_password),
                m.host,
                m.port,
                m.name
            ),
        };
        let stats_url = format!(
            "http://tracker:{}/api/v1/stats?token={}",
            config.api_port,
            url_encode(&api_token)
        );
        SecretContext {
            api_token,
            grafana_admin_password,
            mysql_password,
            mysql_root_password,
            database_path,
            stats_url,
        }
    }
}

fn str_arg(value: &Value, filter: &str) -> tera::Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| tera::Error::msg(format!("{filter} expects a string, got {value}")))
}

fn toml_str(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = str_arg(value, "toml_str")?;
    Ok(Value::String(toml::Value::String(s).to_string()))
}

/// A POSIX shell word in single quotes (`'` written as `'\''`).
fn sh_str(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = str_arg(value, "sh_str")?;
    Ok(Value::String(format!("'{}'", s.replace('\'', r"'\''"))))
}

/// A YAML double-quoted scalar; JSON's string escaping is valid YAML 1.2.
fn yaml_str(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = str_arg(value, "yaml_str")?;
    Ok(Value::String(
        serde_json::to_string(&s).map_err(tera::Error::msg)?,
    ))
}

/// A YAML scalar in a compose file, where `$` starts an interpolation: `$$` is a literal `$`.
fn compose_str(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = str_arg(value, "compose_str")?;
    yaml_str(&Value::String(s.replace('$', "$$")), args)
}

/// The first-boot install script run by cloud-init (see cloudinit.rs); not
/// a bundle file, since it unpacks the bundle.
pub const INSTALL_TEMPLATE: &str = "install.sh.tera";
const INSTALL_EMBEDDED: &str = include_str!("../templates/install.sh.tera");

/// A template's text: the project's copy if it has one, else the built-in one.
fn template_source(project: &Path, name: &str, embedded: &str) -> Result<String> {
    let local = project.join("templates").join(name);
    match std::fs::read_to_string(&local) {
        Ok(t) => Ok(t),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(embedded.to_string()),
        Err(err) => Err(err).with_context(|| format!("reading {}", local.display())),
    }
}

fn tera_for(project: &Path) -> Result<Tera> {
    let mut tera = Tera::default();
    let mut sources = Vec::new();
    for e in ENTRIES {
        sources.push((
            e.template,
            template_source(project, e.template, e.embedded)?,
        ));
    }
    let install = template_source(project, INSTALL_TEMPLATE, INSTALL_EMBEDDED)?;
    if install.contains(crate::version::STAND_IN) {
        return Err(crate::error::Error::invalid(format!(
            "templates/{INSTALL_TEMPLATE} contains the text {:?}, which the build uses as the version's stand-in; write {{{{ version }}}} instead",
            crate::version::STAND_IN
        ))
        .into());
    }
    sources.push((INSTALL_TEMPLATE, install));
    tera.add_raw_templates(sources)
        .context("parsing templates/")?;
    tera.register_filter("toml_str", toml_str);
    tera.register_filter("yaml_str", yaml_str);
    tera.register_filter("compose_str", compose_str);
    tera.register_filter("sh_str", sh_str);
    Ok(tera)
}

#[derive(Serialize)]
struct Panel {
    title: &'static str,
    x: u32,
    y: u32,
    exprs: Vec<Expr>,
}

#[derive(Serialize)]
struct Expr {
    ref_id: char,
    expr: String,
    legend: String,
}

fn dashboard_panels() -> Vec<Panel> {
    let rate = |proto: &str, what: &str| -> Vec<Expr> {
        ["4", "6"]
            .iter()
            .zip(['A', 'B'])
            .map(|(v, ref_id)| Expr {
                ref_id,
                expr: format!("rate(torrust_tracker_{proto}{v}_{what}_handled[5m])"),
                legend: format!("{proto}{v}"),
            })
            .collect()
    };
    let gauge = |names: &[&str]| -> Vec<Expr> {
        names
            .iter()
            .zip('A'..)
            .map(|(n, ref_id)| Expr {
                ref_id,
                expr: format!("torrust_tracker_{n}"),
                legend: n.to_string(),
            })
            .collect()
    };
    let specs: Vec<(&'static str, Vec<Expr>)> = vec![
        ("Torrents", gauge(&["torrents"])),
        ("Peers", gauge(&["seeders", "leechers"])),
        ("Completed downloads", gauge(&["completed"])),
        ("UDP announces / s", rate("udp", "announces")),
        ("UDP connects / s", rate("udp", "connections")),
        ("UDP scrapes / s", rate("udp", "scrapes")),
        ("HTTP announces / s", rate("tcp", "announces")),
        ("HTTP scrapes / s", rate("tcp", "scrapes")),
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(i, (title, exprs))| Panel {
            title,
            x: (i as u32 % 2) * 12,
            y: (i as u32 / 2) * 8,
            exprs,
        })
        .collect()
}

/// Files holding the secrets themselves, read by the services through
/// compose `secrets:` (the images' `*_FILE` variables).
fn secret_files(config: &Config, secrets: &SecretContext) -> Vec<File> {
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
fn registry_ca_file(config: &Config) -> Option<File> {
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
fn sqlite_host_dir(config: &Config) -> Option<String> {
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
struct OwnedFile {
    path: String,
    owner: String,
    mode: String,
}

/// The project's templates, parsed once for both renders of a build.
pub struct Templates(Tera);

impl Templates {
    pub fn load(project: &Path) -> Result<Self> {
        Ok(Templates(tera_for(project)?))
    }

    /// Renders the first-boot install script.
    pub fn render_install(&self, ctx: &Context) -> Result<String> {
        self.0
            .render(INSTALL_TEMPLATE, ctx)
            .with_context(|| format!("rendering templates/{INSTALL_TEMPLATE}"))
    }
}

/// Renders the whole bundle for `config`, with real or redacted secrets.
pub fn render(
    templates: &Templates,
    config: &Config,
    images: &[ResolvedImage],
    secrets: &SecretContext,
) -> Result<Vec<File>> {
    let tera = &templates.0;
    let image_map: BTreeMap<&str, &str> = images
        .iter()
        .map(|i| (i.service.as_str(), i.pinned.as_str()))
        .collect();
    let mut ctx = Context::new();
    ctx.insert("config", config);
    ctx.insert("secrets", secrets);
    ctx.insert("images", &image_map);
    // In the order the configuration needs them: the tracker's first.
    ctx.insert("image_list", images);
    ctx.insert("on_reverse_proxy", &config.domain_name.is_some());
    ctx.insert("listen", &config.listeners());
    ctx.insert("stats_fields", STATS_FIELDS);
    ctx.insert("dashboard_panels", &dashboard_panels());

    ctx.insert("sqlite_host_dir", &sqlite_host_dir(config));
    ctx.insert("lo_addresses", &config.lo_addresses());

    let entries: Vec<&Entry> = ENTRIES.iter().filter(|e| (e.when)(config)).collect();
    let mut files = secret_files(config, secrets);
    files.extend(registry_ca_file(config));
    // The prepare script gives every file not owned by root to its user.
    let owned: Vec<OwnedFile> = files
        .iter()
        .map(|f| (f.path.as_str(), f.uid, f.mode))
        .chain(entries.iter().map(|e| (e.path, e.owner, e.mode)))
        .filter(|(_, uid, _)| *uid != 0)
        .map(|(path, uid, mode)| OwnedFile {
            path: path.to_string(),
            owner: format!("{uid}:{uid}"),
            mode: format!("{mode:04o}"),
        })
        .collect();
    ctx.insert("owned_files", &owned);
    for e in entries {
        let text = tera
            .render(e.template, &ctx)
            .with_context(|| format!("rendering templates/{}", e.template))?;
        parse_back(e.path, &text).map_err(|err| {
            crate::error::Error::invalid(format!(
                "templates/{} rendered an invalid {}: {err}; fix the template (or the value it escapes)",
                e.template, e.path
            ))
        })?;
        files.push(File {
            path: e.path.to_string(),
            content: text.into_bytes(),
            mode: e.mode,
            uid: e.owner,
            gid: e.owner,
            secret: e.secret,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Parses a rendered structured file (the format follows from its
/// extension), so a template edit or an unescaped value fails the build
/// instead of the VM. The error says what and where, never the text: the
/// parsers quote the offending line, and rendered files carry secrets.
pub fn parse_back(path: &str, text: &str) -> Result<()> {
    let located = |format: &str, message: &str, offset: Option<usize>| {
        let line = offset.map_or(0, |o| text[..o.min(text.len())].lines().count().max(1));
        anyhow!("{format}: {message} (line {line}; the line is not shown, it may hold a secret)")
    };
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("toml") => {
            toml::from_str::<toml::Value>(text)
                .map_err(|e| located("TOML", e.message(), e.span().map(|s| s.start)))?;
        }
        Some("yaml" | "yml") => {
            serde_saphyr::from_str::<serde_json::Value>(text).map_err(|e| {
                // The first line is "error: line L column C: message"; the
                // rest is a snippet of the text.
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                anyhow!(
                    "YAML: {} (the line is not shown, it may hold a secret)",
                    first.trim_start_matches("error: ")
                )
            })?;
        }
        Some("json") => {
            serde_json::from_str::<serde_json::Value>(text).map_err(|e| {
                anyhow!(
                    "JSON: {:?} error at line {}, column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                )
            })?;
        }
        _ => {}
    }
    Ok(())
}
