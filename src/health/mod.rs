//! `health`: proves a deployment serves BitTorrent clients.
//!
//! - UDP tracker, BEP 15, on every UDP port (`udp.rs`).
//! - HTTP tracker (BEP 3, BEP 23 compact, BEP 48 scrape) on every HTTP port:
//!   bencoded replies parsed; `interval`, `peers` and `failure reason` checked.
//! - REST API `/api/health_check` and an authenticated `/api/v1/stats`
//!   (tracker 3.0 answers a wrong token with HTTP 500, reported as a token
//!   problem), and the health-check API `/health_check`.
//!   (`web.rs`)
//!
//! Every probe returns what it saw, or an `Error` whose kind says whether
//! nothing answered (`Unreachable`), something else answered (`Protocol`),
//! or the tracker refused (`Denied`).

mod peers;
mod udp;
mod web;

pub use udp::announce_once;

/// What each probe concludes from a reply's bytes, without the network:
/// the code the probes run, callable by tests and fuzz targets.
pub mod replies {
    pub use super::peers::{compact, expected_ip, verdict, Listed};
    pub use super::udp::{announced, check_reply, connected, listed, parse_reply, scraped};
    pub use super::web::{
        announce_reply, api_health_reply, api_stats_reply, grafana_reply, health_check_reply,
        http_listed, plain_reply, scrape_reply,
    };
}

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Kind};

/// The torrent every check announces: 20 bytes no real torrent has.
pub const INFO_HASH: &[u8; 20] = b"torrust-bake-health!";

/// A peer as a probe announces it. The first is a seeder at 6881, as every
/// health check announced before the peer-list check; the second, a
/// leecher, is there to be told about the first.
pub(crate) struct Peer {
    pub id: &'static [u8; 20],
    pub port: u16,
    pub left: i64,
    /// BEP 3's `event` (`None`: a regular announce), in the UDP codec's type.
    pub event: aquatic_udp_protocol::AnnounceEvent,
}

impl Peer {
    /// The same peer leaving the swarm.
    pub fn leaving(&self) -> Peer {
        Peer {
            event: aquatic_udp_protocol::AnnounceEvent::Stopped,
            ..*self
        }
    }
}

pub(crate) const FIRST_PEER: Peer = Peer {
    id: b"-TB0100-healthcheck0",
    port: 6881,
    left: 0,
    event: aquatic_udp_protocol::AnnounceEvent::None,
};
pub(crate) const SECOND_PEER: Peer = Peer {
    id: b"-TB0100-healthcheck1",
    port: 6882,
    left: 1,
    event: aquatic_udp_protocol::AnnounceEvent::Started,
};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub target: String,
    pub ok: bool,
    pub skipped: bool,
    pub latency_ms: f64,
    pub detail: String,
}

pub struct Options {
    /// Where to probe, in order: the tracker's ports at each; the admin
    /// ports (one server whichever address reaches it) at one only, the
    /// first not IPv6.
    pub hosts: Vec<String>,
    pub timeout: Duration,
    /// Also check Prometheus `/-/healthy` and Grafana `/api/health`.
    pub monitoring: bool,
    /// The CAs the HTTPS checks trust (`--ca-file`: a private ACME CA);
    /// None: the public ones.
    pub ca: Option<Vec<rustls_pki_types::CertificateDer<'static>>>,
}

/// A probe's outcome: what it saw, or why it failed.
pub type Probe = Result<String, Error>;

fn unreachable(message: impl Into<String>) -> Error {
    Error::new(Kind::Unreachable, message)
}

fn protocol(message: impl Into<String>) -> Error {
    Error::new(Kind::Protocol, message)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// At most this many characters of anything a server sent are shown: a
/// 1 MiB Prometheus page is no detail.
pub const QUOTED_CHARS: usize = 200;

/// Text a server sent, fit to print: decoded lossily, control characters
/// (terminal escape sequences, newlines) replaced by `?`, at most
/// `QUOTED_CHARS` characters (cut text says so and how long it was).
pub(crate) fn quoted(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let mut shown: String = text
        .chars()
        .take(QUOTED_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > QUOTED_CHARS {
        shown.push_str(&format!(
            "... (cut at {QUOTED_CHARS} characters; {} bytes read)",
            bytes.len()
        ));
    }
    shown
}

/// Hides the API token in a check's detail, whatever the server did to
/// it: as sent (URL-encoded, either hex case), decoded, form-encoded. The
/// probes never quote the stats reply; this is the net under every other
/// message (a transport error, a proxy's page).
pub(crate) struct Redact {
    forms: Vec<String>,
}

/// What a hidden secret shows as (as `show` prints secrets).
pub const HIDDEN: &str = "********";

impl Redact {
    pub(crate) fn new(secret: &str) -> Redact {
        use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
        let sent = crate::render::url_encode(secret);
        let every = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
        let mut forms = vec![
            secret.to_string(),
            sent.to_lowercase_hex(),
            sent.replace("%20", "+"),
            every.to_lowercase_hex(),
            sent,
            every,
        ];
        forms.retain(|f| !f.is_empty());
        // Longest first: a form that holds another is hidden whole.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Redact { forms }
    }

    /// `text` with every form of the secret hidden, then control
    /// characters replaced (a secret may hold a newline).
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut text = text.to_string();
        for f in &self.forms {
            text = text.replace(f.as_str(), HIDDEN);
        }
        text.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    }
}

trait LowercaseHex {
    fn to_lowercase_hex(&self) -> String;
}

impl LowercaseHex for String {
    /// `%2F` as `%2f`: the same URL, as some servers echo it.
    fn to_lowercase_hex(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut rest = self.as_str();
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let escape: String = rest[i..].chars().take(3).collect();
            out.push_str(&escape.to_lowercase());
            rest = &rest[i + escape.len()..];
        }
        out.push_str(rest);
        out
    }
}

fn run(name: &str, target: String, redact: &Redact, f: impl FnOnce() -> Probe) -> Check {
    let start = Instant::now();
    let result = f();
    let latency_ms = ms(start.elapsed());
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(e) => (false, e.to_string()),
    };
    Check {
        name: name.to_string(),
        target,
        ok,
        skipped: false,
        latency_ms,
        detail: redact.apply(&detail),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Runs every check once, in a fixed order.
pub fn check_all(config: &Config, opts: &Options) -> Vec<Check> {
    check_each(config, opts, &mut |_| {})
}

/// `check_all`, telling `done` about each check as it finishes (`health`
/// prints it then: a run of several seconds is no silence).
pub fn check_each(config: &Config, opts: &Options, done: &mut dyn FnMut(&Check)) -> Vec<Check> {
    round(config, opts, None, done)
}

/// One round of checks at every host; no probe waits past `deadline`.
fn round(
    config: &Config,
    opts: &Options,
    deadline: Option<Instant>,
    done: &mut dyn FnMut(&Check),
) -> Vec<Check> {
    debug_assert!(!opts.hosts.is_empty(), "health needs a host");
    let admin = admin_host(&opts.hosts);
    let mut checks = Vec::new();
    for (i, host) in opts.hosts.iter().enumerate() {
        checks.extend(round_at(config, opts, host, i == admin, deadline, done));
    }
    checks
}

/// Which host the admin ports are checked at: the first that is not an
/// IPv6 address (the tracker's API listens on IPv4 only), else the first,
/// where they are skipped saying why.
fn admin_host(hosts: &[String]) -> usize {
    hosts.iter().position(|h| !is_ipv6(h)).unwrap_or(0)
}

/// Whether `host` is an IPv6 address (a name is not).
fn is_ipv6(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6())
}

/// The checks at one host: the tracker's ports, and with `admin` the API,
/// the health-check API and the monitoring.
fn round_at(
    config: &Config,
    opts: &Options,
    host: &str,
    admin: bool,
    deadline: Option<Instant>,
    done: &mut dyn FnMut(&Check),
) -> Vec<Check> {
    let redact = Redact::new(&config.secrets.api_token);
    let redact = &redact;
    let mut checks = Vec::new();
    let mut add = |checks: &mut Vec<Check>, check: Check| {
        done(&check);
        checks.push(check);
    };
    let refusal_ok = config.mode.refuses_strangers();
    for &port in &config.udp_ports {
        let target = format!("{host}:{port}");
        add(
            &mut checks,
            run("udp tracker", target.clone(), redact, || {
                udp::check(
                    &target,
                    opts.timeout,
                    deadline,
                    refusal_ok,
                    config.external_ip,
                )
            }),
        );
    }
    let agent = &web::Http {
        agent: crate::http::client(opts.timeout),
        timeout: opts.timeout,
        deadline,
    };
    // With a domain, the HTTP trackers and the API are Caddy's sites on
    // 443 (their own ports are closed to the world): reached at this host
    // by name, the certificate checked.
    let proxied = config
        .domain_name
        .as_deref()
        .map(|d| (d, https_at(host, opts, deadline)));
    for (i, &port) in config.http_ports.iter().enumerate() {
        let (base, via, to_port) = match &proxied {
            Some((d, via)) => (format!("https://http{}.{d}", i + 1), Some(via), 443),
            None => (format!("http://{}:{port}", url_host(host)), None, port.0),
        };
        add(
            &mut checks,
            run("http tracker", base.clone(), redact, || {
                let client = http_client(config, host, to_port)?;
                let agent = match via {
                    Some(via) => via.as_ref().map_err(Clone::clone)?,
                    None => agent,
                };
                web::http_tracker(agent, &base, &client, refusal_ok)
            }),
        );
    }
    if let Some((d, via)) = &proxied {
        let counted = counted_by(config, host, &checks);
        let api = format!("https://api.{d}");
        api_checks(config, &api, via.as_ref(), &counted, redact, &mut |c| {
            add(&mut checks, c)
        });
    }
    if !admin {
        return checks;
    }
    let api = format!("http://{}:{}", url_host(host), config.api_port);
    let health = format!("http://{}:{}", url_host(host), config.health_check_port);
    // The admin ports are on the VM's 127.0.0.1 unless the environment
    // publishes them (PUBLISH_ADMIN_PORTS, lenient only); the tracker's API
    // and health-check API listen on IPv4 only with the wildcard bind
    // (`Listeners`: one socket each in tracker 3.0.0), so not over IPv6.
    let reachable = is_loopback(host) || config.publish_admin_ports;
    let ipv4_only = is_ipv6(host) && config.listeners().admin == "0.0.0.0";
    if reachable && !ipv4_only {
        // (Behind Caddy the API was checked through it, above.)
        if proxied.is_none() {
            let counted = counted_by(config, host, &checks);
            api_checks(config, &api, Ok(agent), &counted, redact, &mut |c| {
                add(&mut checks, c)
            });
        }
        add(
            &mut checks,
            run(
                "health check api",
                format!("{health}/health_check"),
                redact,
                || web::health_check_api(agent, &health),
            ),
        );
        if opts.monitoring {
            let prom = format!(
                "http://{}:{}/-/healthy",
                url_host(host),
                config.prometheus_port
            );
            add(
                &mut checks,
                run("prometheus", prom.clone(), redact, || {
                    web::plain_ok(agent, &prom)
                }),
            );
            if config.grafana {
                let grafana = format!(
                    "http://{}:{}/api/health",
                    url_host(host),
                    config.grafana_port
                );
                add(
                    &mut checks,
                    run("grafana", grafana.clone(), redact, || {
                        web::grafana_health(agent, &grafana)
                    }),
                );
            }
        }
    } else {
        let why = if reachable {
            "skipped: the tracker's API listens on IPv4 only (tracker 3.0.0 binds one socket, 0.0.0.0 with TORRUST_TRACKER_BIND_ADDRESS=::); check it at an IPv4 address"
        } else {
            "skipped: published on the VM's 127.0.0.1 only; run health there or through an SSH tunnel (README, \"Health\")"
        };
        let mut skipped = vec![("health check api", format!("{health}/health_check"))];
        if proxied.is_none() {
            skipped.insert(0, ("api stats", format!("{api}/api/v1/stats")));
            skipped.insert(0, ("api health", format!("{api}/api/health_check")));
        }
        for (name, target) in skipped {
            add(
                &mut checks,
                Check {
                    name: name.into(),
                    target,
                    ok: true,
                    skipped: true,
                    latency_ms: 0.0,
                    detail: why.into(),
                },
            );
        }
    }
    checks
}

/// The API's health and stats checks at `api`, through `http` (or why no
/// client could be made for it), each given to `add` as it finishes.
fn api_checks(
    config: &Config,
    api: &str,
    http: Result<&web::Http, &Error>,
    counted: &[&str],
    redact: &Redact,
    add: &mut dyn FnMut(Check),
) {
    add(run(
        "api health",
        format!("{api}/api/health_check"),
        redact,
        || web::api_health(http.map_err(Clone::clone)?, api),
    ));
    add(run(
        "api stats",
        format!("{api}/api/v1/stats"),
        redact,
        || {
            let token = &config.secrets.api_token;
            web::api_stats(http.map_err(Clone::clone)?, api, token, counted)
        },
    ));
}

/// The HTTPS client of the Caddy sites at `host`, or why there is none.
fn https_at(host: &str, opts: &Options, deadline: Option<Instant>) -> Result<web::Http, Error> {
    let to = first_addr(host, 443)?.ip();
    let agent = crate::http::pinned_client(opts.timeout, to, opts.ca.as_deref())
        .map_err(|e| Error::new(Kind::Invalid, format!("--ca-file: {e}")))?;
    Ok(web::Http {
        agent,
        timeout: opts.timeout,
        deadline,
    })
}

/// The API counters this run's tracker checks must have raised: an
/// accepted announce over IPv4 UDP raises `udp4_announces_handled`, and so
/// on. A check that passed, or failed only on its peer list, had its
/// announces accepted; refused announces count nowhere.
fn counted_by(config: &Config, host: &str, checks: &[Check]) -> Vec<&'static str> {
    let Ok(ipv4) = first_addr(host, 0).map(|a| a.is_ipv4()) else {
        return Vec::new();
    };
    if config.mode.refuses_strangers() {
        return Vec::new();
    }
    let passed = |name: &str| {
        checks
            .iter()
            .any(|c| c.name == name && (c.ok || c.detail.starts_with(peers::FAILED)))
    };
    let mut counted = Vec::new();
    if passed("udp tracker") {
        counted.push(if ipv4 {
            "udp4_announces_handled"
        } else {
            "udp6_announces_handled"
        });
    }
    if passed("http tracker") {
        counted.push(if ipv4 {
            "tcp4_announces_handled"
        } else {
            "tcp6_announces_handled"
        });
    }
    counted
}

/// The first address `host` (a name, an IP, `[IPv6]`) resolves to: the one
/// an HTTP client tries first.
fn first_addr(host: &str, port: u16) -> Result<std::net::SocketAddr, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    std::net::ToSocketAddrs::to_socket_addrs(&(bare, port))
        .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| unreachable(format!("{host} resolves to no address")))
}

/// What the HTTP probe needs to know of itself: the address routing picks
/// to reach `host` (a UDP socket's `connect` sends nothing; the HTTP
/// client resolves `host` and tries its first address too).
fn http_client(config: &Config, host: &str, port: u16) -> Result<web::HttpClient, Error> {
    let target = first_addr(host, port)?;
    let local = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sent_from = std::net::UdpSocket::bind(local)
        .and_then(|s| s.connect(target).and_then(|()| s.local_addr()))
        .map_err(|e| unreachable(format!("no route to {target}: {e}")))?
        .ip();
    Ok(web::HttpClient {
        sent_from,
        exact: !target.ip().is_loopback(),
        external_ip: config.external_ip,
    })
}

/// Where to probe when `--host` is not given: every address the
/// environment serves at (its floating addresses, IPv4 first), else its
/// one address (`default_host`).
pub fn default_hosts(config: &Config) -> Vec<String> {
    let floating = config.floating();
    if floating.is_empty() {
        return vec![default_host(config)];
    }
    floating.iter().map(IpAddr::to_string).collect()
}

/// The one address a VM without floating ones serves at: its static one,
/// else the bind address, or loopback when the tracker binds every address.
fn default_host(config: &Config) -> String {
    if let Some(net) = config.ipv4_address {
        return net.addr().to_string();
    }
    if config.bind_address.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        config.bind_address.to_string()
    }
}

fn url_host(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => format!("[{a}]"),
        _ => host.to_string(),
    }
}

/// Runs `check_all` until every check passes or `wait` has passed, backing
/// off from 250 ms to 5 s; `progress` hears about each failed round.
pub fn wait_for(
    config: &Config,
    opts: &Options,
    wait: Duration,
    progress: &mut dyn FnMut(u32, &[Check], Duration),
) -> Vec<Check> {
    let deadline = Instant::now() + wait;
    let mut delay = Duration::from_millis(250);
    let mut number = 1;
    loop {
        // Bounded by what is left: a silent port used to hold a round for
        // every attempt of every request (73 s for `--wait 1s --timeout 5s`).
        let checks = round(config, opts, Some(deadline), &mut |_| {});
        let now = Instant::now();
        if checks.iter().all(|c| c.ok) || now >= deadline {
            return checks;
        }
        let sleep = delay.min(deadline - now);
        progress(number, &checks, sleep);
        std::thread::sleep(sleep);
        delay = (delay * 2).min(Duration::from_secs(5));
        number += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{admin_host, default_hosts};
    use crate::config::validate::testing::config;
    use crate::config::vars::VarId::*;

    #[test]
    fn health_probes_where_the_environment_serves() {
        assert_eq!(default_hosts(&config(&[])), ["127.0.0.1"]);
        let fixed = [
            (INFRASTRUCTURE_IPV4_ADDRESS, "192.168.122.50/24"),
            (INFRASTRUCTURE_IPV4_GATEWAY, "192.168.122.1"),
        ];
        assert_eq!(default_hosts(&config(&fixed)), ["192.168.122.50"]);
        let floating = [(INFRASTRUCTURE_FLOATING_IPV4, "10.9.0.7")];
        assert_eq!(default_hosts(&config(&floating)), ["10.9.0.7"]);
        // Every service address, IPv4 first: each is a route of its own.
        let both = [
            (INFRASTRUCTURE_FLOATING_IPV4, "10.9.0.7,10.9.0.8"),
            (INFRASTRUCTURE_FLOATING_IPV6, "2001:db8::7"),
            (INFRASTRUCTURE_IPV6_ADDRESS, "auto"),
        ];
        assert_eq!(
            default_hosts(&config(&both)),
            ["10.9.0.7", "10.9.0.8", "2001:db8::7"]
        );
    }

    #[test]
    fn admin_ports_are_checked_where_ipv4_reaches_them() {
        let hosts = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(admin_host(&hosts(&["10.9.0.7", "2001:db8::7"])), 0);
        assert_eq!(admin_host(&hosts(&["2001:db8::7", "10.9.0.7"])), 1);
        assert_eq!(
            admin_host(&hosts(&["2001:db8::7", "tracker.example.org"])),
            1
        );
        assert_eq!(admin_host(&hosts(&["2001:db8::7", "2001:db8::8"])), 0);
    }
}
