//! `images pin` and `images verify`: resolve each locked tag through its
//! registry, compare with the lock, and (pin) write the lock atomically.
//! All or nothing: if any image fails to resolve, the lock is not touched.
//!
//! The lock is edited, not rebuilt: `toml_edit` (the parser under `toml`,
//! TOML 1.0) keeps every comment, the order of the tables and their layout;
//! a pin changes only its services' `digest` and `platforms` entries, and a
//! pin that changes nothing writes nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use super::registry::{Client, Resolved};
use super::{Digest, Lock};
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

/// The services to act on: those named (each must be in the lock, read
/// from `lock_path`), or all.
pub fn select(lock: &Lock, lock_path: &str, named: &[String]) -> Result<Vec<String>> {
    if named.is_empty() {
        return Ok(lock.images.keys().cloned().collect());
    }
    let known: Vec<&str> = lock.images.keys().map(String::as_str).collect();
    for s in named {
        if !lock.images.contains_key(s) {
            return Err(Error::invalid(format!(
                "no service '{s}' in {lock_path} (it has: {}); add [images.{s}] with a reference first",
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

/// The lock's `text` with the resolved digests of `outcomes` written into
/// their services' `digest` and `platforms` entries; comments, order and
/// layout stay as they were. `text` itself when nothing changed.
pub fn apply(text: &str, outcomes: &[Outcome]) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("the lock is not valid TOML")?;
    let mut changed = false;
    for o in outcomes {
        let Some(digest) = &o.resolved else { continue };
        let entry = doc
            .get_mut("images")
            .and_then(|images| images.get_mut(&o.service))
            .and_then(Item::as_table_like_mut)
            .with_context(|| format!("no table [images.{}] in the lock", o.service))?;
        changed |= set_string(entry, "digest", &digest.to_string());
        changed |= set_platforms(entry, &o.platforms);
    }
    Ok(if changed {
        doc.to_string()
    } else {
        text.to_string()
    })
}

/// Sets `key` to the string `v`, keeping the old value's surroundings (an
/// end-of-line comment); a new key goes last. Whether anything changed.
fn set_string(table: &mut dyn TableLike, key: &str, v: &str) -> bool {
    match table.get_mut(key) {
        Some(item) if item.as_str() == Some(v) => false,
        Some(Item::Value(old)) => {
            let decor = old.decor().clone();
            *old = Value::from(v);
            *old.decor_mut() = decor;
            true
        }
        _ => {
            table.insert(key, toml_edit::value(v));
            true
        }
    }
}

/// Makes the service's `platforms` table hold exactly `platforms` (none:
/// no table), editing an existing table in place. Whether anything changed.
fn set_platforms(entry: &mut dyn TableLike, platforms: &BTreeMap<String, Digest>) -> bool {
    if platforms.is_empty() {
        return entry.remove("platforms").is_some();
    }
    let mut changed = false;
    if !entry.get("platforms").is_some_and(Item::is_table_like) {
        // A blank line above the new header, like every table of the lock.
        let mut new = Table::new();
        new.decor_mut().set_prefix("\n");
        entry.insert("platforms", Item::Table(new));
        changed = true;
    }
    let Some(table) = entry.get_mut("platforms").and_then(Item::as_table_like_mut) else {
        return changed;
    };
    let stale: Vec<String> = table
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !platforms.contains_key(k))
        .collect();
    for k in stale {
        table.remove(&k);
        changed = true;
    }
    for (platform, digest) in platforms {
        changed |= set_string(table, platform, &digest.to_string());
    }
    changed
}

/// Writes `text` to the lock at `lock_path` (relative to the project)
/// through a temp file and a rename, keeping the old file's permissions.
/// Returns false (and writes nothing) when the bytes are already there.
pub fn write_lock(project: &Path, lock_path: &str, text: &str) -> Result<bool> {
    let path = project.join(lock_path);
    if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(project);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    fn pinned(service: &str, d: Digest, platforms: &[(&str, Digest)]) -> Outcome {
        Outcome {
            service: service.into(),
            reference: String::new(),
            locked: None,
            locked_platforms: BTreeMap::new(),
            resolved: Some(d),
            platforms: platforms.iter().map(|(p, d)| (p.to_string(), *d)).collect(),
            locked_still_exists: None,
            error: None,
            error_is_input: false,
        }
    }

    #[test]
    fn committed_lock_pinned_to_its_own_digests_is_the_same_text() {
        let text = include_str!("../../images/images.lock");
        let lock: Lock = toml::from_str(text).unwrap();
        let outcomes: Vec<Outcome> = lock
            .images
            .iter()
            .filter_map(|(s, img)| {
                let platforms: Vec<(&str, Digest)> = img
                    .platforms
                    .iter()
                    .map(|(p, d)| (p.as_str(), *d))
                    .collect();
                img.digest.map(|d| pinned(s, d, &platforms))
            })
            .collect();
        assert!(!outcomes.is_empty());
        assert_eq!(apply(text, &outcomes).unwrap(), text);
    }

    #[test]
    fn edits_keep_comments_and_only_touch_pinned_entries() {
        let (a, b, c) = (digest('a'), digest('b'), digest('c'));
        let text = format!(
            "# head\n\n# about x\n[images.x] # x\nreference = 'r/x:1' # tag\ndigest = \"{a}\" # old\n\n[images.x.platforms]\n\"linux/arm/v7\" = \"{a}\"\n\n[images.\"odd name\"]\nreference = \"r/y:1\"\n\n# tail\n"
        );
        let out = apply(
            &text,
            &[
                pinned("x", b, &[("linux/amd64", c)]),
                pinned("odd name", c, &[("linux/amd64", a), ("linux/arm64", b)]),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            format!(
                "# head\n\n# about x\n[images.x] # x\nreference = 'r/x:1' # tag\ndigest = \"{b}\" # old\n\n[images.x.platforms]\n\"linux/amd64\" = \"{c}\"\n\n[images.\"odd name\"]\nreference = \"r/y:1\"\ndigest = \"{c}\"\n\n[images.\"odd name\".platforms]\n\"linux/amd64\" = \"{a}\"\n\"linux/arm64\" = \"{b}\"\n\n# tail\n"
            )
        );
        // An image that lost its index: the platforms table goes.
        let again = apply(&out, &[pinned("x", b, &[])]).unwrap();
        assert!(!again.contains("[images.x.platforms]"), "{again}");
        assert!(again.contains("# about x\n[images.x] # x\n"), "{again}");
        let lock: Lock = toml::from_str(&again).unwrap();
        assert_eq!(lock.images["odd name"].digest, Some(c));
    }
}
