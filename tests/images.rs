//! `images pin|verify` against real registries: Debian's `docker-registry`
//! (distribution 2.8) on loopback, open, with htpasswd basic auth and with a
//! token realm; `skopeo` checks every digest. A local fake stands in only for
//! what the real registry never does (no Docker-Content-Digest, 429, 503).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fake_http::{serve, Response};
use common::{free_tcp_port, self_signed, verifier, Project, Run, BIN};
use sha2::{Digest, Sha256};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// A real registry on a free loopback port over `storage`, with `auth`
    /// (a YAML block for the config's `auth:` key, or empty).
    fn start(storage: &Path, auth: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_tcp_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
            storage.display()
        );
        let path = dir.path().join("config.yml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("docker-registry is needed ({e}); run scripts/install-test-deps.sh")
            });
        let reg = Registry {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match ureq::get(&format!("{}/v2/", reg.base())).call() {
                Ok(_) | Err(ureq::Error::Status(401, _)) => break,
                Err(e) if Instant::now() > deadline => panic!("registry did not start: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        reg
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn base(&self) -> String {
        format!("http://{}", self.host())
    }

    fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha(bytes);
        let resp = ureq::post(&format!("{}/v2/{repo}/blobs/uploads/", self.base()))
            .call()
            .unwrap();
        let loc = resp.header("Location").unwrap().to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("{}{loc}", self.base())
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        ureq::put(&format!("{loc}{sep}digest={digest}"))
            .set("Content-Type", "application/octet-stream")
            .send_bytes(bytes)
            .unwrap();
        digest
    }

    fn push_manifest(&self, repo: &str, reference: &str, media: &str, body: &[u8]) -> String {
        ureq::put(&format!("{}/v2/{repo}/manifests/{reference}", self.base()))
            .set("Content-Type", media)
            .send_bytes(body)
            .unwrap();
        sha(body)
    }

    /// A one-layer image for `arch`; `salt` makes its bytes unique.
    /// Returns (digest, size) of its manifest.
    fn push_image(
        &self,
        repo: &str,
        tag: &str,
        media: &str,
        arch: &str,
        salt: &str,
    ) -> (String, usize) {
        let layer = format!("layer of {repo} {arch} {salt}").into_bytes();
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]}, "config": {}
        })
        .to_string()
        .into_bytes();
        let (config_type, layer_type) = if media == OCI_MANIFEST {
            (
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        };
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": media,
            "config": {"mediaType": config_type, "size": config.len(), "digest": self.push_blob(repo, &config)},
            "layers": [{"mediaType": layer_type, "size": layer.len(), "digest": self.push_blob(repo, &layer)}]
        })
        .to_string()
        .into_bytes();
        (
            self.push_manifest(repo, tag, media, &manifest),
            manifest.len(),
        )
    }

    /// A multi-arch OCI index: linux/amd64, linux/arm64/v8 and linux/arm/v7.
    /// Returns (index digest, amd64 digest, arm64 digest).
    fn push_index(&self, repo: &str, tag: &str, salt: &str) -> (String, String, String) {
        let mut manifests = Vec::new();
        let mut digests = Vec::new();
        for (arch, variant) in [("amd64", None), ("arm64", Some("v8")), ("arm", Some("v7"))] {
            let (d, size) =
                self.push_image(repo, &format!("{tag}-{arch}"), OCI_MANIFEST, arch, salt);
            let mut platform = serde_json::json!({"architecture": arch, "os": "linux"});
            if let Some(v) = variant {
                platform["variant"] = v.into();
            }
            manifests.push(serde_json::json!({"mediaType": OCI_MANIFEST, "size": size, "digest": d, "platform": platform}));
            digests.push(d);
        }
        let index =
            serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
                .to_string()
                .into_bytes();
        let d = self.push_manifest(repo, tag, OCI_INDEX, &index);
        (d, digests[0].clone(), digests[1].clone())
    }
}

/// The digest skopeo computes for what `reference` points to.
fn skopeo_digest(reference: &str, creds: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
    if let Some(c) = creds {
        args.extend(["--creds", c]);
    }
    let docker_ref = format!("docker://{reference}");
    args.push(&docker_ref);
    let out = verifier("skopeo", &args, dir.path());
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.path().join("m.json"), &out.stdout).unwrap();
    let out = verifier("skopeo", &["manifest-digest", "m.json"], dir.path());
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The variables holding credentials for a registry written `host` (README).
fn credential_vars(host: &str) -> (String, String) {
    let key = host.replace(['.', ':'], "_");
    (
        format!("TORRUST_BAKE_REGISTRY_{key}_USERNAME"),
        format!("TORRUST_BAKE_REGISTRY_{key}_PASSWORD"),
    )
}

struct LockProject {
    dir: tempfile::TempDir,
}

impl LockProject {
    fn new(lock: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("images")).unwrap();
        std::fs::write(dir.path().join("images/images.lock"), lock).unwrap();
        LockProject { dir }
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.path().join("images/images.lock")
    }

    fn lock(&self) -> String {
        std::fs::read_to_string(self.lock_path()).unwrap()
    }

    fn parsed(&self) -> toml::Table {
        self.lock().parse().unwrap()
    }

    fn digest(&self, service: &str) -> Option<String> {
        self.parsed()["images"][service]
            .get("digest")
            .map(|d| d.as_str().unwrap().to_string())
    }

    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.env_clear().arg("-C").arg(self.dir.path()).args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Run(cmd.output().unwrap())
    }
}

#[test]
fn pin_and_verify_single_arch_multi_arch_and_a_moved_tag() {
    let storage = tempfile::tempdir().unwrap();
    let reg = Registry::start(storage.path(), "");
    let host = reg.host();
    let (single, _) = reg.push_image("torrust/tracker", "v3.0.0", DOCKER_MANIFEST, "amd64", "one");
    let (index, amd64, arm64) = reg.push_index("prom/prometheus", "v3.5.0", "one");

    let p = LockProject::new(&format!(
        "# my header\n\n[images.prometheus]\nreference = \"{host}/prom/prometheus:v3.5.0\"\n\n[images.tracker]\nreference = \"{host}/torrust/tracker:v3.0.0\"\n"
    ));
    let insecure = ["--insecure-registry", host.as_str()];
    let pin = |extra: &[&str]| p.run(&[&["images", "pin"], &insecure[..], extra].concat(), &[]);
    let verify =
        |extra: &[&str]| p.run(&[&["images", "verify"], &insecure[..], extra].concat(), &[]);

    let r = verify(&[]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stdout().contains("tracker: MISMATCH: not pinned"),
        "{}",
        r.all()
    );

    let r = pin(&[]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        r.stdout()
            .contains(&format!("tracker: (unpinned) -> {single}")),
        "{}",
        r.all()
    );
    assert!(
        r.stderr().contains("[2/2] tracker: resolving"),
        "progress on stderr: {}",
        r.all()
    );
    assert_eq!(p.digest("tracker").as_deref(), Some(single.as_str()));
    assert_eq!(p.digest("prometheus").as_deref(), Some(index.as_str()));
    // skopeo agrees with every digest.
    assert_eq!(
        skopeo_digest(&format!("{host}/torrust/tracker:v3.0.0"), None),
        single
    );
    assert_eq!(
        skopeo_digest(&format!("{host}/prom/prometheus:v3.5.0"), None),
        index
    );
    assert_eq!(
        skopeo_digest(&format!("{host}/prom/prometheus@{amd64}"), None),
        amd64
    );
    let lock = p.parsed();
    let platforms = lock["images"]["prometheus"]["platforms"]
        .as_table()
        .unwrap();
    assert_eq!(
        platforms.len(),
        2,
        "only linux/amd64 and linux/arm64: {platforms:?}"
    );
    assert_eq!(platforms["linux/amd64"].as_str(), Some(amd64.as_str()));
    assert_eq!(platforms["linux/arm64"].as_str(), Some(arm64.as_str()));
    // Exactly these bytes: the header kept, tables in file order, each new
    // digest after its reference, a new platforms table after its image, no
    // timestamps.
    assert_eq!(
        p.lock(),
        format!(
            "# my header\n\n[images.prometheus]\nreference = \"{host}/prom/prometheus:v3.5.0\"\ndigest = \"{index}\"\n\n[images.prometheus.platforms]\n\"linux/amd64\" = \"{amd64}\"\n\"linux/arm64\" = \"{arm64}\"\n\n[images.tracker]\nreference = \"{host}/torrust/tracker:v3.0.0\"\ndigest = \"{single}\"\n"
        )
    );

    // Nothing changed: the same bytes, not even rewritten.
    let before = p.lock();
    let mtime = std::fs::metadata(p.lock_path())
        .unwrap()
        .modified()
        .unwrap();
    let r = pin(&[]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(r.stdout().contains("already up to date"), "{}", r.all());
    assert!(
        r.stdout().contains(&format!("tracker: unchanged {single}")),
        "{}",
        r.all()
    );
    assert_eq!(p.lock(), before);
    assert_eq!(
        std::fs::metadata(p.lock_path())
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    let r = verify(&["--json"]);
    assert_eq!(r.code(), 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["ok"], true);

    // The tag moves: verify fails naming it, pin shows old -> new, verify passes.
    let (moved, _) = reg.push_image("torrust/tracker", "v3.0.0", DOCKER_MANIFEST, "amd64", "two");
    assert_ne!(moved, single);
    let r = verify(&[]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stdout().contains(&format!("tracker: MISMATCH: {host}/torrust/tracker:v3.0.0 moved {single} -> {moved}; the locked digest can still be pulled")),
        "{}",
        r.all()
    );
    assert!(
        r.stdout().contains(&format!("prometheus: ok {index}")),
        "{}",
        r.all()
    );
    let r = verify(&["--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["ok"], false);
    let t = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["service"] == "tracker")
        .unwrap();
    assert_eq!(t["locked"], single.as_str());
    assert_eq!(t["resolved"], moved.as_str());
    let r = pin(&["tracker"]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        r.stdout()
            .contains(&format!("tracker: {single} -> {moved}")),
        "{}",
        r.all()
    );
    assert!(
        !r.stderr().contains("prometheus"),
        "only the named service: {}",
        r.all()
    );
    assert_eq!(
        skopeo_digest(&format!("{host}/torrust/tracker:v3.0.0"), None),
        moved
    );
    assert_eq!(verify(&[]).code(), 0);
}

/// A pin edits the lock: comments (above a table, inside it, at the end of
/// a line, at the end of the file), order and mode stay; only digests change.
#[test]
fn pin_keeps_comments_layout_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let storage = tempfile::tempdir().unwrap();
    let reg = Registry::start(storage.path(), "");
    let host = reg.host();
    let (caddy, _) = reg.push_image("library/caddy", "2.10.2", OCI_MANIFEST, "amd64", "notes");
    let (tracker, _) = reg.push_image(
        "torrust/tracker",
        "v3.0.0",
        DOCKER_MANIFEST,
        "amd64",
        "notes",
    );
    let old = format!("sha256:{}", "0".repeat(64));
    // Not in name order, on purpose: a pin does not sort.
    let lock = format!(
        "# Header line one\n# header line two\n\n[images.tracker]\n# written by the team\nreference = \"{host}/torrust/tracker:v3.0.0\"\n\n# The web server: keep it on 2.x\n[images.caddy]\nreference = \"{host}/library/caddy:2.10.2\" # bumped in March\ndigest = \"{old}\" # pinned by hand\n\n# end of file\n"
    );
    let p = LockProject::new(&lock);
    std::fs::set_permissions(p.lock_path(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = p.run(&["images", "pin", "--insecure-registry", &host], &[]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        r.stdout().contains(&format!("caddy: {old} -> {caddy}")),
        "{}",
        r.all()
    );
    let tracker_ref = format!("reference = \"{host}/torrust/tracker:v3.0.0\"\n");
    let expected = lock.replace(&old, &caddy).replace(
        &tracker_ref,
        &format!("{tracker_ref}digest = \"{tracker}\"\n"),
    );
    assert_eq!(p.lock(), expected);
    let mode = std::fs::metadata(p.lock_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640, "the old mode is kept");
    let leftovers: Vec<_> = std::fs::read_dir(p.dir.path().join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["images.lock"], "no temp file left behind");
}

#[test]
fn basic_auth_from_environment_variables() {
    let storage = tempfile::tempdir().unwrap();
    let open = Registry::start(storage.path(), "");
    let (digest, _) = open.push_image("team/tracker", "v1", DOCKER_MANIFEST, "amd64", "basic");
    drop(open);
    let auth_dir = tempfile::tempdir().unwrap();
    let htpasswd = auth_dir.path().join("htpasswd");
    let out = verifier(
        "htpasswd",
        &["-Bbc", htpasswd.to_str().unwrap(), "op", "s3cret-pass"],
        auth_dir.path(),
    );
    assert!(out.status.success());
    let reg = Registry::start(
        storage.path(),
        &format!(
            "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
            htpasswd.display()
        ),
    );
    let host = reg.host();
    let lock = format!("[images.tracker]\nreference = \"{host}/team/tracker:v1\"\n");
    let p = LockProject::new(&lock);
    let (user_var, pass_var) = credential_vars(&host);
    let args = ["images", "pin", "--insecure-registry", &host];

    let r = p.run(&args, &[]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains(&user_var) && r.stderr().contains(&pass_var),
        "{}",
        r.all()
    );
    assert!(r.stderr().contains("was not changed"), "{}", r.all());
    assert_eq!(p.lock(), lock);

    let r = p.run(&args, &[(&user_var, "op"), (&pass_var, "wrong-password-x")]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains("refused the credentials"),
        "{}",
        r.all()
    );
    assert!(
        !r.all().contains("wrong-password-x"),
        "password echoed: {}",
        r.all()
    );
    assert_eq!(p.lock(), lock);

    let r = p.run(&args, &[(&user_var, "op"), (&pass_var, "s3cret-pass")]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(!r.all().contains("s3cret-pass"));
    assert_eq!(p.digest("tracker").as_deref(), Some(digest.as_str()));
    assert_eq!(
        skopeo_digest(&format!("{host}/team/tracker:v1"), Some("op:s3cret-pass")),
        digest
    );
}

/// A self-signed RS256 JWT the registry accepts (x5c chain = the root itself).
fn signed_token(dir: &Path, issuer: &str, service: &str, repo: &str) -> String {
    use base64::Engine;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    self_signed(dir, "key.pem", "cert.pem", "2", "/CN=token-test");
    let der = verifier(
        "openssl",
        &["x509", "-in", "cert.pem", "-outform", "der"],
        dir,
    )
    .stdout;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(der)]});
    let claims = serde_json::json!({"iss": issuer, "sub": "op", "aud": service,
        "exp": now + 3600, "nbf": now - 60, "iat": now - 60, "jti": "torrust-bake-test",
        "access": [{"type": "repository", "name": repo, "actions": ["pull"]}]});
    let signing_input = format!(
        "{}.{}",
        b64url.encode(header.to_string()),
        b64url.encode(claims.to_string())
    );
    std::fs::write(dir.join("input"), &signing_input).unwrap();
    let sig = verifier(
        "openssl",
        &["dgst", "-sha256", "-sign", "key.pem", "input"],
        dir,
    );
    assert!(sig.status.success());
    format!("{signing_input}.{}", b64url.encode(sig.stdout))
}

#[test]
fn bearer_token_realm_is_followed() {
    let storage = tempfile::tempdir().unwrap();
    let open = Registry::start(storage.path(), "");
    let (single, _) = open.push_image("team/tracker", "v1", DOCKER_MANIFEST, "amd64", "token");
    drop(open);
    let keys = tempfile::tempdir().unwrap();
    let token = signed_token(keys.path(), "test-issuer", "test-registry", "team/tracker");
    let expected_basic = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("op:tok-pass")
        )
    };
    let realm = serve(move |req| {
        if req.header("Authorization") != Some(expected_basic.as_str()) {
            return Response::new(401, "{}");
        }
        Response::new(200, serde_json::json!({"token": token}).to_string())
            .header("Content-Type", "application/json")
    });
    let reg = Registry::start(
        storage.path(),
        &format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
            realm.port,
            keys.path().join("cert.pem").display()
        ),
    );
    let host = reg.host();
    let p = LockProject::new(&format!(
        "[images.tracker]\nreference = \"{host}/team/tracker:v1\"\n"
    ));
    let (user_var, pass_var) = credential_vars(&host);
    let args = ["images", "pin", "--insecure-registry", &host];

    let r = p.run(&args, &[]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains(&user_var), "{}", r.all());

    let r = p.run(&args, &[(&user_var, "op"), (&pass_var, "tok-pass")]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert_eq!(p.digest("tracker").as_deref(), Some(single.as_str()));
    let reqs = realm.requests.lock().unwrap();
    let last = reqs.last().unwrap();
    assert!(last.target.starts_with("/token?"), "{}", last.target);
    assert!(
        last.target.contains("service=test-registry"),
        "{}",
        last.target
    );
    assert!(
        last.target
            .contains("scope=repository%3Ateam%2Ftracker%3Apull"),
        "{}",
        last.target
    );
}

#[test]
fn fake_registry_without_digest_header_with_429_and_503() {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{},"layers":[]}"#.to_vec();
    let expected = sha(&manifest);
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let body = manifest.to_vec();
    let fake = serve(move |req| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match n {
            0 => Response::new(429, "slow down").header("Retry-After", "1"),
            1 => Response::new(503, "busy"),
            _ if req.target == "/v2/team/tracker/manifests/v1" => {
                Response::new(200, body.clone()).header("Content-Type", DOCKER_MANIFEST)
            }
            _ => Response::new(404, "{}"),
        }
    });
    let host = format!("127.0.0.1:{}", fake.port);
    let p = LockProject::new(&format!(
        "[images.tracker]\nreference = \"{host}/team/tracker:v1\"\n"
    ));
    let started = Instant::now();
    let r = p.run(&["images", "pin", "--insecure-registry", &host], &[]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert!(
        r.stderr()
            .contains("answered 429; retrying in 1s (attempt 2/4)"),
        "{}",
        r.all()
    );
    assert!(r.stderr().contains("answered 503; retrying"), "{}", r.all());
    assert_eq!(p.digest("tracker").as_deref(), Some(expected.as_str()));
    let methods: Vec<String> = fake
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(
        methods,
        ["HEAD", "HEAD", "HEAD", "GET"],
        "GET + sha256 when the header is missing"
    );
}

#[test]
fn clear_errors_and_the_lock_untouched() {
    let storage = tempfile::tempdir().unwrap();
    let reg = Registry::start(storage.path(), "");
    let host = reg.host();
    reg.push_image("team/tracker", "v1", DOCKER_MANIFEST, "amd64", "errors");

    let closed = free_tcp_port();
    let cases: Vec<(String, i32, String)> = vec![
        (
            format!("{host}/team/tracker:v9"),
            1,
            format!("{host}/team/tracker:v9 not found on {host} (404)"),
        ),
        (format!("{host}/team/nothing:v1"), 1, "not found".into()),
        (
            "Upper/Case:1".into(),
            1,
            "'Upper/Case:1' is not an image reference".into(),
        ),
        (format!("{host}/team/tracker"), 1, "(no tag)".into()),
        (
            format!("127.0.0.1:{closed}/team/tracker:v1"),
            2,
            format!("cannot reach 127.0.0.1:{closed}"),
        ),
    ];
    for (reference, code, message) in cases {
        let lock = format!("[images.caddy]\nreference = \"{host}/team/tracker:v1\"\n\n[images.tracker]\nreference = \"{reference}\"\n");
        let p = LockProject::new(&lock);
        let r = p.run(
            &[
                "images",
                "pin",
                "--timeout",
                "2s",
                "--insecure-registry",
                &host,
                "--insecure-registry",
                &format!("127.0.0.1:{closed}"),
            ],
            &[],
        );
        assert_eq!(r.code(), code, "{reference}: {}", r.all());
        assert!(
            r.stderr().contains("tracker: error: "),
            "{reference}: {}",
            r.all()
        );
        assert!(r.stderr().contains(&message), "{reference}: {}", r.all());
        assert_eq!(
            p.lock(),
            lock,
            "{reference}: the lock must not change when any image fails"
        );
    }
    let p = LockProject::new(&format!(
        "[images.tracker]\nreference = \"{host}/team/tracker:v1\"\n"
    ));
    let r = p.run(
        &["images", "pin", "grafana", "--insecure-registry", &host],
        &[],
    );
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr()
            .contains("no service 'grafana' in images/images.lock (it has: tracker)"),
        "{}",
        r.all()
    );
    // Without --insecure-registry the client speaks HTTPS and says how to fix it.
    let r = p.run(&["images", "pin", "--timeout", "2s"], &[]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(
        r.stderr()
            .contains(&format!("needs --insecure-registry {host}")),
        "{}",
        r.all()
    );
}

/// Staging tries a new tag before production: `images/staging.lock` (a
/// copy of the shared lock with the new tag) is pinned and verified with
/// `--env staging`, alone; the shared lock is not touched. Without a lock of
/// its own an environment verifies the shared one and refuses a pin.
#[test]
fn an_environments_own_lock_is_pinned_and_verified_alone() {
    let storage = tempfile::tempdir().unwrap();
    let reg = Registry::start(storage.path(), "");
    let host = reg.host();
    let (old, _) = reg.push_image("torrust/tracker", "v3.0.0", DOCKER_MANIFEST, "amd64", "old");
    let (new, _) = reg.push_image("torrust/tracker", "v3.1.0", DOCKER_MANIFEST, "amd64", "new");
    let shared = format!(
        "[images.tracker]\nreference = \"{host}/torrust/tracker:v3.0.0\"\ndigest = \"{old}\"\n"
    );
    let p = LockProject::new(&shared);
    for env in ["staging", "production"] {
        std::fs::create_dir_all(p.dir.path().join("environments")).unwrap();
        std::fs::write(p.dir.path().join(format!("environments/{env}.env")), "").unwrap();
    }
    let own = p.dir.path().join("images/staging.lock");
    std::fs::write(
        &own,
        shared
            .replace("v3.0.0", "v3.1.0")
            .replace(&format!("digest = \"{old}\"\n"), ""),
    )
    .unwrap();
    let insecure = ["--insecure-registry", host.as_str()];
    let run = |args: &[&str]| p.run(&[args, &insecure[..]].concat(), &[]);

    let r = run(&["images", "verify", "--env", "staging"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stdout().contains("tracker: MISMATCH: not pinned"),
        "{}",
        r.all()
    );
    assert!(
        r.stderr().contains(
            "differ from images/staging.lock: run `torrust-bake images pin --env staging`"
        ),
        "{}",
        r.all()
    );
    let r = run(&["images", "pin", "--env", "staging", "tracker"]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        r.stdout().contains("wrote images/staging.lock"),
        "{}",
        r.all()
    );
    let pinned = std::fs::read_to_string(&own).unwrap();
    assert!(pinned.contains(&format!("digest = \"{new}\"")), "{pinned}");
    assert_eq!(p.lock(), shared, "the shared lock is not touched");
    assert_eq!(
        skopeo_digest(&format!("{host}/torrust/tracker:v3.1.0"), None),
        new
    );

    let r = run(&["images", "verify", "--env", "staging", "--json"]);
    assert_eq!(r.code(), 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["lock"], "images/staging.lock");
    assert_eq!(v["images"][0]["resolved"], new.as_str());
    let r = run(&["images", "verify", "--json"]);
    assert_eq!(r.code(), 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["lock"], "images/images.lock");
    assert_eq!(v["images"][0]["resolved"], old.as_str());

    // production has no lock of its own: verify reads the shared one and
    // says so; a pin for production alone is refused.
    let r = run(&["images", "verify", "--env", "production"]);
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        r.stderr().contains("production has no lock of its own (images/production.lock does not exist): verifying images/images.lock"),
        "{}",
        r.all()
    );
    let r = run(&["images", "pin", "--env", "production"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains("production has no lock of its own: there is no images/production.lock, so it builds with images/images.lock; to give it one: cp images/images.lock images/production.lock"),
        "{}",
        r.all()
    );
    assert_eq!(p.lock(), shared);
    let r = run(&["images", "verify", "--env", "prod"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains("unknown environment 'prod'"),
        "{}",
        r.all()
    );
}

/// A registry name that does not resolve fails at once, without retries
/// and without advice that cannot help. Run in a network namespace of its
/// own whose resolver (via /etc/netns/<ns>/resolv.conf) answers nothing,
/// so no lookup leaves the machine.
#[test]
fn an_unresolvable_registry_fails_at_once() {
    let ns = format!("tb-dns-{}", std::process::id());
    let etc = std::path::PathBuf::from(format!("/etc/netns/{ns}"));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let ip = |args: &[&str]| {
        std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap()
    };
    assert!(ip(&["netns", "add", &ns]).success());
    ip(&["-n", &ns, "link", "set", "lo", "up"]);
    let p = Project::new();
    p.write(
        "images/images.lock",
        "[images.tracker]\nreference = \"registry.invalid-tld.example/torrust/tracker:v3.0.0\"\n",
    );
    let started = std::time::Instant::now();
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns, BIN, "-C"])
        .arg(p.path())
        .args(["images", "verify"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    ip(&["netns", "delete", &ns]);
    let _ = std::fs::remove_dir_all(&etc);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot resolve registry.invalid-tld.example"),
        "{err}"
    );
    assert!(!err.contains("retrying"), "{err}");
    assert!(!err.contains("--insecure-registry"), "{err}");
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
}

/// Registry credentials went to whatever host a `WWW-Authenticate` realm
/// named, in the clear over plain HTTP. Another host over plain HTTP is
/// refused, naming it, and the realm hears nothing.
#[test]
fn credentials_never_go_in_the_clear_to_another_host() {
    let realm = serve(|_| Response::new(200, r#"{"token":"t"}"#));
    let realm_port = realm.port;
    let registry = serve(move |_| {
        Response::new(401, "{}").header(
            "WWW-Authenticate",
            &format!(
                r#"Bearer realm="http://localhost:{realm_port}/token",service="s",scope="repository:team/tracker:pull""#
            ),
        )
    });
    let host = format!("127.0.0.1:{}", registry.port);
    let p = LockProject::new(&format!(
        "[images.tracker]\nreference = \"{host}/team/tracker:v1\"\n"
    ));
    let (user_var, pass_var) = credential_vars(&host);
    let r = p.run(
        &["images", "pin", "--insecure-registry", &host],
        &[(&user_var, "op"), (&pass_var, "secret-pass")],
    );
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains(&format!(
            "{host} sends token requests to localhost over plain HTTP (http://localhost/...): the credentials in {user_var} and {pass_var} go over HTTPS, or in the clear only to an --insecure-registry host itself (127.0.0.1), so they were not sent"
        )),
        "{}",
        r.stderr()
    );
    assert!(!r.all().contains("secret-pass"), "{}", r.all());
    let asked = realm.requests.lock().unwrap();
    assert!(
        asked.iter().all(|q| q.header("Authorization").is_none()),
        "credentials reached the realm: {asked:?}"
    );
}
