//! libvirt rules: the base image is an absolute path or an http(s) URL with
//! its SHA-512 (a download is only as good as its checksum); the storage
//! directory is absolute, readable by QEMU and real storage. The VM's shape
//! itself is checked by the kinds.

use std::path::PathBuf;

use super::Checker;
use crate::config::load::Source;
use crate::config::provider::{BaseImage, DomainType, Firmware, Libvirt};
use crate::config::vars::VarId::*;

pub(super) fn check(c: &mut Checker) {
    base_image(c);
    storage_dir(c);
}

/// The one directory every VM file goes to (overlays, the secret-bearing
/// seeds, data disks): absolute, because it is written into the domain XML
/// and an empty or relative one would land in whatever directory the
/// command ran from (the project); readable by libvirt's QEMU, which runs as
/// libvirt-qemu and cannot enter /root; and storage, not `/` itself nor a
/// kernel file system.
fn storage_dir(c: &mut Checker) {
    let dir = c.text(LIBVIRT_STORAGE_DIR);
    let example =
        "use a directory of its own, e.g. /var/lib/libvirt/images/torrust-bake (the default)";
    if !c.is_set(LIBVIRT_STORAGE_DIR) {
        c.fail(
            LIBVIRT_STORAGE_DIR,
            "is set empty: the VMs' disks and seeds would be written in the current directory"
                .into(),
            "set an absolute directory, e.g. /var/lib/libvirt/images/torrust-bake, or remove the line for that default",
        );
        return;
    }
    if !dir.starts_with('/') {
        c.fail(
            LIBVIRT_STORAGE_DIR,
            format!("'{dir}' is not an absolute path"),
            "use an absolute directory, e.g. /var/lib/libvirt/images/torrust-bake",
        );
        return;
    }
    // Lexically: `..` climbs out of a prefix (`/srv/../root` is /root); the
    // directory need not exist yet (libvirt up creates it).
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for part in std::path::Path::new(&dir).components() {
        match part {
            std::path::Component::Normal(p) => parts.push(p),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let Some(top) = parts.first().and_then(|t| t.to_str()) else {
        c.fail(
            LIBVIRT_STORAGE_DIR,
            format!("'{dir}' is the root directory itself"),
            example,
        );
        return;
    };
    match top {
        "root" => c.fail(
            LIBVIRT_STORAGE_DIR,
            format!("'{dir}' is under /root, which libvirt's QEMU (user libvirt-qemu) cannot read"),
            example,
        ),
        "proc" | "sys" | "dev" => c.fail(
            LIBVIRT_STORAGE_DIR,
            format!("'{dir}' is under /{top}, a kernel file system, not storage"),
            example,
        ),
        _ => {}
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

fn is_sha512(s: &str) -> bool {
    s.len() == 128 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn base_image(c: &mut Checker) {
    let image = c.text(LIBVIRT_BASE_IMAGE);
    let sum = c.text(LIBVIRT_BASE_IMAGE_SHA512);
    if !sum.is_empty() && !is_sha512(&sum) {
        c.fail(
            LIBVIRT_BASE_IMAGE_SHA512,
            "is not a SHA-512 (128 hex digits)".into(),
            "copy the image's line from the SHA512SUMS published beside it, or run sha512sum on the file",
        );
    }
    if is_url(&image) {
        if let Err(e) = url::Url::parse(&image) {
            c.fail(
                LIBVIRT_BASE_IMAGE,
                format!("cannot be parsed as a URL: {e}"),
                "use https://host/path/image.qcow2, or an absolute path",
            );
        }
        if sum.is_empty() {
            c.fail(
                LIBVIRT_BASE_IMAGE_SHA512,
                "is required with a base image URL".into(),
                "set it to the image's SHA-512 from the SHA512SUMS published beside it",
            );
        } else if c.raw(LIBVIRT_BASE_IMAGE).source != Source::Default
            && c.raw(LIBVIRT_BASE_IMAGE_SHA512).source == Source::Default
        {
            c.fail(
                LIBVIRT_BASE_IMAGE_SHA512,
                "is the default image's checksum, but LIBVIRT_BASE_IMAGE names another image"
                    .into(),
                "set LIBVIRT_BASE_IMAGE_SHA512 to the SHA-512 of the image LIBVIRT_BASE_IMAGE names",
            );
        }
    } else if !image.is_empty() && !image.starts_with('/') {
        c.fail(
            LIBVIRT_BASE_IMAGE,
            format!("'{image}' is neither an absolute path nor an http(s) URL"),
            "use an absolute path to a qcow2 or raw image, or https://... with LIBVIRT_BASE_IMAGE_SHA512",
        );
    }
}

/// The settings from values that passed every rule.
pub(super) fn build(c: &Checker) -> Libvirt {
    let image = c.text(LIBVIRT_BASE_IMAGE);
    let sum = c
        .opt(LIBVIRT_BASE_IMAGE_SHA512)
        .map(|s| s.to_ascii_lowercase());
    let base_image = if is_url(&image) {
        BaseImage::Url {
            url: image,
            sha512: sum.unwrap_or_default(),
        }
    } else {
        // The default checksum belongs to the default URL, not to a file.
        let explicit = c.raw(LIBVIRT_BASE_IMAGE_SHA512).source != Source::Default;
        BaseImage::Path {
            path: PathBuf::from(image),
            sha512: sum.filter(|_| explicit),
        }
    };
    Libvirt {
        vcpus: c.number(LIBVIRT_VCPUS),
        memory_mib: c.number(LIBVIRT_MEMORY_MIB),
        disk_size_gb: c.number(LIBVIRT_DISK_SIZE_GB),
        base_image,
        // Both parse: the kinds checked the words against these lists.
        domain_type: DomainType::parse(&c.text(LIBVIRT_DOMAIN_TYPE)).unwrap_or(DomainType::Auto),
        firmware: Firmware::parse(&c.text(LIBVIRT_FIRMWARE)).unwrap_or(Firmware::Efi),
        network: c.text(LIBVIRT_NETWORK),
        storage_dir: PathBuf::from(c.text(LIBVIRT_STORAGE_DIR)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{about, config, run};
    use super::*;
    use crate::config::vars::{DEBIAN_GENERICCLOUD_SHA512, DEBIAN_GENERICCLOUD_URL};

    #[test]
    fn defaults_are_debians_cloud_image_with_its_checksum() {
        let l = config(&[]).libvirt;
        assert_eq!(
            l.base_image,
            BaseImage::Url {
                url: DEBIAN_GENERICCLOUD_URL.into(),
                sha512: DEBIAN_GENERICCLOUD_SHA512.into()
            }
        );
        assert_eq!((l.vcpus, l.memory_mib), (2, 2048));
        assert_eq!(l.domain_type, DomainType::Auto);
        assert_eq!(l.firmware, Firmware::Efi);
    }

    #[test]
    fn a_path_ignores_the_default_checksum_and_keeps_a_set_one() {
        let l = config(&[(LIBVIRT_BASE_IMAGE, "/srv/base.qcow2")]).libvirt;
        assert_eq!(
            l.base_image,
            BaseImage::Path {
                path: "/srv/base.qcow2".into(),
                sha512: None
            }
        );
        let sum = "AB".repeat(64);
        let l = config(&[
            (LIBVIRT_BASE_IMAGE, "/srv/base.qcow2"),
            (LIBVIRT_BASE_IMAGE_SHA512, &sum),
        ])
        .libvirt;
        assert_eq!(
            l.base_image,
            BaseImage::Path {
                path: "/srv/base.qcow2".into(),
                sha512: Some("ab".repeat(64))
            }
        );
    }

    #[test]
    fn another_url_needs_its_own_checksum() {
        let (_, r) = run(
            "local",
            &[(LIBVIRT_BASE_IMAGE, "https://example.org/x.qcow2")],
        );
        assert_eq!(
            about(&r, LIBVIRT_BASE_IMAGE_SHA512),
            vec!["Error: is the default image's checksum, but LIBVIRT_BASE_IMAGE names another image | set LIBVIRT_BASE_IMAGE_SHA512 to the SHA-512 of the image LIBVIRT_BASE_IMAGE names | default"]
        );
        let (_, r) = run(
            "local",
            &[
                (LIBVIRT_BASE_IMAGE, "https://example.org/x.qcow2"),
                (LIBVIRT_BASE_IMAGE_SHA512, ""),
            ],
        );
        assert_eq!(about(&r, LIBVIRT_BASE_IMAGE_SHA512).len(), 1);
        assert!(
            about(&r, LIBVIRT_BASE_IMAGE_SHA512)[0].contains("is required with a base image URL")
        );
    }

    #[test]
    fn relative_paths_and_bad_checksums_are_refused() {
        let (_, r) = run(
            "local",
            &[
                (LIBVIRT_BASE_IMAGE, "images/base.qcow2"),
                (LIBVIRT_BASE_IMAGE_SHA512, "abc"),
                (LIBVIRT_STORAGE_DIR, "vms"),
            ],
        );
        assert!(about(&r, LIBVIRT_BASE_IMAGE)[0].contains("neither an absolute path nor"));
        assert!(about(&r, LIBVIRT_BASE_IMAGE_SHA512)[0].contains("is not a SHA-512"));
        assert!(about(&r, LIBVIRT_STORAGE_DIR)[0].contains("is not an absolute path"));
        let (_, r) = run("local", &[(LIBVIRT_DOMAIN_TYPE, "xen")]);
        assert!(about(&r, LIBVIRT_DOMAIN_TYPE)[0].contains("'xen' is not one of auto, kvm, qemu"));
    }

    #[test]
    fn the_storage_directory_is_absolute_readable_by_qemu_and_storage() {
        for (dir, message) in [
            ("", "is set empty: the VMs' disks and seeds would be written in the current directory"),
            ("vms", "'vms' is not an absolute path"),
            ("./vms", "'./vms' is not an absolute path"),
            ("/", "'/' is the root directory itself"),
            ("//.", "'//.' is the root directory itself"),
            ("/srv/..", "'/srv/..' is the root directory itself"),
            ("/root", "'/root' is under /root, which libvirt's QEMU (user libvirt-qemu) cannot read"),
            ("/root/vms", "'/root/vms' is under /root, which libvirt's QEMU (user libvirt-qemu) cannot read"),
            ("/srv/../root/vms", "'/srv/../root/vms' is under /root, which libvirt's QEMU (user libvirt-qemu) cannot read"),
            ("/proc/vms", "'/proc/vms' is under /proc, a kernel file system, not storage"),
            ("/sys", "'/sys' is under /sys, a kernel file system, not storage"),
            ("/dev/shm/vms", "'/dev/shm/vms' is under /dev, a kernel file system, not storage"),
        ] {
            let (_, r) = run("local", &[(LIBVIRT_STORAGE_DIR, dir)]);
            let got = about(&r, LIBVIRT_STORAGE_DIR);
            assert_eq!(got.len(), 1, "{dir}: {got:?}");
            assert!(got[0].starts_with(&format!("Error: {message} | ")), "{dir}: {got:?}");
        }
        for dir in [
            "/var/lib/libvirt/images/torrust-bake",
            "/srv/vms",
            "/rootfs/vms",
            "/home/ops/vms",
            "/devices",
        ] {
            assert_eq!(
                config(&[(LIBVIRT_STORAGE_DIR, dir)]).libvirt.storage_dir,
                PathBuf::from(dir)
            );
        }
    }
}
