//! `diff`: what changed between two releases, file by file, as unified
//! diffs: the bundle's files and what the VM receives beside them
//! (user-data, meta-data, network-config). Both releases are verified
//! against their checksums first. Secret-bearing files are compared through their redacted twins
//! (rendered with stand-ins at build time), so a secret value never prints;
//! a change only in a secret value is reported as such.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::release::store::read_manifest;
use crate::release::ManifestFile;

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Added,
    Removed,
    Modified,
}

#[derive(Debug, Serialize)]
pub struct Change {
    pub path: String,
    pub change: Kind,
    /// Mode or owner changes, e.g. "mode 0644 -> 0600".
    pub metadata: Vec<String>,
    /// Unified diff of the content; secrets redacted.
    pub diff: Option<String>,
    /// True when a secret value changed (not shown).
    pub secret_changed: bool,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self.change {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Modified => "modified",
        };
        write!(f, "{word}: {}", self.path)?;
        for m in &self.metadata {
            write!(f, "\n  {m}")?;
        }
        if self.secret_changed {
            write!(f, "\n  a secret value changed (not shown)")?;
        }
        if let Some(d) = &self.diff {
            write!(f, "\n{}", d.trim_end())?;
        }
        Ok(())
    }
}

/// The text `diff` may show for a file: the real content, or the redacted twin.
fn shown_text(dir: &Path, f: &ManifestFile) -> Result<String> {
    let sub = if f.secret { "redacted" } else { "bundle" };
    let path = dir.join(sub).join(&f.path);
    let bytes = crate::release::store::read_regular(&path)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn unified(a: &str, b: &str, from: &str, to: &str) -> String {
    similar::TextDiff::from_lines(a, b)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

/// Refuses a release whose files are not what its checksums say: a diff of
/// the manifests would hide exactly the edit that matters.
fn verified(dir: &Path) -> Result<()> {
    let findings = crate::release::verify::verify(dir, None)?;
    if findings.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = findings
        .iter()
        .take(5)
        .map(|f| format!("{}: {}", f.path, f.problem))
        .collect();
    Err(crate::error::Error::invalid(format!(
        "{} does not match its checksums ({} differences: {}); it was changed after it was built: build it again, and see `torrust-bake verify`",
        dir.display(),
        findings.len(),
        listed.join("; ")
    ))
    .into())
}

/// The boot files a VM receives beside the bundle, as `diff` may show
/// them: user-data through its twin without the archive and checksums.
const BOOT_FILES: [(&str, &str); 3] = [
    ("user-data", "redacted/user-data"),
    ("meta-data", "meta-data"),
    ("network-config", "network-config"),
];

fn boot_changes(a: &Path, b: &Path, va: &str, vb: &str) -> Vec<Change> {
    let read = |dir: &Path, rel: &str| crate::release::store::read_regular(&dir.join(rel)).ok();
    let mut out = Vec::new();
    for (name, rel) in BOOT_FILES {
        let (ta, tb) = (read(a, rel), read(b, rel));
        if ta == tb {
            continue;
        }
        let text = |t: &Option<Vec<u8>>| {
            String::from_utf8_lossy(t.as_deref().unwrap_or_default()).into_owned()
        };
        let (from, to) = (format!("{va}/{name}"), format!("{vb}/{name}"));
        let (change, from, to) = match (&ta, &tb) {
            (None, _) => (Kind::Added, "/dev/null".to_string(), to),
            (_, None) => (Kind::Removed, from, "/dev/null".to_string()),
            _ => (Kind::Modified, from, to),
        };
        // The version is in the boot files' paths and ids: lines that
        // differ only by it are hidden and counted (#29 item 10: a one-line
        // change showed a user-data hunk four times its size).
        let (xa, xb) = (
            text(&ta).replace(va, VERSION),
            text(&tb).replace(vb, VERSION),
        );
        let only_version = version_only_lines(&text(&ta), &xa, &text(&tb), &xb);
        let metadata = if only_version > 0 {
            vec![format!(
                "{only_version} line(s) differ only in the release version (hidden)"
            )]
        } else {
            vec![]
        };
        out.push(Change {
            path: name.to_string(),
            change,
            metadata,
            diff: (xa != xb).then(|| unified(&xa, &xb, &from, &to)),
            secret_changed: false,
        });
    }
    out
}

/// What a release's version becomes in a boot file's shown diff.
const VERSION: &str = "<version>";

/// Lines that changed between `a` and `b` but are equal once each side's
/// version is `VERSION` (`xa`, `xb`).
fn version_only_lines(a: &str, xa: &str, b: &str, xb: &str) -> usize {
    let removed = |a: &str, b: &str| {
        similar::TextDiff::from_lines(a, b)
            .iter_all_changes()
            .filter(|c| c.tag() == similar::ChangeTag::Delete)
            .count()
    };
    removed(a, b).saturating_sub(removed(xa, xb))
}

pub fn diff_releases(a: &Path, b: &Path) -> Result<Vec<Change>> {
    verified(a)?;
    verified(b)?;
    let ma = read_manifest(a)?;
    let mb = read_manifest(b)?;
    let fa: BTreeMap<&str, &ManifestFile> = ma.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let fb: BTreeMap<&str, &ManifestFile> = mb.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut paths: Vec<&str> = fa.keys().chain(fb.keys()).copied().collect();
    paths.sort_unstable();
    paths.dedup();
    let mut out = Vec::new();
    for path in paths {
        let from = format!("{}/{path}", ma.version);
        let to = format!("{}/{path}", mb.version);
        let change = match (fa.get(path), fb.get(path)) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(x), Some(y)) => {
                let mut metadata = Vec::new();
                if x.mode != y.mode {
                    metadata.push(format!("mode {} -> {}", x.mode, y.mode));
                }
                if x.owner != y.owner {
                    metadata.push(format!("owner {} -> {}", x.owner, y.owner));
                }
                let (ta, tb) = (shown_text(a, x)?, shown_text(b, y)?);
                let content_changed = x.digest != y.digest;
                let diff = (ta != tb).then(|| unified(&ta, &tb, &from, &to));
                Change {
                    path: path.to_string(),
                    change: Kind::Modified,
                    metadata,
                    secret_changed: content_changed && diff.is_none() && (x.secret || y.secret),
                    diff,
                }
            }
            (None, Some(y)) => Change {
                path: path.to_string(),
                change: Kind::Added,
                metadata: vec![],
                diff: Some(unified("", &shown_text(b, y)?, "/dev/null", &to)),
                secret_changed: false,
            },
            (Some(x), None) => Change {
                path: path.to_string(),
                change: Kind::Removed,
                metadata: vec![],
                diff: Some(unified(&shown_text(a, x)?, "", &from, "/dev/null")),
                secret_changed: false,
            },
            (None, None) => unreachable!("path comes from one of the maps"),
        };
        out.push(change);
    }
    out.extend(boot_changes(a, b, ma.version.as_str(), mb.version.as_str()));
    Ok(out)
}
