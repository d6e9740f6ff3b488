//! `manifest.json`: one versioned, documented type with sorted lists (as
//! cargo-dist's manifest), and the release version derived from it.
//!
//! Schema version 1. `files` are the bundle's files sorted by path, with the
//! mode and numeric owner they get on the VM; `images` are sorted by
//! service; `cloud_init` names every boot artifact beside the bundle.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::{Key, Sha256};
use crate::images::{env_lock, Pinned};
use crate::render::File;
use crate::version::Version;

/// 2: secret-bearing files carry `hmac_sha256` (under the release key)
/// instead of `sha256` and no size; the version is keyed too.
pub const SCHEMA_VERSION: u32 = 2;

pub const BUILT_BY: &str = concat!("torrust-bake ", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: String,
    #[serde(flatten)]
    pub digest: ContentDigest,
    /// Left out for secret files: a length says something about a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Permission bits, written in octal: "0644".
    pub mode: Mode,
    /// Numeric owner on the VM, written "uid:gid".
    pub owner: Owner,
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
    pub version: Version,
    /// The torrust-bake that built it: a new tool may render differently,
    /// so it is part of the version.
    pub built_by: String,
    pub files: Vec<ManifestFile>,
    /// The environment's own image lock (`images/<env>.lock`) when the
    /// images came from it. Absent for the shared `images/images.lock`, so
    /// that releases built from it keep the bytes (and versions) they had
    /// before environments could have locks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_lock: Option<String>,
    pub images: Vec<ManifestImage>,
    /// Set once the cloud-init artifacts exist (they carry the version, so
    /// they are derived from it rather than hashed into it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<CloudInitInfo>,
}

/// A file's fingerprint: SHA-256, or for a file that holds a secret (or is
/// built from one) HMAC-SHA256 under the release key, so that the manifest
/// (0644, published with the release) is no offline check of a password.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ContentDigest {
    #[serde(rename = "sha256")]
    Sha256(Sha256),
    #[serde(rename = "hmac_sha256")]
    Keyed(Sha256),
}

impl ContentDigest {
    pub fn of(bytes: &[u8], secret: bool, key: &Key) -> ContentDigest {
        if secret {
            ContentDigest::Keyed(key.mac(bytes))
        } else {
            ContentDigest::Sha256(Sha256::of(bytes))
        }
    }
}

/// What the manifest records about the boot artifacts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CloudInitInfo {
    /// Size of `user-data` in bytes; Hetzner accepts at most `user_data_limit`.
    pub user_data_bytes: u64,
    pub user_data_limit: u64,
    /// Release-level files beside the bundle: name -> digest.
    pub artifacts: BTreeMap<String, ContentDigest>,
}

impl Manifest {
    /// The manifest of rendered files (sorted by path) and images, with its
    /// version: a digest of everything else in it plus `also_versioned`
    /// (inputs of later artifacts that the manifest does not list), so equal
    /// inputs give an equal version and any change gives a new one.
    pub fn new(
        env: &str,
        files: &[File],
        pinned: &Pinned,
        also_versioned: &str,
        key: &Key,
    ) -> anyhow::Result<Manifest> {
        let mut manifest = Manifest {
            schema_version: SCHEMA_VERSION,
            env: env.to_string(),
            version: Version::pending(),
            built_by: BUILT_BY.to_string(),
            files: files.iter().map(|f| manifest_file(f, key)).collect(),
            image_lock: env_lock::own_lock(&pinned.lock).map(str::to_string),
            images: pinned
                .images
                .iter()
                .map(|i| ManifestImage {
                    service: i.service.clone(),
                    reference: i.reference.clone(),
                    digest: i.digest.clone(),
                })
                .collect(),
            cloud_init: None,
        };
        manifest.version = manifest.keyed_version(also_versioned, key)?;
        Ok(manifest)
    }

    /// The version of this manifest's content and `also_versioned`: the
    /// HMAC under `key` of the manifest as it stands before it has a version
    /// or cloud-init artifacts, then `also_versioned`. `new` sets it;
    /// `verify` recomputes it from a stored manifest, the one way both.
    pub fn keyed_version(&self, also_versioned: &str, key: &Key) -> anyhow::Result<Version> {
        let unversioned = Manifest {
            version: Version::pending(),
            cloud_init: None,
            ..self.clone()
        };
        let mut bytes = serde_json::to_vec(&unversioned)?;
        bytes.extend_from_slice(also_versioned.as_bytes());
        // Keyed: `also_versioned` holds user-data, secrets included.
        Ok(Version::from_digest(&key.mac(&bytes).to_string()))
    }

    /// `manifest.json` as written: pretty JSON and a final newline.
    pub fn to_json(&self) -> anyhow::Result<Vec<u8>> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        Ok(json)
    }
}

/// Permission bits (at most 0o7777), written as four octal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match u32::from_str_radix(&text, 8) {
            Ok(bits) if text.len() == 4 && bits <= 0o7777 => Ok(Mode(bits)),
            _ => Err(serde::de::Error::custom(format!(
                "'{text}' is not a file mode (four octal digits)"
            ))),
        }
    }
}

/// A numeric owner, written "uid:gid".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

impl Serialize for Owner {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Owner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = text
            .split_once(':')
            .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)));
        match parsed {
            Some((uid, gid)) => Ok(Owner { uid, gid }),
            None => Err(serde::de::Error::custom(format!(
                "'{text}' is not a numeric owner (uid:gid)"
            ))),
        }
    }
}

fn manifest_file(f: &File, key: &Key) -> ManifestFile {
    ManifestFile {
        path: f.path.clone(),
        digest: ContentDigest::of(&f.content, f.secret, key),
        size: (!f.secret).then_some(f.content.len() as u64),
        mode: Mode(f.mode),
        owner: Owner {
            uid: f.uid,
            gid: f.gid,
        },
        secret: f.secret,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_images(lock: &str) -> Pinned {
        Pinned {
            lock: lock.into(),
            images: Vec::new(),
        }
    }

    fn shared() -> Pinned {
        no_images(crate::images::LOCK_PATH)
    }

    #[test]
    fn version_follows_content() {
        let key = Key::new("k");
        let v = |content: &str, also: &str| {
            Manifest::new(
                "local",
                &[File::plain("etc/a", content)],
                &shared(),
                also,
                &key,
            )
            .unwrap()
            .version
        };
        assert_eq!(v("1", ""), v("1", ""));
        assert_ne!(v("1", ""), v("2", ""));
        assert_ne!(v("1", ""), v("1", "user-data changed"));
        assert_eq!(v("1", "").as_str().len(), 12);
        let other = Manifest::new(
            "local",
            &[File::plain("etc/a", "1")],
            &shared(),
            "",
            &Key::new("k2"),
        );
        assert_ne!(other.unwrap().version, v("1", ""), "the key is an input");
    }

    /// Only an environment's own lock is recorded: a release from the
    /// shared lock has the bytes it had before locks per environment.
    #[test]
    fn an_environments_own_lock_is_recorded() {
        let key = Key::new("k");
        let files = [File::plain("etc/a", "1")];
        let m = |lock| Manifest::new("dev", &files, &no_images(lock), "", &key).unwrap();
        let shared = m("images/images.lock");
        let own = m("images/dev.lock");
        let json = String::from_utf8(shared.to_json().unwrap()).unwrap();
        assert!(!json.contains("image_lock"), "{json}");
        assert_eq!(own.image_lock.as_deref(), Some("images/dev.lock"));
        let json = String::from_utf8(own.to_json().unwrap()).unwrap();
        assert!(
            json.contains("\"image_lock\": \"images/dev.lock\""),
            "{json}"
        );
        assert_ne!(own.version, shared.version);
    }

    #[test]
    fn secret_files_are_keyed_and_sizeless() {
        let key = Key::new("k");
        let mut secret = File::plain("opt/secret", "hunter2");
        secret.secret = true;
        let m = Manifest::new(
            "local",
            &[File::plain("etc/a", "1"), secret],
            &shared(),
            "",
            &key,
        )
        .unwrap();
        let json = String::from_utf8(m.to_json().unwrap()).unwrap();
        let plain = crate::digest::sha256_hex(b"hunter2");
        assert!(
            !json.contains(&plain),
            "an unkeyed hash of a secret: {json}"
        );
        assert!(json.contains(&key.mac(b"hunter2").to_string()));
        assert_eq!(m.files[1].size, None);
        assert_eq!(m.files[0].size, Some(1));
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn modes_and_owners_are_typed() {
        let m: Mode = serde_json::from_str("\"0755\"").unwrap();
        assert_eq!(m, Mode(0o755));
        assert_eq!(serde_json::to_string(&Mode(0o600)).unwrap(), "\"0600\"");
        assert!(serde_json::from_str::<Mode>("\"0999\"").is_err());
        assert!(serde_json::from_str::<Mode>("\"17777\"").is_err());
        let o: Owner = serde_json::from_str("\"1000:1000\"").unwrap();
        assert_eq!(
            o,
            Owner {
                uid: 1000,
                gid: 1000
            }
        );
        assert!(serde_json::from_str::<Owner>("\"root:root\"").is_err());
    }
}
