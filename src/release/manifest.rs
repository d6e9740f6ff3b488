//! `manifest.json`: one versioned, documented type with sorted lists (as
//! cargo-dist's manifest), and the release version derived from it.
//!
//! Schema version 1. `files` are the bundle's files sorted by path, with the
//! mode and numeric owner they get on the VM; `images` are sorted by
//! service; `cloud_init` names every boot artifact beside the bundle.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;
use crate::images::ResolvedImage;
use crate::render::File;

pub const SCHEMA_VERSION: u32 = 1;

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
    pub artifacts: BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest of rendered files (sorted by path) and images, with its
    /// version: a digest of everything else in it plus `also_versioned`
    /// (inputs of later artifacts that the manifest does not list), so equal
    /// inputs give an equal version and any change gives a new one.
    pub fn new(
        env: &str,
        files: &[File],
        images: &[ResolvedImage],
        also_versioned: &str,
    ) -> anyhow::Result<Manifest> {
        let mut manifest = Manifest {
            schema_version: SCHEMA_VERSION,
            env: env.to_string(),
            version: String::new(),
            files: files.iter().map(manifest_file).collect(),
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
        let mut unversioned = serde_json::to_vec(&manifest)?;
        unversioned.extend_from_slice(also_versioned.as_bytes());
        manifest.version = sha256_hex(&unversioned)[..crate::version::LEN].to_string();
        Ok(manifest)
    }

    /// `manifest.json` as written: pretty JSON and a final newline.
    pub fn to_json(&self) -> anyhow::Result<Vec<u8>> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        Ok(json)
    }
}

fn manifest_file(f: &File) -> ManifestFile {
    ManifestFile {
        path: f.path.clone(),
        sha256: sha256_hex(&f.content),
        size: f.content.len() as u64,
        mode: format!("{:04o}", f.mode),
        owner: format!("{}:{}", f.uid, f.gid),
        secret: f.secret,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn file(path: &str, content: &str) -> File {
        File {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            secret: false,
        }
    }

    #[test]
    fn version_follows_content() {
        let v = |content: &str, also: &str| {
            Manifest::new("local", &[file("etc/a", content)], &[], also)
                .unwrap()
                .version
        };
        assert_eq!(v("1", ""), v("1", ""));
        assert_ne!(v("1", ""), v("2", ""));
        assert_ne!(v("1", ""), v("1", "user-data changed"));
        assert_eq!(v("1", "").len(), 12);
    }
}
