//! OCI distribution client: resolves `registry/repository:tag` to the digest
//! of its manifest (or multi-arch index) and the per-platform digests.
//!
//! Follows the OCI distribution spec (`HEAD`/`GET /v2/<name>/manifests/<ref>`,
//! `Docker-Content-Digest`) and Docker's token auth (`401` with
//! `WWW-Authenticate: Bearer realm=..,service=..,scope=..`, then `GET realm`).
//! Written here rather than taken from `oci-client`: that crate is async only
//! (tokio + reqwest), does not retry 429/5xx or honour `Retry-After`, and the
//! part we need is a handful of requests. Reference parsing (Docker Hub's
//! `docker.io` and `library/` defaults) and the index type come from
//! `oci-spec`; the `WWW-Authenticate` challenge list (RFC 9110 §11.6.1) is
//! parsed by `http-auth`, without its Basic/Digest clients (the Bearer token
//! exchange is Docker's, not HTTP's, and Basic is one header).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::time::Duration;

use base64::Engine;
use oci_spec::image::{DigestAlgorithm, ImageIndex};

use super::{parse_reference, Digest, ReferenceError};
use crate::error::{Error, Kind as ErrorKind};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The platforms recorded in the lock for a multi-arch image.
pub const PLATFORMS: [&str; 2] = ["linux/amd64", "linux/arm64"];

/// Manifests are a few KiB; anything far bigger is not a manifest.
const MAX_MANIFEST: u64 = 4 << 20;

/// What a tag resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Digest of the manifest or index the tag points to.
    pub digest: Digest,
    /// `linux/amd64` / `linux/arm64` -> manifest digest, for an index.
    pub platforms: BTreeMap<String, Digest>,
}

/// Looks up an environment variable.
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String>>;

pub struct Options {
    /// Registries (`host[:port]`) spoken to over plain HTTP.
    pub insecure: Vec<String>,
    pub timeout: Duration,
    /// Tries per request on 429, 5xx and connection failures.
    pub attempts: u32,
    /// First backoff; doubles each retry unless `Retry-After` says otherwise.
    pub backoff: Duration,
    /// A `Retry-After` longer than this fails instead of waiting.
    pub max_wait: Duration,
    /// Looks up an environment variable (process env in the binary).
    pub env: EnvLookup,
    /// Progress lines (stderr in the binary).
    pub progress: Box<dyn Fn(&str)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            insecure: Vec::new(),
            timeout: Duration::from_secs(20),
            attempts: 4,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
            env: Box::new(|k| std::env::var(k).ok()),
            progress: Box::new(|_| {}),
        }
    }
}

/// The variables holding credentials for `registry` (as written in the
/// reference: `docker.io`, `ghcr.io`, `127.0.0.1:5000`).
pub fn credential_vars(registry: &str) -> (String, String) {
    let key: String = registry
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    (
        format!("TORRUST_BAKE_REGISTRY_{key}_USERNAME"),
        format!("TORRUST_BAKE_REGISTRY_{key}_PASSWORD"),
    )
}

/// A parsed `WWW-Authenticate` challenge: scheme and parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// The challenge to answer in a `WWW-Authenticate` header (`Bearer
/// realm="https://..",service="..",scope=".."`): the first Bearer or Basic
/// one of the list, else the first (refused later by its scheme's name).
/// Scheme and parameter names lower-cased, quoted values unescaped.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let all = http_auth::parse_challenges(header).ok()?;
    let spoken = |c: &&http_auth::ChallengeRef| {
        c.scheme.eq_ignore_ascii_case("bearer") || c.scheme.eq_ignore_ascii_case("basic")
    };
    let c = all.iter().find(spoken).or(all.first())?;
    Some(Challenge {
        scheme: c.scheme.to_ascii_lowercase(),
        params: c
            .params
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_unescaped()))
            .collect(),
    })
}

/// Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date).
pub fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// A failure worth trying again: 429/5xx (with any `Retry-After`), or no
/// connection at all.
enum Retryable {
    Status(u16, Option<Duration>),
    Transport(String),
}

struct Target {
    /// `docker.io`, as written (names the credential variables).
    registry: String,
    /// `index.docker.io`: where requests go.
    host: String,
    scheme: &'static str,
    repository: String,
    tag: String,
}

pub struct Client {
    agent: ureq::Agent,
    opts: Options,
    /// `Authorization` header per host and repository, once a challenge was met.
    auth: HashMap<(String, String), String>,
}

impl Client {
    pub fn new(opts: Options) -> Self {
        Self {
            agent: crate::http::client(opts.timeout),
            opts,
            auth: HashMap::new(),
        }
    }

    fn target(&self, reference: &str) -> Result<Target, Error> {
        let bad = |why: String| {
            Error::new(
                ErrorKind::Invalid,
                format!("'{reference}' is not an image reference ({why}); write registry/repository:tag, e.g. docker.io/prom/prometheus:v3.5.0"),
            )
        };
        let (parsed, tag) = parse_reference(reference).map_err(|e| match e {
            ReferenceError::HasDigest => bad("it already carries a digest; the lock keeps the tag in `reference` and the digest in `digest`".into()),
            ReferenceError::NoTag => bad("no tag".into()),
            ReferenceError::Invalid(why) => bad(why),
        })?;
        let registry = parsed.registry().to_string();
        let host = parsed.resolve_registry().to_string();
        let insecure = self
            .opts
            .insecure
            .iter()
            .any(|h| h == &registry || h == &host);
        Ok(Target {
            registry,
            host,
            scheme: if insecure { "http" } else { "https" },
            repository: parsed.repository().to_string(),
            tag,
        })
    }

    /// Resolves the tag of `reference` to its digest (and platform digests).
    pub fn resolve(&mut self, reference: &str) -> Result<Resolved, Error> {
        let t = self.target(reference)?;
        let head = self.manifest(&t, "HEAD", &t.tag)?;
        let header_digest = head
            .header("Docker-Content-Digest")
            .and_then(|d| d.parse::<Digest>().ok());
        // A single-platform manifest named by the header needs no body.
        if let (Some(digest), Some(media)) = (&header_digest, media_type(&head)) {
            if !is_index(&media) {
                return Ok(Resolved {
                    digest: *digest,
                    platforms: BTreeMap::new(),
                });
            }
        }
        // No digest header, or an index whose platform digests we record:
        // fetch the body (by digest when known, so it is the same object).
        let by = header_digest.map_or_else(|| t.tag.clone(), |d| d.to_string());
        let get = self.manifest(&t, "GET", &by)?;
        let get_media = media_type(&get);
        let mut body = Vec::new();
        get.into_reader()
            .take(MAX_MANIFEST)
            .read_to_end(&mut body)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unreachable,
                    format!("reading the manifest of {reference} from {}: {e}", t.host),
                )
            })?;
        let digest = Digest::of(&body);
        if let Some(h) = &header_digest {
            if h != &digest {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("{} says {reference} is {h}, but the manifest it sent hashes to {digest}; try again, or report it to the registry", t.host),
                ));
            }
        }
        let media_type = get_media
            .or_else(|| body_media_type(&body))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "{} sent the manifest of {reference} without a media type",
                        t.host
                    ),
                )
            })?;
        let platforms = if is_index(&media_type) {
            index_platforms(&body).map_err(|e| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("the index of {reference} is not valid: {e}"),
                )
            })?
        } else {
            BTreeMap::new()
        };
        Ok(Resolved { digest, platforms })
    }

    /// Whether `digest` still exists in the repository of `reference`.
    pub fn exists(&mut self, reference: &str, digest: &Digest) -> Result<bool, Error> {
        let t = self.target(reference)?;
        match self.manifest(&t, "HEAD", &digest.to_string()) {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn manifest(&mut self, t: &Target, method: &str, by: &str) -> Result<ureq::Response, Error> {
        let url = format!(
            "{}://{}/v2/{}/manifests/{by}",
            t.scheme, t.host, t.repository
        );
        let what = format!("{}/{}:{}", t.registry, t.repository, t.tag);
        self.send(t, method, &url, &what)
    }

    /// One request with auth challenges answered and 429/5xx/connection
    /// failures retried with backoff.
    fn send(
        &mut self,
        t: &Target,
        method: &str,
        url: &str,
        what: &str,
    ) -> Result<ureq::Response, Error> {
        let accept = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");
        let key = (t.host.clone(), t.repository.clone());
        let mut answered_challenge = false;
        let mut attempt = 1;
        let mut backoff = self.opts.backoff;
        loop {
            let mut req = self.agent.request(method, url).set("Accept", &accept);
            if let Some(auth) = self.auth.get(&key) {
                req = req.set("Authorization", auth);
            }
            let failure = match req.call() {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if !answered_challenge => {
                    let header = resp.header("WWW-Authenticate").unwrap_or("").to_string();
                    let auth = self.answer_challenge(t, &header, what)?;
                    self.auth.insert(key.clone(), auth);
                    answered_challenge = true;
                    continue;
                }
                Err(ureq::Error::Status(code @ (401 | 403), _)) => {
                    return Err(self.auth_error(t, code, what))
                }
                Err(ureq::Error::Status(404, _)) => {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "{what} not found on {} (404): check the repository and tag",
                            t.host
                        ),
                    ));
                }
                Err(ureq::Error::Status(code @ (429 | 500..=599), resp)) => Retryable::Status(
                    code,
                    resp.header("Retry-After")
                        .and_then(|v| retry_after(v, std::time::SystemTime::now())),
                ),
                Err(ureq::Error::Status(code, _)) => {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!("{} answered {code} for {what}", t.host),
                    ));
                }
                // A name that does not resolve will not resolve in a second
                // either, and no flag fixes it: say so at once.
                Err(ureq::Error::Transport(e)) if e.kind() == ureq::ErrorKind::Dns => {
                    return Err(Error::new(
                        ErrorKind::Unreachable,
                        format!(
                            "cannot resolve {} for {what}: check the registry's name in the lock and this machine's DNS (not retried)",
                            t.host,
                        ),
                    ));
                }
                Err(ureq::Error::Transport(e)) => Retryable::Transport(e.to_string()),
            };
            let wait = self.retry_wait(t, what, &failure, attempt, backoff)?;
            std::thread::sleep(wait);
            backoff *= 2;
            attempt += 1;
        }
    }

    /// 401/403 after any challenge was answered: missing or refused credentials.
    fn auth_error(&self, t: &Target, code: u16, what: &str) -> Error {
        let (user, pass) = credential_vars(&t.registry);
        let why = if (self.opts.env)(&user).is_some() {
            format!("refused the credentials in {user} and {pass}")
        } else {
            format!("needs credentials: set {user} and {pass}")
        };
        Error::new(
            ErrorKind::Denied,
            format!("{} answered {code} for {what}: it {why}", t.host),
        )
    }

    /// How long to wait before trying a retryable failure again, or the
    /// error that ends the tries.
    fn retry_wait(
        &self,
        t: &Target,
        what: &str,
        failure: &Retryable,
        attempt: u32,
        backoff: Duration,
    ) -> Result<Duration, Error> {
        let unreachable = |m: String| Error::new(ErrorKind::Unreachable, m);
        let (wait, why) = match failure {
            Retryable::Status(code, asked) => {
                if let Some(w) = asked.filter(|w| *w > self.opts.max_wait) {
                    return Err(unreachable(format!(
                        "{} answered {code} for {what} and asks to wait {} s; try again later",
                        t.host,
                        w.as_secs()
                    )));
                }
                if attempt >= self.opts.attempts {
                    return Err(unreachable(format!(
                        "{} answered {code} for {what} {attempt} times; try again later",
                        t.host
                    )));
                }
                (
                    asked.unwrap_or(backoff),
                    format!("{} answered {code}", t.host),
                )
            }
            Retryable::Transport(e) => {
                if attempt >= self.opts.attempts {
                    return Err(unreachable(format!(
                        "cannot reach {} ({}://{}) for {what}: {e}; check that it runs and the network reaches it (a plain-HTTP registry needs --insecure-registry {})",
                        t.registry, t.scheme, t.host, t.registry
                    )));
                }
                (backoff, format!("cannot reach {}", t.host))
            }
        };
        (self.opts.progress)(&format!(
            "  {why}; retrying in {} (attempt {}/{})",
            humantime::format_duration(wait),
            attempt + 1,
            self.opts.attempts
        ));
        Ok(wait)
    }

    /// The `Authorization` header that answers a 401 challenge.
    fn answer_challenge(&mut self, t: &Target, header: &str, what: &str) -> Result<String, Error> {
        let (user_var, pass_var) = credential_vars(&t.registry);
        let creds = match ((self.opts.env)(&user_var), (self.opts.env)(&pass_var)) {
            (Some(u), Some(p)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )),
            _ => None,
        };
        let challenge = parse_challenge(header).ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "{} answered 401 for {what} without a usable WWW-Authenticate challenge",
                    t.host
                ),
            )
        })?;
        let needs = || {
            Error::new(
                ErrorKind::Denied,
                format!(
                    "{} needs credentials for {what}: set {user_var} and {pass_var}",
                    t.host
                ),
            )
        };
        match challenge.scheme.as_str() {
            "basic" => creds.ok_or_else(needs),
            "bearer" => self.bearer_token(t, &challenge, creds.as_deref(), needs),
            other => Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "{} asks for '{other}' authentication, which torrust-bake does not speak",
                    t.host
                ),
            )),
        }
    }

    /// Docker's token auth: `GET realm?service=..&scope=..` (with Basic
    /// credentials when set), answered by `{"token": ..}` or
    /// `{"access_token": ..}`; the `Authorization` header that carries it.
    fn bearer_token(
        &self,
        t: &Target,
        challenge: &Challenge,
        creds: Option<&str>,
        needs: impl Fn() -> Error,
    ) -> Result<String, Error> {
        let realm = challenge.params.get("realm").ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!("{} sent a Bearer challenge without a realm", t.host),
            )
        })?;
        let creds = match creds {
            Some(c) => Some(credentials_may_go(t, realm).map(|()| c)?),
            None => None,
        };
        let mut req = self.agent.get(realm);
        for p in ["service", "scope"] {
            if let Some(v) = challenge.params.get(p) {
                req = req.query(p, v);
            }
        }
        if let Some(c) = creds {
            req = req.set("Authorization", c);
        }
        let body = match req.call() {
            Ok(resp) => {
                let mut body = Vec::new();
                resp.into_reader()
                    .take(MAX_MANIFEST)
                    .read_to_end(&mut body)
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Unreachable,
                            format!("reading the reply of the token service {realm}: {e}"),
                        )
                    })?;
                body
            }
            Err(ureq::Error::Status(code @ (401 | 403), _)) => {
                let (user_var, pass_var) = credential_vars(&t.registry);
                return Err(if creds.is_some() {
                    Error::new(
                        ErrorKind::Denied,
                        format!("the token service {realm} answered {code}: it refused the credentials in {user_var} and {pass_var}"),
                    )
                } else {
                    needs()
                });
            }
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Unreachable,
                    format!("cannot get a token from {realm}: {e}"),
                ))
            }
        };
        let token = token_of(&body).map_err(|why| {
            Error::new(
                ErrorKind::Protocol,
                format!("the token service {realm} {why}"),
            )
        })?;
        Ok(format!("Bearer {token}"))
    }
}

/// Whether the credentials for `t` may be sent to the token service
/// `realm`, which the registry names in its `WWW-Authenticate`: to the
/// registry's own host (any port, the scheme it was asked with), or to
/// another host over HTTPS. They went wherever the realm pointed, in the
/// clear over plain HTTP: a registry (or whoever answers in its place on
/// an insecure one) could have collected them.
fn credentials_may_go(t: &Target, realm: &str) -> Result<(), Error> {
    let realm_url = url::Url::parse(realm).map_err(|e| {
        Error::new(
            ErrorKind::Protocol,
            format!("{} names a token service that is not a URL ({e})", t.host),
        )
    })?;
    let realm_host = realm_url.host_str().unwrap_or_default();
    let own_host = url::Url::parse(&format!("{}://{}/", t.scheme, t.host))
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    // In the clear only where the user already sends them so: to an
    // --insecure-registry host itself. A realm on an HTTPS registry's own
    // host but over plain HTTP is a downgrade, refused as well.
    let own = !realm_host.is_empty() && realm_host == own_host;
    if realm_url.scheme() == "https" || (own && t.scheme == "http") {
        return Ok(());
    }
    let (user_var, pass_var) = credential_vars(&t.registry);
    Err(Error::new(
        ErrorKind::Denied,
        format!(
            "{} sends token requests to {realm_host} over {} ({}://{realm_host}/...): the credentials in {user_var} and {pass_var} go over HTTPS, or in the clear only to an --insecure-registry host itself ({own_host}), so they were not sent; serve the token service over HTTPS or on the registry's own host",
            t.host,
            if realm_url.scheme() == "http" { "plain HTTP".to_string() } else { format!("'{}'", realm_url.scheme()) },
            realm_url.scheme()
        ),
    ))
}

/// The token in a token service's reply, `{"token": ..}` or
/// `{"access_token": ..}`; else what is wrong with the reply.
pub fn token_of(body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("sent no JSON: {e}"))?;
    v.get("token")
        .or_else(|| v.get("access_token"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| "answered without a token".to_string())
}

fn media_type(resp: &ureq::Response) -> Option<String> {
    resp.header("Content-Type")
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .filter(|m| m.starts_with("application/vnd."))
}

/// The `mediaType` a manifest names itself by, for a reply without a
/// `Content-Type`.
pub fn body_media_type(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("mediaType")?.as_str().map(str::to_string)
}

/// `linux/amd64` and `linux/arm64` manifest digests of an index (sha256
/// only: the lock pins nothing else).
pub fn index_platforms(body: &[u8]) -> Result<BTreeMap<String, Digest>, String> {
    let index: ImageIndex = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for m in index.manifests() {
        let Some(p) = m.platform() else { continue };
        let name = format!("{}/{}", p.os(), p.architecture());
        // arm64 images say variant v8 or nothing; other variants are not arm64.
        let variant_ok = p.variant().as_deref().is_none_or(|v| v == "v8");
        if PLATFORMS.contains(&name.as_str()) && variant_ok && !out.contains_key(&name) {
            let d = m.digest();
            let digest = match d.algorithm() {
                DigestAlgorithm::Sha256 => {
                    d.to_string().parse().map_err(|e| format!("{name}: {e}"))?
                }
                other => return Err(format!("{name} is named by {other}, not sha256")),
            };
            out.insert(name, digest);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/caddy:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(c.params["scope"], "repository:library/caddy:pull");
        let c = parse_challenge(r#"Basic realm="a, \"b\"", charset=UTF-8"#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], r#"a, "b""#);
        assert_eq!(c.params["charset"], "UTF-8");
        assert!(parse_challenge(r#"Bearer realm="unterminated"#).is_none());
        assert!(parse_challenge("").is_none());
        // A list: the scheme we speak wins; parameter names are case-blind.
        let c = parse_challenge(r#"Negotiate, Basic Realm="r""#).unwrap();
        assert_eq!(
            (c.scheme.as_str(), c.params["realm"].as_str()),
            ("basic", "r")
        );
        assert_eq!(parse_challenge("Negotiate").unwrap().scheme, "negotiate");
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 22:00:00 GMT").unwrap();
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 25 Nov 2026 22:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn token_replies() {
        assert_eq!(
            token_of(br#"{"token":"t","access_token":"a"}"#),
            Ok("t".into())
        );
        assert_eq!(token_of(br#"{"access_token":"a"}"#), Ok("a".into()));
        assert_eq!(
            token_of(br#"{"token":1}"#),
            Err("answered without a token".into())
        );
        assert!(token_of(b"<html>")
            .unwrap_err()
            .starts_with("sent no JSON: "));
    }

    #[test]
    fn where_credentials_may_go() {
        let target = |host: &str, scheme: &'static str| Target {
            registry: host.into(),
            host: host.into(),
            scheme,
            repository: "team/tracker".into(),
            tag: "v1".into(),
        };
        let plain = target("127.0.0.1:5000", "http");
        assert!(credentials_may_go(&plain, "http://127.0.0.1:5001/token").is_ok());
        assert!(credentials_may_go(&plain, "https://auth.example.org/token").is_ok());
        let e = credentials_may_go(&plain, "http://collector.test/token").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied);
        assert!(
            e.to_string().contains("to collector.test over plain HTTP"),
            "{e}"
        );
        // An HTTPS registry's own host over plain HTTP is a downgrade.
        let tls = target("ghcr.io", "https");
        assert!(credentials_may_go(&tls, "https://ghcr.io/token").is_ok());
        assert!(credentials_may_go(&tls, "http://ghcr.io/token").is_err());
        assert!(credentials_may_go(&tls, "not a url").is_err());
    }

    #[test]
    fn credential_variable_names() {
        assert_eq!(
            credential_vars("127.0.0.1:5000").0,
            "TORRUST_BAKE_REGISTRY_127_0_0_1_5000_USERNAME"
        );
        assert_eq!(
            credential_vars("ghcr.io").1,
            "TORRUST_BAKE_REGISTRY_GHCR_IO_PASSWORD"
        );
    }

    #[test]
    fn docker_hub_defaults() {
        let c = Client::new(Options::default());
        let t = c.target("caddy:2.10.2").unwrap();
        assert_eq!(
            (t.registry.as_str(), t.host.as_str()),
            ("docker.io", "index.docker.io")
        );
        assert_eq!(t.repository, "library/caddy");
        assert_eq!(t.scheme, "https");
        let e = c.target("docker.io/library/caddy").err().unwrap();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(c.target("Not A Reference:1").is_err());
    }
}
