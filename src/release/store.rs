//! The release store, `releases/<env>/<version>/`: writing a release
//! atomically, reading one back, listing an environment's releases, and
//! checking a release against its `SHA256SUMS`.
//!
//! A release is written to a temporary directory beside its final place and
//! renamed into it: a failure leaves nothing behind. The release directory
//! is 0700; secret files are 0600.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::manifest::Manifest;
use super::Release;
use crate::digest::sha256_hex;
use crate::error::{Error, Kind};

/// `releases/<env>` under a project.
pub fn env_dir(project: &Path, env: &str) -> PathBuf {
    project.join("releases").join(env)
}

pub fn mkdir_private(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Writes new files under one directory, creating each parent once (a
/// release has ~30 files in ~25 directories; repeated `mkdir` calls were a
/// visible share of the build time).
struct Writer {
    made: BTreeSet<PathBuf>,
}

impl Writer {
    fn write(&mut self, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        if let Some(parent) = path.parent() {
            if !self.made.contains(parent) {
                mkdir_private(parent)?;
                self.made.insert(parent.to_path_buf());
            }
        }
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        // The umask may have dropped bits the bundle needs (e.g. 0755
        // scripts); 0600 survives any umask that lets the owner write.
        if mode != 0o600 {
            f.set_permissions(fs::Permissions::from_mode(mode))
                .with_context(|| format!("setting the mode of {}", path.display()))?;
        }
        Ok(())
    }
}

/// What `write` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    New,
    /// The same release was there, every file as its checksums say.
    Unchanged,
    /// The same release was there but its files were not what its checksums
    /// say (edited by hand?): it was written again.
    Repaired(Vec<super::verify::Finding>),
}

/// Writes every file of `release` under `dir` (a fresh directory).
fn write_files(dir: &Path, release: &Release) -> Result<()> {
    let mut w = Writer {
        made: BTreeSet::from([dir.to_path_buf()]),
    };
    for f in &release.files {
        // On the build host every bundle file is private to the builder;
        // the manifest carries the mode and owner the VM applies.
        let mode = if f.secret { 0o600 } else { f.mode };
        w.write(&dir.join("bundle").join(&f.path), &f.content, mode)?;
    }
    for f in &release.redacted {
        w.write(&dir.join("redacted").join(&f.path), &f.content, 0o600)?;
    }
    w.write(
        &dir.join("redacted").join("user-data"),
        release.shown_user_data.as_bytes(),
        0o600,
    )?;
    w.write(&dir.join("bundle.tar.zst"), &release.tarball, 0o600)?;
    for a in &release.artifacts {
        w.write(&dir.join(&a.name), &a.bytes, a.mode)?;
    }
    w.write(&dir.join("manifest.json"), &release.manifest_json, 0o644)?;
    w.write(
        &dir.join("SHA256SUMS"),
        release.sha256sums.as_bytes(),
        0o644,
    )?;
    w.write(
        &dir.join(SECRET_SUMS),
        release.secret_sums.as_bytes(),
        0o600,
    )
}

/// The checksum list of secret-bearing files (0600).
pub const SECRET_SUMS: &str = "SHA256SUMS.secret";

/// Writes the release into `releases/<env>/<version>/` atomically.
pub fn write(project: &Path, release: &Release) -> Result<(PathBuf, Written)> {
    let env_dir = env_dir(project, &release.manifest.env);
    mkdir_private(&env_dir)?;
    let target = env_dir.join(&release.manifest.version);
    let mut outcome = Written::New;
    if let Ok(existing) = fs::read(target.join("manifest.json")) {
        if existing == release.manifest_json {
            // Same manifest: unchanged only if every file is what it says.
            match super::verify::verify(&target, None) {
                Ok(findings) if findings.is_empty() => return Ok((target, Written::Unchanged)),
                Ok(findings) => outcome = Written::Repaired(findings),
                Err(e) => {
                    outcome = Written::Repaired(vec![super::verify::Finding {
                        path: "manifest.json".into(),
                        problem: format!("{e:#}"),
                    }])
                }
            }
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}-", release.manifest.version))
        .tempdir_in(&env_dir)
        .with_context(|| format!("creating a temporary directory in {}", env_dir.display()))?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700))?;
    write_files(tmp.path(), release)?;
    let kept = tmp.keep();
    if target.exists() {
        // A release with this version but other bytes (edited by hand):
        // move it aside, put the new one in place, then delete the old.
        let old = env_dir.join(format!(".{}-replaced", release.manifest.version));
        let _ = fs::remove_dir_all(&old);
        fs::rename(&target, &old).with_context(|| format!("moving {} aside", target.display()))?;
        fs::rename(&kept, &target)
            .with_context(|| format!("renaming into {}", target.display()))?;
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    } else if let Err(e) = fs::rename(&kept, &target) {
        let _ = fs::remove_dir_all(&kept);
        return Err(e).with_context(|| format!("renaming into {}", target.display()));
    }
    Ok((target, outcome))
}

/// Reads a release's `manifest.json`; a missing one is `NotFound`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let bytes = match fs::read(&path) {
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

/// Checks every file `SHA256SUMS` and `SHA256SUMS.secret` list, as
/// `sha256sum -c` would; a list that names a path outside the release is
/// refused.
pub fn check_sums(dir: &Path) -> Result<Vec<Mismatch>> {
    let mut out = Vec::new();
    for list in ["SHA256SUMS", SECRET_SUMS] {
        let path = dir.join(list);
        match fs::read_to_string(&path) {
            Ok(text) => out.extend(check_list(dir, &path, &text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && list == SECRET_SUMS => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    Ok(out)
}

fn check_list(dir: &Path, list: &Path, text: &str) -> Result<Vec<Mismatch>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let (sum, path) = line.split_once("  ").with_context(|| {
            format!(
                "{} has a line that is not `<sha256>  <path>`",
                list.display()
            )
        })?;
        if !is_inside(path) {
            return Err(Error::invalid(format!(
                "{} names a path outside the release: {path}",
                list.display()
            ))
            .into());
        }
        let problem = match fs::read(dir.join(path)) {
            Err(_) => Some("missing"),
            Ok(bytes) if sha256_hex(&bytes) != sum => Some("differs"),
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            out.push(Mismatch {
                path: path.to_string(),
                problem,
            });
        }
    }
    Ok(out)
}
