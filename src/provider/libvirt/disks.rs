//! The files a libvirt VM runs on: the base image (a local file, or a URL
//! downloaded once into a cache and checked against its SHA-512), the
//! copy-on-write overlay over it (qcow2, written with imago, its header
//! naming the backing file *and* its format: libvirt refuses to probe a
//! backing file's format), the seed copied where libvirt's QEMU user can
//! read it (still 0600: libvirt hands it to that user while the VM runs),
//! and the environment's data disk (a sparse raw file, made once).
//!
//! qcow2 header fields: QEMU's docs/interop/qcow2.txt.

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use imago::file::File;
use imago::qcow2::Qcow2;
use imago::{FormatCreateBuilder, Storage, StorageCreateOptions};
use sha2::{Digest as _, Sha512};

use crate::config::provider::BaseImage;
use crate::error::{Error, Kind};

const QCOW2_MAGIC: &[u8; 4] = b"QFI\xfb";
pub const GIB: u64 = 1024 * 1024 * 1024;

/// A disk image's format, as libvirt and a qcow2 header name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Qcow2,
    Raw,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Qcow2 => "qcow2",
            Format::Raw => "raw",
        }
    }
}

/// An image's format (by the qcow2 magic) and virtual size in bytes.
pub fn probe(path: &Path) -> Result<(Format, u64)> {
    let mut f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut header = [0u8; 32];
    let n = f
        .read(&mut header)
        .with_context(|| format!("reading {}", path.display()))?;
    if n >= 32 && &header[..4] == QCOW2_MAGIC {
        // Offset 24: the virtual size, big-endian u64.
        let size = u64::from_be_bytes(header[24..32].try_into().unwrap_or([0; 8]));
        return Ok((Format::Qcow2, size));
    }
    let len = f
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    Ok((Format::Raw, len))
}

/// Creates directories libvirt's QEMU user can traverse (0711: it needs
/// no listing, and the files that hold secrets are 0600 anyway).
pub fn mkdir(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Writes a qcow2 overlay at `path` over `base`, at least `min_size` bytes
/// (never smaller than the base). Replaces a leftover file.
pub fn overlay(path: &Path, base: &Path, base_format: Format, size: u64) -> Result<()> {
    let base = base
        .canonicalize()
        .with_context(|| format!("resolving {}", base.display()))?;
    let _ = fs::remove_file(path);
    let storage = File::create_open(StorageCreateOptions::new().filename(path).overwrite(true))
        .with_context(|| format!("creating {}", path.display()))?;
    Qcow2::<File>::create_builder(storage)
        .size(size)
        .backing(
            base.to_string_lossy().into_owned(),
            base_format.name().to_string(),
        )
        .create()
        .with_context(|| format!("writing the qcow2 overlay {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

/// Copies the release's seed to `dst`, 0600.
pub fn copy_seed(src: &Path, dst: &Path) -> Result<()> {
    let bytes = fs::read(src).with_context(|| format!("reading {}", src.display()))?;
    let _ = fs::remove_file(dst);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)
        .with_context(|| format!("creating {}", dst.display()))?;
    f.write_all(&bytes)
        .with_context(|| format!("writing {}", dst.display()))
}

/// Whether the data disk was made now or was there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    Created,
    Existing,
}

/// The environment's data disk: a sparse raw file of `size` bytes, made
/// only when missing (the guest formats it on first use, by its serial).
pub fn data_disk(path: &Path, size: u64) -> Result<Made> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => {
            f.set_len(size)
                .with_context(|| format!("sizing {}", path.display()))?;
            Ok(Made::Created)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Made::Existing),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Where the base image of `image` is on this host, downloading it into
/// `cache` first if it is a URL not fetched before.
pub fn base_image(
    image: &BaseImage,
    cache: &Path,
    dry_run: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<(PathBuf, &'static str)> {
    match image {
        BaseImage::Path { path, sha512 } => {
            if !path.is_file() {
                return Err(Error::new(
                    Kind::NotFound,
                    format!("base image {} does not exist; set LIBVIRT_BASE_IMAGE to a cloud image (scripts/guest-image.sh makes one for tests)", path.display()),
                )
                .into());
            }
            if let Some(want) = sha512 {
                if !dry_run {
                    verify(path, want)?;
                    return Ok((path.clone(), "local file, SHA-512 verified"));
                }
            }
            Ok((path.clone(), "local file"))
        }
        BaseImage::Url { url, sha512 } => {
            let path = cached_path(cache, url, sha512);
            if path.is_file() {
                return Ok((path, "cached, verified when downloaded"));
            }
            if dry_run {
                return Ok((path, "would be downloaded"));
            }
            mkdir(cache)?;
            download(url, sha512, &path, progress)?;
            Ok((path, "downloaded, SHA-512 verified"))
        }
    }
}

/// `<cache>/<first 16 digits of the SHA-512>-<file name>`: a file exists
/// under this name only once its checksum matched.
pub fn cached_path(cache: &Path, url: &str, sha512: &str) -> PathBuf {
    let file = url
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !n.starts_with('.'))
        .unwrap_or("image");
    cache.join(format!("{}-{file}", &sha512[..16.min(sha512.len())]))
}

fn mismatch(what: &str, got: &str, want: &str) -> Error {
    Error::invalid(format!(
        "{what}: SHA-512 is {got}, LIBVIRT_BASE_IMAGE_SHA512 says {want}; the image changed or the checksum is wrong: take both from the same SHA512SUMS"
    ))
}

fn verify(path: &Path, want: &str) -> Result<()> {
    let mut f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha512::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", path.display()))?;
    let got = hex::encode(h.finalize());
    if got != want {
        return Err(mismatch(&path.display().to_string(), &got, want).into());
    }
    Ok(())
}

/// Downloads `url` to `dst` through a temporary file, hashing on the way;
/// renamed into place only when the SHA-512 matches.
pub fn download(url: &str, want: &str, dst: &Path, progress: &mut dyn FnMut(&str)) -> Result<()> {
    let dir = dst.parent().unwrap_or(Path::new("."));
    let agent = crate::http::download_client(Duration::from_secs(30), Duration::from_secs(60));
    progress(&format!("downloading {url}"));
    let response = agent.get(url).call().map_err(|e| {
        let kind = match &e {
            ureq::Error::Status(404, _) => Kind::NotFound,
            ureq::Error::Status(..) => Kind::Protocol,
            ureq::Error::Transport(_) => Kind::Unreachable,
        };
        Error::new(kind, format!("downloading {url}: {e}"))
    })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut reader = response.into_reader();
    let mut h = Sha512::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total: u64 = 0;
    let mut next_report: u64 = 64 << 20;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Error::new(Kind::Unreachable, format!("downloading {url}: {e}")))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .with_context(|| format!("writing {}", tmp.path().display()))?;
        total += n as u64;
        if total >= next_report {
            progress(&format!("  {} MiB", total >> 20));
            next_report += 64 << 20;
        }
    }
    let got = hex::encode(h.finalize());
    if got != want {
        return Err(mismatch(url, &got, want).into());
    }
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .context("setting the cached image's mode")?;
    tmp.persist(dst)
        .with_context(|| format!("renaming into {}", dst.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_disk_is_made_once_and_sparse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.raw");
        assert_eq!(data_disk(&path, GIB).unwrap(), Made::Created);
        fs::write(&path, b"kept").unwrap();
        assert_eq!(data_disk(&path, GIB).unwrap(), Made::Existing);
        assert_eq!(fs::read(&path).unwrap(), b"kept");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn the_cache_name_carries_the_checksum() {
        let sum = "ab".repeat(64);
        assert_eq!(
            cached_path(Path::new("/c"), "https://h/x/debian.qcow2", &sum),
            Path::new("/c/abababababababab-debian.qcow2")
        );
        assert_eq!(
            cached_path(Path::new("/c"), "https://h/", &sum),
            Path::new("/c/abababababababab-image")
        );
    }

    #[test]
    fn a_path_is_checked_against_a_set_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.raw");
        fs::write(&path, b"base").unwrap();
        let good = hex::encode(Sha512::digest(b"base"));
        let image = BaseImage::Path {
            path: path.clone(),
            sha512: Some(good),
        };
        let (got, _) = base_image(&image, dir.path(), false, &mut |_| {}).unwrap();
        assert_eq!(got, path);
        let bad = BaseImage::Path {
            path: path.clone(),
            sha512: Some("00".repeat(64)),
        };
        let e = base_image(&bad, dir.path(), false, &mut |_| {}).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 1);
        assert!(e
            .to_string()
            .contains("the image changed or the checksum is wrong"));
        let missing = BaseImage::Path {
            path: dir.path().join("nope"),
            sha512: None,
        };
        assert!(base_image(&missing, dir.path(), false, &mut |_| {}).is_err());
    }

    #[test]
    fn probe_reads_qcow2_size_and_raw_length() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("r");
        fs::write(&raw, vec![0u8; 4096]).unwrap();
        assert_eq!(probe(&raw).unwrap(), (Format::Raw, 4096));
        let ov = dir.path().join("o.qcow2");
        overlay(&ov, &raw, Format::Raw, 3 * GIB).unwrap();
        assert_eq!(probe(&ov).unwrap(), (Format::Qcow2, 3 * GIB));
    }
}
