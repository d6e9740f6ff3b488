//! `images/images.lock`: which image each service runs, pinned by digest.
//!
//! Format (TOML, sorted, no timestamps so an unchanged lock stays
//! byte-identical):
//!
//! ```toml
//! [images.tracker]
//! reference = "docker.io/torrust/tracker:v3.0.0"
//! digest = "sha256:<64 hex>"              # index digest for multi-arch images
//! [images.tracker.platforms]
//! "linux/amd64" = "sha256:<64 hex>"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, Problem, Report, Source};
use crate::error::Error;

pub mod pin;
pub mod registry;

pub const LOCK_PATH: &str = "images/images.lock";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockedImage {
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platforms: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(default)]
    pub images: BTreeMap<String, LockedImage>,
}

impl Lock {
    /// The lock as `images pin` writes it: `header` (the file's leading
    /// comment, kept verbatim), then one table per service in name order.
    /// Same lock, same bytes.
    pub fn render(&self, header: &str) -> String {
        let mut out = String::from(header);
        for (service, img) in &self.images {
            let key = toml_key(service);
            out.push_str(&format!("\n[images.{key}]\n"));
            out.push_str(&format!("reference = {}\n", toml_str(&img.reference)));
            if let Some(d) = &img.digest {
                out.push_str(&format!("digest = {}\n", toml_str(d)));
            }
            if !img.platforms.is_empty() {
                out.push_str(&format!("\n[images.{key}.platforms]\n"));
                for (platform, digest) in &img.platforms {
                    out.push_str(&format!("{} = {}\n", toml_key(platform), toml_str(digest)));
                }
            }
        }
        out
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_key(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        s.to_string()
    } else {
        toml_str(s)
    }
}

/// The leading comment block of a lock file (kept by `images pin`).
pub fn header_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if !line.starts_with('#') {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Reads and parses `images/images.lock` for `images pin|verify`.
pub fn read_lock(project: &Path) -> anyhow::Result<(String, Lock)> {
    let path = project.join(LOCK_PATH);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(Error::invalid(format!(
            "cannot read {}: {e}; restore it from git",
            path.display()
        )))
    })?;
    let lock: Lock = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(Error::invalid(format!(
            "{} is not valid: {}",
            path.display(),
            e.message()
        )))
    })?;
    Ok((text, lock))
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

/// The services whose images a configuration needs, in a fixed order.
pub fn required_services(config: &Config) -> Vec<&'static str> {
    let mut s = vec!["tracker", "prometheus", "stats-exporter", "grafana"];
    if config.database.mysql().is_some_and(|m| m.bundled) {
        s.push("mysql");
    }
    if config.domain_name.is_some() {
        s.push("caddy");
    }
    s
}

pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

/// The tag of a reference (`host/repo:tag`), if it has one.
pub fn tag_of(reference: &str) -> Option<&str> {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.split_once(':').map(|(_, tag)| tag)
}

fn line_of(text: &str, service: &str) -> usize {
    let header = format!("[images.{service}]");
    let quoted = format!("[images.\"{service}\"]");
    text.lines()
        .position(|l| l.trim() == header || l.trim() == quoted)
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// Reads the lock and resolves the images `config` needs. Every problem
/// goes to `report`; in staging and production an unpinned image is an error.
pub fn resolve(project: &Path, config: &Config, report: &mut Report) -> Vec<ResolvedImage> {
    let rel = PathBuf::from(LOCK_PATH);
    let at = |line| Source::File {
        path: rel.clone(),
        line,
    };
    let text = match std::fs::read_to_string(project.join(LOCK_PATH)) {
        Ok(t) => t,
        Err(e) => {
            report.push(Problem::error(
                None,
                at(0),
                format!("cannot read the image lock: {e}"),
                "restore images/images.lock from git, or run `torrust-bake images pin`",
            ));
            return Vec::new();
        }
    };
    let lock: Lock = match toml::from_str(&text) {
        Ok(l) => l,
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start].lines().count().max(1))
                .unwrap_or(0);
            report.push(Problem::error(
                None,
                at(line),
                format!("the image lock is not valid: {}", e.message()),
                "fix the line, or restore the file from git",
            ));
            return Vec::new();
        }
    };
    let strict = crate::config::vars::STRICT_ENVIRONMENTS.contains(&config.env.as_str());
    let mut out = Vec::new();
    for service in required_services(config) {
        let Some(img) = lock.images.get(service) else {
            report.push(Problem::error(
                None,
                at(0),
                format!("no image for service '{service}'"),
                &format!("add [images.{service}] with reference and digest, or run `torrust-bake images pin {service}`"),
            ));
            continue;
        };
        let src = at(line_of(&text, service));
        match tag_of(&img.reference) {
            None => report.push(Problem::error(
                None,
                src.clone(),
                format!("image '{}' of {service} has no tag", img.reference),
                "write an exact release tag, e.g. prom/prometheus:v3.5.0",
            )),
            Some(tag @ ("latest" | "develop" | "main" | "master" | "nightly")) => {
                let p = (
                    format!(
                        "image '{}' of {service} uses the moving tag '{tag}'",
                        img.reference
                    ),
                    "use an exact release tag, then `torrust-bake images pin`",
                );
                report.push(if strict {
                    Problem::error(None, src.clone(), p.0, p.1)
                } else {
                    Problem::warning(None, src.clone(), p.0, p.1)
                });
            }
            Some(_) => {}
        }
        match &img.digest {
            Some(d) if !is_digest(d) => report.push(Problem::error(
                None,
                src.clone(),
                format!("digest '{d}' of {service} is not sha256:<64 lower-case hex>"),
                "run `torrust-bake images pin` to resolve it again",
            )),
            None if strict => report.push(Problem::error(
                None,
                src.clone(),
                format!("image '{}' of {service} is not pinned by digest; {} runs digests only", img.reference, config.env),
                &format!("run `torrust-bake images pin {service}` on a machine that reaches the registry"),
            )),
            None => report.push(Problem::warning(
                None,
                src.clone(),
                format!("image '{}' of {service} runs by tag, not digest", img.reference),
                &format!("run `torrust-bake images pin {service}`; local builds allow tags"),
            )),
            Some(_) => {}
        }
        let pinned = match &img.digest {
            Some(d) => format!("{}@{d}", img.reference),
            None => img.reference.clone(),
        };
        out.push(ResolvedImage {
            service: service.to_string(),
            reference: img.reference.clone(),
            digest: img.digest.clone(),
            pinned,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_tags() {
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_digest("sha256:abc"));
        assert_eq!(tag_of("docker.io/prom/prometheus:v3.5.0"), Some("v3.5.0"));
        assert_eq!(tag_of("localhost:5000/tracker"), None);
        assert_eq!(tag_of("localhost:5000/tracker:v1"), Some("v1"));
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn committed_lock_renders_to_its_own_bytes() {
        let text = include_str!("../../images/images.lock");
        let lock: Lock = toml::from_str(text).unwrap();
        assert_eq!(lock.render(&header_of(text)), text);
    }

    #[test]
    fn render_parses_back_with_platforms_and_odd_names() {
        let mut lock = Lock::default();
        let mut platforms = BTreeMap::new();
        platforms.insert(
            "linux/amd64".to_string(),
            format!("sha256:{}", "a".repeat(64)),
        );
        lock.images.insert(
            "odd name".into(),
            LockedImage {
                reference: "r.example/x:\"1\"".into(),
                digest: Some(format!("sha256:{}", "b".repeat(64))),
                platforms,
            },
        );
        let text = lock.render("# h\n");
        let back: Lock = toml::from_str(&text).unwrap();
        assert_eq!(back.images, lock.images);
        assert!(text.starts_with("# h\n\n[images.\"odd name\"]\n"), "{text}");
    }
}
