//! An OCI image layout (image-spec `image-layout.md`) of one layer, made
//! from a root filesystem on disk: what the end-to-end scripts push to
//! their registry in place of Docker Hub's images (`probe oci-layout`,
//! scripts/e2e-registry.sh). Deterministic, as the release's own archive
//! (`release::archive`): entries in name order, mtime 0, the modes and
//! numeric owners on disk, gzip without a name or time; the config (but
//! its `config` object, kept as given), manifest and index are oci-spec's
//! types, serialized by serde. The same
//! tree gives the same digests on every machine.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use oci_spec::image::{
    Arch, DescriptorBuilder, Digest, HistoryBuilder, ImageConfigurationBuilder, ImageIndexBuilder,
    ImageManifestBuilder, MediaType, OciLayoutBuilder, Os, RootFsBuilder,
};
use sha2::{Digest as _, Sha256};

/// The one time a layout records (its config's `created`, its history's).
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// What goes into an image besides its files.
#[derive(Debug, Clone)]
pub struct Image {
    /// OCI architecture (`amd64`, `arm64`: Debian's and Go's words).
    pub architecture: String,
    /// The image config's `config` (User, ExposedPorts, Env, Entrypoint,
    /// Cmd, Volumes, WorkingDir, Healthcheck...), as JSON, kept as given.
    pub config: serde_json::Value,
    /// The tag the index names (`org.opencontainers.image.ref.name`).
    pub tag: String,
    /// The history entry's `created_by`.
    pub created_by: String,
}

/// What a layout holds, for the caller's report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Made {
    pub manifest: String,
    pub layer_size: u64,
}

/// The entries under `root`, depth first, each directory's in byte order
/// of their names (GNU tar's `--sort=name`), relative to `root`.
fn entries(root: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let dir = root.join(rel);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("reading {}", dir.display()))?;
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for name in names {
            let path = rel.join(&name);
            out.push(path.clone());
            if std::fs::symlink_metadata(root.join(&path))?.is_dir() {
                walk(root, &path, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out)?;
    Ok(out)
}

/// The tree under `root` as one uncompressed tar.
pub fn layer_tar(root: &Path) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for rel in entries(root)? {
        let path = root.join(&rel);
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(meta.uid().into());
        h.set_gid(meta.gid().into());
        let kind = meta.file_type();
        let context = || format!("adding {} to the layer", path.display());
        if kind.is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            let target = std::fs::read_link(&path).with_context(context)?;
            b.append_link(&mut h, &rel, target).with_context(context)?;
        } else if kind.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, &rel, std::io::empty())
                .with_context(context)?;
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).with_context(context)?;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(bytes.len() as u64);
            b.append_data(&mut h, &rel, bytes.as_slice())
                .with_context(context)?;
        } else {
            bail!(
                "{}: only files, directories and symbolic links go into a layer",
                path.display()
            );
        }
    }
    Ok(b.into_inner()?)
}

fn sha256(bytes: &[u8]) -> Result<Digest> {
    let hex = hex::encode(Sha256::digest(bytes));
    Ok(format!("sha256:{hex}").parse::<Digest>()?)
}

/// Writes `bytes` as a blob of the layout at `out`; its digest.
fn blob(out: &Path, bytes: &[u8]) -> Result<Digest> {
    let d = sha256(bytes)?;
    let path = out.join("blobs/sha256").join(d.digest());
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(d)
}

/// Makes the layout of `image` with the tree under `root` as its layer in
/// `out`, which must not exist (made, then filled: the caller renames a
/// finished one into place).
pub fn write(root: &Path, image: &Image, out: &Path) -> Result<Made> {
    std::fs::create_dir(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::create_dir_all(out.join("blobs/sha256"))?;
    let tar = layer_tar(root)?;
    let diff_id = sha256(&tar)?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)?;
    let layer = gz.finish()?;
    let layer_digest = blob(out, &layer)?;

    let config = ImageConfigurationBuilder::default()
        .architecture(Arch::from(image.architecture.as_str()))
        .os(Os::Linux)
        .created(EPOCH.to_string())
        .history(vec![HistoryBuilder::default()
            .created(EPOCH.to_string())
            .created_by(image.created_by.clone())
            .build()?])
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![diff_id.to_string()])
                .build()?,
        )
        .build()?;
    // The `config` object as given, not through oci-spec's `Config`: that
    // has no `Healthcheck` (a Docker extension the official images carry).
    let mut config = serde_json::to_value(&config)?;
    if !image.config.is_object() {
        bail!("the image's config must be a JSON object (User, ExposedPorts, Cmd...)");
    }
    config["config"] = image.config.clone();
    let config = serde_json::to_vec(&config)?;
    let config_digest = blob(out, &config)?;

    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(
            DescriptorBuilder::default()
                .media_type(MediaType::ImageConfig)
                .digest(config_digest)
                .size(config.len() as u64)
                .build()?,
        )
        .layers(vec![DescriptorBuilder::default()
            .media_type(MediaType::ImageLayerGzip)
            .digest(layer_digest)
            .size(layer.len() as u64)
            .build()?])
        .build()?;
    let manifest = serde_json::to_vec(&manifest)?;
    let manifest_digest = blob(out, &manifest)?;

    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![DescriptorBuilder::default()
            .media_type(MediaType::ImageManifest)
            .digest(manifest_digest.clone())
            .size(manifest.len() as u64)
            .annotations([(
                "org.opencontainers.image.ref.name".to_string(),
                image.tag.clone(),
            )])
            .build()?])
        .build()?;
    std::fs::write(out.join("index.json"), serde_json::to_vec(&index)?)?;
    let layout = OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()?;
    std::fs::write(out.join("oci-layout"), serde_json::to_vec(&layout)?)?;
    Ok(Made {
        manifest: manifest_digest.to_string(),
        layer_size: layer.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Image {
        Image {
            architecture: "amd64".into(),
            config: serde_json::json!({
                "User": "1000:1000",
                "Cmd": ["/bin/x"],
                "Healthcheck": {"Test": ["CMD", "/bin/x", "check"], "Interval": 5000000000u64},
            }),
            tag: "1.0-slim".into(),
            created_by: "a test".into(),
        }
    }

    fn tree(dir: &Path) {
        std::fs::create_dir_all(dir.join("usr/bin")).unwrap();
        std::fs::write(dir.join("usr/bin/x"), "binary").unwrap();
        std::fs::write(dir.join("B"), "upper").unwrap();
        std::os::unix::fs::symlink("usr/bin", dir.join("bin")).unwrap();
    }

    #[test]
    fn the_same_tree_gives_the_same_digests_and_a_layout_skopeo_reads() {
        let (a, b, o) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        tree(a.path());
        tree(b.path());
        let made_a = write(a.path(), &image(), &o.path().join("a")).unwrap();
        let made_b = write(b.path(), &image(), &o.path().join("b")).unwrap();
        assert_eq!(made_a.manifest, made_b.manifest);
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(o.path().join("a/index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"][0]["digest"], made_a.manifest.as_str());
        // A real reader of layouts: skopeo, which scripts/e2e-registry.sh
        // pushes them with (scripts/install-test-deps.sh installs it).
        {
            let out = std::process::Command::new("skopeo")
                .args(["inspect", "--raw"])
                .arg(format!("oci:{}:1.0-slim", o.path().join("a").display()))
                .output()
                .expect("skopeo is needed: run scripts/install-test-deps.sh");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let raw = out.stdout;
            assert_eq!(sha256(&raw).unwrap().to_string(), made_a.manifest);
            let config = std::process::Command::new("skopeo")
                .args(["inspect", "--config", "--raw"])
                .arg(format!("oci:{}:1.0-slim", o.path().join("a").display()))
                .output()
                .unwrap();
            let config: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
            assert_eq!(config["config"]["User"], "1000:1000", "{config}");
            assert_eq!(
                config["config"]["Healthcheck"]["Test"][1], "/bin/x",
                "{config}"
            );
            assert_eq!(config["architecture"], "amd64");
        }
    }

    #[test]
    fn entries_are_in_name_order_depth_first() {
        let d = tempfile::tempdir().unwrap();
        tree(d.path());
        let names: Vec<String> = entries(d.path())
            .unwrap()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(names, ["B", "bin", "usr", "usr/bin", "usr/bin/x"]);
        let mut t = tar::Archive::new(std::io::Cursor::new(layer_tar(d.path()).unwrap()));
        let listed: Vec<String> = t
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(listed, ["B", "bin", "usr", "usr/bin", "usr/bin/x"]);
    }
}
