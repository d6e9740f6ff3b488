//! Raw values -> the typed `Config`, reporting every problem at once (as
//! butane reports): each problem names the variable, where its value came
//! from, and the fix.
//!
//! Each variable is first parsed by its kind (`kinds.rs`); then the rules
//! that involve several variables run per section: `infrastructure`,
//! `tracker`, `database`, `network`, `secrets`, `monitoring`. A config is
//! built only when no rule failed.

mod acme;
mod backup;
mod database;
mod infrastructure;
pub mod kinds;
mod libvirt;
mod monitoring;
mod network;
mod secrets;
mod services;
mod tracker;

use std::net::IpAddr;

use ipnet::Ipv4Net;

use super::environment::Environment;
use super::load::{Raw, RawValues};
use super::model::{Config, Secrets};
use super::provider::Provider;
use super::report::{Problem, Report};
use super::types::{TcpPort, TrackerMode, UdpPort};
use super::vars::{Required, VarId, VARS};
use kinds::Value;

/// What the configuration is loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Building a release: every rule.
    Build,
    /// Probing a deployment (`health`): of the secrets, only the API token
    /// matters; the others are not asked for.
    Probe,
    /// What the deployment consists of (which services, so which images),
    /// whatever the secrets: lets `check` report image problems together
    /// with missing secrets.
    Layout,
}

/// The raw values, their parsed forms, and the report being written.
pub(super) struct Checker<'a> {
    env: &'a Environment,
    purpose: Purpose,
    raw: &'a RawValues,
    report: &'a mut Report,
    values: Vec<Value>,
}

impl Checker<'_> {
    fn raw(&self, id: VarId) -> &Raw {
        &self.raw[id]
    }

    fn value(&self, id: VarId) -> &Value {
        // One value per id, pushed in table order by `validate`.
        &self.values[id as usize]
    }

    fn fail(&mut self, id: VarId, message: String, fix: &str) {
        let source = self.raw(id).source.clone();
        self.report
            .push(Problem::error(Some(id.name().into()), source, message, fix));
    }

    fn warn(&mut self, id: VarId, message: String, fix: &str) {
        let source = self.raw(id).source.clone();
        self.report.push(Problem::warning(
            Some(id.name().into()),
            source,
            message,
            fix,
        ));
    }

    fn text(&self, id: VarId) -> String {
        match self.value(id) {
            Value::Text(s) => s.clone(),
            _ => String::new(),
        }
    }

    fn opt(&self, id: VarId) -> Option<String> {
        Some(self.text(id)).filter(|s| !s.is_empty())
    }

    fn number(&self, id: VarId) -> u64 {
        match self.value(id) {
            Value::Number(n) => *n,
            // Invalid: already reported; fall back to the default so later
            // checks do not report the same value twice.
            _ => id.var().default.parse().unwrap_or(0),
        }
    }

    fn ports(&self, id: VarId) -> Vec<u16> {
        match self.value(id) {
            Value::Ports(p) => p.clone(),
            Value::Number(n) => vec![*n as u16],
            _ => Vec::new(),
        }
    }

    fn ip(&self, id: VarId) -> Option<IpAddr> {
        match self.value(id) {
            Value::Ip(ip) => Some(*ip),
            _ => None,
        }
    }

    fn net(&self, id: VarId) -> Option<Ipv4Net> {
        match self.value(id) {
            Value::Net(n) => Some(*n),
            _ => None,
        }
    }

    fn net6(&self, id: VarId) -> Option<ipnet::Ipv6Net> {
        match self.value(id) {
            Value::Net6(n) => Some(*n),
            _ => None,
        }
    }

    fn ips(&self, id: VarId) -> Vec<IpAddr> {
        match self.value(id) {
            Value::Ips(ips) => ips.clone(),
            _ => Vec::new(),
        }
    }

    /// A yes/no variable's value (`true`; anything else, already
    /// reported by the kind check, is `false`).
    fn flag(&self, id: VarId) -> bool {
        self.text(id) == "true"
    }

    fn is_set(&self, id: VarId) -> bool {
        !self.raw(id).value.is_empty()
    }

    /// Whether the rules about secret `id` apply to this purpose.
    fn secret_needed(&self, id: VarId) -> bool {
        // Read raw: GRAFANA_ENABLED's row comes after the password's.
        if id == VarId::GRAFANA_ADMIN_PASSWORD && self.raw(VarId::GRAFANA_ENABLED).value == "false"
        {
            return false;
        }
        match self.purpose {
            Purpose::Build => true,
            Purpose::Probe => id == VarId::TORRUST_TRACKER_API_TOKEN,
            Purpose::Layout => false,
        }
    }
}

/// The longest value any variable takes (an RSA-4096 SSH key is ~750).
const MAX_VALUE: usize = 4096;

/// Parses every variable by its kind, reporting unset required ones.
fn parse_all(c: &mut Checker) {
    for var in &VARS {
        let value = c.raw(var.id).value.clone();
        let parsed = if value.is_empty() {
            let secret = matches!(var.kind, crate::config::vars::Kind::Secret { .. });
            let needed = !secret || c.secret_needed(var.id);
            if var.required == Required::InStrict && c.env.is_strict() && needed {
                let env = c.env.to_string();
                c.fail(
                    var.id,
                    format!("is required in {env} and not set"),
                    &if secret {
                        format!(
                            "run `torrust-bake secrets init {env}` (or export {}); never in environments/{env}.env ({})",
                            var.name, var.help
                        )
                    } else {
                        format!(
                            "set {}=... in environments/{env}.env or in the process environment ({})",
                            var.name, var.help
                        )
                    },
                );
            }
            Value::Unset
        } else if value.chars().count() > MAX_VALUE {
            let message = format!(
                "is {} characters long; a value is at most {MAX_VALUE}",
                value.chars().count()
            );
            c.fail(var.id, message, "check that the right text was pasted");
            Value::Unset
        } else {
            kinds::parse(var.kind, &value).unwrap_or_else(|(message, fix)| {
                c.fail(var.id, message, &fix);
                Value::Unset
            })
        };
        c.values.push(parsed);
    }
}

/// Validates raw values for `env`; returns a config only when there is no error.
pub fn validate(
    env: &Environment,
    raw: &RawValues,
    purpose: Purpose,
    report: &mut Report,
) -> Option<Config> {
    let mut c = Checker {
        env,
        purpose,
        raw,
        report,
        values: Vec::with_capacity(VarId::COUNT),
    };
    parse_all(&mut c);
    secrets::check(&mut c);
    infrastructure::check(&mut c);
    tracker::check(&mut c);
    network::check(&mut c);
    acme::check(&mut c);
    monitoring::check(&mut c);
    services::check(&mut c);
    libvirt::check(&mut c);
    let database = database::check(&mut c);
    backup::check(&mut c, database.as_ref());
    if c.report.has_errors() {
        return None;
    }
    Some(build(&c, database?))
}

fn tcp(c: &Checker, id: VarId) -> TcpPort {
    TcpPort(c.number(id) as u16)
}

/// The config from values that passed every rule.
fn build(c: &Checker, database: super::types::Database) -> Config {
    use VarId::*;
    let data_volume = data_volume(c, &database);
    let backup = backup::build(c, &database);
    Config {
        env: c.env.clone(),
        // Both parse: the kinds checked the words against these lists.
        provider: Provider::parse(&c.text(INFRASTRUCTURE_PROVIDER)).unwrap_or(Provider::Libvirt),
        // A `+` marks a location torrust-bake does not know (unchecked).
        region: c
            .text(INFRASTRUCTURE_REGION)
            .trim_start_matches('+')
            .to_string(),
        instance_type: c.text(INFRASTRUCTURE_INSTANCE_TYPE),
        image: c.text(INFRASTRUCTURE_IMAGE),
        hostname: c.text(INFRASTRUCTURE_HOSTNAME),
        data_volume,
        data_volume_size_gb: c.number(INFRASTRUCTURE_DATA_VOLUME_SIZE_GB),
        ipv4_address: c.net(INFRASTRUCTURE_IPV4_ADDRESS),
        ipv4_gateway: infrastructure::ipv4(c.ip(INFRASTRUCTURE_IPV4_GATEWAY)),
        dns_servers: c.ips(INFRASTRUCTURE_DNS_SERVERS),
        ipv6: infrastructure::ipv6_setup(c),
        floating_ipv4: c
            .ips(INFRASTRUCTURE_FLOATING_IPV4)
            .into_iter()
            .filter_map(|a| infrastructure::ipv4(Some(a)))
            .collect(),
        floating_ipv6: c
            .ips(INFRASTRUCTURE_FLOATING_IPV6)
            .into_iter()
            .filter_map(|a| infrastructure::ipv6(Some(a)))
            .collect(),
        mode: TrackerMode::parse(&c.text(TORRUST_TRACKER_MODE)).unwrap_or(TrackerMode::Public),
        database,
        log_level: c.text(TORRUST_TRACKER_LOG_LEVEL),
        bind_address: c
            .ip(TORRUST_TRACKER_BIND_ADDRESS)
            .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
        udp_ports: c
            .ports(TORRUST_TRACKER_UDP_PORTS)
            .into_iter()
            .map(UdpPort)
            .collect(),
        http_ports: c
            .ports(TORRUST_TRACKER_HTTP_PORTS)
            .into_iter()
            .map(TcpPort)
            .collect(),
        api_port: tcp(c, TORRUST_TRACKER_API_PORT),
        health_check_port: tcp(c, TORRUST_TRACKER_HEALTH_CHECK_PORT),
        announce_interval: c.number(TORRUST_TRACKER_ANNOUNCE_INTERVAL),
        announce_interval_min: c.number(TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN),
        external_ip: c.ip(TORRUST_TRACKER_EXTERNAL_IP),
        prometheus_retention_time: c.text(PROMETHEUS_RETENTION_TIME),
        prometheus_scrape_interval: c.text(PROMETHEUS_SCRAPE_INTERVAL),
        prometheus_port: tcp(c, PROMETHEUS_PORT),
        grafana_port: tcp(c, GRAFANA_PORT),
        grafana_admin_user: c.text(GRAFANA_ADMIN_USER),
        ssh_public_key: c.opt(SSH_PUBLIC_KEY),
        domain_name: c.opt(DOMAIN_NAME),
        ssl_email: c.opt(SSL_EMAIL),
        acme: acme::build(c),
        grafana: c.flag(GRAFANA_ENABLED),
        stats_exporter: c.flag(STATS_EXPORTER_ENABLED),
        registry: services::registry(c),
        publish_admin_ports: c.flag(PUBLISH_ADMIN_PORTS),
        backup,
        libvirt: libvirt::build(c),
        hetzner: crate::config::provider::Hetzner {
            ssh_keys: names(c, HETZNER_SSH_KEYS),
            firewalls: names(c, HETZNER_FIREWALLS),
        },
        secrets: Secrets {
            api_token: c.text(TORRUST_TRACKER_API_TOKEN),
            grafana_admin_password: c.text(GRAFANA_ADMIN_PASSWORD),
            mysql_password: c.opt(MYSQL_PASSWORD),
            mysql_root_password: c.opt(MYSQL_ROOT_PASSWORD),
            release_key: c.text(TORRUST_BAKE_RELEASE_KEY),
            backup_password: c.opt(BACKUP_PASSWORD),
            backup_s3_access_key_id: c.opt(BACKUP_S3_ACCESS_KEY_ID),
            backup_s3_secret_access_key: c.opt(BACKUP_S3_SECRET_ACCESS_KEY),
        },
    }
}

/// The data volume's label. SQLite and the bundled MySQL keep their data
/// under /var/lib/torrust, which must outlive the VM (a new release is a new
/// VM), so they get one by default; an external MySQL does not need one
/// unless it is asked for. Set empty: none.
/// A `NameList` variable's names (none when unset).
fn names(c: &Checker, id: VarId) -> Vec<String> {
    c.opt(id)
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

fn data_volume(c: &Checker, database: &super::types::Database) -> Option<String> {
    let label = c.opt(VarId::INFRASTRUCTURE_DATA_VOLUME)?;
    let external = database.mysql().is_some_and(|m| !m.bundled);
    let defaulted = c.raw(VarId::INFRASTRUCTURE_DATA_VOLUME).source == super::load::Source::Default;
    (!(external && defaulted)).then_some(label)
}

/// Unit-test support: validate `set` (name, value) as read from
/// `environments/<env>.env`, everything else at its default.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use super::*;
    use crate::config::load::{self, Assignment};

    pub fn run(env: &str, set: &[(VarId, &str)]) -> (Option<Config>, Report) {
        run_in(
            &Environment::built_in(env).expect("a built-in environment"),
            set,
        )
    }

    /// As `run`, in any environment.
    pub fn run_in(env: &Environment, set: &[(VarId, &str)]) -> (Option<Config>, Report) {
        let file = Path::new("environments").join(format!("{env}.env"));
        let assignments: Vec<Assignment> = set
            .iter()
            .enumerate()
            .map(|(i, (id, value))| Assignment {
                name: id.name().to_string(),
                value: value.to_string(),
                line: i + 1,
            })
            .collect();
        let mut report = Report::default();
        let raw = load::resolve(
            &file,
            &assignments,
            None,
            &|_| None,
            env.is_strict(),
            &mut report,
        );
        let config = validate(env, &raw, Purpose::Build, &mut report);
        (config, report)
    }

    /// The problems about `id`, as "severity: message | fix | source".
    pub fn about(report: &Report, id: VarId) -> Vec<String> {
        report
            .problems
            .iter()
            .filter(|p| p.variable.as_deref() == Some(id.name()))
            .map(|p| format!("{:?}: {} | {} | {}", p.severity, p.message, p.fix, p.source))
            .collect()
    }

    /// A problem-free run of `local`, with `set` applied.
    pub fn config(set: &[(VarId, &str)]) -> Config {
        let (config, report) = run("local", set);
        config.unwrap_or_else(|| panic!("{report}"))
    }
}
