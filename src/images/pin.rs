//! `images pin` and `images verify`: resolve each locked tag through its
//! registry, compare with the lock, and (pin) write the lock atomically.
//! All or nothing: if any image fails to resolve, the lock is not touched.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::registry::{Client, Resolved};
use super::{Digest, Lock, LOCK_PATH};
use crate::error::Error;

/// One service's image: what the lock says and what the registry says now.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub service: String,
    pub reference: String,
    pub locked: Option<Digest>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub locked_platforms: BTreeMap<String, Digest>,
    pub resolved: Option<Digest>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub platforms: BTreeMap<String, Digest>,
    /// For a mismatch: whether the locked digest can still be pulled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_still_exists: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub error_is_input: bool,
}

impl Outcome {
    /// The lock agrees with the registry.
    pub fn matches(&self) -> bool {
        self.resolved.is_some()
            && self.resolved == self.locked
            && self.platforms == self.locked_platforms
    }
}

/// The services to act on: those named (each must be in the lock), or all.
pub fn select(lock: &Lock, named: &[String]) -> Result<Vec<String>> {
    if named.is_empty() {
        return Ok(lock.images.keys().cloned().collect());
    }
    let known: Vec<&str> = lock.images.keys().map(String::as_str).collect();
    for s in named {
        if !lock.images.contains_key(s) {
            return Err(Error::invalid(format!(
                "no service '{s}' in {LOCK_PATH} (it has: {}); add [images.{s}] with a reference first",
                known.join(", ")
            ))
            .into());
        }
    }
    let mut out = named.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Resolves every selected service, printing progress through `progress`.
/// With `check_old`, a mismatching locked digest is also looked up.
pub fn resolve_all(
    lock: &Lock,
    services: &[String],
    client: &mut Client,
    check_old: bool,
    progress: &dyn Fn(&str),
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (i, service) in services.iter().enumerate() {
        let img = &lock.images[service];
        progress(&format!(
            "[{}/{}] {service}: resolving {}",
            i + 1,
            services.len(),
            img.reference
        ));
        let started = Instant::now();
        let mut o = Outcome {
            service: service.clone(),
            reference: img.reference.clone(),
            locked: img.digest,
            locked_platforms: img.platforms.clone(),
            resolved: None,
            platforms: BTreeMap::new(),
            locked_still_exists: None,
            error: None,
            error_is_input: false,
        };
        match client.resolve(&img.reference) {
            Ok(Resolved {
                digest, platforms, ..
            }) => {
                progress(&format!(
                    "[{}/{}] {service}: {digest}{} ({} ms)",
                    i + 1,
                    services.len(),
                    if platforms.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (index: {})",
                            platforms.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    },
                    started.elapsed().as_millis()
                ));
                o.resolved = Some(digest);
                o.platforms = platforms;
                if check_old && o.resolved != o.locked {
                    if let Some(old) = &o.locked {
                        o.locked_still_exists = client.exists(&img.reference, old).ok();
                    }
                }
            }
            Err(e) => fail(&mut o, e),
        }
        out.push(o);
    }
    out
}

fn fail(o: &mut Outcome, e: Error) {
    o.error_is_input = e.is_input();
    o.error = Some(e.to_string());
}

/// The lock with the resolved digests applied to the given outcomes.
pub fn apply(lock: &Lock, outcomes: &[Outcome]) -> Lock {
    let mut new = lock.clone();
    for o in outcomes {
        if let (Some(img), Some(d)) = (new.images.get_mut(&o.service), &o.resolved) {
            img.digest = Some(*d);
            img.platforms = o.platforms.clone();
        }
    }
    new
}

/// Writes `text` to the lock through a temp file and a rename, keeping the
/// old file's permissions. Returns false (and writes nothing) when the bytes
/// are already there.
pub fn write_lock(project: &Path, text: &str) -> Result<bool> {
    let path = project.join(LOCK_PATH);
    if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(project);
    let mut tmp = tempfile::Builder::new()
        .prefix(".images.lock.")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    if let Ok(meta) = std::fs::metadata(&path) {
        std::fs::set_permissions(tmp.path(), meta.permissions())
            .with_context(|| format!("setting the mode of {}", tmp.path().display()))?;
    }
    tmp.persist(&path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(true)
}
