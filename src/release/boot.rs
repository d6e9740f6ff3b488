//! Boot media for a release: cloud-init user-data, meta-data and
//! network-config, and the NoCloud seeds that carry them (seed.iso,
//! seed.img, optionally seed.qcow2). What the provider needs decides what
//! must fit: Hetzner takes user-data of at most 32 KiB.

use anyhow::Result;

use super::archive;
use crate::cloudinit::CloudInit;
use crate::config::provider::{BootMedia, HETZNER_USER_DATA_LIMIT};
use crate::config::Config;
use crate::error::Error;
use crate::render::File;
use crate::seed::{self, SeedFile};

/// A release-level file (user-data, seeds): name, bytes, mode on the build host.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub bytes: Vec<u8>,
    pub mode: u32,
    /// Holds a secret or is built from one (user-data, the seeds).
    pub secret: bool,
}

/// Fails (exit 1) when the provider's limit on user-data is exceeded,
/// naming the files that weigh most.
pub fn check_fits(config: &Config, files: &[File], user_data: &str) -> Result<()> {
    let size = user_data.len() as u64;
    let BootMedia::UserData { limit } = config.provider.boot_media() else {
        return Ok(());
    };
    if size <= limit {
        return Ok(());
    }
    let top: Vec<String> = archive::largest(files, 5)
        .into_iter()
        .map(|(path, gz)| format!("{path} ({gz} bytes gzip'd)"))
        .collect();
    Err(Error::invalid(format!(
        "user-data is {size} bytes, over {}'s limit of {limit}; the largest contributors: {}; shrink them (templates/) or drop optional services",
        config.provider.display_name(),
        top.join(", ")
    ))
    .into())
}

fn seed_files(ci: &CloudInit) -> Vec<SeedFile> {
    let mut files = vec![
        SeedFile {
            name: "meta-data".into(),
            bytes: ci.meta_data.clone().into_bytes(),
            secret: false,
        },
        SeedFile {
            name: "user-data".into(),
            bytes: ci.user_data.clone().into_bytes(),
            secret: true,
        },
    ];
    if let Some(n) = &ci.network_config {
        files.push(SeedFile {
            name: "network-config".into(),
            bytes: n.clone().into_bytes(),
            secret: false,
        });
    }
    files
}

/// The cloud-init files and the seeds, sorted by name; seed.qcow2 only
/// `with_qcow2`.
pub fn artifacts(ci: &CloudInit, with_qcow2: bool) -> Result<Vec<Artifact>> {
    let files = seed_files(ci);
    let mut out: Vec<Artifact> = files
        .iter()
        .map(|f| Artifact {
            name: f.name.clone(),
            bytes: f.bytes.clone(),
            mode: if f.secret { 0o600 } else { 0o644 },
            secret: f.secret,
        })
        .collect();
    let secret = |name: &str, bytes: Vec<u8>| Artifact {
        name: name.into(),
        bytes,
        mode: 0o600,
        secret: true,
    };
    out.push(secret("seed.iso", seed::iso9660::build("cidata", &files)?));
    let img = seed::fat::build("CIDATA", &files)?;
    if with_qcow2 {
        out.push(secret("seed.qcow2", seed::qcow2::from_raw(&img)?));
    }
    out.push(secret("seed.img", img));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// user-data as `diff` may show it: the bundle archive and its checksum
/// list (secrets, and plain digests of secrets) replaced by placeholders,
/// everything else (users, SSH keys, commands, the install script) as is.
/// The bundle's files are compared one by one through their own twins.
pub fn shown_user_data(user_data: &str, archive_sha256: &str) -> Result<String> {
    let mut doc: serde_json::Value = serde_saphyr::from_str(user_data)?;
    if let Some(files) = doc["write_files"].as_array_mut() {
        for f in files {
            let path = f["path"].as_str().unwrap_or_default().to_string();
            if path.ends_with("/bundle.tar.gz") {
                f["content"] = "(the bundle archive; its files are compared one by one)".into();
            } else if path.ends_with("/SHA256SUMS") {
                f["content"] = "(the checksums of the bundle files)".into();
            } else if let Some(text) = f["content"].as_str() {
                // The install script checks the archive's plain SHA-256: a
                // digest of secret-bearing content, not for display.
                f["content"] = text
                    .replace(archive_sha256, "(the archive's sha256)")
                    .into();
            }
        }
    }
    Ok(serde_saphyr::to_string(&doc)?)
}

/// Hetzner's limit is recorded in every manifest, whatever the provider:
/// it tells how close a release is to being deployable there.
pub const RECORDED_USER_DATA_LIMIT: u64 = HETZNER_USER_DATA_LIMIT;
