//! `images/images.lock`: which image each service runs, pinned by digest.
//! An environment with a lock of its own (`images/<env>.lock`) uses that
//! instead, whole (`env_lock.rs`).
//!
//! Format (TOML, no timestamps so an unchanged lock stays byte-identical;
//! `images pin` edits only digests, see `pin.rs`):
//!
//! ```toml
//! [images.tracker]
//! reference = "docker.io/torrust/tracker:v3.0.0"
//! digest = "sha256:<64 hex>"              # index digest for multi-arch images
//! [images.tracker.platforms]
//! "linux/amd64" = "sha256:<64 hex>"
//! ```
//!
//! A `reference` follows Docker's reference grammar (distribution's
//! `reference` package), parsed by hand in `reference/` for `check` and
//! `build`, and by `oci-spec`'s `Reference` where a registry is reached;
//! both supply Docker Hub's `docker.io` and `library/` defaults. A digest is a
//! [`Digest`]: the OCI image spec's `algorithm:encoded` form restricted to
//! the one algorithm registries use, `sha256` with 64 lower-case hex digits.
//! It is written here (32 bytes, like coreos-installer's `Sha256Digest`)
//! rather than taken from `oci-spec`: its `Digest` accepts any algorithm, and
//! its `Sha256Digest` prints without the `sha256:` prefix and has no serde,
//! so the lock's string form would need a wrapper around it anyway.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::distribution::Reference;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

use crate::config::{Config, Problem, Report, Source};
use crate::error::Error;

pub mod env_lock;
pub mod layout;
pub mod pin;
pub mod reference;
pub mod registry;

pub const LOCK_PATH: &str = "images/images.lock";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockedImage {
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platforms: BTreeMap<String, Digest>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(default)]
    pub images: BTreeMap<String, LockedImage>,
}

/// Reads and parses the lock at `lock` (relative to the project) for
/// `images pin|verify`.
pub fn read_lock(project: &Path, lock: &str) -> anyhow::Result<(String, Lock)> {
    let path = project.join(lock);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(Error::invalid(format!(
            "cannot read {}: {e}; restore it from git",
            path.display()
        )))
    })?;
    let lock = parse_lock(&text).map_err(|e| {
        anyhow::anyhow!(Error::invalid(format!(
            "{}:{} is not valid: {}; fix the line (a bad digest may be deleted, then pinned again), or restore the file from git",
            path.display(),
            e.line,
            e.message
        )))
    })?;
    Ok((text, lock))
}

/// Why a lock's text is not a lock, and on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockError {
    /// 1-based; 0 when the error points nowhere.
    pub line: usize,
    pub message: String,
}

/// Parses the text of an image lock.
pub fn parse_lock(text: &str) -> Result<Lock, LockError> {
    toml::from_str(text).map_err(|e| LockError {
        line: error_line(text, &e),
        message: e.message().to_string(),
    })
}

/// The 1-based line a TOML error points at, 0 when it points nowhere.
fn error_line(text: &str, e: &toml::de::Error) -> usize {
    e.span()
        .map(|s| text[..s.start].lines().count().max(1))
        .unwrap_or(0)
}

/// The image a service runs in this release, as written into compose.yaml.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedImage {
    pub service: String,
    pub reference: String,
    pub digest: Option<String>,
    /// `reference@digest`, or the bare reference when unpinned (local only).
    pub pinned: String,
}

/// The images a release runs and the lock they were read from.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The lock, relative to the project: `images/images.lock` or the
    /// environment's own `images/<env>.lock`.
    pub lock: String,
    pub images: Vec<ResolvedImage>,
}

/// The services whose images a configuration needs, in a fixed order.
pub fn required_services(config: &Config) -> Vec<&'static str> {
    let mut s = vec!["tracker", "prometheus"];
    if config.stats_exporter {
        s.push("stats-exporter");
    }
    if config.grafana {
        s.push("grafana");
    }
    if config.database.mysql().is_some_and(|m| m.bundled) {
        s.push("mysql");
    }
    if config.domain_name.is_some() {
        s.push("caddy");
    }
    s
}

/// A `sha256:` image digest: what registries name manifests by and the lock
/// pins. Validated when made; written (Display, serde) as `sha256:<64
/// lower-case hex>`, so every serialized form keeps its bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes` (a manifest as the registry sent it).
    pub fn of(bytes: &[u8]) -> Self {
        Digest(sha2::Sha256::digest(bytes).into())
    }
}

/// A string that is not `sha256:<64 lower-case hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDigest(pub String);

impl fmt::Display for BadDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "digest '{}' is not sha256:<64 lower-case hex>", self.0)
    }
}

impl std::error::Error for BadDigest {}

impl FromStr for Digest {
    type Err = BadDigest;

    fn from_str(s: &str) -> Result<Self, BadDigest> {
        let mut bytes = [0u8; 32];
        let hex = s
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        match hex.map(|h| hex::decode_to_slice(h, &mut bytes)) {
            Some(Ok(())) => Ok(Digest(bytes)),
            _ => Err(BadDigest(s.to_string())),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

/// As the string, quoted (`images verify` prints platform maps with `{:?}`).
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Tags that name whatever was pushed last, not one release.
pub const MOVING_TAGS: [&str; 5] = ["latest", "develop", "main", "master", "nightly"];

/// Why a lock `reference` cannot be resolved by its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    /// Not Docker's reference grammar (oci-spec's message).
    Invalid(String),
    /// `registry/repository` with no `:tag`.
    NoTag,
    /// `...@sha256:...`: the lock keeps the digest in `digest`.
    HasDigest,
}

/// The tag a lock `reference` (`registry/repository:tag`) names, by the
/// hand-written parser (`reference/`: no regex compiled, which `check` and
/// `build` would pay on every run). The grammar fills a missing tag in with
/// `latest`; a lock must name its tag, so a tag counts only when the text
/// ends in `:<tag>`.
pub fn reference_tag(reference: &str) -> Result<String, ReferenceError> {
    if reference.contains('@') {
        return Err(ReferenceError::HasDigest);
    }
    let parsed = reference::parse(reference).map_err(|e| ReferenceError::Invalid(e.to_string()))?;
    parsed
        .tag()
        .filter(|t| reference.ends_with(&format!(":{t}")))
        .map(str::to_string)
        .ok_or(ReferenceError::NoTag)
}

/// A lock `reference` as oci-spec's `Reference` (for the registry client,
/// which needs its registry host) with the tag [`reference_tag`] finds.
pub fn parse_reference(reference: &str) -> Result<(Reference, String), ReferenceError> {
    let tag = reference_tag(reference)?;
    let parsed: Reference = reference
        .parse()
        .map_err(|e: oci_spec::distribution::ParseError| ReferenceError::Invalid(e.to_string()))?;
    Ok((parsed, tag))
}

/// The line of `[images.<service>]` in the lock's text, 0 when absent.
pub fn line_of(text: &str, service: &str) -> usize {
    let header = format!("[images.{service}]");
    let quoted = format!("[images.\"{service}\"]");
    text.lines()
        .position(|l| l.trim() == header || l.trim() == quoted)
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// Reads the environment's lock and resolves the images `config` needs.
/// Every problem goes to `report`; in strict environments an unpinned
/// image is an error.
pub fn resolve(project: &Path, config: &Config, report: &mut Report) -> Pinned {
    let lock_path = env_lock::lock_of(project, config.env.as_str());
    let images = match read_for_build(project, &lock_path, report) {
        Some((text, lock)) => resolve_in(&lock_path, &text, &lock, config, report),
        None => Vec::new(),
    };
    Pinned {
        lock: lock_path,
        images,
    }
}

/// The lock's text and parsed form, or `None` after reporting why not.
fn read_for_build(project: &Path, lock_path: &str, report: &mut Report) -> Option<(String, Lock)> {
    let at = |line| Source::File {
        path: PathBuf::from(lock_path),
        line,
    };
    let text = match std::fs::read_to_string(project.join(lock_path)) {
        Ok(t) => t,
        Err(e) => {
            let fix = match env_lock::own_lock(lock_path) {
                Some(own) => format!("restore {own} from git, or delete it to use {LOCK_PATH}"),
                None => format!("restore {LOCK_PATH} from git, or run `torrust-bake images pin`"),
            };
            report.push(Problem::error(
                None,
                at(0),
                format!("cannot read the image lock: {e}"),
                &fix,
            ));
            return None;
        }
    };
    match parse_lock(&text) {
        Ok(lock) => Some((text, lock)),
        Err(e) => {
            report.push(Problem::error(
                None,
                at(e.line),
                format!("the image lock is not valid: {}", e.message),
                &format!("fix the line (a bad digest may be deleted, then pinned again with `{}`), or restore the file from git", env_lock::pin_command(lock_path)),
            ));
            None
        }
    }
}

/// The images `config` needs from `lock` (read from `lock_path`).
fn resolve_in(
    lock_path: &str,
    text: &str,
    lock: &Lock,
    config: &Config,
    report: &mut Report,
) -> Vec<ResolvedImage> {
    let checking = Checking {
        strict: config.env.is_strict(),
        env: config.env.as_str(),
        pin: env_lock::pin_command(lock_path),
    };
    let at = |line| Source::File {
        path: PathBuf::from(lock_path),
        line,
    };
    let mut out = Vec::new();
    for service in required_services(config) {
        let Some(img) = lock.images.get(service) else {
            report.push(Problem::error(
                None,
                at(0),
                format!("no image for service '{service}'"),
                &format!(
                    "add [images.{service}] with reference and digest, or run `{} {service}`",
                    checking.pin
                ),
            ));
            continue;
        };
        check_image(service, img, &checking, &at(line_of(text, service)), report);
        let pinned = match &img.digest {
            Some(d) => format!("{}@{d}", img.reference),
            None => img.reference.clone(),
        };
        out.push(ResolvedImage {
            service: service.to_string(),
            reference: img.reference.clone(),
            digest: img.digest.map(|d| d.to_string()),
            pinned,
        });
    }
    out
}

/// What the rules about one image depend on.
struct Checking<'a> {
    strict: bool,
    env: &'a str,
    /// The command that pins the lock being checked.
    pin: String,
}

/// The problems of one locked image: its reference (grammar, an exact tag)
/// and, in strict environments, a missing digest. The digest's own form was
/// checked when the lock was read.
fn check_image(
    service: &str,
    img: &LockedImage,
    checking: &Checking,
    src: &Source,
    report: &mut Report,
) {
    let Checking { strict, env, pin } = checking;
    let error_or_warning = |p: (String, String)| {
        if *strict {
            Problem::error(None, src.clone(), p.0, &p.1)
        } else {
            Problem::warning(None, src.clone(), p.0, &p.1)
        }
    };
    let reference = &img.reference;
    match reference_tag(reference) {
        Err(ReferenceError::NoTag) => report.push(Problem::error(
            None,
            src.clone(),
            format!("image '{reference}' of {service} has no tag"),
            "write an exact release tag, e.g. prom/prometheus:v3.5.0",
        )),
        Err(ReferenceError::HasDigest) => report.push(Problem::error(
            None,
            src.clone(),
            format!("image '{reference}' of {service} carries a digest in `reference`"),
            &format!("keep the tag in `reference` and the digest in `digest`, then `{pin}`"),
        )),
        Err(ReferenceError::Invalid(why)) => report.push(Problem::error(
            None,
            src.clone(),
            format!("image '{reference}' of {service} is not an image reference ({why})"),
            "write registry/repository:tag, e.g. docker.io/prom/prometheus:v3.5.0",
        )),
        Ok(tag) if MOVING_TAGS.contains(&tag.as_str()) => report.push(error_or_warning((
            format!("image '{reference}' of {service} uses the moving tag '{tag}'"),
            format!("use an exact release tag, then `{pin}`"),
        ))),
        Ok(_) => {}
    }
    match &img.digest {
        None if *strict => report.push(Problem::error(
            None,
            src.clone(),
            format!(
                "image '{reference}' of {service} is not pinned by digest; {env} runs digests only"
            ),
            &format!("run `{pin} {service}` on a machine that reaches the registry"),
        )),
        None => report.push(Problem::warning(
            None,
            src.clone(),
            format!("image '{reference}' of {service} runs by tag, not digest"),
            &format!("run `{pin} {service}`; lenient environments allow tags"),
        )),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let text = format!("sha256:{}", "0a".repeat(32));
        let d: Digest = text.parse().unwrap();
        assert_eq!(d.to_string(), text);
        assert_eq!(format!("{d:?}"), format!("{text:?}"));
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<Digest>(&format!("\"{text}\"")).unwrap(),
            d
        );
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for bad in [
            format!("sha256:{}", "A".repeat(64)),
            format!("sha512:{}", "a".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256:{}", "a".repeat(65)),
            format!("sha256:{}g", "a".repeat(63)),
            "a".repeat(64),
        ] {
            assert_eq!(bad.parse::<Digest>(), Err(BadDigest(bad.clone())));
        }
        let e = serde_json::from_str::<Digest>("\"sha256:abc\"").unwrap_err();
        assert!(
            e.to_string()
                .contains("digest 'sha256:abc' is not sha256:<64 lower-case hex>"),
            "{e}"
        );
    }

    #[test]
    fn lock_errors_name_their_line() {
        let text = format!(
            "[images.tracker]\nreference = \"torrust/tracker:v3.0.0\"\ndigest = \"sha256:{}\"\n",
            "A".repeat(64)
        );
        let e = parse_lock(&text).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.message.contains("is not sha256:<64 lower-case hex>"),
            "{e:?}"
        );
        let lock = parse_lock(&text.replace('A', "a")).unwrap();
        assert_eq!(lock.images["tracker"].reference, "torrust/tracker:v3.0.0");
        assert_eq!(line_of(&text, "tracker"), 1);
        assert_eq!(parse_lock("").unwrap().images.len(), 0);
    }

    #[test]
    fn references_and_tags() {
        let tag = |r: &str| parse_reference(r).map(|(_, t)| t);
        assert_eq!(tag("docker.io/prom/prometheus:v3.5.0"), Ok("v3.5.0".into()));
        assert_eq!(tag("localhost:5000/tracker:v1"), Ok("v1".into()));
        assert_eq!(tag("caddy:latest"), Ok("latest".into()));
        // oci-spec fills in `latest`; the lock must say it.
        assert_eq!(tag("localhost:5000/tracker"), Err(ReferenceError::NoTag));
        assert_eq!(tag("docker.io/library/caddy"), Err(ReferenceError::NoTag));
        assert_eq!(
            tag(&format!("caddy:2@sha256:{}", "a".repeat(64))),
            Err(ReferenceError::HasDigest)
        );
        assert!(matches!(
            tag("Upper/Case:1"),
            Err(ReferenceError::Invalid(_))
        ));
        let (r, _) = parse_reference("caddy:2.10.2").unwrap();
        assert_eq!(
            (r.registry(), r.repository()),
            ("docker.io", "library/caddy")
        );
    }
}
