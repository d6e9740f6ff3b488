//! cloud-init user-data and NoCloud seeds, checked by the real tools:
//! `cloud-init schema` and cloud-init's own decoder (Debian's system
//! python3), `isoinfo`, `xorriso`, `blkid`, `fsck.fat`, `mtools`, `qemu-img`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{production_secrets, tree, verifier, Project, REPO};

const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHrTRLsu4lq3Z2ko5Q0Bd3P4yKVfHqKD1dWiXWE2nQmA op@example";

fn production_vars() -> Vec<(&'static str, &'static str)> {
    let mut v = production_secrets();
    v.extend([
        ("SSH_PUBLIC_KEY", SSH_KEY),
        ("INFRASTRUCTURE_IPV4_ADDRESS", "192.0.2.10/24"),
        ("INFRASTRUCTURE_IPV4_GATEWAY", "192.0.2.1"),
        ("INFRASTRUCTURE_DNS_SERVERS", "192.0.2.53, 2001:db8::53"),
    ]);
    v
}

fn build_production(p: &Project) -> PathBuf {
    let r = p.run(
        &["build", "production", "--seed-format", "qcow2", "--json"],
        &production_vars(),
    );
    assert_eq!(r.code(), 0, "{}", r.all());
    let out: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    p.path().join(out["path"].as_str().unwrap())
}

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn user_data_is_valid_and_cloud_init_decodes_every_bundle_file() {
    let p = Project::new();
    let rel = build_production(&p);
    let out = verifier(
        "cloud-init",
        &["schema", "--config-file", "user-data"],
        &rel,
    );
    assert!(ok(&out, "cloud-init schema").contains("Valid cloud-config"));

    let user_data = std::fs::read_to_string(rel.join("user-data")).unwrap();
    assert!(user_data.starts_with("#cloud-config\n"));
    // Hetzner takes 32 KiB; a quarter is kept for what comes (the
    // production stack, backups).
    assert!(
        user_data.len() <= 24 * 1024,
        "production user-data {} bytes > 24 KiB",
        user_data.len()
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rel.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["cloud_init"]["user_data_bytes"], user_data.len());
    assert_eq!(manifest["cloud_init"]["user_data_limit"], 32768);
    let version = manifest["version"].as_str().unwrap();

    // cloud-init's own code decodes write_files.
    let dec = tempfile::tempdir().unwrap();
    let helper = Path::new(REPO).join("tests/helpers/decode_user_data.py");
    let out = verifier(
        "/usr/bin/python3",
        &[
            helper.to_str().unwrap(),
            rel.join("user-data").to_str().unwrap(),
            dec.path().to_str().unwrap(),
        ],
        &rel,
    );
    let listing: serde_json::Value = serde_json::from_str(&ok(&out, "cloud-init decoder")).unwrap();
    let keys: Vec<&str> = listing["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for k in [
        "locale",
        "runcmd",
        "users",
        "write_files",
        "ssh_pwauth",
        "final_message",
    ] {
        assert!(keys.contains(&k), "{k} missing from user-data: {keys:?}");
    }
    let state = dec
        .path()
        .join(format!("var/lib/torrust-bake/releases/{version}"));
    assert_eq!(mode(&state.join("bundle.tar.gz")), 0o600);
    assert_eq!(
        mode(&dec.path().join("usr/local/sbin/torrust-bake-install")),
        0o700
    );
    // The archive holds every bundle file byte for byte, with manifest modes and owners.
    let unpacked = dec.path().join("root");
    std::fs::create_dir(&unpacked).unwrap();
    let out = verifier(
        "tar",
        &[
            "-xzf",
            state.join("bundle.tar.gz").to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
            "--numeric-owner",
            "--same-owner",
            "-p",
        ],
        &rel,
    );
    ok(&out, "tar -xzf");
    assert_eq!(
        tree(&unpacked),
        tree(&rel.join("bundle")),
        "bundle files differ after cloud-init decoding"
    );
    for f in manifest["files"].as_array().unwrap() {
        let path = unpacked.join(f["path"].as_str().unwrap());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            format!("{:04o}", meta.permissions().mode() & 0o7777),
            f["mode"].as_str().unwrap(),
            "{path:?}"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            format!("{}:{}", meta.uid(), meta.gid()),
            f["owner"].as_str().unwrap(),
            "{path:?}"
        );
    }
    // The VM's checksum list checks out against the unpacked tree.
    let out = verifier(
        "sha256sum",
        &[
            "-c",
            "--strict",
            "--quiet",
            state.join("SHA256SUMS").to_str().unwrap(),
        ],
        &unpacked,
    );
    ok(&out, "sha256sum -c on the VM's list");
    // The install script is valid sh and carries the archive's checksum.
    let script = dec.path().join("usr/local/sbin/torrust-bake-install");
    ok(
        &verifier("sh", &["-n", script.to_str().unwrap()], &rel),
        "sh -n install script",
    );
    let script_text = std::fs::read_to_string(&script).unwrap();
    let gz = std::fs::read(state.join("bundle.tar.gz")).unwrap();
    let gz_sum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&gz));
    assert!(script_text.contains(&format!("{gz_sum}  bundle.tar.gz")));
    // The data volume: mounted by label, by a script of the bundle.
    assert!(script_text.contains("/usr/local/sbin/torrust-data-volume || exit 1"));
    let volume = unpacked.join("usr/local/sbin/torrust-data-volume");
    ok(
        &verifier("sh", &["-n", volume.to_str().unwrap()], &rel),
        "sh -n data volume script",
    );
    let volume_text = std::fs::read_to_string(&volume).unwrap();
    assert!(
        volume_text.contains("LABEL='torrust-data'") || volume_text.contains("LABEL=torrust-data"),
        "data volume mounted by label: {volume_text}"
    );
    assert!(volume_text.contains("ready for data"));
    for secret in [common::NASTY_TOKEN, common::NASTY_GRAFANA] {
        assert!(!script_text.contains(secret));
    }
    // SSH: key only, as the admin user.
    assert!(user_data.contains(SSH_KEY));
    assert!(user_data.contains("ssh_pwauth: false"));

    let meta = std::fs::read_to_string(rel.join("meta-data")).unwrap();
    assert_eq!(
        meta,
        format!(
            "instance-id: 'torrust-production-{version}'\nlocal-hostname: 'torrust-production'\n"
        )
    );
    let net: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(rel.join("network-config")).unwrap())
            .unwrap();
    assert_eq!(net["version"], 2);
    let nic = &net["ethernets"]["eth0"];
    assert_eq!(nic["set-name"], "eth0");
    let mac = nic["match"]["macaddress"].as_str().unwrap();
    assert!(mac.starts_with("52:54:00:") && mac.len() == 17, "{mac}");
    // Quoted, so YAML 1.1 (PyYAML, cloud-init) never reads a MAC as a number.
    let py = verifier(
        "/usr/bin/python3",
        &["-c", "import sys, yaml; m = yaml.safe_load(open(sys.argv[1]))['ethernets']['eth0']['match']['macaddress']; assert isinstance(m, str), m; print(m)", "network-config"],
        &rel,
    );
    assert_eq!(ok(&py, "PyYAML network-config").trim(), mac);
    assert_eq!(nic["addresses"][0], "192.0.2.10/24");
    assert_eq!(nic["routes"][0]["via"], "192.0.2.1");
    assert_eq!(nic["nameservers"]["addresses"][1], "2001:db8::53");
    for secret_file in ["user-data", "seed.iso", "seed.img", "seed.qcow2"] {
        assert_eq!(mode(&rel.join(secret_file)), 0o600, "{secret_file}");
    }
    let sums = ok(
        &verifier("sha256sum", &["-c", "--strict", "SHA256SUMS"], &rel),
        "sha256sum -c",
    );
    let secret_sums = ok(
        &verifier("sha256sum", &["-c", "--strict", "SHA256SUMS.secret"], &rel),
        "sha256sum -c SHA256SUMS.secret",
    );
    assert_eq!(mode(&rel.join("SHA256SUMS.secret")), 0o600);
    for name in ["meta-data", "network-config"] {
        assert!(sums.contains(&format!("{name}: OK")), "{name}: {sums}");
    }
    for name in ["user-data", "seed.iso", "seed.img", "seed.qcow2"] {
        assert!(
            secret_sums.contains(&format!("{name}: OK")) && !sums.contains(name),
            "{name} belongs in SHA256SUMS.secret only: {sums}"
        );
    }
}

#[test]
fn iso_seed_reads_back_with_isoinfo_xorriso_and_blkid() {
    let p = Project::new();
    let rel = build_production(&p);
    let d = ok(
        &verifier("isoinfo", &["-d", "-i", "seed.iso"], &rel),
        "isoinfo -d",
    );
    assert!(d.contains("Volume id: cidata"), "{d}");
    assert!(d.contains("Joliet with UCS level 3 found"), "{d}");
    assert!(d.contains("Rock Ridge signatures version 1 found"), "{d}");
    let names = ["meta-data", "network-config", "user-data"];
    for flag in ["-J", "-R"] {
        let l = ok(
            &verifier("isoinfo", &[flag, "-l", "-i", "seed.iso"], &rel),
            "isoinfo -l",
        );
        for n in names {
            assert!(l.contains(n), "isoinfo {flag} -l lacks {n}: {l}");
        }
    }
    let l = ok(
        &verifier("isoinfo", &["-R", "-l", "-i", "seed.iso"], &rel),
        "isoinfo -R -l",
    );
    assert!(
        l.contains("-r--------   1    0    0"),
        "user-data is root-only on the ISO: {l}"
    );
    for n in names {
        let via_rr = verifier(
            "isoinfo",
            &["-R", "-i", "seed.iso", "-x", &format!("/{n}")],
            &rel,
        );
        assert_eq!(
            ok(&via_rr, "isoinfo -x").into_bytes(),
            std::fs::read(rel.join(n)).unwrap(),
            "{n} via Rock Ridge"
        );
        let via_joliet = verifier(
            "isoinfo",
            &["-J", "-i", "seed.iso", "-x", &format!("/{n}")],
            &rel,
        );
        assert_eq!(
            via_joliet.stdout,
            std::fs::read(rel.join(n)).unwrap(),
            "{n} via Joliet"
        );
    }
    let out = tempfile::tempdir().unwrap();
    let x = verifier(
        "xorriso",
        &[
            "-osirrox",
            "on",
            "-indev",
            "seed.iso",
            "-extract",
            "/",
            out.path().join("x").to_str().unwrap(),
        ],
        &rel,
    );
    ok(&x, "xorriso -extract");
    for n in names {
        assert_eq!(
            std::fs::read(out.path().join("x").join(n)).unwrap(),
            std::fs::read(rel.join(n)).unwrap(),
            "{n} via xorriso"
        );
    }
    let b = ok(
        &verifier("blkid", &["-o", "export", "seed.iso"], &rel),
        "blkid",
    );
    assert!(
        b.contains("LABEL=cidata") && b.contains("TYPE=iso9660"),
        "{b}"
    );
}

#[test]
fn vfat_and_qcow2_seeds_pass_fsck_mtools_blkid_and_qemu_img() {
    let p = Project::new();
    let rel = build_production(&p);
    let f = verifier("fsck.fat", &["-n", "seed.img"], &rel);
    let fsck = ok(&f, "fsck.fat -n");
    assert!(
        !fsck.contains("differ") && !fsck.to_lowercase().contains("dirty"),
        "{fsck}"
    );
    let dir = ok(&verifier("mdir", &["-i", "seed.img", "::"], &rel), "mdir");
    assert!(dir.contains("CIDATA"), "{dir}");
    for n in ["meta-data", "network-config", "user-data"] {
        assert!(dir.contains(n), "long name {n} missing: {dir}");
        let t = verifier("mtype", &["-i", "seed.img", &format!("::{n}")], &rel);
        assert_eq!(
            ok(&t, "mtype").into_bytes(),
            std::fs::read(rel.join(n)).unwrap(),
            "{n} via mtype"
        );
    }
    let b = ok(
        &verifier("blkid", &["-o", "export", "seed.img"], &rel),
        "blkid",
    );
    assert!(b.contains("LABEL=CIDATA") && b.contains("TYPE=vfat"), "{b}");
    let c = ok(
        &verifier("qemu-img", &["check", "seed.qcow2"], &rel),
        "qemu-img check",
    );
    assert!(c.contains("No errors were found"), "{c}");
    // The qcow2 holds exactly the vfat image.
    let raw = tempfile::tempdir().unwrap();
    let dest = raw.path().join("raw.img");
    ok(
        &verifier(
            "qemu-img",
            &["convert", "-O", "raw", "seed.qcow2", dest.to_str().unwrap()],
            &rel,
        ),
        "qemu-img convert",
    );
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(rel.join("seed.img")).unwrap()
    );
}

#[test]
fn seeds_are_reproducible_and_a_new_release_is_a_new_instance() {
    let (a, b) = (Project::new(), Project::new());
    let (ra, rb) = (build_production(&a), build_production(&b));
    assert_eq!(ra.file_name(), rb.file_name());
    let (ta, tb) = (tree(&ra), tree(&rb));
    for name in [
        "user-data",
        "meta-data",
        "network-config",
        "seed.iso",
        "seed.img",
        "seed.qcow2",
    ] {
        let x = ta
            .iter()
            .find(|(p, _)| p == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let y = tb.iter().find(|(p, _)| p == name).unwrap();
        assert!(
            x.1 == y.1,
            "{name} differs between two builds of the same inputs"
        );
    }
    // Any change: a new version, so a new instance-id.
    let version = |dir: &Path| dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut vars = production_vars();
    vars.push(("TORRUST_TRACKER_LOG_LEVEL", "debug"));
    let rc = a.build("production", &vars);
    assert_ne!(version(&rc), version(&ra));
    let m1 = std::fs::read_to_string(ra.join("meta-data")).unwrap();
    let m2 = std::fs::read_to_string(rc.join("meta-data")).unwrap();
    assert_ne!(
        m1.lines().next(),
        m2.lines().next(),
        "instance-id must change with the release"
    );
    // Inputs that reach only user-data (not a bundle file) are part of the version too.
    let mut vars = production_vars();
    vars.retain(|(k, _)| *k != "SSH_PUBLIC_KEY");
    let rd = a.build("production", &vars);
    assert_ne!(
        version(&rd),
        version(&ra),
        "SSH key change must make a new release"
    );
    // So is an edit of the install template (the project's copy wins).
    let install =
        std::fs::read_to_string(Path::new(REPO).join("templates/install.sh.tera")).unwrap();
    assert!(install.contains("set -eu\n"));
    b.write(
        "templates/install.sh.tera",
        &install.replace("set -eu\n", "set -eu\n# site edit\n"),
    );
    let re = b.build("production", &production_vars());
    assert_ne!(
        version(&re),
        version(&rb),
        "install template edit must make a new release"
    );
    let ud = std::fs::read_to_string(re.join("user-data")).unwrap();
    assert!(ud.contains("# site edit"));
}

#[test]
fn hetzner_user_data_over_32_kib_fails_naming_the_largest_files() {
    let p = Project::new();
    // 40 KiB of incompressible text in the Caddyfile.
    let mut noise = String::new();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while noise.len() < 40 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push_str(&format!("# {x:016x}{:016x}\n", x.rotate_left(29)));
    }
    let caddy = std::fs::read_to_string(Path::new(REPO).join("templates/Caddyfile.tera")).unwrap();
    p.write("templates/Caddyfile.tera", &format!("{noise}{caddy}"));
    let r = p.run(&["build", "production"], &production_vars());
    assert_eq!(r.code(), 1, "{}", r.all());
    let e = r.stderr();
    assert!(e.contains("over Hetzner's limit of 32768"), "{e}");
    assert!(
        e.contains("the largest contributors: opt/torrust/caddy/Caddyfile ("),
        "{e}"
    );
    assert!(
        p.releases("production").is_empty(),
        "nothing written on failure"
    );
    // The same release for libvirt is fine (no such limit there).
    let mut vars = production_vars();
    vars.push(("INFRASTRUCTURE_PROVIDER", "libvirt"));
    let r = p.run(&["build", "production"], &vars);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        r.stderr().contains("of Hetzner's 32 KiB limit"),
        "{}",
        r.all()
    );
}

#[test]
fn static_address_variables_are_validated() {
    let p = Project::new();
    let r = p.run(
        &["check", "local"],
        &[("INFRASTRUCTURE_IPV4_ADDRESS", "192.0.2.10")],
    );
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr()
            .contains("not an IPv4 address with a prefix length"),
        "{}",
        r.all()
    );
    let r = p.run(
        &["check", "local"],
        &[("INFRASTRUCTURE_IPV4_ADDRESS", "192.0.2.10/24")],
    );
    assert!(
        r.stderr().contains("without INFRASTRUCTURE_IPV4_GATEWAY"),
        "{}",
        r.all()
    );
    let r = p.run(
        &["check", "local"],
        &[("INFRASTRUCTURE_DNS_SERVERS", "192.0.2.53")],
    );
    assert!(
        r.stderr().contains("only used with a static address"),
        "{}",
        r.all()
    );
    let local = p.build("local", &[]);
    assert!(
        !local.join("network-config").exists(),
        "DHCP: no network-config"
    );
}

/// meta-data quotes its values: host names that are valid DNS labels but
/// YAML words (`null`, `no`, `0x1f`) read back as the strings they are.
#[test]
fn meta_data_reads_back_as_strings() {
    let p = Project::new();
    for name in ["null", "no", "0x1f", "on"] {
        let rel = p.build("local", &[("INFRASTRUCTURE_HOSTNAME", name)]);
        let py = verifier(
            "/usr/bin/python3",
            &["-c", "import sys, yaml; m = yaml.safe_load(open('meta-data')); assert m['local-hostname'] == sys.argv[1], m; print('ok')", name],
            &rel,
        );
        assert!(
            py.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&py.stderr)
        );
    }
}
