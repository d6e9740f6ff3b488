//! `deploy`, `status` and `destroy` of a Hetzner environment, the binary
//! against the fake API on loopback (tests/common/hetzner_fake), whose
//! servers serve their boot status as a release does (the fake's
//! `boot.rs`): the first deploy makes the volume and the server and points
//! the floating IP; a replacement is the warm-standby hand-over (the volume
//! and the address move, the old server goes); a release that fails before
//! the hand-over leaves the old one alone, one that fails after it gives
//! everything back. The token is in nothing the tool prints.

mod common;

use common::hetzner_fake::{labels, Behaviour, Config, Fake, TOKEN};
use common::{production_secrets, version_of, Project, Run};
use serde_json::Value;

const FLOATING: &str = "203.0.113.10";
/// Two addresses of each family, one pair per UDP tracker as the live demo
/// has; an IPv6 floating IP is a /64, of which one address is served.
const FLOATING_B: &str = "203.0.113.11";
const FLOATING6: [(&str, &str); 2] = [
    ("2001:db8:1::/64", "2001:db8:1::1"),
    ("2001:db8:2::/64", "2001:db8:2::1"),
];

struct Setup {
    fake: Fake,
    project: Project,
    vars: Vec<(String, String)>,
}

impl Setup {
    fn new() -> Setup {
        Setup::over(Fake::start())
    }

    fn over(fake: Fake) -> Setup {
        fake.serve_boot_status();
        fake.add_firewall("torrust-tracker");
        fake.add_floating_ip(FLOATING, "ipv4", labels(&[]));
        fake.add_floating_ip(FLOATING_B, "ipv4", labels(&[]));
        for (net, _) in FLOATING6 {
            fake.add_floating_ip(net, "ipv6", labels(&[]));
        }
        let project = Project::new();
        let env = project.path().join("environments/staging.env");
        let text = std::fs::read_to_string(&env).unwrap();
        std::fs::write(
            &env,
            format!(
                "{text}HETZNER_SSH_KEYS=ops\nHETZNER_FIREWALLS=torrust-tracker\nINFRASTRUCTURE_FLOATING_IPV4={FLOATING},{FLOATING_B}\nINFRASTRUCTURE_FLOATING_IPV6={},{}\n",
                FLOATING6[0].1, FLOATING6[1].1
            ),
        )
        .unwrap();
        let mut vars: Vec<(String, String)> = production_secrets()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.push(("HCLOUD_TOKEN".into(), TOKEN.into()));
        vars.push(("HCLOUD_ENDPOINT".into(), fake.endpoint.clone()));
        Setup {
            fake,
            project,
            vars,
        }
    }

    fn with<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut v: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        v.extend_from_slice(extra);
        v
    }

    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let run = self.project.run(args, &self.with(extra));
        assert!(
            !run.all().contains(TOKEN),
            "the token was printed: {}",
            run.all()
        );
        for (name, secret) in production_secrets() {
            assert!(!run.all().contains(secret), "{name} was printed");
        }
        run
    }

    /// A first deploy that waits for the tracker: the environment serving.
    fn first_deploy(&self) -> Value {
        let (code, out) = self.json(&["deploy", "staging", "--wait", "60s", "--json"], &[]);
        assert_eq!(code, 0, "{out:#}");
        out
    }

    /// The release `extra` builds, told to boot as `b`, deployed over what
    /// serves (with `wait` args): its exit code and JSON.
    fn replace_with(&self, extra: &[(&str, &str)], b: Behaviour, wait: &[&str]) -> (i32, Value) {
        self.fake.behaves(&self.version(extra), b);
        let args: Vec<&str> = ["deploy", "staging", "--json"]
            .into_iter()
            .chain(wait.iter().copied())
            .collect();
        self.json(&args, extra)
    }

    fn json(&self, args: &[&str], extra: &[(&str, &str)]) -> (i32, Value) {
        let run = self.run(args, extra);
        let v = serde_json::from_str(&run.stdout())
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout(), run.stderr()));
        (run.code(), v)
    }

    /// The version `extra` builds (a release the fake can be told about
    /// before it boots).
    fn version(&self, extra: &[(&str, &str)]) -> String {
        version_of(&self.project.build("staging", &self.with(extra)))
    }

    /// Every server as the fake holds it.
    fn servers(&self) -> Vec<Server> {
        self.fake.world(|w| {
            w.servers
                .values()
                .map(|s| {
                    let ids = |v: &Value| {
                        v.as_array()
                            .map(|a| a.iter().filter_map(Value::as_u64).collect())
                            .unwrap_or_default()
                    };
                    (
                        s["name"].as_str().unwrap().to_string(),
                        s["labels"]["release"].as_str().unwrap_or("").to_string(),
                        s["status"].as_str().unwrap().to_string(),
                        ids(&s["volumes"]),
                        ids(&s["public_net"]["floating_ips"]),
                    )
                })
                .collect()
        })
    }
}

/// A server: name, release, status, volumes, floating IPs.
type Server = (String, String, String, Vec<u64>, Vec<u64>);

/// A later release: the same environment with one setting changed.
const NEXT: (&str, &str) = ("TORRUST_TRACKER_LOG_LEVEL", "debug");
const THIRD: (&str, &str) = ("TORRUST_TRACKER_LOG_LEVEL", "trace");

/// A deploy that failed (exit 1) with `outcome`, its reason saying `reason`.
fn failed(code: i32, out: &Value, outcome: &str, reason: &str) {
    assert_eq!(code, 1, "{out:#}");
    assert_eq!(out["outcome"], outcome, "{out:#}");
    assert!(out["reason"].as_str().unwrap().contains(reason), "{out:#}");
}

#[test]
fn first_deploy_then_a_hand_over_moves_the_volume_and_the_address() {
    let s = Setup::new();
    let v1 = s.version(&[]);
    let said = s.first_deploy().to_string();
    assert!(said.contains("created volume"), "{said}");
    let servers = s.servers();
    assert_eq!(servers.len(), 1, "{servers:?}");
    let (name, release, status, vols, fips) = &servers[0];
    assert_eq!(
        (name.as_str(), release, status.as_str()),
        (
            format!("torrust-staging-{}", &v1[..8]).as_str(),
            &v1,
            "running"
        )
    );
    let (volume, fip) = s.fake.world(|w| {
        let v = w.volumes.values().next().unwrap().clone();
        let f: Vec<u64> = w.floating_ips.keys().copied().collect();
        (v, f)
    });
    assert_eq!(volume["name"], "torrust-staging");
    assert_eq!(volume["labels"]["env"], "staging");
    assert_eq!(vols, &[volume["id"].as_u64().unwrap()]);
    assert_eq!(fips, &fip, "every floating IP, both families");
    // The server was made from the release's user-data, behind the firewall.
    let body = s
        .fake
        .seen()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/servers")
        .unwrap()
        .body;
    let user_data = std::fs::read_to_string(
        s.project
            .path()
            .join(format!("releases/staging/{v1}/user-data")),
    )
    .unwrap();
    assert_eq!(body["user_data"], user_data.as_str());
    assert_eq!(body["ssh_keys"], serde_json::json!(["ops"]));
    assert_eq!(body["start_after_create"], false);
    assert!(body["firewalls"][0]["firewall"].is_u64(), "{body}");

    // The status of what runs, through the same boot status.
    let (code, st) = s.json(&["status", "staging", "--json"], &[]);
    assert_eq!(code, 0, "{st:#}");
    assert!(st.to_string().contains("tracker healthy"), "{st:#}");
    let human = s.run(&["status", "staging"], &[]).stdout();
    assert!(
        human.contains("boot \"tracker healthy\"")
            && human.contains("(boot status on port 9099)")
            && human.contains(&format!("{FLOATING} -> torrust-staging-")),
        "{human}"
    );

    // The next release takes over: warm standby, then the hand-over.
    let v2 = s.version(&[NEXT]);
    assert_ne!(v1, v2);
    let (code, out) = s.json(&["deploy", "staging", "--json"], &[NEXT]);
    assert_eq!(code, 0, "{out:#}");
    assert_eq!(out["outcome"], "replaced", "{out:#}");
    assert_eq!(out["previous"], v1.as_str());
    let outage = out["outage_ms"].as_u64().unwrap();
    assert!(outage > 0, "{out:#}");
    let servers = s.servers();
    assert_eq!(servers.len(), 1, "the old server is deleted: {servers:?}");
    let (_, release, status, vols, fips) = &servers[0];
    assert_eq!((release, status.as_str()), (&v2, "running"));
    assert_eq!(vols, &[volume["id"].as_u64().unwrap()], "the volume moved");
    assert_eq!(fips, &fip, "the addresses moved");
    let events: Vec<&str> = out["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"ready for data") && events.ends_with(&["tracker healthy"]),
        "{events:?}"
    );
    let rate_limited = s.fake.seen().iter().filter(|r| r.status == 429).count();
    assert_eq!(rate_limited, 0);

    // rollback: the release before takes over again, the same way.
    let (code, out) = s.json(&["rollback", "staging", "--json"], &[NEXT]);
    assert_eq!(code, 0, "{out:#}");
    assert_eq!(out["version"], v1.as_str(), "{out:#}");
    let servers = s.servers();
    assert_eq!(servers.len(), 1, "{servers:?}");
    let (_, release, status, vols, fips) = &servers[0];
    assert_eq!((release, status.as_str()), (&v1, "running"));
    assert_eq!(vols, &[volume["id"].as_u64().unwrap()]);
    assert_eq!(fips, &fip);

    // destroy keeps the volume and the floating IP unless told.
    let run = s.run(&["destroy", "staging"], &[NEXT]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(s.servers().is_empty());
    assert_eq!(s.fake.world(|w| w.volumes.len()), 1);
    let run = s.run(&["destroy", "staging", "--purge"], &[NEXT]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert_eq!(s.fake.world(|w| w.volumes.len()), 0, "{}", run.all());
    assert_eq!(
        s.fake.world(|w| w.floating_ips.len()),
        4,
        "a floating IP is never deleted"
    );
}

#[test]
fn a_release_that_fails_before_the_hand_over_never_touches_the_old_server() {
    let s = Setup::new();
    s.first_deploy();
    let old = s.servers();
    let (code, out) = s.replace_with(&[NEXT], Behaviour::FailsBeforeReady, &[]);
    failed(code, &out, "kept", "cannot pull the tracker image");
    assert_eq!(s.servers(), old, "the old server ran on, untouched");
    let stops = s
        .fake
        .seen()
        .iter()
        .filter(|r| r.path.ends_with("/actions/shutdown") || r.path.ends_with("/actions/poweroff"))
        .count();
    assert_eq!(stops, 1, "only the failed standby was powered off");
}

#[test]
fn a_release_that_fails_with_the_data_gives_it_back_to_the_old_server() {
    let s = Setup::new();
    s.first_deploy();
    let old = s.servers();
    let (code, out) = s.replace_with(&[THIRD], Behaviour::FailsWithData, &[]);
    failed(
        code,
        &out,
        "rolled back",
        "tracker not healthy within 120 s",
    );
    assert_eq!(
        s.servers(),
        old,
        "the old server runs again with the volume and the address"
    );
}

#[test]
fn a_dry_run_changes_nothing_and_a_missing_ssh_key_is_refused_before_any_change() {
    let s = Setup::new();
    let run = s.run(&["deploy", "staging", "--dry-run"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(run.stdout().contains("POST /servers"), "{}", run.all());
    assert_eq!(s.fake.changes(), 0);
    assert!(s.servers().is_empty());

    let env = s.project.path().join("environments/staging.env");
    let text = std::fs::read_to_string(&env).unwrap();
    std::fs::write(&env, text.replace("HETZNER_SSH_KEYS=ops\n", "")).unwrap();
    let run = s.run(&["deploy", "staging"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(run.stderr().contains("HETZNER_SSH_KEYS"), "{}", run.all());
    // Only the deploy lock was taken and given back.
    let changed: Vec<String> = s
        .fake
        .seen()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(
        changed.iter().all(|c| c.contains("/placement_groups")),
        "{changed:?}"
    );

    // A static address is a local VM's: a Hetzner server gets its own.
    std::fs::write(&env, &text).unwrap();
    let run = s.run(
        &["deploy", "staging"],
        &[
            ("INFRASTRUCTURE_IPV4_ADDRESS", "192.0.2.10/24"),
            ("INFRASTRUCTURE_IPV4_GATEWAY", "192.0.2.1"),
        ],
    );
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr()
            .contains("INFRASTRUCTURE_IPV4_ADDRESS=192.0.2.10/24 is set for staging"),
        "{}",
        run.all()
    );
    assert!(s.servers().is_empty());
}

#[test]
fn a_volume_of_another_environment_and_an_unknown_floating_ip_are_refused() {
    let s = Setup::new();
    s.fake.add_volume(
        "torrust-staging",
        10,
        labels(&[("app", "torrust"), ("env", "production")]),
    );
    let run = s.run(&["deploy", "staging"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr()
            .contains("is not labelled app=torrust,env=staging"),
        "{}",
        run.all()
    );
    assert!(s.servers().is_empty(), "no server was made");

    let s = Setup::new();
    let run = s.run(
        &["deploy", "staging"],
        &[("INFRASTRUCTURE_FLOATING_IPV4", "198.51.100.7")],
    );
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr()
            .contains("INFRASTRUCTURE_FLOATING_IPV4=198.51.100.7 is no floating IP"),
        "{}",
        run.all()
    );
    assert!(s.servers().is_empty(), "no server was made");

    // Without a wait, a first deploy points the address at once: nothing
    // else serves it.
    let run = s.run(&["deploy", "staging"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    let servers = s.servers();
    assert_eq!(servers.len(), 1);
    assert_eq!(
        servers[0].4.len(),
        4,
        "every floating IP is assigned, both families: {servers:?}"
    );
}

#[test]
fn a_second_machines_deploy_is_refused_and_this_ones_stale_lock_taken_over() {
    let s = Setup::new();
    let lock = s.fake.add_placement_group(
        "torrust-bake-lock-staging",
        labels(&[
            ("app", "torrust"),
            ("env", "staging"),
            ("holder", "ops-laptop"),
        ]),
    );
    let run = s.run(&["deploy", "staging"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr()
            .contains("another deploy, rollback or destroy of staging is running from ops-laptop"),
        "{}",
        run.all()
    );
    assert!(s.servers().is_empty(), "nothing was made");
    assert_eq!(s.fake.changes(), 1, "only the lock's create was tried");

    // A lock this machine left (a killed run) is taken over, and given
    // back when the deploy ends.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    s.fake.world(|w| {
        w.placement_groups.get_mut(&lock).unwrap()["labels"]["holder"] =
            serde_json::json!(host.trim())
    });
    let run = s.run(&["deploy", "staging", "--wait", "60s"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(s.fake.world(|w| w.placement_groups.is_empty()));
}

/// What a converged environment looks like: one server of `release`,
/// running, holding the one volume and the floating IP; no lock left.
fn converged(s: &Setup, release: &str, what: &str) {
    let servers = s.servers();
    assert_eq!(servers.len(), 1, "{what}: {servers:?}");
    let (_, r, status, vols, fips) = &servers[0];
    let (volumes, fip) = s.fake.world(|w| {
        (
            w.volumes.keys().copied().collect::<Vec<_>>(),
            w.floating_ips.keys().copied().collect::<Vec<_>>(),
        )
    });
    assert_eq!(
        (r.as_str(), status.as_str(), vols, fips),
        (release, "running", &volumes, &fip),
        "{what}"
    );
    assert_eq!(volumes.len(), 1, "{what}: one volume");
    assert!(
        s.fake.world(|w| w.placement_groups.is_empty()),
        "{what}: the lock was left"
    );
}

#[test]
fn a_deploy_killed_between_any_two_api_calls_converges_when_run_again() {
    // How many changing calls a clean first deploy and hand-over make.
    let s = Setup::new();
    let (v1, v2) = (s.version(&[]), s.version(&[NEXT]));
    s.first_deploy();
    let first = s.fake.changes();
    let (code, _) = s.json(&["deploy", "staging", "--json"], &[NEXT]);
    assert_eq!(code, 0);
    let second = s.fake.changes() - first;
    assert!(first >= 4 && second >= 8, "{first} {second}");

    let kill = |k: usize, replacing: bool| {
        let s = Setup::new();
        let what = format!(
            "killed at change {k} of the {}",
            if replacing {
                "hand-over"
            } else {
                "first deploy"
            }
        );
        let deploy = |extra: &[(&str, &str)]| {
            s.json(&["deploy", "staging", "--wait", "60s", "--json"], extra)
        };
        if replacing {
            assert_eq!(deploy(&[]).0, 0);
        }
        let extra: &[(&str, &str)] = if replacing { &[NEXT] } else { &[] };
        s.fake.kill_after(Some(k));
        let (code, out) = deploy(extra);
        // The last change is the lock's release, which a run that served
        // does not fail for (the next run takes it over).
        let last = k == if replacing { second } else { first };
        assert!(code != 0 || last, "{what}: the run did not die: {out:#}");
        s.fake.kill_after(None);
        let (code, out) = deploy(extra);
        assert_eq!(code, 0, "{what}: the second run: {out:#}");
        converged(&s, if replacing { &v2 } else { &v1 }, &what);
    };
    std::thread::scope(|scope| {
        for k in 1..=first {
            scope.spawn(move || kill(k, false));
        }
        for k in 1..=second {
            scope.spawn(move || kill(k, true));
        }
    });
}

#[test]
fn a_standby_whose_status_cannot_be_read_is_given_up_and_the_old_server_kept() {
    let s = Setup::new();
    s.first_deploy();
    let old = s.servers();
    let reads = s.fake.world(|w| w.status_reads);
    let t = std::time::Instant::now();
    // Its firewall does not let TCP 9099 through.
    let (code, out) = s.replace_with(&[NEXT], Behaviour::Silent, &["--wait", "6s"]);
    let took = t.elapsed();
    failed(code, &out, "kept", "not one boot line could be read");
    assert_eq!(s.servers(), old);
    // At most one read a second while it waited.
    let reads = s.fake.world(|w| w.status_reads) - reads;
    assert!(
        reads as f64 <= took.as_secs_f64() + 1.0,
        "{reads} reads in {took:?}"
    );
}

/// A replacement under `/usr/bin/time`: its exit code, its JSON, the
/// tool's CPU seconds (user + system) and the wall time.
fn timed(s: &Setup, extra: &[(&str, &str)]) -> (i32, Value, f64, f64) {
    let times = s.project.path().join("times");
    let mut cmd = std::process::Command::new("/usr/bin/time");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["-f", "%U %S", "-o"])
        .arg(&times)
        .arg(common::BIN)
        .arg("-C")
        .arg(s.project.path())
        .args(["deploy", "staging", "--json"]);
    for (k, v) in s.with(extra) {
        cmd.env(k, v);
    }
    let t = std::time::Instant::now();
    let out = cmd.output().unwrap();
    let wall = t.elapsed().as_secs_f64();
    let cpu: f64 = std::fs::read_to_string(&times)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap())
        .sum();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, cpu, wall)
}

#[test]
// The figures of issue 22's targets, on stderr for `--nocapture`.
#[allow(clippy::print_stderr)]
fn waiting_for_a_slow_boot_costs_under_one_api_request_a_second_and_little_cpu() {
    let s = Setup::over(Fake::with(Config {
        latency: std::time::Duration::from_millis(50),
        ..Config::default()
    }));
    s.first_deploy();
    // The same hand-over twice: with a boot that says "ready" at once,
    // and with one that takes 10 s more; the difference is the wait's cost.
    let before = s.fake.seen().len();
    let (code, out, _, fast) = timed(&s, &[NEXT]);
    assert_eq!(code, 0, "{out:#}");
    let quick = s.fake.seen().len() - before;
    s.fake
        .world(|w| w.boot_takes = std::time::Duration::from_secs(10));
    let before = s.fake.seen().len();
    let (code, out, cpu, slow) = timed(&s, &[THIRD]);
    assert_eq!(code, 0, "{out:#}");
    let waited = s.fake.seen().len() - before;
    let per_s = (waited as f64 - quick as f64) / (slow - fast);
    eprintln!(
        "hand-over: {quick} requests in {fast:.1} s; with a 10 s longer boot {waited} in {slow:.1} s: {per_s:.2} requests a second of waiting; CPU {cpu:.2} s of {slow:.1} s ({:.1} %)",
        cpu / slow * 100.0
    );
    assert!(slow - fast > 8.0, "the boot did not take longer");
    assert!(per_s <= 1.0, "{per_s:.2} requests a second of waiting");
    assert!(cpu <= 0.10 * slow, "CPU {cpu:.2} s of {slow:.1} s");
    assert_eq!(s.fake.seen().iter().filter(|r| r.status == 429).count(), 0);
}
