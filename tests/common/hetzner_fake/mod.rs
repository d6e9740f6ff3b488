//! A fake of the Hetzner Cloud API on loopback, for what cannot be reached
//! from here: servers, actions, volumes, floating IPs, with the real API's
//! request and response shapes (hcloud-go's `hcloud/schema/*.go`, the
//! API reference at docs.hetzner.cloud), and faults on demand.
//!
//! What it keeps of the real API: `Authorization: Bearer` or 401
//! `unauthorized`; the error body `{"error":{"code","message","details"}}`
//! with `details.fields[{name,messages}]` for `invalid_input`; pagination
//! (`page`, `per_page` <= 50, default 25, `meta.pagination`); `name` and
//! `label_selector` filters (`k=v`, `k==v`, `k!=v`, `k`, `!k`, joined by
//! `,`); actions that progress with time as they are polled (`running`,
//! then `success` or `error`) and only then change what they act on; a
//! create's `next_actions` (start, volume attachment); `locked` (423)
//! while another action runs on the same resource; `uniqueness_error`
//! (409) for a taken name; a token bucket behind `RateLimit-Limit`,
//! `-Remaining` and `-Reset` (UNIX time at which the bucket is full again)
//! with 429 `rate_limit_exceeded` when it is empty.
//!
//! Stricter than the real API where we could not check it: `per_page`
//! above 50 is refused (the real one may clamp it); `volume_already_attached`
//! is answered with 422 (its status is not documented where we looked).
//!
//! Faults (`Fault`) apply to the next N requests matching a method and a
//! path prefix: an API error of any status and code (500, 502, 503, 409
//! `conflict`, 423 `locked`), 429 with a `RateLimit-Reset`, an answer held
//! back after the request was carried out (a slow API, or a lost answer
//! when it outlasts the client's timeout), a bare 502 from a "gateway"
//! after the request was carried out. Actions can be made to end in
//! `error` or to never end; every request can be given latency.

mod boot;
mod routes;

#[allow(unused_imports)]
pub use boot::Behaviour;

// Only tests/hetzner.rs seeds the world; every other test binary builds this too.
#[allow(unused_imports)]
pub use routes::labels;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::fake_http;

/// The token the fake accepts.
pub const TOKEN: &str = "fake-hcloud-token-0123456789";

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer `status` with the API error `code`, doing nothing.
    Error { status: u16, code: &'static str },
    /// 429 `rate_limit_exceeded`, Remaining 0, Reset `reset_in` s from now.
    RateLimited { reset_in: u64 },
    /// Carry the request out, then hold the answer back for this long.
    Slow(Duration),
    /// Carry the request out, then answer a bare 502 (an HTML page).
    GatewayAfter,
}

#[derive(Debug, Clone)]
struct Rule {
    method: String,
    path: String,
    times: usize,
    fault: Fault,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Value,
    pub authorization: Option<String>,
    pub status: u16,
    pub at: Instant,
}

pub(crate) enum Effect {
    None,
    Status(u64, &'static str),
    Attach(u64, u64),
    Detach(u64),
    Assign(u64, u64),
    Unassign(u64),
    Delete(u64),
}

pub(crate) struct FakeAction {
    pub json: Value,
    started: Instant,
    duration: Duration,
    effect: Effect,
    fail: Option<(String, String)>,
    never: bool,
}

/// The fake's world, shared by its threads.
pub struct World {
    pub(crate) next_id: u64,
    pub servers: BTreeMap<u64, Value>,
    /// Each server's user-data, which the API never gives back.
    pub user_data: BTreeMap<u64, String>,
    pub volumes: BTreeMap<u64, Value>,
    pub floating_ips: BTreeMap<u64, Value>,
    pub(crate) actions: BTreeMap<u64, FakeAction>,
    rules: Vec<Rule>,
    /// Commands whose next action ends in error: (command, code, message).
    fail_next: Vec<(String, String, String)>,
    /// Commands whose actions never end.
    pub stall: Vec<String>,
    pub action_duration: Duration,
    pub latency: Duration,
    limit: u64,
    tokens: f64,
    refill_per_s: f64,
    refilled: Instant,
    pub seen: Vec<Seen>,
    pub firewalls: BTreeMap<u64, Value>,
    pub placement_groups: BTreeMap<u64, Value>,
    /// The tool "dies" after this many more changing requests (`kill_after`).
    kill_after: Option<usize>,
    dead: bool,
    /// Whether a new server serves its boot status (`boot.rs`).
    pub(crate) serve_status: bool,
    pub(crate) boots: BTreeMap<u64, boot::Boot>,
    pub(crate) behaviour: BTreeMap<String, Behaviour>,
    /// How long a boot takes before it says more than its first line.
    pub boot_takes: Duration,
    /// How many boot-status reads came, from every server.
    pub status_reads: usize,
    /// The world itself, for the listeners a new server starts.
    pub(crate) me: Weak<Mutex<World>>,
}

pub struct Config {
    pub action_duration: Duration,
    pub latency: Duration,
    /// The bucket's size and how many requests grow back a second.
    pub rate_limit: (u64, f64),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            action_duration: Duration::from_millis(150),
            latency: Duration::ZERO,
            rate_limit: (3600, 1.0),
        }
    }
}

pub struct Fake {
    pub endpoint: String,
    pub world: Arc<Mutex<World>>,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn timestamp() -> String {
    // The API's RFC 3339 times; the fake's are all the same instant.
    "2026-12-07T06:00:00+00:00".to_string()
}

impl World {
    pub(crate) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Ends the actions whose time has come and applies what they do.
    pub(crate) fn tick(&mut self) {
        let now = Instant::now();
        let mut effects = Vec::new();
        for a in self.actions.values_mut() {
            if a.json["status"] != "running" {
                continue;
            }
            let elapsed = now.duration_since(a.started);
            if a.never || elapsed < a.duration {
                let pct = (elapsed.as_secs_f64() / a.duration.as_secs_f64() * 100.0) as u64;
                a.json["progress"] = json!(pct.min(99));
                continue;
            }
            a.json["progress"] = json!(100);
            a.json["finished"] = json!(timestamp());
            match a.fail.take() {
                Some((code, message)) => {
                    a.json["status"] = json!("error");
                    a.json["error"] = json!({ "code": code, "message": message });
                }
                None => {
                    a.json["status"] = json!("success");
                    effects.push(std::mem::replace(&mut a.effect, Effect::None));
                }
            }
        }
        for e in effects {
            self.apply(e);
        }
    }

    fn apply(&mut self, e: Effect) {
        match e {
            Effect::None => {}
            Effect::Status(id, status) => {
                if let Some(s) = self.servers.get_mut(&id) {
                    s["status"] = json!(status);
                }
                match status {
                    "running" => self.boot_started(id),
                    _ => {
                        self.boots.remove(&id);
                    }
                }
            }
            Effect::Attach(vol, server) => {
                if let Some(v) = self.volumes.get_mut(&vol) {
                    v["server"] = json!(server);
                }
                if let Some(s) = self.servers.get_mut(&server) {
                    push_id(&mut s["volumes"], vol);
                }
            }
            Effect::Detach(vol) => {
                let Some(v) = self.volumes.get_mut(&vol) else {
                    return;
                };
                let held = v["server"].as_u64();
                v["server"] = Value::Null;
                if let Some(s) = held.and_then(|h| self.servers.get_mut(&h)) {
                    drop_id(&mut s["volumes"], vol);
                }
            }
            Effect::Assign(fip, server) => {
                self.apply(Effect::Unassign(fip));
                if let Some(f) = self.floating_ips.get_mut(&fip) {
                    f["server"] = json!(server);
                }
                if let Some(s) = self.servers.get_mut(&server) {
                    push_id(&mut s["public_net"]["floating_ips"], fip);
                }
            }
            Effect::Unassign(fip) => {
                let Some(f) = self.floating_ips.get_mut(&fip) else {
                    return;
                };
                let held = f["server"].as_u64();
                f["server"] = Value::Null;
                if let Some(s) = held.and_then(|h| self.servers.get_mut(&h)) {
                    drop_id(&mut s["public_net"]["floating_ips"], fip);
                }
            }
            Effect::Delete(id) => {
                self.servers.remove(&id);
                self.boots.remove(&id);
                for v in self.volumes.values_mut() {
                    if v["server"].as_u64() == Some(id) {
                        v["server"] = Value::Null;
                    }
                }
                for f in self.floating_ips.values_mut() {
                    if f["server"].as_u64() == Some(id) {
                        f["server"] = Value::Null;
                    }
                }
            }
        }
    }

    /// Starts an action on `resources` ([(type, id)]) that does `effect`
    /// when it ends.
    pub(crate) fn start(
        &mut self,
        command: &str,
        resources: &[(&str, u64)],
        effect: Effect,
        duration: Duration,
    ) -> Value {
        let id = self.id();
        let fail = self
            .fail_next
            .iter()
            .position(|(c, _, _)| c == command)
            .map(|i| {
                let (_, code, msg) = self.fail_next.remove(i);
                (code, msg)
            });
        let json = json!({
            "id": id,
            "command": command,
            "status": "running",
            "progress": 0,
            "started": timestamp(),
            "finished": null,
            "error": null,
            "resources": resources.iter().map(|(t, id)| json!({"id": id, "type": t})).collect::<Vec<_>>(),
        });
        let never = self.stall.iter().any(|c| c == command);
        self.actions.insert(
            id,
            FakeAction {
                json: json.clone(),
                started: Instant::now(),
                duration,
                effect,
                fail,
                never,
            },
        );
        json
    }

    /// Whether an action still runs on the resource.
    pub(crate) fn locked(&self, kind: &str, id: u64) -> bool {
        self.actions.values().any(|a| {
            a.json["status"] == "running"
                && a.json["resources"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x["type"] == kind && x["id"] == id))
        })
    }

    /// Takes one request from the bucket: its headers, and whether it was
    /// there to take.
    fn take(&mut self) -> (Vec<(String, String)>, bool) {
        let now = Instant::now();
        let grown = now.duration_since(self.refilled).as_secs_f64() * self.refill_per_s;
        self.tokens = (self.tokens + grown).min(self.limit as f64);
        self.refilled = now;
        let ok = self.tokens >= 1.0;
        if ok {
            self.tokens -= 1.0;
        }
        (self.rate_headers(), ok)
    }

    fn rate_headers(&self) -> Vec<(String, String)> {
        let missing = self.limit as f64 - self.tokens;
        let reset = unix_now() + (missing / self.refill_per_s).ceil() as u64;
        vec![
            ("RateLimit-Limit".into(), self.limit.to_string()),
            (
                "RateLimit-Remaining".into(),
                (self.tokens.floor() as u64).to_string(),
            ),
            ("RateLimit-Reset".into(), reset.to_string()),
        ]
    }
}

fn push_id(list: &mut Value, id: u64) {
    if !list.is_array() {
        *list = json!([]);
    }
    let a = list.as_array_mut().unwrap();
    if !a.iter().any(|x| x == id) {
        a.push(json!(id));
    }
}

fn drop_id(list: &mut Value, id: u64) {
    if let Some(a) = list.as_array_mut() {
        a.retain(|x| x != id);
    }
}

/// The API's error body.
pub(crate) fn error(status: u16, code: &str, message: &str, details: Value) -> (u16, Value) {
    (
        status,
        json!({ "error": { "code": code, "message": message, "details": details } }),
    )
}

impl Fake {
    pub fn start() -> Fake {
        Fake::with(Config::default())
    }

    pub fn with(config: Config) -> Fake {
        let world = Arc::new(Mutex::new(World {
            next_id: 1000,
            servers: BTreeMap::new(),
            user_data: BTreeMap::new(),
            volumes: BTreeMap::new(),
            floating_ips: BTreeMap::new(),
            actions: BTreeMap::new(),
            rules: Vec::new(),
            fail_next: Vec::new(),
            stall: Vec::new(),
            action_duration: config.action_duration,
            latency: config.latency,
            limit: config.rate_limit.0,
            tokens: config.rate_limit.0 as f64,
            refill_per_s: config.rate_limit.1,
            refilled: Instant::now(),
            seen: Vec::new(),
            firewalls: BTreeMap::new(),
            placement_groups: BTreeMap::new(),
            kill_after: None,
            dead: false,
            serve_status: false,
            boots: BTreeMap::new(),
            behaviour: BTreeMap::new(),
            status_reads: 0,
            boot_takes: Duration::ZERO,
            me: Weak::new(),
        }));
        world.lock().unwrap().me = Arc::downgrade(&world);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = world.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let world = shared.clone();
                std::thread::spawn(move || serve(stream, &world));
            }
        });
        Fake {
            endpoint: format!("http://127.0.0.1:{port}/v1"),
            world,
        }
    }

    pub fn world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let mut w = self.world.lock().unwrap();
        w.tick();
        f(&mut w)
    }

    /// The next `times` requests `METHOD /path...` get `fault`.
    pub fn fault(&self, method: &str, path: &str, times: usize, fault: Fault) {
        self.world(|w| {
            w.rules.push(Rule {
                method: method.to_string(),
                path: path.to_string(),
                times,
                fault,
            })
        });
    }

    /// The next action `command` ends in `error` with `code`.
    pub fn fail_action(&self, command: &str, code: &str, message: &str) {
        self.world(|w| {
            w.fail_next
                .push((command.to_string(), code.to_string(), message.to_string()))
        });
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.world(|w| w.seen.clone())
    }

    /// How many requests `METHOD /path...` came.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path.starts_with(path))
            .count()
    }

    pub fn add_volume(&self, name: &str, size: u64, labels: Value) -> u64 {
        self.world(|w| {
            let id = w.id();
            w.volumes
                .insert(id, routes::volume_json(id, name, size, "fsn1", labels));
            id
        })
    }

    pub fn add_floating_ip(&self, ip: &str, kind: &str, labels: Value) -> u64 {
        self.world(|w| {
            let id = w.id();
            w.floating_ips.insert(
                id,
                json!({
                    "id": id, "name": format!("fip-{id}"), "description": null, "ip": ip,
                    "type": kind, "server": null, "dns_ptr": [], "blocked": false,
                    "home_location": { "name": "fsn1" }, "labels": labels,
                    "protection": { "delete": false }, "created": timestamp(),
                }),
            );
            id
        })
    }

    /// Every server made from now on serves its boot status, as a release
    /// does (`boot.rs`).
    pub fn serve_boot_status(&self) {
        self.world(|w| w.serve_status = true);
    }

    /// Servers of release `release` boot as `b`.
    pub fn behaves(&self, release: &str, b: Behaviour) {
        self.world(|w| w.behaviour.insert(release.to_string(), b));
    }

    /// The tool dies after `n` more changing requests (POST, PUT, DELETE):
    /// the `n`th is carried out but its answer lost, and every request
    /// after it fails (500) without effect, as if the process were gone;
    /// `None`: a new run, alive.
    pub fn kill_after(&self, n: Option<usize>) {
        self.world(|w| {
            w.kill_after = n;
            w.dead = n == Some(0);
        });
    }

    /// How many changing requests (POST, PUT, DELETE) came.
    pub fn changes(&self) -> usize {
        self.seen().iter().filter(|r| r.method != "GET").count()
    }

    /// A placement group, as another machine's deploy lock would be.
    pub fn add_placement_group(&self, name: &str, labels: Value) -> u64 {
        self.world(|w| {
            let id = w.id();
            w.placement_groups.insert(
                id,
                json!({
                    "id": id, "name": name, "labels": labels, "created": timestamp(),
                    "servers": [], "type": "spread",
                }),
            );
            id
        })
    }

    pub fn add_firewall(&self, name: &str) -> u64 {
        self.world(|w| {
            let id = w.id();
            w.firewalls.insert(
                id,
                json!({
                    "id": id, "name": name, "labels": {}, "created": timestamp(),
                    "rules": [], "applied_to": [],
                }),
            );
            id
        })
    }

    /// A server made outside torrust-bake (or many: pagination).
    pub fn add_server(&self, name: &str, labels: Value) -> u64 {
        self.world(|w| {
            let id = w.id();
            let s = routes::server_json(id, name, "cx22", "debian-12", "fsn1", labels, "running");
            w.servers.insert(id, s);
            id
        })
    }
}

fn serve(stream: TcpStream, world: &Mutex<World>) {
    let Some(request) = fake_http::read_request(&stream) else {
        return;
    };
    let (method, target) = (request.method.clone(), request.target.clone());
    let authorization = request.header("authorization").map(str::to_string);
    let raw = request.body;
    let (path, query) = split_target(&target);
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);

    let latency = world.lock().unwrap().latency;
    std::thread::sleep(latency);

    let (status, headers, text, hold) = {
        let mut w = world.lock().unwrap();
        w.tick();
        let (mut rate, ok) = w.take();
        let mut fault = w
            .rules
            .iter_mut()
            .find(|r| r.times > 0 && r.method == method && path.starts_with(&r.path))
            .map(|r| {
                r.times -= 1;
                r.fault.clone()
            });
        let dead = Fault::Error {
            status: 500,
            code: "server_error",
        };
        if w.dead {
            fault = Some(dead);
        } else if method != "GET" {
            if let Some(n) = w.kill_after.as_mut() {
                *n -= 1;
                if *n == 0 {
                    // Carried out; the tool dies before it reads the answer.
                    w.dead = true;
                    fault = Some(Fault::GatewayAfter);
                }
            }
        }
        let (status, answer, hold) = if authorization.as_deref() != Some(&format!("Bearer {TOKEN}"))
        {
            let (s, b) = error(401, "unauthorized", "unable to authenticate", json!({}));
            (s, b.to_string(), Duration::ZERO)
        } else if !ok {
            let (s, b) = error(
                429,
                "rate_limit_exceeded",
                "limit of 3600 requests per hour reached",
                json!({}),
            );
            (s, b.to_string(), Duration::ZERO)
        } else {
            match fault {
                Some(Fault::Error { status, code }) => {
                    let (s, b) = error(status, code, &format!("injected {code}"), json!({}));
                    (s, b.to_string(), Duration::ZERO)
                }
                Some(Fault::RateLimited { reset_in }) => {
                    rate = vec![
                        ("RateLimit-Limit".into(), w.limit.to_string()),
                        ("RateLimit-Remaining".into(), "0".into()),
                        (
                            "RateLimit-Reset".into(),
                            (unix_now() + reset_in).to_string(),
                        ),
                    ];
                    let (s, b) = error(
                        429,
                        "rate_limit_exceeded",
                        "limit of 3600 requests per hour reached",
                        json!({}),
                    );
                    (s, b.to_string(), Duration::ZERO)
                }
                Some(Fault::Slow(d)) => {
                    let (s, b) = routes::route(&mut w, &method, &path, &query, &body);
                    (s, b.to_string(), d)
                }
                Some(Fault::GatewayAfter) => {
                    let _ = routes::route(&mut w, &method, &path, &query, &body);
                    (
                        502,
                        "<html><body>502 Bad Gateway</body></html>".to_string(),
                        Duration::ZERO,
                    )
                }
                None => {
                    let (s, b) = routes::route(&mut w, &method, &path, &query, &body);
                    (s, b.to_string(), Duration::ZERO)
                }
            }
        };
        // A 204 has no body.
        let answer = if status == 204 { String::new() } else { answer };
        w.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
            authorization: authorization.clone(),
            status,
            at: Instant::now(),
        });
        (status, rate, answer, hold)
    };
    std::thread::sleep(hold);
    let mut response =
        fake_http::Response::new(status, text).header("Content-Type", "application/json");
    for (k, v) in headers {
        response = response.header(&k, &v);
    }
    fake_http::write_response(&stream, &method, &response);
}

fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .to_string()
    };
    let query = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (path.trim_start_matches("/v1").to_string(), query)
}
