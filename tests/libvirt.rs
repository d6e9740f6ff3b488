//! `deploy|status|destroy` on libvirt without booting anything: the domain
//! XML (a golden file, and `virt-xml-validate` on every XML we generate),
//! the overlay (`qemu-img info` / `qemu-img check`), `--dry-run` through the
//! binary, status/destroy against libvirt's built-in test driver
//! (`test:///default`, no daemon), a `virsh` on PATH that cannot read one
//! domain, and the deprecated `libvirt` verbs. The real boot is
//! scripts/e2e-stack.sh.

mod common;

use std::path::{Path, PathBuf};

use common::fake_http::{serve, Response};
use common::{verifier, Project, REPO};
use torrust_bake::config::provider::BaseImage;
use torrust_bake::config::provider::{nic_mac, Firmware};
use torrust_bake::provider::libvirt::disks::{self, Format, GIB};
use torrust_bake::provider::libvirt::domain::{self, Accel, DataDisk, Seed, Spec};

const GOLDEN: &str = "tests/fixtures/libvirt-domain.xml";

fn fixed_spec() -> Spec {
    let dir = PathBuf::from("/var/lib/libvirt/images/torrust-bake/local/torrust-local-0123abcd");
    Spec {
        name: torrust_bake::provider::machine_name("local", "0123abcd4567"),
        env: "local".into(),
        version: "0123abcd4567".into(),
        accel: Accel::Qemu,
        firmware: Firmware::Efi,
        vcpus: 2,
        memory_mib: 2048,
        overlay: dir.join("disk.qcow2"),
        seed: Seed::Iso(dir.join("seed.iso")),
        data_disk: Some(DataDisk {
            path: "/var/lib/libvirt/images/torrust-bake/local/data-torrust-data.raw".into(),
            serial: "torrust-data".into(),
        }),
        attach_data: true,
        network: "default".into(),
        mac: nic_mac("torrust-local"),
        console_log: dir.join("console.log"),
        dir,
    }
}

/// Runs virt-xml-validate on `xml` (as a domain) and fails with its words.
fn validate(xml: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("domain.xml");
    std::fs::write(&file, xml).unwrap();
    let out = verifier(
        "virt-xml-validate",
        &[file.to_str().unwrap(), "domain"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{what}: virt-xml-validate refused it:\n{}{}\n{xml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn domain_xml_matches_the_golden_file_and_validates() {
    let xml = domain::xml(&fixed_spec());
    let golden_path = Path::new(REPO).join(GOLDEN);
    if std::env::var_os("TORRUST_BAKE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &xml).unwrap();
    }
    let golden = std::fs::read_to_string(&golden_path).unwrap();
    assert_eq!(
        xml, golden,
        "the domain XML changed; if that is intended, review and rerun with TORRUST_BAKE_UPDATE_GOLDEN=1"
    );
    validate(&xml, "golden");
}

#[test]
fn every_variant_validates() {
    for firmware in [Firmware::Efi, Firmware::Bios] {
        for accel in [Accel::Qemu, Accel::Kvm] {
            for img in [false, true] {
                let mut s = fixed_spec();
                s.firmware = firmware;
                s.accel = accel;
                if img {
                    s.seed = Seed::Img(s.dir.join("seed.img"));
                    s.data_disk = None;
                }
                validate(
                    &domain::xml(&s),
                    &format!("{firmware:?}/{accel:?}/img={img}"),
                );
                // A replacement's standby: the volume named, not attached.
                s.attach_data = false;
                let standby = domain::xml(&s);
                assert!(
                    !standby.contains("data-torrust-data.raw'/>\n      <target"),
                    "{standby}"
                );
                validate(
                    &standby,
                    &format!("{firmware:?}/{accel:?}/img={img}/standby"),
                );
            }
        }
    }
}

fn qemu_img_info(path: &Path) -> serde_json::Value {
    let out = verifier(
        "qemu-img",
        &["info", "--output=json", path.to_str().unwrap()],
        Path::new("/"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn qemu_img_check(path: &Path) {
    let out = verifier(
        "qemu-img",
        &["check", path.to_str().unwrap()],
        Path::new("/"),
    );
    assert!(
        out.status.success(),
        "qemu-img check {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn overlay_names_its_backing_file_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.qcow2");
    let made = verifier(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", base.to_str().unwrap(), "3G"],
        dir.path(),
    );
    assert!(made.status.success());
    assert_eq!(disks::probe(&base).unwrap(), (Format::Qcow2, 3 * GIB));
    let overlay = dir.path().join("vm/disk.qcow2");
    disks::mkdir(overlay.parent().unwrap()).unwrap();
    disks::overlay(&overlay, &base, Format::Qcow2, 3 * GIB).unwrap();
    let info = qemu_img_info(&overlay);
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["backing-filename"], base.to_str().unwrap());
    assert_eq!(info["backing-filename-format"], "qcow2");
    assert_eq!(info["virtual-size"], 3 * GIB);
    qemu_img_check(&overlay);

    // A raw base, and an overlay larger than it.
    let raw = dir.path().join("base.raw");
    std::fs::File::create(&raw).unwrap().set_len(GIB).unwrap();
    let big = dir.path().join("vm/big.qcow2");
    disks::overlay(&big, &raw, Format::Raw, 20 * GIB).unwrap();
    let info = qemu_img_info(&big);
    assert_eq!(info["backing-filename-format"], "raw");
    assert_eq!(info["virtual-size"], 20 * GIB);
    qemu_img_check(&big);
}

/// A project whose libvirt settings point into `storage` and at a small
/// local base image, with the domain type fixed (no libvirt asked).
fn libvirt_vars(storage: &Path, base: &Path) -> Vec<(String, String)> {
    vec![
        ("LIBVIRT_DOMAIN_TYPE".into(), "qemu".into()),
        ("LIBVIRT_STORAGE_DIR".into(), storage.display().to_string()),
        ("LIBVIRT_BASE_IMAGE".into(), base.display().to_string()),
        ("LIBVIRT_NETWORK".into(), "torrust-e2e".into()),
    ]
}

fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

#[test]
fn dry_run_prints_valid_xml_and_steps_and_changes_nothing() {
    let p = Project::new();
    let scratch = tempfile::tempdir().unwrap();
    let storage = scratch.path().join("storage");
    let base = scratch.path().join("base.qcow2");
    let made = verifier(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", base.to_str().unwrap(), "1G"],
        scratch.path(),
    );
    assert!(made.status.success());
    let vars = libvirt_vars(&storage, &base);
    let r = p.run(&["deploy", "local", "--dry-run", "--json"], &as_refs(&vars));
    assert_eq!(r.code(), 0, "{}", r.all());
    let out: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    let version = out["version"].as_str().unwrap();
    let name = format!("torrust-local-{}", &version[..8]);
    assert_eq!(out["domain"], name.as_str());
    assert_eq!(out["dry_run"], true);
    let steps: Vec<&str> = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "release",
            "domain type",
            "base image",
            "overlay",
            "seed",
            "data disk",
            "define",
            "start"
        ]
    );
    let xml = out["xml"].as_str().unwrap();
    validate(xml, "dry run");
    // With DHCP (no static address) the MAC is the domain's own, since a
    // replacement's standby runs beside it; the data disk's serial the
    // install script looks for, the base image as the overlay's backing.
    let domain = out["domain"].as_str().unwrap();
    assert!(xml.contains(&format!("<mac address='{}'/>", nic_mac(domain))));
    assert!(!xml.contains(&format!("<mac address='{}'/>", nic_mac("torrust-local"))));
    assert!(xml.contains("<serial>torrust-data</serial>"));
    assert!(xml.contains("<source network='torrust-e2e'/>"));
    assert!(xml.contains("<domain type='qemu'>"));
    // Nothing written: no release, no storage.
    assert!(p.releases("local").is_empty(), "a dry run wrote a release");
    assert!(!storage.exists(), "a dry run created {}", storage.display());

    // The same through the human output: steps on stderr, the XML on stdout;
    // and through the deprecated `libvirt up`, which says what to use.
    let old = p.run(&["libvirt", "up", "local", "--dry-run"], &as_refs(&vars));
    assert_eq!(old.code(), 0, "{}", old.all());
    assert!(
        old.stderr().starts_with(
            "note: `torrust-bake libvirt up` is deprecated and will go; use `torrust-bake deploy`\n"
        ),
        "{}",
        old.stderr()
    );
    let r = p.run(&["deploy", "local", "--dry-run"], &as_refs(&vars));
    assert_eq!(r.stdout(), old.stdout());
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        r.stdout().starts_with("<domain type='qemu'>"),
        "{}",
        r.stdout()
    );
    assert!(r.stdout().contains("dry run, nothing changed"));
    assert!(
        r.stderr().contains(" s  overlay      would: "),
        "{}",
        r.stderr()
    );
    assert!(r
        .stderr()
        .contains("created, 10 GiB sparse (serial torrust-data"));
}

#[test]
fn up_refuses_other_providers_unknown_releases_and_bad_versions() {
    // A Hetzner environment goes to Hetzner: without a token, the verbs
    // say what to set (tests/hetzner_deploy.rs deploys one).
    let p = Project::new();
    let hetzner = [
        ("INFRASTRUCTURE_PROVIDER", "hetzner"),
        ("INFRASTRUCTURE_REGION", "fsn1"),
        ("INFRASTRUCTURE_INSTANCE_TYPE", "cx22"),
        ("LIBVIRT_DOMAIN_TYPE", "qemu"),
    ];
    for args in [
        &["deploy", "local", "--dry-run"][..],
        &["status", "local"][..],
        &["rollback", "local"][..],
        &["destroy", "local"][..],
        &["libvirt", "up", "local", "--dry-run"][..],
    ] {
        let r = p.run(args, &hetzner);
        assert_eq!(r.code(), 1, "{args:?}: {}", r.all());
        assert!(
            r.stderr()
                .contains("error: local deploys to Hetzner Cloud: HCLOUD_TOKEN is not set: set it to an API token"),
            "{args:?}: {}",
            r.stderr()
        );
    }

    let qemu = [("LIBVIRT_DOMAIN_TYPE", "qemu")];
    let r = p.run(
        &["deploy", "local", "--release", "0123456789ab", "--dry-run"],
        &qemu,
    );
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("no release at"), "{}", r.stderr());
    let r = p.run(&["deploy", "local", "--release", "../x"], &qemu);
    assert_eq!(r.code(), 1, "{}", r.all());
    // status needs only a valid name (a deleted environment file must not
    // strand its VMs); a bad one is refused before libvirt is asked.
    let r = p.run(&["status", "../nowhere"], &[]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains("is not an environment name"),
        "{}",
        r.all()
    );
    let r = p.run(&["status", "nowhere", "--connect", "test:///default"], &[]);
    assert_eq!(r.code(), 0, "{}", r.all());
}

#[test]
fn a_stored_release_that_was_edited_is_refused() {
    let p = Project::new();
    let dir = p.build("local", &[]);
    let version = dir.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::write(dir.join("seed.iso"), b"not the seed").unwrap();
    let r = p.run(
        &["deploy", "local", "--release", &version, "--dry-run"],
        &[("LIBVIRT_DOMAIN_TYPE", "qemu")],
    );
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr()
            .contains("is not what its checksums say (seed.iso differs"),
        "{}",
        r.stderr()
    );
}

#[test]
fn status_and_destroy_read_a_real_libvirt() {
    // libvirt's test driver: a real libvirt API with one foreign domain
    // ("test", not ours) and no daemon.
    let p = Project::new();
    let test = ["--connect", "test:///default"];
    let r = p.run(&[&["status", "local"][..], &test].concat(), &[]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert_eq!(
        r.stdout(),
        "local: no VMs (`torrust-bake deploy local` starts one)\n"
    );
    let r = p.run(&[&["status", "local", "--json"][..], &test].concat(), &[]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["domains"], serde_json::json!([]));
    let r = p.run(&[&["destroy", "local"][..], &test].concat(), &[]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert_eq!(r.stdout(), "local: no VMs\n");
    // The deprecated verbs run the same code and name the new one.
    for (old, new) in [("status", "status"), ("down", "destroy")] {
        let r = p.run(&[&["libvirt", old, "local"][..], &test].concat(), &[]);
        assert_eq!(r.code(), 0, "{}", r.all());
        assert!(
            r.stderr().contains(&format!("use `torrust-bake {new}`")),
            "{}",
            r.stderr()
        );
    }
}

/// A `virsh` on PATH that lists `torrust-local-0123abcd` (and "test"), and
/// cannot dump its XML; with `vanishes`, the second list no longer has it.
fn fake_virsh(dir: &Path, vanishes: bool) -> String {
    let script = format!(
        r#"#!/bin/sh
# args: [-c URI] -q COMMAND ...
while [ "$1" = -c ] || [ "$1" = -q ]; do [ "$1" = -c ] && shift; shift; done
case "$1" in
list)
    echo test
    if [ ! -e "{dir}/listed" ] || [ {vanishes} = false ]; then echo torrust-local-0123abcd; fi
    touch "{dir}/listed" ;;
dumpxml)
    [ "$2" = test ] && {{ echo "<domain type='test'><name>test</name></domain>"; exit 0; }}
    echo "error: internal error: cannot read the domain's XML" >&2; exit 1 ;;
*) echo "error: unexpected virsh $*" >&2; exit 1 ;;
esac
"#,
        dir = dir.display()
    );
    let path = dir.join("virsh");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// #27 item 3: when `virsh dumpxml` failed for a domain, status said "no
/// domains", a deploy started a second VM on the data disk and prune
/// deleted the running release. A domain that cannot be read is "cannot
/// tell", unless it is really gone.
#[test]
fn a_domain_that_cannot_be_read_is_never_taken_for_absent() {
    let p = Project::new();
    p.build("local", &[]);
    let bin = tempfile::tempdir().unwrap();
    let path = fake_virsh(bin.path(), false);
    let vars = [("PATH", path.as_str()), ("LIBVIRT_DOMAIN_TYPE", "qemu")];
    let cannot = "cannot tell whether domain torrust-local-0123abcd is one of local's";
    for args in [
        &["status", "local"][..],
        &["deploy", "local"][..],
        &["destroy", "local"][..],
        &["releases", "prune", "local", "--keep", "1"][..],
    ] {
        let r = p.run(args, &vars);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.all());
        assert!(r.stderr().contains(cannot), "{args:?}: {}", r.stderr());
    }
    let r = p.run(&["releases", "prune", "local", "--keep", "1"], &vars);
    assert!(r.stderr().contains("nothing was deleted"), "{}", r.stderr());
    assert_eq!(p.releases("local").len(), 1);
    // Deleted between the list and the read: really gone, so not ours.
    let gone = tempfile::tempdir().unwrap();
    let path = fake_virsh(gone.path(), true);
    let r = p.run(&["status", "local"], &[("PATH", path.as_str())]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert_eq!(
        r.stdout(),
        "local: no VMs (`torrust-bake deploy local` starts one)\n"
    );
}

#[test]
fn an_unreachable_libvirt_is_exit_2_with_the_fix() {
    let p = Project::new();
    let r = p.run(
        &[
            "status",
            "local",
            "--connect",
            "qemu+unix:///system?socket=/nonexistent/sock",
        ],
        &[],
    );
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(
        r.stderr()
            .contains("cannot connect to qemu+unix:///system?socket=/nonexistent/sock"),
        "{}",
        r.stderr()
    );
    assert!(r.stderr().contains("start libvirtd"));
}

#[test]
fn a_base_image_url_is_downloaded_once_and_checked() {
    use sha2::Digest as _;
    let image: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let good = hex::encode(sha2::Sha512::digest(&image));
    let body = image.clone();
    let fake = serve(move |req| match req.target.as_str() {
        "/base.qcow2" => Response::new(200, body.clone()),
        _ => Response::new(404, "no"),
    });
    let cache = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/base.qcow2", fake.port);
    let get = |url: &str, sha512: &str| {
        let img = BaseImage::Url {
            url: url.into(),
            sha512: sha512.into(),
        };
        disks::base_image(&img, cache.path(), false, &mut |_| {})
    };
    let (path, how) = get(&url, &good).unwrap();
    assert_eq!(how, "downloaded, SHA-512 verified");
    assert_eq!(std::fs::read(&path).unwrap(), image);
    assert_eq!(path, disks::cached_path(cache.path(), &url, &good));
    let (again, how) = get(&url, &good).unwrap();
    assert_eq!((again, how), (path, "cached, verified when downloaded"));
    assert_eq!(fake.requests.lock().unwrap().len(), 1, "downloaded twice");

    // A wrong checksum leaves nothing in the cache; a 404 says so.
    let wrong = "00".repeat(64);
    let e = get(&url, &wrong).unwrap_err();
    assert_eq!(torrust_bake::error::exit_code(&e), 1);
    assert!(
        format!("{e:#}").contains("the image changed or the checksum is wrong"),
        "{e:#}"
    );
    assert!(!disks::cached_path(cache.path(), &url, &wrong).exists());
    let leftovers: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let missing = format!("http://127.0.0.1:{}/gone.qcow2", fake.port);
    let e = get(&missing, &good).unwrap_err();
    assert_eq!(torrust_bake::error::exit_code(&e), 1, "{e:#}");
}

/// #27: an empty LIBVIRT_STORAGE_DIR put the secret-bearing seed and a
/// 10 GiB data disk in the directory the command ran from (relative paths
/// in the domain XML); /root, `/` and the kernel's file systems were taken
/// too. Refused by `check` and by `deploy` before anything is made.
#[test]
fn the_storage_directory_must_be_absolute_readable_by_qemu_and_storage() {
    let p = Project::new();
    for (dir, message) in [
        (
            "",
            "is set empty: the VMs' disks and seeds would be written in the current directory",
        ),
        ("vms", "'vms' is not an absolute path"),
        ("/", "'/' is the root directory itself"),
        (
            "/root/vms",
            "'/root/vms' is under /root, which libvirt's QEMU (user libvirt-qemu) cannot read",
        ),
        (
            "/var/../root",
            "'/var/../root' is under /root, which libvirt's QEMU (user libvirt-qemu) cannot read",
        ),
        (
            "/proc/vms",
            "'/proc/vms' is under /proc, a kernel file system, not storage",
        ),
        (
            "/sys/vms",
            "'/sys/vms' is under /sys, a kernel file system, not storage",
        ),
        (
            "/dev/vms",
            "'/dev/vms' is under /dev, a kernel file system, not storage",
        ),
    ] {
        let vars = [
            ("LIBVIRT_DOMAIN_TYPE", "qemu"),
            ("LIBVIRT_STORAGE_DIR", dir),
        ];
        for args in [
            &["check", "local"][..],
            &["deploy", "local", "--dry-run"][..],
        ] {
            let r = p.run(args, &vars);
            assert_eq!(r.code(), 1, "{dir:?} {args:?}: {}", r.all());
            assert!(
                r.stderr().contains(&format!(
                    "error: LIBVIRT_STORAGE_DIR (process environment): {message}\n  fix: "
                )),
                "{dir:?} {args:?}: {}",
                r.stderr()
            );
        }
    }
    let mut entries: Vec<String> = std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["environments", "images"],
        "nothing made in the project"
    );
}

/// #27 item 11: no virsh call had a bound; a hanging `list` hung `status`
/// and `destroy` forever. Each is killed after TORRUST_BAKE_VIRSH_TIMEOUT.
#[test]
fn a_hanging_virsh_is_killed_after_its_bound() {
    let p = Project::new();
    let bin = tempfile::tempdir().unwrap();
    let script = bin.path().join("virsh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 60\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let vars = [
        ("PATH", path.as_str()),
        ("TORRUST_BAKE_VIRSH_TIMEOUT", "1s"),
    ];
    for args in [&["status", "local"][..], &["destroy", "local"][..]] {
        let t = std::time::Instant::now();
        let r = p.run(args, &vars);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.all());
        assert!(
            r.stderr().contains("did not answer within 1 s (killed)"),
            "{args:?}: {}",
            r.stderr()
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{args:?}: {:?}",
            t.elapsed()
        );
    }
}

/// #27 item 13: a failed `define` left the VM's seed copy (0600, with
/// secrets) and overlay behind, which `destroy` then did not find.
#[test]
fn a_failed_define_leaves_no_files() {
    let p = Project::new();
    let scratch = tempfile::tempdir().unwrap();
    let storage = scratch.path().join("storage");
    let base = scratch.path().join("base.qcow2");
    let made = verifier(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", base.to_str().unwrap(), "1G"],
        scratch.path(),
    );
    assert!(made.status.success());
    let bin = scratch.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(
        bin.join("virsh"),
        "#!/bin/sh\nwhile [ \"$1\" = -c ] || [ \"$1\" = -q ]; do [ \"$1\" = -c ] && shift; shift; done\ncase \"$1\" in list) ;; define) echo 'error: XML error: refused' >&2; exit 1 ;; *) echo \"error: unexpected $*\" >&2; exit 1 ;; esac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(bin.join("virsh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut vars = libvirt_vars(&storage, &base);
    vars.push(("PATH".into(), path));
    let r = p.run(&["deploy", "local"], &as_refs(&vars));
    assert_ne!(r.code(), 0, "{}", r.all());
    assert!(
        r.stderr().contains("not defined; its files in"),
        "{}",
        r.stderr()
    );
    let left: Vec<_> = walk(&storage.join("local"))
        .into_iter()
        .filter(|f| !f.ends_with("data-torrust-data.raw"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
