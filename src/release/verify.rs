//! Is a release on disk what it says it is? Every file against the two
//! checksum lists, the lists against the manifest, secret-bearing files
//! against their keyed digests (when the release key is at hand), and no
//! file that no list names. What `verify` reports, and what `build` checks
//! before it calls an existing release unchanged.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::manifest::{ContentDigest, Manifest};
use super::store::{self, SECRET_SUMS};
use crate::digest::Key;

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
            (key.mac(&bytes) != *d).then(|| {
                finding(
                    path,
                    "differs from its digest under the release key (or the key changed)",
                )
            })
        }
        _ => None,
    }
}

/// Everything that differs; empty when the release is what it says.
pub fn verify(dir: &Path, key: Option<&Key>) -> Result<Vec<Finding>> {
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
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup();
    Ok(out)
}
