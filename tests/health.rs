//! `health` against the real tracker started from a rendered tracker.toml,
//! against the tracker crate's own clients, and against a fake UDP tracker
//! for replies the real one never sends.

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn check<'a>(v: &'a serde_json::Value, name: &str, target_end: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name && c["target"].as_str().unwrap().ends_with(target_end))
        .unwrap_or_else(|| panic!("no {name} check for {target_end}: {v:#}"))
}

fn failing(v: &serde_json::Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn wait_healthy(s: &LoopbackTracker) {
    let run = s.run(&["health", "local", "--wait", "30s"], &[]);
    assert_eq!(
        run.code(),
        0,
        "tracker never became healthy: {}{}",
        run.stdout(),
        run.stderr()
    );
}

/// (Tracker 3.0.0 lists a loopback peer as its `external_ip`, 0.0.0.0 by
/// default: `health::peers::expected_ip`.)
#[test]
fn all_checks_pass_against_the_real_tracker() {
    let s = LoopbackTracker::new();
    let _t = s.start();
    wait_healthy(&s);
    let run = s.run(&["health", "local"], &[]);
    assert_eq!(run.code(), 0, "{}", run.stdout());
    let out = run.stdout();
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        6,
        "{out}"
    );
    assert!(out.contains("local: healthy (6 checks)"));
    assert!(out.contains(" ms "), "each check prints its latency");
    let (code, v, _) = s.health_json(&[], &[]);
    assert_eq!(code, 0);
    assert_eq!(v["ok"], true);
    for port in &s.udp {
        let c = check(&v, "udp tracker", &format!(":{port}"));
        assert!(
            c["detail"].as_str().unwrap().contains(
                "connect, announce (interval 300 s), peer list has the first peer 0.0.0.0:6881, scrape"
            ),
            "{c}"
        );
    }
    let http = check(&v, "http tracker", "");
    assert!(
        http["detail"]
            .as_str()
            .unwrap()
            .contains("interval 300 s), peer list has the first peer 0.0.0.0:6881, scrape"),
        "{http}"
    );
    assert!(check(&v, "api stats", "/api/v1/stats")["detail"]
        .as_str()
        .unwrap()
        .starts_with("authenticated"));
}

#[test]
fn a_wrong_token_fails_the_api_check_only() {
    let s = LoopbackTracker::new();
    let _t = s.start();
    wait_healthy(&s);
    let (code, v, _) = s.health_json(
        &[],
        &[("TORRUST_TRACKER_API_TOKEN", "not-the-deployed-token")],
    );
    assert_eq!(code, 1);
    assert_eq!(failing(&v), vec!["api stats"]);
    let c = check(&v, "api stats", "/api/v1/stats");
    assert!(
        c["detail"].as_str().unwrap().starts_with("token rejected"),
        "{c}"
    );
    assert!(
        !v.to_string().contains("not-the-deployed-token"),
        "token echoed"
    );
}

#[test]
fn a_closed_port_fails_that_check_with_a_clear_message() {
    let s = LoopbackTracker::new();
    let _t = s.start();
    wait_healthy(&s);
    let closed_udp = free_udp_port();
    let closed_tcp = free_tcp_port();
    let udp = format!("{},{closed_udp}", s.udp[0]);
    let http = s.var("TORRUST_TRACKER_HTTP_PORTS");
    let both_http = format!("{http},{closed_tcp}");
    // A closed port answers at once; the long timeout only keeps the live
    // tracker's checks from failing on a loaded machine.
    let (code, v, _) = s.health_json(
        &["--timeout", "2s"],
        &[
            ("TORRUST_TRACKER_UDP_PORTS", &udp),
            ("TORRUST_TRACKER_HTTP_PORTS", &both_http),
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(failing(&v), vec!["udp tracker", "http tracker"]);
    let c = check(&v, "udp tracker", &format!(":{closed_udp}"));
    assert!(c["detail"].as_str().unwrap().contains("port closed"), "{c}");
    let c = check(&v, "http tracker", &format!(":{closed_tcp}"));
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("port closed: connection refused"),
        "{c}"
    );
    assert_eq!(
        check(&v, "udp tracker", &format!(":{}", s.udp[0]))["ok"],
        true
    );
}

#[test]
fn wait_rides_out_a_tracker_that_starts_late_and_reports_one_that_stopped() {
    let s = LoopbackTracker::new();
    // Build first so the tracker can start while health is already waiting.
    let release = s.build();
    let mut cmd = s.command(&["health", "local", "--wait", "30s", "--timeout", "200ms"]);
    let waiting = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let tracker = start_tracker(&release.join("bundle/opt/torrust/tracker/tracker.toml"));
    let out = waiting.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("round 1: 6 of 6 checks failing, retrying in"),
        "progress shown: {stderr}"
    );

    // Stopped mid-run: every check fails, each saying why.
    drop(tracker);
    let started = Instant::now();
    let (code, v, stderr) = s.health_json(&["--wait", "1s", "--timeout", "100ms"], &[]);
    assert_eq!(code, 1);
    assert_eq!(failing(&v).len(), 6, "{v:#}");
    assert!(stderr.contains("round 1:"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the deadline holds"
    );
}

#[test]
fn the_trackers_own_clients_agree() {
    let s = LoopbackTracker::new();
    let _t = s.start();
    wait_healthy(&s);
    let hash: String = torrust_bake::health::INFO_HASH
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let udp_ok = |port: u16| {
        let out = verifier(
            "udp_tracker_client",
            &["announce", &format!("127.0.0.1:{port}"), &hash],
            s.project.path(),
        );
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("announce_interval")
    };
    let (_, v, _) = s.health_json(&[], &[]);
    assert!(udp_ok(s.udp[0]));
    assert_eq!(
        check(&v, "udp tracker", &format!(":{}", s.udp[0]))["ok"],
        true
    );
    let http = s.var("TORRUST_TRACKER_HTTP_PORTS");
    let out = verifier(
        "http_tracker_client",
        &["announce", &format!("http://127.0.0.1:{http}"), &hash],
        s.project.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("interval"),
        "http_tracker_client: {text}"
    );
    assert_eq!(check(&v, "http tracker", "")["ok"], true);
    // A closed port: both fail.
    let closed = free_udp_port();
    assert!(!udp_ok(closed), "udp_tracker_client reached a closed port");
    let (_, v, _) = s.health_json(
        &["--timeout", "200ms"],
        &[("TORRUST_TRACKER_UDP_PORTS", &closed.to_string())],
    );
    assert_eq!(check(&v, "udp tracker", &format!(":{closed}"))["ok"], false);
}

/// Builds the fake tracker's reply to a request.
type Reply = fn(&[u8]) -> Vec<u8>;

/// A UDP "tracker" that answers a connect with one crafted reply.
fn fake_udp(reply: Reply) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&reply(&buf[..n]), from);
        }
    });
    port
}

#[test]
fn replies_the_real_tracker_never_sends() {
    let s = LoopbackTracker::new();
    let cases: [(Reply, &str); 4] = [
        // Another transaction id is no reply to this request (BEP 15):
        // discarded, and the wait goes on until the last attempt's end.
        (
            |req| {
                let mut r = vec![0, 0, 0, 0];
                let tid = u32::from_be_bytes(req[12..16].try_into().unwrap()).wrapping_add(1);
                r.extend_from_slice(&tid.to_be_bytes());
                r.extend_from_slice(&[7; 8]);
                r
            },
            "connect: no reply after 3 attempts (1.4 s in all); 3 replies with another transaction id were discarded",
        ),
        (|_| vec![0, 0, 0], "connect: truncated reply: 3 bytes"),
        (
            |req| {
                let mut r = vec![0, 0, 0, 3];
                r.extend_from_slice(&req[12..16]);
                r.extend_from_slice(b"go away");
                r
            },
            "connect: tracker error: go away",
        ),
        (
            |req| {
                let mut r = vec![0, 0, 0, 0];
                r.extend_from_slice(&req[12..16]);
                r.extend_from_slice(&[1, 2]);
                r
            },
            "connect: truncated reply of 10 bytes, expected at least 16",
        ),
    ];
    for (reply, expected) in cases {
        let port = fake_udp(reply).to_string();
        let (code, v, _) = s.health_json(
            &["--timeout", "200ms"],
            &[("TORRUST_TRACKER_UDP_PORTS", &port)],
        );
        assert_eq!(code, 1);
        let c = check(&v, "udp tracker", &format!(":{port}"));
        assert_eq!(c["ok"], false);
        assert!(
            c["detail"].as_str().unwrap().starts_with(expected),
            "{expected}: {c}"
        );
    }
    // A stale reply first, then the answer: the answer counts (a wrong
    // transaction id used to fail the check at once).
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let tid = &buf[12..16.min(n)];
            let mut stale = vec![0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef];
            stale.extend_from_slice(&[7; 8]);
            let _ = sock.send_to(&stale, from);
            let mut error = vec![0, 0, 0, 3];
            error.extend_from_slice(tid);
            error.extend_from_slice(b"go away");
            let _ = sock.send_to(&error, from);
        }
    });
    let (_, v, _) = s.health_json(
        &["--timeout", "200ms"],
        &[("TORRUST_TRACKER_UDP_PORTS", &port)],
    );
    let c = check(&v, "udp tracker", &format!(":{port}"));
    assert_eq!(c["detail"], "connect: tracker error: go away", "{c}");
    // Silence: every attempt times out, with the doubling timeout.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let (_, v, _) = s.health_json(
        &["--timeout", "100ms"],
        &[("TORRUST_TRACKER_UDP_PORTS", &port)],
    );
    let c = check(&v, "udp tracker", &format!(":{port}"));
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("no reply after 3 attempts (0.7 s in all)"),
        "{c}"
    );
    assert!(c["latency_ms"].as_f64().unwrap() >= 650.0, "{c}");
}

#[test]
fn monitoring_checks_prometheus_and_grafana() {
    let s = LoopbackTracker::new();
    let _t = s.start();
    wait_healthy(&s);
    // The real Prometheus (Debian's package) on a free loopback port.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  scrape_interval: 15s\n",
    )
    .unwrap();
    let prom_port = free_tcp_port();
    let mut prom = Command::new("prometheus")
        .arg(format!(
            "--config.file={}/prometheus.yml",
            dir.path().display()
        ))
        .arg(format!("--storage.tsdb.path={}/data", dir.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus is needed; run scripts/install-test-deps.sh");
    let grafana_port = free_tcp_port(); // nothing listens: Grafana is not packaged here
    let ports = [
        ("PROMETHEUS_PORT", prom_port.to_string()),
        ("GRAFANA_PORT", grafana_port.to_string()),
    ];
    let overrides: Vec<(&str, &str)> = ports.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let v = loop {
        let (_, v, _) = s.health_json(&["--monitoring"], &overrides);
        if check(&v, "prometheus", "/-/healthy")["ok"] == true || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = prom.kill();
    let _ = prom.wait();
    let p = check(&v, "prometheus", "/-/healthy");
    assert_eq!(p["ok"], true, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("Healthy"), "{p}");
    let g = check(&v, "grafana", "/api/health");
    assert_eq!(g["ok"], false);
    assert!(g["detail"].as_str().unwrap().contains("port closed"), "{g}");
    assert_eq!(failing(&v), vec!["grafana"]);
    // Without --monitoring neither is checked.
    let (code, v, _) = s.health_json(&[], &overrides);
    assert_eq!(code, 0);
    assert_eq!(v["checks"].as_array().unwrap().len(), 6);
}

/// A canary token never leaves the program, whatever the API port does to
/// the request (closes at once, sends garbage, stays silent, echoes it in
/// an error page, a proxy's 502 or a field of a 200 reply, as sent or
/// decoded): the HTTP client's errors name the URL, and the stats URL
/// carries the token. Before, an echo was quoted (`HTTP 400: GET
/// /api/v1/stats?token=...`), on success too (`authenticated, "..." torrents`).
#[test]
fn the_api_token_never_appears_when_the_api_misbehaves() {
    use std::io::{BufRead, Write};
    let s = LoopbackTracker::new();
    // A space, a slash, a plus and an ampersand: its URL-encoded form
    // differs from the raw one.
    let canary = "CANARY tok/en+0123&456789-abcdefghijklmnop";
    /// The request line, as sent (`GET /api/v1/stats?token=... HTTP/1.1`).
    fn request_line(c: &std::net::TcpStream) -> String {
        let mut line = String::new();
        let _ = std::io::BufReader::new(c).read_line(&mut line);
        line.trim_end().to_string()
    }
    fn decoded(line: &str) -> String {
        percent_encoding::percent_decode_str(line)
            .decode_utf8_lossy()
            .into_owned()
    }
    fn reply(mut c: std::net::TcpStream, status: &str, body: &str) {
        let _ = write!(
            c,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    let behaviours: [fn(std::net::TcpStream); 8] = [
        |c| drop(c),
        |mut c| {
            let _ = request_line(&c);
            let _ = c.write_all(b"garbage, not HTTP\r\n\r\n");
        },
        |c| {
            std::thread::sleep(Duration::from_millis(600));
            drop(c)
        },
        |c| {
            let line = request_line(&c);
            reply(c, "400 Bad Request", &line)
        },
        |c| {
            let line = decoded(&request_line(&c));
            reply(
                c,
                "502 Bad Gateway",
                &format!("<h1>502</h1> upstream failed for {line}"),
            )
        },
        |c| {
            let line = request_line(&c).to_lowercase();
            reply(c, "404 Not Found", &line)
        },
        |c| {
            let line = request_line(&c);
            let body = serde_json::json!({ "torrents": line }).to_string();
            reply(c, "200 OK", &body)
        },
        |c| {
            let line = decoded(&request_line(&c));
            let body = serde_json::json!({ "status": line, "torrents": line }).to_string();
            reply(c, "200 OK", &body)
        },
    ];
    for behave in behaviours {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(8).flatten() {
                behave(conn);
            }
        });
        for json in [true, false] {
            let mut args = vec!["health", "local", "--timeout", "300ms"];
            if json {
                args.push("--json");
            }
            let run = s.run(
                &args,
                &[
                    ("TORRUST_TRACKER_API_TOKEN", canary),
                    ("TORRUST_TRACKER_API_PORT", &port),
                ],
            );
            assert_eq!(run.code(), 1);
            let all = run.all();
            assert!(all.contains("api stats"), "{all}");
            assert!(!all.contains(canary), "token leaked: {all}");
            assert!(
                !all.to_lowercase().contains("canary"),
                "token leaked: {all}"
            );
            assert!(!all.contains("0123"), "token leaked: {all}");
        }
    }
}

/// The old binding, one dual-stack `[::]` socket a port: tracker 3.0.0
/// answered IPv4 clients in IPv6 format and counted them as IPv6. `health`
/// must fail it on every UDP and HTTP port, and on the API's counters.
#[test]
fn a_tracker_on_one_dual_stack_socket_fails_the_peer_list() {
    let s = LoopbackTracker::new();
    let toml = s.build().join("bundle/opt/torrust/tracker/tracker.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let mut old = String::new();
    let mut section = "";
    for line in text.lines() {
        if line.starts_with('[') {
            section = if line.contains("udp_trackers") || line.contains("http_trackers") {
                "tracker"
            } else {
                ""
            };
        }
        if section == "tracker" {
            old.push_str(&line.replace("\"127.0.0.1:", "\"[::]:"));
        } else {
            old.push_str(line);
        }
        old.push('\n');
    }
    assert_eq!(old.matches("\"[::]:").count(), 3, "{old}");
    let dir = tempfile::tempdir().unwrap();
    let old_toml = dir.path().join("tracker.toml");
    std::fs::write(&old_toml, old).unwrap();
    let _t = start_tracker(&old_toml);
    // Up once the API answers (the tracker checks will not pass).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v, _) = s.health_json(&[], &[]);
        if check(&v, "api health", "")["ok"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tracker never started: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, v, _) = s.health_json(&[], &[]);
    assert_eq!(code, 1, "{v:#}");
    for port in &s.udp {
        let c = check(&v, "udp tracker", &format!(":{port}"));
        let detail = c["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("peer list: 2 of 3 entries are no peer (0.0.0.0:0, 0.0.0.0:65535)"),
            "{c}"
        );
    }
    let http = check(&v, "http tracker", "");
    assert!(
        http["detail"]
            .as_str()
            .unwrap()
            .starts_with("peer list: IPv4 peers are listed as IPv6 ones ([::ffff:127.0.0.1]:6881)"),
        "{http}"
    );
    let stats = check(&v, "api stats", "");
    assert!(
        stats["detail"].as_str().unwrap().starts_with(
            "udp4_announces_handled is 0 after this check's announces (udp6_announces_handled "
        ),
        "{stats}"
    );
}

/// The release's own binding (`::`, the default): 0.0.0.0 and [::] on
/// every port, in a network namespace with `net.ipv6.bindv6only = 1` as
/// compose gives the tracker's container. Both families get their own
/// format and are counted as themselves.
#[test]
fn the_release_binds_each_family_on_its_own_socket() {
    let s = LoopbackTracker::new();
    let vars = s.vars_with(&[("TORRUST_TRACKER_BIND_ADDRESS", "::")]);
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let release = s.project.build("local", &refs);
    let toml = release.join("bundle/opt/torrust/tracker/tracker.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    for port in &s.udp {
        for host in ["0.0.0.0", "[::]"] {
            assert!(
                text.contains(&format!("bind_address = \"{host}:{port}\"")),
                "{text}"
            );
        }
    }
    let compose = std::fs::read_to_string(release.join("bundle/opt/torrust/compose.yaml")).unwrap();
    assert!(compose.contains("net.ipv6.bindv6only: 1"), "{compose}");
    // unshare execs sh, which execs the tracker: one pid, in its own netns.
    let child = Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            "ip link set lo up && ip link add v0 type veth peer name v1 \
             && ip link set v0 up && ip link set v1 up \
             && ip addr add 192.0.2.1/24 dev v0 && ip addr add 2001:db8::1/64 dev v0 nodad \
             && sysctl -qw net.ipv6.bindv6only=1 && exec torrust-tracker",
        ])
        .env("TORRUST_TRACKER_CONFIG_TOML_PATH", &toml)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("unshare (util-linux) and torrust-tracker");
    let tracker = Tracker(child);
    let netns = format!("--net=/proc/{}/ns/net", tracker.0.id());
    let health = |host: &str| {
        let out = Command::new("nsenter")
            .arg(&netns)
            .arg(BIN)
            .args(["-C", s.project.path().to_str().unwrap()])
            .args(["health", "local", "--host", host, "--json"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(refs.iter().copied())
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while health("192.0.2.1").0 != Some(0) {
        assert!(
            Instant::now() < deadline,
            "never healthy: {:#}",
            health("192.0.2.1").1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Addresses that are not loopback (tracker 3.0.0 lists a loopback peer
    // as 0.0.0.0, and then not at all to an IPv6 client). IPv6 first: the
    // API binds 0.0.0.0, where Docker's port forwarding reaches it, so over
    // IPv6 without Docker its checks fail.
    for host in ["2001:db8::1", "192.0.2.1"] {
        let (code, v) = health(host);
        let shown = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        for c in v["checks"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            if name == "udp tracker" || name == "http tracker" {
                assert!(
                    c["detail"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("peer list has the first peer {shown}:6881")),
                    "{host}: {c}"
                );
            }
            if host == "192.0.2.1" {
                assert_eq!(c["ok"], true, "{host}: {c}");
            }
        }
        if host == "192.0.2.1" {
            assert_eq!(code, Some(0), "{v:#}");
        }
    }
    // Every announce counted under its own family: 3 per UDP port (first
    // peer, second, second leaving) and 3 per HTTP port, per run.
    let api = s.var("TORRUST_TRACKER_API_PORT");
    let token = s.var("TORRUST_TRACKER_API_TOKEN");
    let out = Command::new("nsenter")
        .arg(&netns)
        .args(["python3", "-c"])
        .arg(
            "import json,sys,urllib.parse,urllib.request\n\
             u='http://127.0.0.1:'+sys.argv[1]+'/api/v1/stats?token='+urllib.parse.quote(sys.argv[2])\n\
             print(urllib.request.urlopen(u).read().decode())",
        )
        .args([&api, &token])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    for family in ["4", "6"] {
        assert!(
            stats[format!("udp{family}_announces_handled")].as_u64() >= Some(6),
            "{stats}"
        );
        assert!(
            stats[format!("tcp{family}_announces_handled")].as_u64() >= Some(3),
            "{stats}"
        );
    }
    drop(tracker);
}

/// What a server sends is shown, never obeyed and never whole: a 1 MiB
/// Prometheus page with terminal escape sequences was printed raw and in
/// full, on success too; a reply without a status showed Rust's `None`.
#[test]
fn server_text_is_cut_made_printable_and_in_words() {
    use common::fake_http::{serve, Response};
    let s = LoopbackTracker::new();
    let mut page = b"\x1b]0;owned\x07\x1b[2J\x1b[31mHealthy\r\n".to_vec();
    page.extend(std::iter::repeat_n(b'x', 1 << 20));
    let prom = serve(move |_| Response::new(200, page.clone()));
    let api = serve(|req| {
        if req.target.starts_with("/api/health_check") {
            Response::new(200, "{}")
        } else {
            Response::new(404, "no")
        }
    });
    let health = serve(|_| Response::new(503, r#"{"status":"Error\u001b[5m","details":[]}"#));
    let (prom_port, api_port, health_port) = (
        prom.port.to_string(),
        api.port.to_string(),
        health.port.to_string(),
    );
    let vars = [
        ("PROMETHEUS_PORT", prom_port.as_str()),
        ("TORRUST_TRACKER_API_PORT", api_port.as_str()),
        ("TORRUST_TRACKER_HEALTH_CHECK_PORT", health_port.as_str()),
    ];
    for json in [false, true] {
        let mut args = vec!["health", "local", "--monitoring", "--timeout", "2s"];
        if json {
            args.push("--json");
        }
        let run = s.run(&args, &vars);
        assert_eq!(run.code(), 1, "{}", run.all());
        let all = run.all();
        assert!(!all.contains('\x1b'), "escape sequence printed: {all:?}");
        assert!(!all.contains('\x07'), "bell printed: {all:?}");
        assert!(all.len() < 20_000, "{} bytes printed", all.len());
        assert!(
            all.contains("... (cut at 200 characters; 1048576 bytes read)"),
            "{all}"
        );
        assert!(
            all.contains("HTTP 200, the reply has no status (expected \\\"status\\\": \\\"Ok\\\")")
                || all.contains("HTTP 200, the reply has no status (expected \"status\": \"Ok\")"),
            "{all}"
        );
        assert!(!all.contains("None"), "{all}");
        assert!(!all.contains("Some("), "{all}");
        assert!(
            all.contains("HTTP 503, status \\\"Error?[5m\\\"")
                || all.contains("HTTP 503, status \"Error?[5m\""),
            "{all}"
        );
    }
}

/// `--wait` bounds each round by what is left of it: a silent UDP port
/// held a round for every attempt (5 + 10 + 20 s for the connect alone),
/// so `--wait 1s --timeout 5s` took 35 s a silent port (73 s with two).
#[test]
fn wait_ends_on_time_against_a_silent_port() {
    let s = LoopbackTracker::new();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let started = Instant::now();
    let (code, v, _) = s.health_json(
        &["--wait", "1s", "--timeout", "5s"],
        &[("TORRUST_TRACKER_UDP_PORTS", &port)],
    );
    let took = started.elapsed();
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(4), "took {took:?}: {v:#}");
    let c = check(&v, "udp tracker", &format!(":{port}"));
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("connect: no reply before the --wait deadline (1 of 3 attempts in "),
        "{c}"
    );
    drop(silent);
}

/// Each check is printed as it finishes: `health` was silent for seconds
/// and then printed everything. Here the API port accepts and never
/// answers, so its two checks take a second each; the UDP and HTTP
/// checks (closed ports) are on screen long before.
#[test]
fn each_check_is_printed_as_it_finishes() {
    use std::io::BufRead;
    let s = LoopbackTracker::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).flatten().collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    let mut cmd = s.project.command(
        &["health", "local", "--timeout", "1s"],
        &s.vars_with(&[("TORRUST_TRACKER_API_PORT", &port)])
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let first_at = started.elapsed();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let total = started.elapsed();
    assert_eq!(status.code(), Some(1));
    assert!(first.starts_with("FAIL  udp tracker"), "{first}");
    assert!(total >= Duration::from_secs(2), "{total:?}: {rest:?}");
    assert!(
        first_at + Duration::from_millis(1500) < total,
        "first line at {first_at:?}, done at {total:?}"
    );
    assert!(
        rest.last()
            .unwrap()
            .starts_with("local: 6 of 6 checks failed"),
        "{rest:?}"
    );
}

/// The e2e's outage probe (`probe announce-loop`, hidden) answers 1 for a
/// tracker that serves, a refusal included (the torrent is not
/// whitelisted), and 0 for a port where nothing listens; it stops when
/// the --until file appears.
#[test]
fn the_announce_loop_tells_a_serving_tracker_from_a_silent_port() {
    let s = LoopbackTracker::new();
    let _t = s.start();
    wait_healthy(&s);
    let dir = tempfile::tempdir().unwrap();
    let silent = free_udp_port();
    for (target, want) in [
        (format!("127.0.0.1:{}", s.udp[0]), '1'),
        (format!("127.0.0.1:{silent}"), '0'),
    ] {
        let out = dir.path().join(format!("{want}.txt"));
        let until = dir.path().join(format!("{want}.stop"));
        let mut child = s
            .command(&[
                "probe",
                "announce-loop",
                &target,
                "--info-hash",
                "fedcba9876543210fedcba9876543210fedcba98",
                "--every",
                "50ms",
                "--timeout",
                "100ms",
                "--until",
                until.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        std::fs::write(&until, "").unwrap();
        let status = child.wait().unwrap();
        assert!(status.success());
        let lines = std::fs::read_to_string(&out).unwrap();
        assert!(lines.lines().count() >= 3, "{target}: {lines}");
        for l in lines.lines() {
            let (time, ok) = l.split_once(' ').unwrap();
            assert!(time.parse::<f64>().unwrap() > 1.7e9, "{l}");
            assert_eq!(ok, want.to_string(), "{target}: {lines}");
        }
    }
}
