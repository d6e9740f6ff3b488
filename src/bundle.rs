//! The release: file tree -> manifest, content-derived version, deterministic
//! `bundle.tar.zst`, `SHA256SUMS` (the format `sha256sum -c` reads), and the
//! atomic write of `releases/<env>/<version>/`.
//!
//! Everything but `write_release` is pure. No clock, host name or random
//! value enters an artifact: tar entries carry mtime 0 and the manifest's
//! numeric owners, and entries are sorted.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::images::ResolvedImage;
use crate::render::File;

pub const MANIFEST_SCHEMA_VERSION: u32 = 1;
/// zstd level: on the ~45 KiB production tar, 12 gives 6.0 KB in ~1 ms where
/// 19 gives 5.9 KB in ~18 ms (`zstd -b12 -e19`); the VM never reads this
/// file (user-data carries gzip), so speed wins.
const ZSTD_LEVEL: i32 = 12;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// Octal permission bits, e.g. "0644".
    pub mode: String,
    /// Numeric "uid:gid" on the VM.
    pub owner: String,
    pub secret: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestImage {
    pub service: String,
    pub reference: String,
    pub digest: Option<String>,
}

/// `manifest.json`: one versioned, documented type with sorted lists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub schema_version: u32,
    pub env: String,
    pub version: String,
    pub files: Vec<ManifestFile>,
    pub images: Vec<ManifestImage>,
    /// Set once the cloud-init artifacts exist (they carry the version, so
    /// they are derived from it rather than hashed into it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<CloudInitInfo>,
}

/// What the manifest records about the boot artifacts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CloudInitInfo {
    /// Size of `user-data` in bytes; Hetzner accepts at most `user_data_limit`.
    pub user_data_bytes: u64,
    pub user_data_limit: u64,
    /// Release-level files beside the bundle: name -> sha256.
    pub artifacts: std::collections::BTreeMap<String, String>,
}

/// A release-level file (user-data, seeds): name, bytes, mode on the build host.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// Everything `build` writes, in memory.
pub struct Release {
    pub manifest: Manifest,
    pub manifest_json: Vec<u8>,
    pub tarball: Vec<u8>,
    pub sha256sums: String,
    pub files: Vec<File>,
    /// Secret files rendered with stand-ins, for `diff`.
    pub redacted: Vec<File>,
    /// user-data, meta-data, network-config, seeds.
    pub artifacts: Vec<Artifact>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Builds the release from rendered files (sorted by path) and images.
/// `also_versioned` is hashed into the version with the manifest: inputs of
/// later artifacts that the manifest does not list (the install template).
pub fn assemble(
    env: &str,
    files: Vec<File>,
    redacted: Vec<File>,
    images: &[ResolvedImage],
    also_versioned: &str,
) -> Result<Release> {
    let mut manifest = Manifest {
        schema_version: MANIFEST_SCHEMA_VERSION,
        env: env.to_string(),
        version: String::new(),
        files: files
            .iter()
            .map(|f| ManifestFile {
                path: f.path.clone(),
                sha256: sha256_hex(&f.content),
                size: f.content.len() as u64,
                mode: format!("{:04o}", f.mode),
                owner: format!("{}:{}", f.uid, f.gid),
                secret: f.secret,
            })
            .collect(),
        images: images
            .iter()
            .map(|i| ManifestImage {
                service: i.service.clone(),
                reference: i.reference.clone(),
                digest: i.digest.clone(),
            })
            .collect(),
        cloud_init: None,
    };
    // The version is a digest of everything else in the manifest, so equal
    // inputs give an equal version and any change gives a new one.
    let mut unversioned = serde_json::to_vec(&manifest)?;
    unversioned.extend_from_slice(also_versioned.as_bytes());
    manifest.version = sha256_hex(&unversioned)[..12].to_string();
    let tarball =
        zstd::bulk::compress(&tar_bytes(&files)?, ZSTD_LEVEL).context("creating bundle.tar.zst")?;
    let mut release = Release {
        manifest,
        manifest_json: Vec::new(),
        tarball,
        sha256sums: String::new(),
        files,
        redacted,
        artifacts: Vec::new(),
    };
    release.seal()?;
    Ok(release)
}

impl Release {
    /// Adds the boot artifacts and records them in the manifest.
    pub fn attach(&mut self, artifacts: Vec<Artifact>, user_data_limit: u64) -> Result<()> {
        let user_data = artifacts
            .iter()
            .find(|a| a.name == "user-data")
            .map_or(0, |a| a.bytes.len() as u64);
        self.manifest.cloud_init = Some(CloudInitInfo {
            user_data_bytes: user_data,
            user_data_limit,
            artifacts: artifacts
                .iter()
                .map(|a| (a.name.clone(), sha256_hex(&a.bytes)))
                .collect(),
        });
        self.artifacts = artifacts;
        self.seal()
    }

    /// Serializes the manifest and lists every file in SHA256SUMS.
    fn seal(&mut self) -> Result<()> {
        let mut manifest_json = serde_json::to_vec_pretty(&self.manifest)?;
        manifest_json.push(b'\n');
        let mut sums: Vec<(String, String)> = self
            .manifest
            .files
            .iter()
            .map(|f| (format!("bundle/{}", f.path), f.sha256.clone()))
            .collect();
        sums.push(("bundle.tar.zst".into(), sha256_hex(&self.tarball)));
        sums.push(("manifest.json".into(), sha256_hex(&manifest_json)));
        if let Some(ci) = &self.manifest.cloud_init {
            // Hashed once in `attach` (seed.img alone is 1 MiB).
            for (name, sum) in &ci.artifacts {
                sums.push((name.clone(), sum.clone()));
            }
        }
        sums.sort();
        self.sha256sums = sums
            .iter()
            .map(|(path, sum)| format!("{sum}  {path}\n"))
            .collect();
        self.manifest_json = manifest_json;
        Ok(())
    }
}

/// Parent directories of every file, each once, sorted.
fn directories(files: &[File]) -> BTreeSet<String> {
    let mut dirs = BTreeSet::new();
    for f in files {
        let mut p = Path::new(&f.path).parent();
        while let Some(dir) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(dir.to_string_lossy().into_owned());
            p = dir.parent();
        }
    }
    dirs
}

/// The bundle as an uncompressed ustar archive: sorted entries, directories
/// 0755 root, files with the manifest's mode and numeric owner, mtime 0.
pub fn tar_bytes(files: &[File]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut entries: Vec<(String, Option<&File>)> = directories(files)
        .into_iter()
        .map(|d| (format!("{d}/"), None))
        .collect();
    entries.extend(files.iter().map(|f| (f.path.clone(), Some(f))));
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, file) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        match file {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_uid(0);
                header.set_gid(0);
                header.set_size(0);
                header.set_cksum();
                builder.append_data(&mut header, &path, std::io::empty())?;
            }
            Some(f) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(f.mode);
                header.set_uid(f.uid.into());
                header.set_gid(f.gid.into());
                header.set_size(f.content.len() as u64);
                header.set_cksum();
                builder.append_data(&mut header, &path, f.content.as_slice())?;
            }
        }
    }
    // (zstd::bulk below: the source size is known, so zstd sizes its tables
    // to the small input; the streaming encoder took 3x longer.)
    Ok(builder.into_inner()?)
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

/// What `write_release` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    New,
    Unchanged,
}

/// Writes the release into `releases/<env>/<version>/` atomically: a
/// temporary directory beside it, then one rename. A failure leaves nothing
/// behind. The release directory is 0700; secret files are 0600.
pub fn write_release(releases: &Path, release: &Release) -> Result<(PathBuf, Written)> {
    let env_dir = releases.join(&release.manifest.env);
    mkdir_private(&env_dir)?;
    let target = env_dir.join(&release.manifest.version);
    if let Ok(existing) = fs::read(target.join("manifest.json")) {
        if existing == release.manifest_json {
            return Ok((target, Written::Unchanged));
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}-", release.manifest.version))
        .tempdir_in(&env_dir)
        .with_context(|| format!("creating a temporary directory in {}", env_dir.display()))?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700))?;
    let dir = tmp.path();
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
    Ok((target, Written::New))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str, secret: bool) -> File {
        File {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            mode: if secret { 0o600 } else { 0o644 },
            uid: 0,
            gid: 0,
            secret,
        }
    }

    #[test]
    fn version_follows_content() {
        let a = assemble("local", vec![file("etc/a", "1", false)], vec![], &[], "").unwrap();
        let b = assemble("local", vec![file("etc/a", "1", false)], vec![], &[], "").unwrap();
        let c = assemble("local", vec![file("etc/a", "2", false)], vec![], &[], "").unwrap();
        assert_eq!(a.manifest.version, b.manifest.version);
        assert_eq!(a.tarball, b.tarball);
        assert_ne!(a.manifest.version, c.manifest.version);
        assert_eq!(a.manifest.version.len(), 12);
    }

    #[test]
    fn directories_are_listed_once() {
        let files = vec![
            file("a/b/c", "", false),
            file("a/b/d", "", false),
            file("e", "", false),
        ];
        let dirs: Vec<String> = directories(&files).into_iter().collect();
        assert_eq!(dirs, vec!["a", "a/b"]);
    }
}
