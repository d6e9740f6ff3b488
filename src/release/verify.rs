//! Is a release on disk what it says it is? Every file against the two
//! checksum lists, the lists against the manifest, secret-bearing files
//! against their keyed digests and the version against its HMAC,
//! recomputed from the stored manifest and cloud-init files (when the
//! release key is at hand: without it, a file edited together with its
//! lines in the lists and the manifest passes), and no file that no list
//! names. What `verify` reports, and what `build` checks
//! before it calls an existing release unchanged.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::manifest::{ContentDigest, Manifest};
use super::store::{self, SECRET_SUMS};
use crate::digest::Key;
use crate::version::{Version, STAND_IN};

/// One way the release on disk differs from what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: String,
    pub problem: String,
}

fn finding(path: &str, problem: impl Into<String>) -> Finding {
    Finding {
        path: path.to_string(),
        problem: problem.into(),
    }
}

/// Every entry under `dir` that is not a directory (relative paths; a
/// symlink counts as a file, so it shows as unlisted or differing), except
/// the checksum lists themselves.
pub fn files_on_disk(dir: &Path, rel: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in
        fs::read_dir(dir.join(rel)).with_context(|| format!("reading {}", dir.display()))?
    {
        let entry = entry?;
        let path = rel.join(entry.file_name());
        let text = path.to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            files_on_disk(dir, &path, out)?;
        } else if text != "SHA256SUMS" && text != SECRET_SUMS {
            out.push(text);
        }
    }
    Ok(())
}

/// How a keyed digest that does not match begins.
const KEYED_PROBLEM: &str = "differs from its digest under the release key";

/// Compares the manifest's digest of `path` with the lists and, for a
/// keyed digest, with the file under `key`.
fn check_digest(
    dir: &Path,
    path: &str,
    digest: &ContentDigest,
    sums: &BTreeMap<String, String>,
    key: Option<&Key>,
) -> Option<Finding> {
    let Some(listed) = sums.get(path) else {
        return Some(finding(path, "in manifest.json but in no checksum list"));
    };
    match digest {
        ContentDigest::Sha256(d) if d.to_string() != *listed => Some(finding(
            path,
            "manifest.json and the checksum list disagree",
        )),
        ContentDigest::Keyed(d) => {
            let key = key?;
            let bytes = store::read_regular(&dir.join(path)).ok()?;
            (key.mac(&bytes) != *d)
                .then(|| finding(path, format!("{KEYED_PROBLEM} (or the key changed)")))
        }
        _ => None,
    }
}

/// Everything that differs; empty when the release is what it says.
pub fn verify(dir: &Path, key: Option<&Key>) -> Result<Vec<Finding>> {
    Ok(check(dir, key)?.findings)
}

/// What `verify` found, and what it could tell of the key.
#[derive(Debug, Clone)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Under the key given, neither the version nor any keyed digest
    /// matches: most likely the key is not the one the release was built
    /// with (or every secret-bearing file was edited).
    pub key_differs: bool,
}

/// The version the stored manifest and cloud-init files give under `key`,
/// computed as `release::make` does: the cloud-init files as generated,
/// with the stand-in where the version now stands.
fn recomputed_version(dir: &Path, manifest: &Manifest, key: &Key) -> Result<Version, String> {
    let version = manifest.version.as_str();
    let read = |name: &str| -> Result<String, String> {
        let bytes = store::read_regular(&dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8"))?;
        Ok(text.replace(version, STAND_IN))
    };
    let listed = |name: &str| {
        manifest
            .cloud_init
            .as_ref()
            .is_some_and(|ci| ci.artifacts.contains_key(name))
    };
    let network_config = if listed("network-config") {
        Some(read("network-config")?)
    } else {
        None
    };
    let text = super::versioned_text(
        &read("user-data")?,
        &read("meta-data")?,
        network_config.as_deref(),
    );
    manifest
        .keyed_version(&text, key)
        .map_err(|e| format!("serializing the manifest: {e}"))
}

/// The version's HMAC, recomputed: the one check a consistent edit (a
/// file, its line in SHA256SUMS and its digest in manifest.json) cannot
/// pass without the release key. `None` when it matches.
fn check_version(dir: &Path, manifest: &Manifest, key: &Key) -> Option<Finding> {
    match recomputed_version(dir, manifest, key) {
        Ok(v) if v == manifest.version => None,
        Ok(_) => Some(finding(
            "manifest.json",
            format!(
                "version {} is not the HMAC of this manifest and the cloud-init files under the release key: they were edited to agree with each other (or the key changed)",
                manifest.version
            ),
        )),
        Err(why) => Some(finding(
            "manifest.json",
            format!("the version cannot be recomputed ({why})"),
        )),
    }
}

/// `verify`, and whether the key looks like another one.
pub fn check(dir: &Path, key: Option<&Key>) -> Result<Report> {
    let manifest: Manifest = store::read_manifest(dir)?;
    let sums = store::read_sums(dir)?;
    let mut out: Vec<Finding> = store::check_sums(dir, &sums)
        .into_iter()
        .map(|m| finding(&m.path, format!("{} (checksum list)", m.problem)))
        .collect();
    for f in &manifest.files {
        let path = format!("bundle/{}", f.path);
        out.extend(check_digest(dir, &path, &f.digest, &sums, key));
    }
    if let Some(ci) = &manifest.cloud_init {
        for (name, digest) in &ci.artifacts {
            out.extend(check_digest(dir, name, digest, &sums, key));
        }
    }
    let mut on_disk = Vec::new();
    files_on_disk(dir, Path::new(""), &mut on_disk)?;
    for path in on_disk {
        if !sums.contains_key(&path) {
            out.push(finding(&path, "not in any checksum list (added by hand?)"));
        }
    }
    if dir.file_name().and_then(|n| n.to_str()) != Some(manifest.version.as_str()) {
        out.push(finding(
            "manifest.json",
            format!(
                "says version {}, but the release sits in {}",
                manifest.version,
                dir.display()
            ),
        ));
    }
    let mut key_differs = false;
    if let Some(key) = key {
        let version = check_version(dir, &manifest, key);
        // A wrong key fails every keyed digest at once, and the version.
        let keyed: Vec<&str> = manifest
            .files
            .iter()
            .filter(|f| matches!(f.digest, ContentDigest::Keyed(_)))
            .map(|f| f.path.as_str())
            .collect();
        let keyed_failed = out
            .iter()
            .filter(|f| f.problem.starts_with(KEYED_PROBLEM))
            .count();
        let artifacts_keyed = manifest.cloud_init.as_ref().map_or(0, |ci| {
            ci.artifacts
                .values()
                .filter(|d| matches!(d, ContentDigest::Keyed(_)))
                .count()
        });
        key_differs =
            version.is_some() && keyed_failed > 0 && keyed_failed == keyed.len() + artifacts_keyed;
        out.extend(version);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup();
    Ok(Report {
        findings: out,
        key_differs,
    })
}
