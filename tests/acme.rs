//! The release's Caddyfile with a private ACME directory (ACME_CA_URL,
//! ACME_CA_ROOT_FILE), run by the real Caddy (Debian's caddy 2.6) against
//! Debian's pebble (Let's Encrypt's test ACME server) in a network and
//! mount namespace of the test's own: Caddy gets its certificates by
//! ACME from pebble (whose own HTTPS the root file lets it trust), serves
//! the real tracker's HTTP tracker and API over HTTPS with HSTS, passes the
//! client's address on (the tracker's `on_reverse_proxy`), and a restart
//! with the same storage (on a VM, the data volume) orders no new
//! certificate. What the VM's stack adds (Caddy in its container, MySQL)
//! is the end-to-end run's.
//!
//! Needs root (unshare), caddy, pebble, openssl, curl and torrust-tracker:
//! scripts/install-test-deps.sh.

mod common;

use std::path::Path;
use std::process::Command;

use common::LoopbackTracker;

const DOMAIN: &str = "torrust-demo.com";

/// The driver, run as root in fresh network and mount namespaces: every
/// daemon it starts dies with it (its namespace's loopback is all they
/// reach). Arguments: the work directory, the release's bundle.
const DRIVER: &str = r#"
set -eu
work=$1 bundle=$2 domain=$3 token=$4 bin=$5 project=$6
ip link set lo up
# Addresses that are not loopback (the tracker reports a loopback peer at
# its external address): the server's, and two clients'.
for a in 10.10.0.1 10.10.0.2 10.10.0.3; do ip addr add "$a/32" dev lo; done
# The names Caddy and pebble look up: the sites, and the compose service
# name Caddy proxies to (on loopback, as Docker's network is to Caddy).
printf '127.0.0.1 localhost tracker\n10.10.0.1 api.%s http1.%s grafana.%s\n' "$domain" "$domain" "$domain" >"$work/hosts"
mount --bind "$work/hosts" /etc/hosts
mkdir -p "$work/etc-caddy"
mount --bind "$work/etc-caddy" /etc/caddy 2>/dev/null || { mkdir -p /etc/caddy && mount --bind "$work/etc-caddy" /etc/caddy; }
[ ! -e "$bundle/opt/torrust/caddy/acme-ca-root.pem" ] || cp "$bundle/opt/torrust/caddy/acme-ca-root.pem" /etc/caddy/
pids=
trap 'rc=$?; set +e; kill -KILL $pids 2>/dev/null; wait 2>/dev/null; exit $rc' EXIT
cat >"$work/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$work/pebble-cert.pem", "privateKey": "$work/pebble-key.pem",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$work/pebble.json" >"$work/pebble.log" 2>&1 &
pids="$pids $!"
TORRUST_TRACKER_CONFIG_TOML_PATH=$bundle/opt/torrust/tracker/tracker.toml torrust-tracker >"$work/tracker.log" 2>&1 &
pids="$pids $!"
caddy_up() {
    XDG_DATA_HOME=$work/caddy-data XDG_CONFIG_HOME=$work/caddy-config \
        caddy run --config "$bundle/opt/torrust/caddy/Caddyfile" --adapter caddyfile >>"$work/caddy.log" 2>&1 &
    caddy=$!
    pids="$pids $caddy"
}
up() { # up URL: answers within 60 s, trusting pebble's issuing root
    for _ in $(seq 600); do
        curl -fsS --max-time 2 --cacert "$work/issuer.pem" "$1" >/dev/null 2>/dev/null && return 0
        curl -fsSk --max-time 2 https://127.0.0.1:15000/roots/0 >"$work/issuer.pem" 2>/dev/null || true
        sleep 0.1
    done
    echo "acme: $1 never answered over HTTPS; caddy's log:" >&2
    tail -n 30 "$work/caddy.log" >&2
    echo "pebble's log:" >&2
    tail -n 30 "$work/pebble.log" >&2
    exit 1
}
# Caddy retries a failed order only after a minute: pebble answers first.
for _ in $(seq 100); do curl -fsk --max-time 1 https://127.0.0.1:14000/dir >/dev/null 2>&1 && break; sleep 0.1; done
caddy_up
up "https://api.$domain/api/health_check"
up "https://http1.$domain/health_check"
orders() { grep -c 'POST /order-plz' "$work/pebble.log" || true; }
echo "orders $(orders)"
ih=$(printf '%%%02x' $(seq 1 20) | tr -d '\n')
announce() { # announce PEER FROM PORT: the reply, bencoded, peers as dictionaries
    curl -fsS --cacert "$work/issuer.pem" --interface "$2" \
        "https://http1.$domain/announce?info_hash=$ih&peer_id=$1&port=$3&uploaded=0&downloaded=0&left=1&event=started&compact=0"
}
announce -qB0001-000000000001 10.10.0.2 6881 >/dev/null
echo "peers $(announce -qB0002-000000000002 10.10.0.3 6882 | grep -ao '2:ip[0-9]*:[0-9.]*' | tr '\n' ' ')"
echo "hsts $(curl -fsS -D - -o /dev/null --cacert "$work/issuer.pem" "https://api.$domain/api/health_check" | tr -d '\r' | grep -i '^strict-transport-security:' | cut -d' ' -f2-)"
echo "stats $(curl -fsS --cacert "$work/issuer.pem" "https://api.$domain/api/v1/stats?token=$token" | head -c 200)"
echo "issuer $(echo | openssl s_client -connect 127.0.0.1:443 -servername "api.$domain" 2>/dev/null | openssl x509 -noout -issuer)"
serial() { echo | openssl s_client -connect 127.0.0.1:443 -servername "api.$domain" 2>/dev/null | openssl x509 -noout -serial; }
echo "serial $(serial)"
# The operator's health check through Caddy, trusting pebble's root, and
# without it (the public roots: refused).
health() { "$bin" -C "$project" health local --json --host 127.0.0.1 "$@" 2>"$work/health.err" | tr -d '\n'; }
echo "health $(health --ca-file "$work/issuer.pem")"
echo "health-public $(health)"
# The same storage, a new Caddy: the certificate is kept, no new order.
kill "$caddy"; wait "$caddy" 2>/dev/null || true
caddy_up
up "https://api.$domain/api/health_check"
echo "serial-after-restart $(serial)"
echo "orders-after-restart $(orders)"
"#;

/// `NAME-key.pem` and `NAME-cert.pem` in `dir`: a self-signed P-256
/// certificate (a CA, as openssl makes it) with `extra` arguments.
fn self_signed_ec(dir: &Path, name: &str, subject: &str, extra: &[&str]) {
    let (key, cert) = (format!("{name}-key.pem"), format!("{name}-cert.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes", "-keyout", &key, "-out", &cert, "-days", "2", "-subj", subject,
        ])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl ({e}): scripts/install-test-deps.sh"));
    assert!(out.status.success(), "openssl req: {out:?}");
}

fn line<'a>(said: &'a str, key: &str) -> &'a str {
    said.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no '{key}' line in:\n{said}"))
}

#[test]
fn caddy_gets_its_certificate_from_a_private_acme_directory_and_keeps_it() {
    let t = LoopbackTracker::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // pebble's own HTTPS, by a CA of the test's: the file the release
    // trusts it by.
    self_signed_ec(
        w,
        "pebble",
        "/CN=pebble in the test",
        &["-addext", "subjectAltName=IP:127.0.0.1"],
    );
    t.project.write(
        "acme/pebble.pem",
        &std::fs::read_to_string(w.join("pebble-cert.pem")).unwrap(),
    );
    let overrides = [
        ("DOMAIN_NAME", DOMAIN),
        ("SSL_EMAIL", "ops@torrust-demo.com"),
        ("ACME_CA_URL", "https://127.0.0.1:14000/dir"),
        ("ACME_CA_ROOT_FILE", "acme/pebble.pem"),
        ("GRAFANA_ENABLED", "false"),
    ];
    let vars = t.vars_with(&overrides);
    let release = t.build_with(&overrides);
    let bundle = release.join("bundle");
    let caddyfile = std::fs::read_to_string(bundle.join("opt/torrust/caddy/Caddyfile")).unwrap();
    assert!(
        caddyfile.contains("acme_ca https://127.0.0.1:14000/dir\n")
            && caddyfile.contains("acme_ca_root /etc/caddy/acme-ca-root.pem\n"),
        "{caddyfile}"
    );
    let compose = std::fs::read_to_string(bundle.join("opt/torrust/compose.yaml")).unwrap();
    assert!(
        compose.contains("./caddy/acme-ca-root.pem:/etc/caddy/acme-ca-root.pem:ro"),
        "{compose}"
    );
    let token = t.var("TORRUST_TRACKER_API_TOKEN");
    let encoded = torrust_bake::render::url_encode(&token);
    let out = Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            DRIVER,
            "acme",
        ])
        .arg(w)
        .arg(&bundle)
        .arg(DOMAIN)
        .arg(&encoded)
        .arg(common::BIN)
        .arg(t.project.path())
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env(
            "PATH",
            format!(
                "{}:/usr/sbin:/sbin",
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap_or_else(|e| panic!("unshare (util-linux): {e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // Issued by pebble, for the release's sites.
    assert!(line(&said, "issuer").contains("Pebble"), "{said}");
    assert!(line(&said, "orders").parse::<u32>().unwrap() >= 1, "{said}");
    assert!(line(&said, "hsts").contains("max-age=63072000"), "{said}");
    assert!(line(&said, "stats").contains("\"torrents\""), "{said}");
    // The first peer is listed at the address it announced from, not at
    // Caddy's (127.0.0.1, which the tracker would list as its external
    // address): the tracker read X-Forwarded-For.
    assert!(
        line(&said, "peers").contains("2:ip9:10.10.0.2"),
        "the tracker did not see the client's address: {said}"
    );
    assert_eq!(
        line(&said, "serial"),
        line(&said, "serial-after-restart"),
        "{said}"
    );
    assert_eq!(
        line(&said, "orders"),
        line(&said, "orders-after-restart"),
        "{said}"
    );
    assert!(
        !said.contains(&token) && !said.contains(&encoded),
        "the API token was printed"
    );
    // `health` checked the HTTP tracker and the API through Caddy.
    let health: serde_json::Value = serde_json::from_str(line(&said, "health")).unwrap();
    assert_eq!(health["ok"], true, "{health:#}");
    let targets: Vec<&str> = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    for want in [
        format!("https://http1.{DOMAIN}"),
        format!("https://api.{DOMAIN}/api/health_check"),
        format!("https://api.{DOMAIN}/api/v1/stats"),
    ] {
        assert!(targets.contains(&want.as_str()), "{want}: {targets:?}");
    }
    let public: serde_json::Value = serde_json::from_str(line(&said, "health-public")).unwrap();
    assert_eq!(public["ok"], false, "{public:#}");
    let refused = public["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"] == format!("https://api.{DOMAIN}/api/health_check"))
        .unwrap();
    assert!(
        refused["detail"].as_str().unwrap().contains("certificate"),
        "{refused:#}"
    );
}

/// ACME_CA_ROOT_FILE ships world-readable: anything but certificates in it
/// is refused at `check`, naming the variable and the line.
#[test]
fn a_root_file_with_more_than_certificates_is_refused() {
    let t = LoopbackTracker::new();
    let w = tempfile::tempdir().unwrap();
    self_signed_ec(w.path(), "ca", "/CN=a CA", &[]);
    let read = |f: &str| std::fs::read_to_string(w.path().join(f)).unwrap();
    let pasted = format!("{}{}", read("ca-cert.pem"), read("ca-key.pem"));
    let key_line = read("ca-cert.pem").lines().count() + 1;
    t.project.write("acme/root.pem", &pasted);
    let run = t.run(
        &["build", "local"],
        &[
            ("DOMAIN_NAME", DOMAIN),
            ("SSL_EMAIL", "ops@torrust-demo.com"),
            ("ACME_CA_URL", "https://ca.internal/acme/directory"),
            ("ACME_CA_ROOT_FILE", "acme/root.pem"),
        ],
    );
    assert_eq!(run.code(), 1, "{}", run.all());
    let err = run.stderr();
    assert!(
        err.contains("ACME_CA_ROOT_FILE") && err.contains("acme/root.pem"),
        "{err}"
    );
    assert!(err.contains(&format!("line {key_line}")), "{err}");
    assert!(
        !err.contains(read("ca-key.pem").lines().nth(1).unwrap()),
        "{err}"
    );
    assert!(t.project.releases("local").is_empty());
}
