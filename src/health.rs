//! `health`: proves a deployment serves BitTorrent clients.
//!
//! - UDP tracker, BEP 15 (https://www.bittorrent.org/beps/bep_0015.html):
//!   connect, announce, scrape on every UDP port; transaction ids checked;
//!   error replies (action 3) and short packets reported. BEP 15 retries
//!   after 15 * 2^n s; a health check cannot wait minutes, so the same
//!   doubling starts at `--timeout` (default 1 s) with 3 attempts.
//! - HTTP tracker (BEP 3, BEP 23 compact, BEP 48 scrape) on every HTTP port:
//!   bencoded replies parsed; `interval`, `peers` and `failure reason` checked.
//! - REST API `/api/health_check` and an authenticated `/api/v1/stats`
//!   (tracker 3.0 answers a wrong token with HTTP 500, reported as a token
//!   problem), and the health-check API `/health_check`.
//!
//! The packet codec is ours: the tracker's own client crates pull in the
//! whole tracker, and the checks need exact control of transaction ids and
//! timeouts to report what went wrong.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Kind};
use crate::render::url_encode;

/// The torrent every check announces: 20 bytes no real torrent has.
pub const INFO_HASH: &[u8; 20] = b"torrust-bake-health!";
const PEER_ID: &[u8; 20] = b"-TB0100-healthcheck0";
const PROTOCOL_ID: i64 = 0x0417_2710_1980;
const UDP_ATTEMPTS: u32 = 3;

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
    pub host: String,
    pub timeout: Duration,
    /// Also check Prometheus `/-/healthy` and Grafana `/api/health`.
    pub monitoring: bool,
}

/// A probe's outcome: what it saw, or why it failed.
type Probe = Result<String, Error>;

fn unreachable(message: impl Into<String>) -> Error {
    Error::new(Kind::Unreachable, message)
}

fn protocol(message: impl Into<String>) -> Error {
    Error::new(Kind::Protocol, message)
}

/// A transport failure in words, without the URL: a URL may carry the API
/// token (tracker 3.0 takes it only as a query parameter), and the check's
/// target already says where the request went.
fn transport_error(t: &ureq::Transport) -> Error {
    if t.kind() == ureq::ErrorKind::ConnectionFailed && t.to_string().contains("Connection refused")
    {
        return unreachable("port closed: connection refused");
    }
    let mut text = format!("request failed: {}", t.kind());
    if let Some(m) = t.message() {
        text.push_str(": ");
        text.push_str(m);
    }
    if let Some(source) = std::error::Error::source(t) {
        text.push_str(": ");
        text.push_str(&source.to_string());
    }
    unreachable(text)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn run(name: &str, target: String, f: impl FnOnce() -> Probe) -> Check {
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
        detail,
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
    let host = opts.host.as_str();
    let mut checks = Vec::new();
    let refusal_ok = config.mode.refuses_strangers();
    for &port in &config.udp_ports {
        let target = format!("{host}:{port}");
        checks.push(run("udp tracker", target.clone(), || {
            udp_check(&target, opts.timeout, refusal_ok)
        }));
    }
    let agent = crate::http::client(opts.timeout);
    let forwarded = config.domain_name.is_some();
    for &port in &config.http_ports {
        let base = format!("http://{}:{port}", url_host(host));
        checks.push(run("http tracker", base.clone(), || {
            http_tracker_check(&agent, &base, forwarded, refusal_ok)
        }));
    }
    let api = format!("http://{}:{}", url_host(host), config.api_port);
    let health = format!("http://{}:{}", url_host(host), config.health_check_port);
    if is_loopback(host) {
        checks.push(run("api health", format!("{api}/api/health_check"), || {
            api_health(&agent, &api)
        }));
        checks.push(run("api stats", format!("{api}/api/v1/stats"), || {
            api_stats(&agent, &api, &config.secrets.api_token)
        }));
        checks.push(run(
            "health check api",
            format!("{health}/health_check"),
            || health_check_api(&agent, &health),
        ));
        if opts.monitoring {
            let prom = format!(
                "http://{}:{}/-/healthy",
                url_host(host),
                config.prometheus_port
            );
            checks.push(run("prometheus", prom.clone(), || plain_ok(&agent, &prom)));
            let grafana = format!(
                "http://{}:{}/api/health",
                url_host(host),
                config.grafana_port
            );
            checks.push(run("grafana", grafana.clone(), || {
                grafana_health(&agent, &grafana)
            }));
        }
    } else {
        for (name, target) in [
            ("api health", format!("{api}/api/health_check")),
            ("api stats", format!("{api}/api/v1/stats")),
            ("health check api", format!("{health}/health_check")),
        ] {
            checks.push(Check {
                name: name.into(),
                target,
                ok: true,
                skipped: true,
                latency_ms: 0.0,
                detail: "skipped: published on the VM's 127.0.0.1 only; run health there or through an SSH tunnel".into(),
            });
        }
    }
    checks
}

/// Where to probe when `--host` is not given: the bind address, or
/// loopback when the tracker binds every address.
pub fn default_host(config: &Config) -> String {
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

// ---------------------------------------------------------------- UDP, BEP 15

/// A transaction id that differs per request (not reproducible on purpose:
/// a stale reply must not match a new request).
fn transaction_id() -> i32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos
        ^ COUNTER
            .fetch_add(0x9E37_79B9, Ordering::Relaxed)
            .rotate_left(7)) as i32
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Sends `packet` and waits for a reply with the same transaction id,
/// doubling the timeout between attempts as BEP 15 does.
fn udp_exchange(
    sock: &UdpSocket,
    packet: &[u8],
    tid: i32,
    first: Duration,
) -> Result<Vec<u8>, Error> {
    let mut timeout = first;
    let mut buf = [0u8; 2048];
    for _ in 0..UDP_ATTEMPTS {
        sock.send(packet)
            .map_err(|e| unreachable(format!("send failed: {e}")))?;
        sock.set_read_timeout(Some(timeout))
            .map_err(|e| unreachable(e.to_string()))?;
        match sock.recv(&mut buf) {
            Ok(n) => {
                let reply = &buf[..n];
                if n < 8 {
                    return Err(protocol(format!(
                        "truncated reply: {n} bytes, a reply has at least 8"
                    )));
                }
                let got = be_i32(&reply[4..8]);
                if got != tid {
                    return Err(protocol(format!(
                        "reply carries transaction id {got:#010x}, the request sent {tid:#010x}"
                    )));
                }
                if be_i32(&reply[0..4]) == 3 {
                    return Err(Error::new(
                        Kind::Denied,
                        format!(
                            "tracker error: {}",
                            String::from_utf8_lossy(&reply[8..]).trim_end_matches('\0')
                        ),
                    ));
                }
                return Ok(reply.to_vec());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                timeout *= 2;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(unreachable(
                    "port closed (ICMP port unreachable): nothing listens there",
                ))
            }
            Err(e) => return Err(unreachable(format!("receive failed: {e}"))),
        }
    }
    Err(unreachable(format!(
        "no reply after {UDP_ATTEMPTS} attempts ({} s in all)",
        ms(first * ((1 << UDP_ATTEMPTS) - 1)) / 1000.0
    )))
}

/// A BEP 15 request: `prefix` (protocol id or connection id), action, and a
/// fresh transaction id; returns the id and the packet to extend.
fn request(prefix: &[u8], action: i32) -> (i32, Vec<u8>) {
    let tid = transaction_id();
    let mut req = Vec::with_capacity(98);
    req.extend_from_slice(prefix);
    req.extend_from_slice(&action.to_be_bytes());
    req.extend_from_slice(&tid.to_be_bytes());
    (tid, req)
}

fn expect_action(reply: &[u8], action: i32, min_len: usize, what: &str) -> Result<(), Error> {
    let got = be_i32(&reply[0..4]);
    if got != action {
        return Err(protocol(format!(
            "{what}: reply action {got}, expected {action}"
        )));
    }
    if reply.len() < min_len {
        return Err(protocol(format!(
            "{what}: truncated reply of {} bytes, expected at least {min_len}",
            reply.len()
        )));
    }
    Ok(())
}

fn udp_check(target: &str, timeout: Duration, refusal_ok: bool) -> Probe {
    let addr: SocketAddr = target
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {target}: {e}")))?
        .next()
        .ok_or_else(|| unreachable(format!("{target} resolves to no address")))?;
    let local = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(local)
        .map_err(|e| unreachable(format!("cannot open a UDP socket: {e}")))?;
    sock.connect(addr)
        .map_err(|e| unreachable(format!("connect {addr}: {e}")))?;

    let (tid, req) = request(&PROTOCOL_ID.to_be_bytes(), 0);
    let reply = udp_exchange(&sock, &req, tid, timeout).map_err(|e| e.during("connect"))?;
    expect_action(&reply, 0, 16, "connect")?;
    let connection_id = &reply[8..16];

    let (tid, mut req) = request(connection_id, 1);
    req.extend_from_slice(INFO_HASH);
    req.extend_from_slice(PEER_ID);
    req.extend_from_slice(&0i64.to_be_bytes()); // downloaded
    req.extend_from_slice(&0i64.to_be_bytes()); // left: a seeder
    req.extend_from_slice(&0i64.to_be_bytes()); // uploaded
    req.extend_from_slice(&0i32.to_be_bytes()); // event: none
    req.extend_from_slice(&0u32.to_be_bytes()); // ip: the sender's
    req.extend_from_slice(&(tid as u32).to_be_bytes()); // key
    req.extend_from_slice(&(-1i32).to_be_bytes()); // num_want: default
    req.extend_from_slice(&6881u16.to_be_bytes());
    let interval = match udp_exchange(&sock, &req, tid, timeout) {
        Ok(reply) => {
            expect_action(&reply, 1, 20, "announce")?;
            let interval = be_i32(&reply[8..12]);
            if interval <= 0 {
                return Err(protocol(format!(
                    "announce: interval {interval} is not positive"
                )));
            }
            format!("interval {interval} s")
        }
        Err(e) if refusal_ok && e.kind == Kind::Denied => {
            format!("announce refused as configured ({e})")
        }
        Err(e) => return Err(e.during("announce")),
    };

    let (tid, mut req) = request(connection_id, 2);
    req.extend_from_slice(INFO_HASH);
    let reply = udp_exchange(&sock, &req, tid, timeout).map_err(|e| e.during("scrape"))?;
    expect_action(&reply, 2, 20, "scrape")?;
    let seeders = be_i32(&reply[8..12]);
    Ok(format!(
        "connect, announce ({interval}), scrape ({seeders} seeders)"
    ))
}

// ---------------------------------------------------------------- HTTP tracker

#[derive(serde::Deserialize)]
struct AnnounceReply {
    interval: Option<i64>,
    #[serde(rename = "failure reason")]
    failure: Option<String>,
    peers: Option<serde_bencode::value::Value>,
}

#[derive(serde::Deserialize)]
struct ScrapeReply {
    files: Option<BTreeMap<serde_bytes::ByteBuf, serde_bencode::value::Value>>,
    #[serde(rename = "failure reason")]
    failure: Option<String>,
}

fn get(agent: &ureq::Agent, url: &str, forwarded: bool) -> Result<(u16, Vec<u8>), Error> {
    let mut req = agent.get(url);
    if forwarded {
        // on_reverse_proxy = true: the tracker takes the peer address from here.
        req = req.set("X-Forwarded-For", "127.0.0.1");
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => return Err(transport_error(&t)),
    };
    let status = resp.status();
    let mut body = Vec::new();
    use std::io::Read;
    resp.into_reader()
        .take(1 << 20)
        .read_to_end(&mut body)
        .map_err(|e| unreachable(format!("reading the reply: {e}")))?;
    Ok((status, body))
}

fn http_tracker_check(agent: &ureq::Agent, base: &str, forwarded: bool, refusal_ok: bool) -> Probe {
    let hash = percent_encoding::percent_encode(INFO_HASH, percent_encoding::NON_ALPHANUMERIC);
    let url = format!(
        "{base}/announce?info_hash={hash}&peer_id={}&port=6881&uploaded=0&downloaded=0&left=0&compact=1",
        url_encode(std::str::from_utf8(PEER_ID).unwrap_or_default())
    );
    let (status, body) = get(agent, &url, forwarded).map_err(|e| e.during("announce"))?;
    let reply: AnnounceReply = serde_bencode::from_bytes(&body).map_err(|e| {
        protocol(format!(
            "announce: HTTP {status}, reply is not a bencoded dictionary ({e})"
        ))
    })?;
    let announce = match (reply.failure, reply.interval, reply.peers) {
        (Some(f), _, _) if refusal_ok => format!("announce refused as configured ({f})"),
        (Some(f), _, _) => {
            return Err(Error::new(
                Kind::Denied,
                format!("announce: failure reason: {f}"),
            ))
        }
        (None, Some(i), Some(_)) if i > 0 => format!("interval {i} s"),
        (None, i, p) => {
            return Err(protocol(format!(
                "announce: HTTP {status}, reply lacks a positive interval ({i:?}) or peers ({})",
                if p.is_some() { "present" } else { "missing" }
            )))
        }
    };
    let url = format!("{base}/scrape?info_hash={hash}");
    let (status, body) = get(agent, &url, forwarded).map_err(|e| e.during("scrape"))?;
    let reply: ScrapeReply = serde_bencode::from_bytes(&body).map_err(|e| {
        protocol(format!(
            "scrape: HTTP {status}, reply is not bencoded ({e})"
        ))
    })?;
    match (reply.failure, reply.files) {
        (Some(f), _) if !refusal_ok => Err(Error::new(
            Kind::Denied,
            format!("scrape: failure reason: {f}"),
        )),
        (None, None) => Err(protocol(format!(
            "scrape: HTTP {status}, reply has no files dictionary"
        ))),
        _ => Ok(format!("announce ({announce}), scrape")),
    }
}

// ---------------------------------------------------------------- APIs

fn json_status(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("status")?
        .as_str()
        .map(str::to_string)
}

fn api_health(agent: &ureq::Agent, api: &str) -> Probe {
    let (status, body) = get(agent, &format!("{api}/api/health_check"), false)?;
    match (status, json_status(&body)) {
        (200, Some(s)) if s == "Ok" => Ok("status Ok".into()),
        (code, s) => Err(protocol(format!("HTTP {code}, status {s:?}"))),
    }
}

fn api_stats(agent: &ureq::Agent, api: &str, token: &str) -> Probe {
    let url = format!("{api}/api/v1/stats?token={}", url_encode(token));
    let (status, body) = get(agent, &url, false)?;
    let stats: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    match (status, stats.as_ref().and_then(|s| s.get("torrents"))) {
        (200, Some(t)) => Ok(format!("authenticated, {t} torrents")),
        // Tracker 3.0 answers a token it does not know with HTTP 500,
        // `Unhandled rejection: Err { reason: "token not valid" }`.
        (401 | 403 | 500, _) if is_token_rejection(&body) => Err(Error::new(
            Kind::Denied,
            "token rejected: TORRUST_TRACKER_API_TOKEN differs from the deployed one",
        )),
        (code, _) => Err(protocol(format!(
            "HTTP {code}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(200)
                .collect::<String>()
        ))),
    }
}

/// Prometheus `/-/healthy`: HTTP 200 with a short text.
fn plain_ok(agent: &ureq::Agent, url: &str) -> Probe {
    let (status, body) = get(agent, url, false)?;
    let text = String::from_utf8_lossy(&body).trim().to_string();
    match status {
        200 => Ok(text),
        code => Err(protocol(format!("HTTP {code}: {text}"))),
    }
}

/// Grafana `/api/health`: HTTP 200 and `"database": "ok"`.
fn grafana_health(agent: &ureq::Agent, url: &str) -> Probe {
    let (status, body) = get(agent, url, false)?;
    let v: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    match (status, v.as_ref().and_then(|v| v["database"].as_str())) {
        (200, Some("ok")) => Ok("database ok".into()),
        (code, db) => Err(protocol(format!("HTTP {code}, database {db:?}"))),
    }
}

fn is_token_rejection(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body).to_lowercase();
    text.contains("token not valid")
        || text.contains("unauthorized")
        || text.contains("missing token")
}

fn health_check_api(agent: &ureq::Agent, base: &str) -> Probe {
    let (status, body) = get(agent, &format!("{base}/health_check"), false)?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| protocol(format!("HTTP {status}, not JSON: {e}")))?;
    let failing: Vec<String> = v["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter(|x| x["result"].get("Ok").is_none())
                .map(|x| x["binding"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default();
    match (status, v["status"].as_str()) {
        (200, Some("Ok")) => Ok(format!(
            "{} services Ok",
            v["details"].as_array().map(Vec::len).unwrap_or(0)
        )),
        (code, s) => Err(protocol(format!(
            "HTTP {code}, status {s:?}, failing: {}",
            failing.join(", ")
        ))),
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
    let mut round = 1;
    loop {
        let checks = check_all(config, opts);
        let now = Instant::now();
        if checks.iter().all(|c| c.ok) || now >= deadline {
            return checks;
        }
        let sleep = delay.min(deadline - now);
        progress(round, &checks, sleep);
        std::thread::sleep(sleep);
        delay = (delay * 2).min(Duration::from_secs(5));
        round += 1;
    }
}
