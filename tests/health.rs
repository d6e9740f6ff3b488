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
            c["detail"]
                .as_str()
                .unwrap()
                .contains("connect, announce (interval 300 s), scrape"),
            "{c}"
        );
    }
    let http = check(&v, "http tracker", "");
    assert!(
        http["detail"].as_str().unwrap().contains("interval 300 s"),
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
        (
            |req| {
                let mut r = vec![0, 0, 0, 0];
                let tid = u32::from_be_bytes(req[12..16].try_into().unwrap()).wrapping_add(1);
                r.extend_from_slice(&tid.to_be_bytes());
                r.extend_from_slice(&[7; 8]);
                r
            },
            "connect: reply carries transaction id",
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
/// the request (closes at once, sends garbage, stays silent): the HTTP
/// client's errors name the URL, and the stats URL carries the token.
#[test]
fn the_api_token_never_appears_when_the_api_misbehaves() {
    use std::io::{Read, Write};
    let s = LoopbackTracker::new();
    let canary = "CANARY-token-0123456789-abcdefghijklmnop";
    let behaviours: [fn(std::net::TcpStream); 3] = [
        |c| drop(c),
        |mut c| {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"garbage, not HTTP\r\n\r\n");
        },
        |c| {
            std::thread::sleep(Duration::from_millis(600));
            drop(c)
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
            assert!(!all.contains("CANARY"), "token leaked: {all}");
        }
    }
}
