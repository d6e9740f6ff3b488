//! The release pipeline as a library: a validated config, its pinned images
//! and the templates in; a written, content-addressed release out
//! (docs/ARCHITECTURE.md, "The pipeline").
//!
//! ```text
//! render (real + redacted) -> tar once -> cloud-init with a stand-in
//! version -> manifest + version -> version substituted -> seeds ->
//! SHA256SUMS -> store (atomic write)
//! ```
//!
//! Parts: `manifest` (the schema and the version), `archive` (tar, zstd,
//! gzip), `boot` (cloud-init files and seeds, the provider's size limit),
//! `write` (the crash-safe, locked write of a release directory), `store`
//! (read, list, check against SHA256SUMS), `verify` (a stored release
//! against its checksums, manifest and, with the key, its version's HMAC),
//! `inventory` (what is stored, and a safe delete), `log` (the append-only
//! JSON-lines logs beside the releases: builds and, for `deploy`,
//! deployments). `manifest`, `archive` and `boot` are pure.

pub mod archive;
pub mod boot;
pub mod inventory;
pub mod log;
pub mod manifest;
pub mod store;
pub mod verify;
pub mod write;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

pub use boot::Artifact;
pub use manifest::{CloudInitInfo, ContentDigest, Manifest, ManifestFile, ManifestImage};
pub use write::Written;

use crate::cloudinit::{self, CloudInit};
use crate::config::Config;
use crate::digest::{sha256_hex, Key, Sha256};
use crate::images::Pinned;
use crate::render::{self, File, SecretContext, Templates};
use crate::version::STAND_IN as VERSION_STAND_IN;

/// Everything a release holds, in memory.
pub struct Release {
    pub manifest: Manifest,
    pub manifest_json: Vec<u8>,
    pub tarball: Vec<u8>,
    /// `SHA256SUMS` (0644): the files that hold no secret.
    pub sha256sums: String,
    /// `SHA256SUMS.secret` (0600): the files that hold or are built from one.
    pub secret_sums: String,
    pub files: Vec<File>,
    /// Secret files rendered with stand-ins, for `diff`.
    pub redacted: Vec<File>,
    /// user-data without the archive and checksums, for `diff`.
    pub shown_user_data: String,
    /// user-data, meta-data, network-config, seeds.
    pub artifacts: Vec<Artifact>,
}

/// A release written to the store.
pub struct Built {
    pub release: Release,
    pub path: PathBuf,
    pub written: Written,
}

/// Builds the release of `config` and writes it under `project/releases/`.
pub fn build(
    project: &Path,
    config: &Config,
    images: &Pinned,
    templates: &Templates,
) -> Result<Built> {
    // One build per environment from here on.
    let lock = write::lock_env(project, config.env.as_str())?;
    // Every seed format is always written: a version's bytes must not
    // depend on which formats one build happened to ask for.
    // The build log's commit comes from git, asked while the release is made.
    let (release, path, written, commit) = std::thread::scope(|s| -> Result<_> {
        let commit = s.spawn(|| log::git_commit(project));
        let release = make(config, images, templates, Some(lock.dir()))?;
        let (path, written) = write::write(&lock, &release)?;
        Ok((release, path, written, commit.join().ok().flatten()))
    })?;
    let outcome = match written {
        Written::New => "new",
        Written::Unchanged => "unchanged",
        Written::Repaired(_) => "repaired",
    };
    let entry = log::Entry::with_commit(release.manifest.version.as_str(), outcome, commit);
    log::append(lock.dir(), &entry)?;
    Ok(Built {
        release,
        path,
        written,
    })
}

/// Builds the release in memory. `qcow2`: `Some` makes seed.qcow2 too, as
/// `build` does (the directory it names is no longer used: the image is
/// made in memory); `None` leaves it out (`deploy --dry-run`, which wants
/// the version only).
pub fn make(
    config: &Config,
    pinned: &Pinned,
    templates: &Templates,
    qcow2: Option<&Path>,
) -> Result<Release> {
    let images = &pinned.images;
    // The redacted twins on another thread, beside the real files.
    let (files, all_redacted) = std::thread::scope(|s| -> Result<_> {
        let redacted =
            s.spawn(|| render::render(templates, config, images, &SecretContext::redacted(config)));
        let files = render::render(templates, config, images, &SecretContext::real(config))?;
        let redacted = redacted
            .join()
            .unwrap_or_else(|_| Err(panicked("rendering")))?;
        Ok((files, redacted))
    })?;
    secrets_stay_in_secret_files(&files, &all_redacted)?;
    let redacted: Vec<File> = all_redacted.into_iter().filter(|f| f.secret).collect();
    let tar = archive::tar_bytes(&files)?;
    // bundle.tar.zst on another thread: nothing needs it before the release
    // is put together.
    std::thread::scope(|s| {
        let tarball = s.spawn(|| archive::zstd(&tar));
        let gz = archive::gzip(&tar).context("creating bundle.tar.gz")?;
        let payload = cloudinit::Archive {
            sha256: sha256_hex(&gz),
            gz,
        };
        // Generated once with the stand-in: anything that reaches only the
        // cloud-init files (an SSH key, an address, the install template, this
        // code) changes the version, and so makes a new cloud-init instance.
        let draft = cloudinit::generate(config, templates, &files, &payload, VERSION_STAND_IN)?;
        let versioned = versioned_text(
            &draft.user_data,
            &draft.meta_data,
            draft.network_config.as_deref(),
        );
        let key = Key::new(&config.secrets.release_key);
        let manifest = Manifest::new(config.env.as_str(), &files, pinned, &versioned, &key)?;
        let ci = with_version(draft, manifest.version.as_str());
        boot::check_fits(config, &files, &ci.user_data)?;
        let artifacts = boot::artifacts(&ci, qcow2.is_some())?;
        let shown_user_data = boot::shown_user_data(&ci.user_data, &payload.sha256)?;
        let tarball = tarball
            .join()
            .unwrap_or_else(|_| Err(panicked("compressing bundle.tar.zst")))?;
        let mut release = Release {
            manifest,
            manifest_json: Vec::new(),
            tarball,
            sha256sums: String::new(),
            secret_sums: String::new(),
            files,
            redacted,
            shown_user_data,
            artifacts: Vec::new(),
        };
        release.attach(artifacts, &key)?;
        Ok(release)
    })
}

/// The error of a thread of the build that panicked (a bug).
fn panicked(what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}: a thread of the build panicked")
}

/// What of the cloud-init files (as generated with the stand-in) the
/// version covers beside the manifest; `verify` rebuilds it from the stored
/// files.
pub(crate) fn versioned_text(
    user_data: &str,
    meta_data: &str,
    network_config: Option<&str>,
) -> String {
    format!(
        "{user_data}\0{meta_data}\0{}",
        network_config.unwrap_or_default()
    )
}

/// A file not marked secret (0644, plain SHA-256 in the public list) must
/// not change when the secrets do: an edited template that pulls a secret
/// into such a file is refused, naming both.
fn secrets_stay_in_secret_files(real: &[File], redacted: &[File]) -> Result<()> {
    for (r, d) in real.iter().zip(redacted) {
        if !r.secret && r.content != d.content {
            return Err(crate::error::Error::invalid(format!(
                "{} would hold a secret but is not a secret file (0644, its checksum published): a template put a secret into it; keep secrets in the files made for them (opt/torrust/secrets/, tracker.toml, prometheus.yml)",
                r.path
            ))
            .into());
        }
    }
    Ok(())
}

/// The cloud-init files with the stand-in replaced by the real version. The
/// stand-in cannot come from input: validation refuses it in the SSH key and
/// `Templates::load` in the install template (the only free text there).
fn with_version(draft: CloudInit, version: &str) -> CloudInit {
    let set = |s: String| s.replace(VERSION_STAND_IN, version);
    CloudInit {
        user_data: set(draft.user_data),
        meta_data: set(draft.meta_data),
        network_config: draft.network_config.map(set),
    }
}

/// One file of a release directory as it is written.
pub struct Entry<'a> {
    /// Relative to the release directory.
    pub path: String,
    pub bytes: &'a [u8],
    pub mode: u32,
}

impl Release {
    /// Every file of the release directory, with its bytes and its mode on
    /// the build host: what `write` writes and what an existing copy must
    /// hold, byte for byte, to count as unchanged.
    pub fn entries(&self) -> Vec<Entry<'_>> {
        fn entry(path: String, bytes: &[u8], mode: u32) -> Entry<'_> {
            Entry { path, bytes, mode }
        }
        let mut out = Vec::new();
        for f in &self.files {
            // On the build host every bundle file is private to the builder;
            // the manifest carries the mode and owner the VM applies.
            let mode = if f.secret { 0o600 } else { f.mode };
            out.push(entry(format!("bundle/{}", f.path), &f.content, mode));
        }
        for f in &self.redacted {
            out.push(entry(format!("redacted/{}", f.path), &f.content, 0o600));
        }
        out.push(entry(
            "redacted/user-data".into(),
            self.shown_user_data.as_bytes(),
            0o600,
        ));
        out.push(entry("bundle.tar.zst".into(), &self.tarball, 0o600));
        for a in &self.artifacts {
            out.push(entry(a.name.clone(), &a.bytes, a.mode));
        }
        out.push(entry("manifest.json".into(), &self.manifest_json, 0o644));
        out.push(entry(
            "SHA256SUMS".into(),
            self.sha256sums.as_bytes(),
            0o644,
        ));
        out.push(entry(
            store::SECRET_SUMS.into(),
            self.secret_sums.as_bytes(),
            0o600,
        ));
        out
    }

    /// Adds the boot artifacts, records them in the manifest, and seals it.
    fn attach(&mut self, artifacts: Vec<Artifact>, key: &Key) -> Result<()> {
        let user_data = artifacts
            .iter()
            .find(|a| a.name == "user-data")
            .map_or(0, |a| a.bytes.len() as u64);
        self.manifest.cloud_init = Some(CloudInitInfo {
            user_data_bytes: user_data,
            user_data_limit: boot::RECORDED_USER_DATA_LIMIT,
            artifacts: artifacts
                .iter()
                .map(|a| (a.name.clone(), ContentDigest::of(&a.bytes, a.secret, key)))
                .collect(),
        });
        self.artifacts = artifacts;
        self.seal()
    }

    /// Serializes the manifest and writes the two checksum lists: every
    /// file is in one of them, secret-bearing ones only in the 0600 list.
    fn seal(&mut self) -> Result<()> {
        let manifest_json = self.manifest.to_json()?;
        let mut public: Vec<(String, Sha256)> =
            vec![("manifest.json".into(), Sha256::of(&manifest_json))];
        let mut secret: Vec<(String, Sha256)> =
            vec![("bundle.tar.zst".into(), Sha256::of(&self.tarball))];
        for f in &self.files {
            let entry = (format!("bundle/{}", f.path), Sha256::of(&f.content));
            if f.secret {
                secret.push(entry)
            } else {
                public.push(entry)
            }
        }
        for a in &self.artifacts {
            let entry = (a.name.clone(), Sha256::of(&a.bytes));
            if a.secret {
                secret.push(entry)
            } else {
                public.push(entry)
            }
        }
        // The redacted twins hold no secret, but `diff` prints them: they
        // are checked like the rest (0600 list: they sit beside secrets).
        for f in &self.redacted {
            secret.push((format!("redacted/{}", f.path), Sha256::of(&f.content)));
        }
        let shown = Sha256::of(self.shown_user_data.as_bytes());
        secret.push(("redacted/user-data".into(), shown));
        self.sha256sums = sums_text(public);
        self.secret_sums = sums_text(secret);
        self.manifest_json = manifest_json;
        Ok(())
    }
}

/// The format `sha256sum -c` reads, sorted by path.
fn sums_text(mut sums: Vec<(String, Sha256)>) -> String {
    sums.sort();
    sums.iter()
        .map(|(path, sum)| format!("{sum}  {path}\n"))
        .collect()
}
