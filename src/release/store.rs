//! The release store, `releases/<env>/<version>/` (0700): its paths,
//! reading a release back, listing an environment's releases, and checking
//! a release against its checksum lists. Writing is `write.rs`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::manifest::Manifest;
use crate::digest::sha256_hex;
use crate::error::{Error, Kind};

/// `releases/<env>` under a project.
pub fn env_dir(project: &Path, env: &str) -> PathBuf {
    project.join("releases").join(env)
}

/// The checksum list of secret-bearing files (0600).
pub const SECRET_SUMS: &str = "SHA256SUMS.secret";

/// Creates `releases/<env>` (0700) if needed, saying what is wrong when a
/// symlink or a file is in the way.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    for path in dir.ancestors().take(2) {
        if let Ok(meta) = fs::symlink_metadata(path) {
            if meta.file_type().is_symlink() && !path.exists() {
                let to = fs::read_link(path).unwrap_or_default();
                return Err(Error::invalid(format!(
                    "{} is a symlink to {}, which does not exist; create that directory or remove the link",
                    path.display(),
                    to.display()
                ))
                .into());
            }
            if !path.is_dir() {
                return Err(Error::invalid(format!(
                    "{} is not a directory; move it away so releases can be written there",
                    path.display()
                ))
                .into());
            }
        }
    }
    mkdir_private(dir)
}

pub fn mkdir_private(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// A release file's bytes, only if it is a regular file: a symlink planted
/// in a release must not lead a reader elsewhere (a secret, /etc/shadow),
/// and a FIFO or device must not hang or exhaust one.
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    fs::read(path)
}

/// Reads a release's `manifest.json`; a missing one is `NotFound`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let bytes = match read_regular(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(
                Kind::NotFound,
                format!(
                    "no release at {}; list releases with `ls {}`",
                    dir.display(),
                    dir.parent()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            )
            .into())
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let manifest: Manifest =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    for f in &manifest.files {
        if !is_inside(&f.path) {
            return Err(Error::invalid(format!(
                "{} names a path outside the release: {:?}; the release was tampered with: build it again",
                path.display(),
                f.path
            ))
            .into());
        }
    }
    Ok(manifest)
}

/// A relative path of plain names: no `..`, no root, no `.`.
pub fn is_inside(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The versions under `releases/<env>/`, sorted; temporary directories
/// (names starting with a dot) are not releases.
pub fn list(project: &Path, env: &str) -> Result<Vec<String>> {
    let dir = env_dir(project, env);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut versions = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().join("manifest.json").is_file() {
            versions.push(name);
        }
    }
    versions.sort();
    Ok(versions)
}

/// One line of `SHA256SUMS` that the release on disk does not match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    pub path: String,
    /// `missing`, or `differs`.
    pub problem: &'static str,
}

/// Both checksum lists as path -> sha256 (`SHA256SUMS.secret` may be
/// absent in releases made before it existed); a line that is not
/// `<sha256>  <path>`, or a path outside the release, is refused.
pub fn read_sums(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for list in ["SHA256SUMS", SECRET_SUMS] {
        let path = dir.join(list);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && list == SECRET_SUMS => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        for line in text.lines() {
            let (sum, file) = line.split_once("  ").with_context(|| {
                format!(
                    "{} has a line that is not `<sha256>  <path>`",
                    path.display()
                )
            })?;
            if !is_inside(file) {
                let message = format!(
                    "{} names a path outside the release: {file}",
                    path.display()
                );
                return Err(Error::invalid(message).into());
            }
            out.insert(file.to_string(), sum.to_string());
        }
    }
    Ok(out)
}

/// Checks every listed file as `sha256sum -c` would.
pub fn check_sums(dir: &Path, sums: &BTreeMap<String, String>) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (path, sum) in sums {
        let problem = match read_regular(&dir.join(path)) {
            Err(_) => Some("missing"),
            Ok(bytes) if sha256_hex(&bytes) != *sum => Some("differs"),
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            out.push(Mismatch {
                path: path.clone(),
                problem,
            });
        }
    }
    out
}
