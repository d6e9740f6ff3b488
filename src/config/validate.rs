//! Raw values -> the typed `Config`, reporting every problem at once.
//! Each check says which variable, where its value came from, and the fix.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::load::{Raw, RawValues, Source};
use super::provider::Provider;
use super::report::{Problem, Report};
use super::vars::{self, Kind, PLACEHOLDERS, STRICT_ENVIRONMENTS, VARS};

#[derive(Debug, Clone, Serialize)]
pub struct Mysql {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub name: String,
    /// Host `mysql`: the MySQL container shipped in the compose stack.
    pub bundled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Database {
    /// The tracker's driver name: `sqlite3` or `mysql`.
    pub driver: &'static str,
    pub sqlite_path: Option<String>,
    pub mysql: Option<Mysql>,
}

/// Secret values. Kept out of `Config`'s serialization so a template can only
/// reach one through the explicit `secrets` context the renderer passes.
#[derive(Clone, Default)]
pub struct Secrets {
    pub api_token: String,
    pub grafana_admin_password: String,
    pub mysql_password: Option<String>,
    pub mysql_root_password: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(redacted)")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub env: String,
    pub provider: Provider,
    pub region: String,
    pub instance_type: String,
    pub image: String,
    pub hostname: String,
    pub data_volume: Option<String>,
    pub data_volume_size_gb: u64,
    /// Static addressing of the first NIC: address/prefix, gateway, DNS.
    pub ipv4_address: Option<String>,
    pub ipv4_gateway: Option<String>,
    pub dns_servers: Vec<String>,
    pub floating_ipv4: Option<String>,
    pub floating_ipv6: Option<String>,
    pub mode: String,
    pub private: bool,
    pub listed: bool,
    pub database: Database,
    pub log_level: String,
    /// The bind host as it goes before `:port` (`[::]`, `127.0.0.1`).
    pub bind_host: String,
    pub udp_ports: Vec<u16>,
    pub http_ports: Vec<u16>,
    pub api_port: u16,
    pub health_check_port: u16,
    pub announce_interval: u64,
    pub announce_interval_min: u64,
    pub external_ip: Option<String>,
    pub prometheus_retention_time: String,
    pub prometheus_scrape_interval: String,
    pub prometheus_port: u16,
    pub grafana_port: u16,
    pub grafana_admin_user: String,
    pub ssh_public_key: Option<String>,
    pub domain_name: Option<String>,
    pub ssl_email: Option<String>,
    #[serde(skip)]
    pub secrets: Secrets,
}

/// A parsed value of one variable.
#[derive(Debug, Clone)]
enum Value {
    Unset,
    Text(String),
    Number(u64),
    Ports(Vec<u16>),
}

struct Checker<'a> {
    env: &'a str,
    raw: &'a RawValues,
    report: &'a mut Report,
    values: BTreeMap<&'static str, Value>,
}

impl Checker<'_> {
    fn raw(&self, name: &str) -> &Raw {
        &self.raw[name]
    }

    fn fail(&mut self, name: &str, message: String, fix: &str) {
        let source = self.raw(name).source.clone();
        self.report
            .push(Problem::error(Some(name.to_string()), source, message, fix));
    }

    fn warn(&mut self, name: &str, message: String, fix: &str) {
        let source = self.raw(name).source.clone();
        self.report.push(Problem::warning(
            Some(name.to_string()),
            source,
            message,
            fix,
        ));
    }

    fn text(&self, name: &str) -> String {
        match self.values.get(name) {
            Some(Value::Text(s)) => s.clone(),
            _ => String::new(),
        }
    }

    fn opt(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|s| !s.is_empty())
    }

    fn number(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(Value::Number(n)) => *n,
            // Invalid: already reported; fall back to the default so later
            // checks do not report the same value twice.
            _ => vars::find(name)
                .and_then(|v| v.default.parse().ok())
                .unwrap_or(0),
        }
    }

    fn ports(&self, name: &str) -> Vec<u16> {
        match self.values.get(name) {
            Some(Value::Ports(p)) => p.clone(),
            Some(Value::Number(n)) => vec![*n as u16],
            _ => Vec::new(),
        }
    }

    fn is_set(&self, name: &str) -> bool {
        !self.raw(name).value.is_empty()
    }

    fn is_strict(&self) -> bool {
        STRICT_ENVIRONMENTS.contains(&self.env)
    }
}

/// Validates raw values for `env`; returns a config only when there is no error.
pub fn validate(env: &str, raw: &RawValues, report: &mut Report) -> Option<Config> {
    let mut c = Checker {
        env,
        raw,
        report,
        values: BTreeMap::new(),
    };
    for var in VARS {
        let value = c.raw(var.name).value.clone();
        if value.is_empty() {
            if var.required_in.contains(&env) {
                c.fail(
                    var.name,
                    format!("is required in {env} and not set"),
                    &format!(
                        "set {}=... in environments/{env}.env or in the process environment ({})",
                        var.name, var.help
                    ),
                );
            }
            c.values.insert(var.name, Value::Unset);
            continue;
        }
        match parse_kind(var.kind, &value) {
            Ok(v) => {
                c.values.insert(var.name, v);
            }
            Err((message, fix)) => {
                c.fail(var.name, message, &fix);
                c.values.insert(var.name, Value::Unset);
            }
        }
    }
    check_secrets(&mut c);
    check_cross_fields(&mut c);
    let database = check_database(&mut c);
    if c.report.has_errors() {
        return None;
    }
    let bind = c.text("TORRUST_TRACKER_BIND_ADDRESS");
    let bind_host = match bind.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => format!("[{a}]"),
        _ => bind,
    };
    let mode = c.text("TORRUST_TRACKER_MODE");
    Some(Config {
        env: env.to_string(),
        provider: Provider::parse(&c.text("INFRASTRUCTURE_PROVIDER"))?,
        region: c.text("INFRASTRUCTURE_REGION"),
        instance_type: c.text("INFRASTRUCTURE_INSTANCE_TYPE"),
        image: c.text("INFRASTRUCTURE_IMAGE"),
        hostname: c.text("INFRASTRUCTURE_HOSTNAME"),
        data_volume: c.opt("INFRASTRUCTURE_DATA_VOLUME"),
        data_volume_size_gb: c.number("INFRASTRUCTURE_DATA_VOLUME_SIZE_GB"),
        ipv4_address: c.opt("INFRASTRUCTURE_IPV4_ADDRESS"),
        ipv4_gateway: c.opt("INFRASTRUCTURE_IPV4_GATEWAY"),
        dns_servers: c
            .opt("INFRASTRUCTURE_DNS_SERVERS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default(),
        floating_ipv4: c.opt("INFRASTRUCTURE_FLOATING_IPV4"),
        floating_ipv6: c.opt("INFRASTRUCTURE_FLOATING_IPV6"),
        private: mode == "private",
        listed: mode == "whitelisted",
        mode,
        database: database?,
        log_level: c.text("TORRUST_TRACKER_LOG_LEVEL"),
        bind_host,
        udp_ports: c.ports("TORRUST_TRACKER_UDP_PORTS"),
        http_ports: c.ports("TORRUST_TRACKER_HTTP_PORTS"),
        api_port: c.number("TORRUST_TRACKER_API_PORT") as u16,
        health_check_port: c.number("TORRUST_TRACKER_HEALTH_CHECK_PORT") as u16,
        announce_interval: c.number("TORRUST_TRACKER_ANNOUNCE_INTERVAL"),
        announce_interval_min: c.number("TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN"),
        external_ip: c.opt("TORRUST_TRACKER_EXTERNAL_IP"),
        prometheus_retention_time: c.text("PROMETHEUS_RETENTION_TIME"),
        prometheus_scrape_interval: c.text("PROMETHEUS_SCRAPE_INTERVAL"),
        prometheus_port: c.number("PROMETHEUS_PORT") as u16,
        grafana_port: c.number("GRAFANA_PORT") as u16,
        grafana_admin_user: c.text("GRAFANA_ADMIN_USER"),
        ssh_public_key: c.opt("SSH_PUBLIC_KEY"),
        domain_name: c.opt("DOMAIN_NAME"),
        ssl_email: c.opt("SSL_EMAIL"),
        secrets: Secrets {
            api_token: c.text("TORRUST_TRACKER_API_TOKEN"),
            grafana_admin_password: c.text("GRAFANA_ADMIN_PASSWORD"),
            mysql_password: c.opt("MYSQL_PASSWORD"),
            mysql_root_password: c.opt("MYSQL_ROOT_PASSWORD"),
        },
    })
}

type KindError = (String, String);

fn parse_kind(kind: Kind, value: &str) -> Result<Value, KindError> {
    let text = |v: &str| Ok(Value::Text(v.to_string()));
    if !matches!(kind, Kind::Secret { .. }) && value.chars().any(char::is_control) {
        return Err((
            "contains a control character (tab, newline, ...)".into(),
            "remove it; only secrets may span lines".into(),
        ));
    }
    match kind {
        Kind::OneOf(words) => {
            if words.contains(&value) {
                text(value)
            } else {
                Err((
                    format!("'{value}' is not one of {}", words.join(", ")),
                    format!("use one of: {}", words.join(", ")),
                ))
            }
        }
        Kind::Text => text(value),
        Kind::Hostname => {
            if is_dns_label(value) {
                text(value)
            } else {
                Err((
                    format!("'{value}' is not a host name"),
                    "use 1-63 letters, digits and '-', not starting or ending with '-'".into(),
                ))
            }
        }
        Kind::VolumeLabel => {
            if !value.is_empty()
                && value.len() <= 16
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                text(value)
            } else {
                Err((
                    format!("'{value}' is not a usable volume label"),
                    "use 1-16 letters, digits, '-' or '_' (ext4 labels hold 16 bytes)".into(),
                ))
            }
        }
        Kind::Number { min, max } => match value.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Value::Number(n)),
            _ => Err((
                format!("'{value}' is not a whole number from {min} to {max}"),
                format!("use a number from {min} to {max}"),
            )),
        },
        Kind::Port => parse_port(value).map(|p| Value::Number(p as u64)),
        Kind::Ports => {
            let mut ports = Vec::new();
            for part in value.split(',') {
                let p = parse_port(part.trim())?;
                if ports.contains(&p) {
                    return Err((
                        format!("port {p} is listed twice"),
                        "list each port once".into(),
                    ));
                }
                ports.push(p);
            }
            Ok(Value::Ports(ports))
        }
        Kind::IpAddr => parse_ip::<IpAddr>(value, "an IP address"),
        Kind::Ipv4 => parse_ip::<Ipv4Addr>(value, "an IPv4 address"),
        Kind::Ipv6 => parse_ip::<Ipv6Addr>(value, "an IPv6 address"),
        Kind::Ipv4Cidr => {
            let ok = value.split_once('/').is_some_and(|(ip, len)| {
                ip.parse::<Ipv4Addr>().is_ok()
                    && len.parse::<u8>().is_ok_and(|l| (1..=32).contains(&l))
            });
            if ok {
                text(value)
            } else {
                Err((
                    format!("'{value}' is not an IPv4 address with a prefix length"),
                    "write it as address/prefix, e.g. 192.0.2.10/24".into(),
                ))
            }
        }
        Kind::IpList => {
            for ip in value.split(',') {
                parse_ip::<IpAddr>(ip.trim(), "an IP address")?;
            }
            text(value)
        }
        Kind::DatabaseUrl => text(value), // checked with the MySQL variables
        Kind::Duration => {
            let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let unit = &value[digits.len()..];
            let ok = !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit())
                && ["ms", "s", "m", "h", "d", "w", "y"].contains(&unit)
                && digits != "0";
            if ok {
                text(value)
            } else {
                Err((
                    format!("'{value}' is not a duration"),
                    "write a number and a unit: ms, s, m, h, d, w or y (e.g. 15s, 30d)".into(),
                ))
            }
        }
        Kind::Secret { .. } => text(value),
        Kind::SshPublicKey => {
            let mut parts = value.split_whitespace();
            let algo = parts.next().unwrap_or("");
            let key = parts.next().unwrap_or("");
            let known = [
                "ssh-ed25519",
                "ssh-rsa",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
                "sk-ssh-ed25519@openssh.com",
                "sk-ecdsa-sha2-nistp256@openssh.com",
            ];
            let base64 = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
            if value.contains(crate::version::STAND_IN) {
                // The comment reaches user-data, where the build puts the
                // release version in place of this text.
                Err((
                    format!(
                        "contains {:?}, which the build reserves",
                        crate::version::STAND_IN
                    ),
                    "change the key's comment (the text after the key)".into(),
                ))
            } else if known.contains(&algo) && base64 {
                text(value)
            } else {
                Err((
                    "is not an OpenSSH public key line".into(),
                    "paste one line of ~/.ssh/id_ed25519.pub (ssh-ed25519 AAAA... comment)".into(),
                ))
            }
        }
        Kind::Domain => {
            let labels: Vec<&str> = value.split('.').collect();
            if labels.len() >= 2 && value.len() <= 253 && labels.iter().all(|l| is_dns_label(l)) {
                text(&value.to_ascii_lowercase())
            } else {
                Err((
                    format!("'{value}' is not a domain name"),
                    "use a name such as tracker.example.org, without scheme or port".into(),
                ))
            }
        }
        Kind::Email => {
            let ok = value
                .split_once('@')
                .map(|(user, domain)| {
                    !user.is_empty()
                        && !user.contains(char::is_whitespace)
                        && domain.contains('.')
                        && domain.split('.').all(is_dns_label)
                })
                .unwrap_or(false);
            if ok {
                text(value)
            } else {
                Err((
                    format!("'{value}' is not an e-mail address"),
                    "use an address such as admin@example.org".into(),
                ))
            }
        }
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn parse_port(s: &str) -> Result<u16, KindError> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err((
            format!("'{s}' is not a port"),
            "use a number from 1 to 65535".into(),
        )),
    }
}

fn parse_ip<T: std::str::FromStr>(s: &str, what: &str) -> Result<Value, KindError> {
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<T>() {
        Ok(_) => Ok(Value::Text(bare.to_string())),
        Err(_) => Err((
            format!("'{s}' is not {what}"),
            format!("write {what}, without a port"),
        )),
    }
}

fn check_secrets(c: &mut Checker) {
    for var in VARS {
        let Kind::Secret { min_len } = var.kind else {
            continue;
        };
        let raw = c.raw(var.name).clone();
        if raw.value.is_empty() {
            continue; // required-ness is checked where the secret is needed
        }
        if raw.value.trim() != raw.value {
            c.fail(
                var.name,
                "starts or ends with white space, which the services would trim".into(),
                "remove the leading and trailing spaces or newlines",
            );
        }
        if raw.value.chars().any(|ch| ch.is_control() && ch != '\n') {
            c.fail(
                var.name,
                "contains a control character other than newline".into(),
                "generate the secret with `openssl rand -base64 33`",
            );
        }
        if !c.is_strict() {
            continue;
        }
        let env = c.env.to_string();
        if raw.source == Source::Default {
            c.fail(
                var.name,
                format!("is not set, and {env} may not use the built-in local default"),
                &format!("export {}=\"$(openssl rand -base64 33)\" before running torrust-bake (never commit it)", var.name),
            );
            continue;
        }
        let lower = raw.value.to_ascii_lowercase();
        if PLACEHOLDERS.contains(&lower.as_str()) || lower.contains("changeme") {
            c.fail(
                var.name,
                "is a placeholder value".into(),
                "replace it with a generated secret: openssl rand -base64 33",
            );
        } else if raw.value.chars().count() < min_len {
            c.fail(
                var.name,
                format!(
                    "is {} characters long; {env} needs at least {min_len}",
                    raw.value.chars().count()
                ),
                "generate a longer one: openssl rand -base64 33",
            );
        }
        if matches!(raw.source, Source::File { .. }) {
            c.fail(
                var.name,
                "is a secret written in a committed environment file".into(),
                "remove the line and pass the secret through the process environment",
            );
        }
    }
}

fn check_cross_fields(c: &mut Checker) {
    if let Some(provider) = Provider::parse(&c.text("INFRASTRUCTURE_PROVIDER")) {
        for (name, example) in provider.required_vars() {
            if !c.is_set(name) {
                c.fail(
                    name,
                    format!(
                        "is required with INFRASTRUCTURE_PROVIDER={}",
                        provider.name()
                    ),
                    &format!("set it, e.g. {name}={example}"),
                );
            }
        }
    }
    for name in ["INFRASTRUCTURE_IPV4_GATEWAY", "INFRASTRUCTURE_DNS_SERVERS"] {
        if c.is_set(name) && !c.is_set("INFRASTRUCTURE_IPV4_ADDRESS") {
            c.fail(
                name,
                "is only used with a static address".into(),
                "set INFRASTRUCTURE_IPV4_ADDRESS (address/prefix) too, or unset it for DHCP",
            );
        }
    }
    if c.is_set("INFRASTRUCTURE_IPV4_ADDRESS") && !c.is_set("INFRASTRUCTURE_IPV4_GATEWAY") {
        c.fail(
            "INFRASTRUCTURE_IPV4_ADDRESS",
            "is set without INFRASTRUCTURE_IPV4_GATEWAY".into(),
            "set INFRASTRUCTURE_IPV4_GATEWAY, the router of that network",
        );
    }
    let interval = c.number("TORRUST_TRACKER_ANNOUNCE_INTERVAL");
    let min = c.number("TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN");
    if min > interval {
        c.fail(
            "TORRUST_TRACKER_ANNOUNCE_INTERVAL_MIN",
            format!("{min} is above the announce interval {interval}"),
            "make the minimum at most TORRUST_TRACKER_ANNOUNCE_INTERVAL",
        );
    }
    // TCP listeners share one port space; UDP ports are checked in their list.
    let mut seen: BTreeMap<u16, &str> = BTreeMap::new();
    for name in [
        "TORRUST_TRACKER_HTTP_PORTS",
        "TORRUST_TRACKER_API_PORT",
        "TORRUST_TRACKER_HEALTH_CHECK_PORT",
        "PROMETHEUS_PORT",
        "GRAFANA_PORT",
    ] {
        for port in c.ports(name) {
            if let Some(other) = seen.insert(port, name) {
                c.fail(
                    name,
                    format!("TCP port {port} is also used by {other}"),
                    "give every TCP listener its own port",
                );
            }
        }
    }
    if c.is_set("DOMAIN_NAME") && !c.is_set("SSL_EMAIL") {
        c.fail(
            "SSL_EMAIL",
            "is required when DOMAIN_NAME is set (ACME account for the TLS certificates)".into(),
            "set SSL_EMAIL=you@example.org",
        );
    }
    if c.env == "production" && c.text("DOMAIN_NAME").ends_with("example.com") {
        c.warn(
            "DOMAIN_NAME",
            "is an example domain".into(),
            "set the domain whose DNS points at this tracker",
        );
    }
}

fn check_database(c: &mut Checker) -> Option<Database> {
    const NAME: &str = "TORRUST_TRACKER_DATABASE_URL";
    let value = c.text(NAME);
    if value.is_empty() {
        c.fail(
            NAME,
            "is empty".into(),
            "use sqlite:///var/lib/torrust/tracker/database/sqlite3.db or mysql://torrust@mysql:3306/torrust_tracker",
        );
        return None;
    }
    let fix = "use sqlite:///absolute/path.db or mysql://user@host:3306/database (the password goes in MYSQL_PASSWORD)";
    let url = match url::Url::parse(&value) {
        Ok(u) => u,
        Err(e) => {
            c.fail(NAME, format!("cannot be parsed as a URL: {e}"), fix);
            return None;
        }
    };
    match url.scheme() {
        "sqlite" => {
            let path = url.path();
            if url.host_str().is_some_and(|h| !h.is_empty())
                || !path.starts_with('/')
                || path.len() < 2
            {
                c.fail(
                    NAME,
                    "an SQLite URL needs an absolute path: sqlite:///path (three slashes)".into(),
                    fix,
                );
                return None;
            }
            for name in ["MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"] {
                if c.is_set(name) {
                    c.warn(
                        name,
                        "is set but the database is SQLite; it is not used".into(),
                        "remove it, or switch TORRUST_TRACKER_DATABASE_URL to mysql://",
                    );
                }
            }
            Some(Database {
                driver: "sqlite3",
                sqlite_path: Some(path.to_string()),
                mysql: None,
            })
        }
        "mysql" => {
            if url.password().is_some() {
                c.fail(
                    NAME,
                    "carries a password; a URL is shown and committed, a password must not be"
                        .into(),
                    "remove ':password' from the URL and set MYSQL_PASSWORD instead",
                );
            }
            let host = url.host_str().unwrap_or("").to_string();
            let name = url.path().trim_start_matches('/').to_string();
            if url.username().is_empty() || host.is_empty() || name.is_empty() || name.contains('/')
            {
                c.fail(
                    NAME,
                    "a MySQL URL needs a user, a host and a database name".into(),
                    fix,
                );
                return None;
            }
            let bundled = host == "mysql";
            if !c.is_set("MYSQL_PASSWORD") {
                c.fail(
                    "MYSQL_PASSWORD",
                    "is required with a MySQL database".into(),
                    "export MYSQL_PASSWORD=\"$(openssl rand -base64 33)\"",
                );
            }
            if bundled && !c.is_set("MYSQL_ROOT_PASSWORD") {
                c.fail(
                    "MYSQL_ROOT_PASSWORD",
                    "is required with the bundled MySQL (database host mysql)".into(),
                    "export MYSQL_ROOT_PASSWORD=\"$(openssl rand -base64 33)\"",
                );
            }
            Some(Database {
                driver: "mysql",
                sqlite_path: None,
                mysql: Some(Mysql {
                    user: url.username().to_string(),
                    host,
                    port: url.port().unwrap_or(3306),
                    name,
                    bundled,
                }),
            })
        }
        other => {
            c.fail(NAME, format!("unsupported database scheme '{other}'"), fix);
            None
        }
    }
}
