//! The Hetzner Cloud API's transport: the token, the endpoint, a timeout on
//! every request, retries with backoff, the rate limit, pagination.
//!
//! Follows hcloud-go (the official Go client) where it decides behaviour:
//! the token and endpoint from `HCLOUD_TOKEN`/`HCLOUD_ENDPOINT` as the
//! official CLI reads them; the retry backoff of `hcloud/client.go`
//! (`ExponentialBackoffWithOpts`: 1 s doubling, capped at 60 s, a full
//! jitter between the base and that, at most 5 retries) and the codes
//! `hcloud/client_handler_retry.go` retries (plus `locked` and 503, which
//! issue 22 asks for); the `RateLimit-Limit`/`-Remaining`/`-Reset` headers
//! as `hcloud/client_handler_rate_limit.go` reads them (Reset a UNIX time);
//! `meta.pagination.next_page` as `iterPages` in `hcloud/client_helper.go`
//! follows it, 50 a page as its `AllWithOpts` asks.
//!
//! Where we go further: a POST whose outcome is unknown (no answer in time,
//! a 502/504 from a gateway) is never sent again blindly: the caller's
//! `recheck` looks for what it would have made first (a server or volume
//! by name, an assignment by its target), and the POST is sent again only
//! when it finds nothing.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::error::{ApiError, Failure};

/// The public API, as hcloud-go's `Endpoint`.
pub const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";

/// The API's largest page (hcloud-go's `AllWithOpts` asks for 50).
pub const PER_PAGE: u32 = 50;

/// The API token. It leaves this type only as the `Authorization` header:
/// no `Display`, a `Debug` that hides it, and `scrub` for any text that
/// could have picked it up.
#[derive(Clone)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A token as `HCLOUD_TOKEN` holds it; refused without quoting it.
    pub fn new(value: &str) -> Result<Token, Failure> {
        let value = value.trim();
        if value.is_empty() {
            return Err(Failure::Input(
                "HCLOUD_TOKEN is not set: set it to an API token of the Hetzner project (Hetzner Console > Security > API tokens, Read & Write)".into(),
            ));
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Failure::Input(
                "HCLOUD_TOKEN holds characters an API token cannot have (spaces, control or non-ASCII characters): copy the token again".into(),
            ));
        }
        Ok(Token(value.to_string()))
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// `text` with any copy of the token replaced.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.0, "<redacted>")
    }
}

/// Where progress lines go (retries, waits), when anywhere.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// How patient the client is. Tests shrink the delays; the defaults are
/// the official client's.
#[derive(Clone)]
pub struct Options {
    /// Every request, connecting included, ends after this.
    pub timeout: Duration,
    /// The first retry's delay; doubles each retry up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Retries after the first attempt (hcloud-go: 5).
    pub max_retries: u32,
    /// A random delay between `retry_base` and the doubled one (hcloud-go's
    /// full jitter), or exactly the doubled one (for tests that count).
    pub jitter: bool,
    /// The first action poll's delay (the official client polls every
    /// 500 ms); each later poll waits one `poll_base` longer, up to
    /// `poll_cap`, so that a long wait costs at most ~1 request a second.
    pub poll_base: Duration,
    pub poll_cap: Duration,
    /// An action still running after this is reported, not waited for.
    pub action_timeout: Duration,
    /// The longest wait the rate limit may impose before one request.
    pub rate_wait_cap: Duration,
    pub log: Option<Log>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(30),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
            max_retries: 5,
            jitter: true,
            poll_base: Duration::from_millis(500),
            poll_cap: Duration::from_secs(2),
            action_timeout: Duration::from_secs(600),
            rate_wait_cap: Duration::from_secs(60),
            log: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("timeout", &self.timeout)
            .field("retry_base", &self.retry_base)
            .field("max_retries", &self.max_retries)
            .field("poll_base", &self.poll_base)
            .finish_non_exhaustive()
    }
}

/// The rate limit as the last answer reported it (`RateLimit-*` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
    /// UNIX time at which the budget is full again (the API reference: the
    /// remaining count grows back gradually, 1 a second at 3600/h).
    pub reset: u64,
}

impl RateLimit {
    /// How long to wait before the next request: nothing while requests
    /// remain; with none left, until one has grown back, which is
    /// (Reset - now) / Limit when the budget refills evenly up to Reset (at
    /// least 1 s, at most until Reset). Waiting for Reset itself would
    /// idle up to an hour for one request.
    pub fn wait(&self, now: u64) -> Duration {
        if self.remaining > 0 || self.reset <= now {
            return Duration::ZERO;
        }
        let to_reset = self.reset - now;
        let one = to_reset.div_ceil(self.limit.max(1)).clamp(1, to_reset);
        Duration::from_secs(one)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One attempt's outcome.
enum Attempt {
    Done(Value),
    Api(ApiError, Option<RateLimit>),
    /// No answer in time, or the connection broke once the request was sent.
    Unknown(String),
    /// The request never left (connection refused).
    Unsent(String),
    /// Not worth another try (the name does not resolve).
    Fatal(String),
    Protocol(String),
}

/// What a POST's caller checks when the POST's outcome is unknown: the
/// answer to stand for the POST's when it was done, `None` when it was not.
pub(super) type Recheck<'a> = &'a dyn Fn() -> Result<Option<Value>, Failure>;

pub struct Client {
    agent: ureq::Agent,
    endpoint: String,
    token: Token,
    opts: Options,
    rate: Mutex<Option<RateLimit>>,
    sent: AtomicU64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The client `HCLOUD_TOKEN` and `HCLOUD_ENDPOINT` (default the public
    /// API) describe; `env` reads the process environment in production.
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        opts: Options,
    ) -> Result<Client, Failure> {
        let token = Token::new(&env("HCLOUD_TOKEN").unwrap_or_default())?;
        let endpoint = env("HCLOUD_ENDPOINT")
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(Failure::Input(format!(
                "HCLOUD_ENDPOINT must be an http(s) URL such as {DEFAULT_ENDPOINT}, not {endpoint:?}"
            )));
        }
        Ok(Client::new(&endpoint, token, opts))
    }

    pub fn new(endpoint: &str, token: Token, opts: Options) -> Client {
        Client {
            agent: crate::http::client(opts.timeout),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            opts,
            rate: Mutex::new(None),
            sent: AtomicU64::new(0),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Requests sent so far, every retry and poll counted.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The rate limit the last answer reported.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        *self.rate.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn log(&self, line: &str) {
        if let Some(log) = &self.opts.log {
            log(&self.token.scrub(line));
        }
    }

    pub(super) fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        self.call(Method::Get, path, query, None, None)
    }

    /// A DELETE, retried like a GET: sending it twice deletes once (the
    /// second answers `not_found`, which the caller takes as done).
    pub(super) fn delete(&self, path: &str) -> Result<Value, Failure> {
        self.call(Method::Delete, path, &[], None, None)
    }

    pub(super) fn post(
        &self,
        path: &str,
        body: &Value,
        recheck: Recheck,
    ) -> Result<Value, Failure> {
        self.call(Method::Post, path, &[], Some(body), Some(recheck))
    }

    /// The one resource at `path` (under `key` in the answer), read by
    /// `parse`; `None` when the API says it does not exist.
    pub(super) fn item<T>(
        &self,
        path: &str,
        key: &str,
        parse: fn(&Value, &str) -> Result<T, Failure>,
    ) -> Result<Option<T>, Failure> {
        match self.get(path, &[]) {
            Ok(body) => Ok(Some(parse(
                body.get(key).unwrap_or(&Value::Null),
                &format!("GET {path}"),
            )?)),
            Err(f) if f.is_not_found() => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// The raw item of `path` (a list) whose name is exactly `name`.
    pub(super) fn find(&self, path: &str, key: &str, name: &str) -> Result<Option<Value>, Failure> {
        let items = self.list(path, key, &[("name", name.to_string())])?;
        Ok(items
            .into_iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name)))
    }

    /// Every item under `key` of every page of `path`.
    pub(super) fn list(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut page: u64 = 1;
        loop {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("page", page.to_string()));
            q.push(("per_page", PER_PAGE.to_string()));
            let body = self.get(path, &q)?;
            let protocol = |why: String| Failure::Protocol {
                request: format!("GET {path}"),
                why,
            };
            match body.get(key) {
                Some(Value::Array(a)) => items.extend(a.iter().cloned()),
                _ => return Err(protocol(format!("no `{key}` list in the answer"))),
            }
            let next = body
                .pointer("/meta/pagination/next_page")
                .and_then(Value::as_u64);
            match next {
                Some(n) if n > page => page = n,
                Some(n) => return Err(protocol(format!("page {page} says the next is {n}"))),
                None => return Ok(items),
            }
        }
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        recheck: Option<Recheck>,
    ) -> Result<Value, Failure> {
        let request = format!("{} {path}", method.name());
        let mut retries = 0u32;
        loop {
            self.pace(&request);
            let attempt = self.send(method, path, query, body);
            let attempts = retries + 1;
            let (why, at_least, outcome) = match attempt {
                Attempt::Done(v) => return Ok(v),
                Attempt::Api(error, rate) if error.retryable() => {
                    let wait = rate.map_or(Duration::ZERO, |r| r.wait(now()));
                    let why = format!("{} {}", error.status, error.code);
                    if error.ambiguous() {
                        (why, wait, Outcome::Ambiguous(error))
                    } else {
                        (why, wait, Outcome::Refused(error))
                    }
                }
                Attempt::Api(error, _) => {
                    return Err(Failure::Api {
                        request,
                        error,
                        attempts,
                    })
                }
                Attempt::Unknown(why) => (why, Duration::ZERO, Outcome::Unknown),
                Attempt::Unsent(why) => (why, Duration::ZERO, Outcome::Unsent),
                Attempt::Fatal(why) => {
                    return Err(Failure::Transport {
                        request,
                        why,
                        attempts,
                    })
                }
                Attempt::Protocol(why) => return Err(Failure::Protocol { request, why }),
            };
            if method == Method::Post && outcome.may_have_acted() {
                if let Some(check) = recheck {
                    self.log(&format!(
                        "  Hetzner API: {request}: {why}; checking whether it was done before sending it again"
                    ));
                    if let Some(v) = check()? {
                        self.log(&format!(
                            "  Hetzner API: {request} was done; not sent again"
                        ));
                        return Ok(v);
                    }
                }
            }
            if retries >= self.opts.max_retries {
                return Err(match outcome {
                    Outcome::Ambiguous(error) | Outcome::Refused(error) => Failure::Api {
                        request,
                        error,
                        attempts,
                    },
                    Outcome::Unknown | Outcome::Unsent => Failure::Transport {
                        request,
                        why,
                        attempts,
                    },
                });
            }
            let wait = self.retry_delay(retries).max(at_least);
            self.log(&format!(
                "  Hetzner API: {request}: {why}; retrying in {} (attempt {}/{})",
                humantime::format_duration(round_ms(wait)),
                attempts + 1,
                self.opts.max_retries + 1
            ));
            std::thread::sleep(wait);
            retries += 1;
        }
    }

    /// The delay before retry number `retries` (0 for the first):
    /// hcloud-go's `ExponentialBackoffWithOpts` with `Jitter`.
    pub fn retry_delay(&self, retries: u32) -> Duration {
        let base = self.opts.retry_base.as_secs_f64();
        let cap = self.opts.retry_cap.as_secs_f64();
        let exp = (base * 2f64.powi(retries.min(30) as i32)).min(cap);
        let secs = if self.opts.jitter {
            base + (exp - base).max(0.0) * random_unit()
        } else {
            exp
        };
        Duration::from_secs_f64(secs)
    }

    /// Waits as the last answer's rate limit asks, before a request.
    fn pace(&self, request: &str) {
        let Some(rate) = self.rate_limit() else {
            return;
        };
        let wait = rate.wait(now()).min(self.opts.rate_wait_cap);
        if !wait.is_zero() {
            self.log(&format!(
                "  Hetzner API: no requests left in the rate limit ({}/h); waiting {} before {request}",
                rate.limit,
                humantime::format_duration(wait)
            ));
            std::thread::sleep(wait);
            // The budget grew back by about one; the next answer says.
            if let Ok(mut r) = self.rate.lock() {
                if let Some(r) = r.as_mut() {
                    r.remaining = r.remaining.max(1);
                }
            }
        }
    }

    fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Attempt {
        let url = format!("{}{path}", self.endpoint);
        let mut req = self
            .agent
            .request(method.name(), &url)
            .set("Authorization", &self.token.bearer())
            .set("Accept", "application/json");
        for (k, v) in query {
            req = req.query(k, v);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let result = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        let (status, resp) = match result {
            Ok(resp) => (resp.status(), resp),
            Err(ureq::Error::Status(code, resp)) => (code, resp),
            Err(ureq::Error::Transport(t)) => return self.transport(&t),
        };
        let rate = rate_of(&resp);
        if let Some(r) = rate {
            *self.rate.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        }
        let text = match resp.into_string() {
            Ok(t) => t,
            Err(e) => return Attempt::Unknown(format!("the answer broke off ({})", e.kind())),
        };
        if status >= 400 {
            return Attempt::Api(ApiError::parse(status, &text), rate);
        }
        if text.trim().is_empty() {
            return Attempt::Done(Value::Null);
        }
        match serde_json::from_str(&text) {
            Ok(v) => Attempt::Done(v),
            Err(e) => {
                Attempt::Protocol(format!("HTTP {status} with a body that is not JSON ({e})"))
            }
        }
    }

    /// A transport error in words that carry no URL and no header.
    fn transport(&self, t: &ureq::Transport) -> Attempt {
        let io = std::error::Error::source(t).and_then(|s| s.downcast_ref::<std::io::Error>());
        let timed_out = io.is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            )
        });
        match t.kind() {
            ureq::ErrorKind::Dns => Attempt::Fatal(format!(
                "cannot resolve the host of {} (not retried)",
                self.endpoint
            )),
            _ if timed_out => Attempt::Unknown(format!(
                "no answer within {}",
                humantime::format_duration(self.opts.timeout)
            )),
            ureq::ErrorKind::ConnectionFailed => {
                Attempt::Unsent(format!("cannot connect to {}", self.endpoint))
            }
            kind => Attempt::Unknown(format!(
                "the connection broke ({kind}{})",
                io.map(|e| format!(": {}", e.kind())).unwrap_or_default()
            )),
        }
    }
}

/// Why a retryable attempt failed, for what comes after it.
enum Outcome {
    /// An API error the API did not act on (429, conflict, locked, 503).
    Refused(ApiError),
    /// An API error that may come after the API acted (502/504).
    Ambiguous(ApiError),
    /// No answer: the request may have been acted on.
    Unknown,
    /// The request never left.
    Unsent,
}

impl Outcome {
    fn may_have_acted(&self) -> bool {
        matches!(self, Outcome::Ambiguous(_) | Outcome::Unknown)
    }
}

fn rate_of(resp: &ureq::Response) -> Option<RateLimit> {
    let num = |h: &str| resp.header(h).and_then(|v| v.trim().parse::<u64>().ok());
    Some(RateLimit {
        limit: num("RateLimit-Limit")?,
        remaining: num("RateLimit-Remaining")?,
        reset: num("RateLimit-Reset")?,
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// A uniform number in [0, 1) from the OS (jitter needs no more).
fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(opts: Options) -> Client {
        Client::new("http://127.0.0.1:9", Token::new("t").unwrap(), opts)
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_above_the_base() {
        let c = client(Options {
            jitter: false,
            ..Options::default()
        });
        let secs: Vec<u64> = (0..8).map(|r| c.retry_delay(r).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
        let c = client(Options::default());
        for r in 0..10 {
            let d = c.retry_delay(r);
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(60),
                "{d:?}"
            );
        }
    }

    #[test]
    fn an_empty_budget_waits_for_one_request_not_for_reset() {
        let r = RateLimit {
            limit: 3600,
            remaining: 0,
            reset: 1000 + 3600,
        };
        assert_eq!(r.wait(1000), Duration::from_secs(1));
        let r = RateLimit {
            limit: 2,
            remaining: 0,
            reset: 1010,
        };
        assert_eq!(r.wait(1000), Duration::from_secs(5));
        assert_eq!(RateLimit { remaining: 1, ..r }.wait(1000), Duration::ZERO);
        assert_eq!(r.wait(2000), Duration::ZERO);
    }

    #[test]
    fn the_token_is_refused_without_being_quoted() {
        let e = Token::new("abc def-secret").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
        assert!(Token::new("  ")
            .unwrap_err()
            .to_string()
            .contains("HCLOUD_TOKEN is not set"));
        let t = Token::new("canary-123").unwrap();
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        assert_eq!(t.scrub("x canary-123 y"), "x <redacted> y");
    }

    #[test]
    fn endpoint_and_token_from_the_environment() {
        let env = |k: &str| match k {
            "HCLOUD_TOKEN" => Some("tok".to_string()),
            _ => None,
        };
        let c = Client::from_env(env, Options::default()).unwrap();
        assert_eq!(c.endpoint(), DEFAULT_ENDPOINT);
        let env = |k: &str| match k {
            "HCLOUD_TOKEN" => Some("tok".to_string()),
            "HCLOUD_ENDPOINT" => Some("http://127.0.0.1:1/v1/".to_string()),
            _ => None,
        };
        let c = Client::from_env(env, Options::default()).unwrap();
        assert_eq!(c.endpoint(), "http://127.0.0.1:1/v1");
        assert!(!format!("{c:?}").contains("tok\""));
    }
}
