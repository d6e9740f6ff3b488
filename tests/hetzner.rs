//! The Hetzner Cloud API client against the fake API on loopback
//! (tests/common/hetzner_fake): shapes, pagination, label selectors,
//! actions, retries, the rate limit, lost answers, and the token kept out
//! of everything the client says.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::hetzner_fake::{labels, Config, Fake, Fault, TOKEN};
use serde_json::json;
use torrust_bake::error::{Error, Kind};
use torrust_bake::provider::hetzner::{
    self, Client, Failure, NewServer, NewVolume, Options, Token,
};

/// Options that keep the tests fast: short timeouts, tiny backoffs.
fn fast() -> Options {
    Options {
        timeout: Duration::from_millis(1500),
        retry_base: Duration::from_millis(10),
        retry_cap: Duration::from_millis(80),
        jitter: false,
        poll_base: Duration::from_millis(20),
        poll_cap: Duration::from_millis(60),
        action_timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

fn client(fake: &Fake, opts: Options) -> Client {
    Client::new(&fake.endpoint, Token::new(TOKEN).unwrap(), opts)
}

/// A client whose progress lines are kept.
fn logged(fake: &Fake, opts: Options) -> (Client, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let keep = lines.clone();
    let opts = Options {
        log: Some(Arc::new(move |l: &str| {
            keep.lock().unwrap().push(l.to_string())
        })),
        ..opts
    };
    (client(fake, opts), lines)
}

fn new_server(name: &str) -> NewServer {
    NewServer {
        name: name.to_string(),
        server_type: "cx22".into(),
        image: "debian-12".into(),
        location: "fsn1".into(),
        ssh_keys: vec!["ops".into()],
        firewalls: vec![42],
        labels: hetzner::labels("production", Some("0123456789ab")),
        user_data: "#cloud-config\nwrite_files: []\n".into(),
        start_after_create: false,
        volumes: vec![],
    }
}

#[test]
fn creates_a_server_from_the_releases_inputs_and_waits_for_it() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    let s = c
        .create_server(&new_server("torrust-production-0123456789ab"))
        .unwrap();
    assert_eq!(s.status, "off", "not started: start_after_create false");
    assert_eq!(s.labels["release"], "0123456789ab");
    let post = fake
        .seen()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.path, "/servers");
    let b = &post.body;
    assert_eq!(b["server_type"], "cx22");
    assert_eq!(b["image"], "debian-12");
    assert_eq!(b["location"], "fsn1");
    assert_eq!(b["ssh_keys"], json!(["ops"]));
    assert_eq!(b["firewalls"], json!([{ "firewall": 42 }]));
    assert_eq!(
        b["labels"],
        json!({"app": "torrust", "env": "production", "release": "0123456789ab"})
    );
    assert_eq!(b["start_after_create"], json!(false));
    assert!(b["user_data"]
        .as_str()
        .unwrap()
        .starts_with("#cloud-config"));
    assert_eq!(
        post.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        fake.world(|w| w.user_data[&s.id].clone()),
        b["user_data"].as_str().unwrap()
    );
    assert!(
        fake.count("GET", "/actions/") >= 1,
        "the create action was polled"
    );
}

#[test]
fn a_create_waits_for_its_next_actions_in_one_poll_each() {
    let fake = Fake::start();
    let vol = fake.add_volume("torrust-production-data", 10, labels(&[("app", "torrust")]));
    let c = client(&fake, fast());
    let mut new = new_server("torrust-production-a");
    new.start_after_create = true;
    new.volumes = vec![vol];
    let s = c.create_server(&new).unwrap();
    assert_eq!(s.status, "running");
    assert_eq!(s.volumes, vec![vol]);
    assert_eq!(c.volume(vol).unwrap().unwrap().server, Some(s.id));
    // create_server + start_server + attach_volume, polled together.
    let polls: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|r| r.path == "/actions")
        .collect();
    assert!(!polls.is_empty());
    assert_eq!(polls[0].query.iter().filter(|(k, _)| k == "id").count(), 3);
    let post = fake
        .seen()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.body["automount"], json!(false));
}

#[test]
fn lists_by_label_selector_over_pages_of_50() {
    let fake = Fake::start();
    for i in 0..120 {
        let env = if i % 3 == 0 { "production" } else { "staging" };
        fake.add_server(
            &format!("s{i}"),
            labels(&[("app", "torrust"), ("env", env)]),
        );
    }
    fake.add_server("other", labels(&[("env", "production")]));
    let c = client(&fake, fast());
    let prod = c.servers("app=torrust,env=production").unwrap();
    assert_eq!(prod.len(), 40);
    assert!(prod
        .iter()
        .all(|s| s.labels["env"] == "production" && s.labels["app"] == "torrust"));
    let gets: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|r| r.path == "/servers")
        .collect();
    assert_eq!(gets.len(), 1, "40 fit one page");
    assert!(gets[0].query.contains(&("per_page".into(), "50".into())));
    assert!(gets[0]
        .query
        .contains(&("label_selector".into(), "app=torrust,env=production".into())));
    let all = c.servers("app=torrust").unwrap();
    assert_eq!(all.len(), 120);
    assert_eq!(
        fake.count("GET", "/servers"),
        1 + 3,
        "120 take pages 1, 2 and 3"
    );
    assert_eq!(c.servers("env!=staging,!app").unwrap().len(), 1);
    let e = c.servers("env in (a,b)").unwrap_err();
    assert_eq!(e.code(), Some("invalid_input"));
}

#[test]
fn invalid_input_names_the_fields_to_fix() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    let mut bad = new_server("Not A Hostname!");
    bad.user_data = "x".repeat(40 * 1024);
    let f = c.create_server(&bad).unwrap_err();
    let msg = f.to_string();
    assert!(msg.contains("400 invalid_input"), "{msg}");
    assert!(
        msg.contains("fix `name`: must be a valid hostname"),
        "{msg}"
    );
    assert!(
        msg.contains("`user_data`: must be at most 32768 bytes"),
        "{msg}"
    );
    assert!(!msg.contains("xxxx"), "no user-data in the message");
    assert_eq!(Error::from(f).kind, Kind::Invalid);
    assert_eq!(
        fake.count("POST", "/servers"),
        1,
        "invalid input is not retried"
    );

    let mut taken = new_server("taken");
    c.create_server(&taken).unwrap();
    taken.labels.insert("release".into(), "other".into());
    let msg = c.create_server(&taken).unwrap_err().to_string();
    assert!(
        msg.contains("uniqueness_error") && msg.contains("exists already"),
        "{msg}"
    );
}

#[test]
fn no_ssh_key_is_refused_before_anything_is_sent() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    let mut new = new_server("keyless");
    new.ssh_keys.clear();
    let msg = c.create_server(&new).unwrap_err().to_string();
    assert!(msg.contains("root password"), "{msg}");
    assert!(fake.seen().is_empty());
}

#[test]
fn a_refused_token_says_check_hcloud_token_and_never_shows_it() {
    let fake = Fake::start();
    let canary = "canary-token-6b1f0c2e9d";
    let (c, lines) = logged(&fake, fast());
    let c = Client::new(
        c.endpoint(),
        Token::new(canary).unwrap(),
        c.options().clone(),
    );
    let f = c.servers("app=torrust").unwrap_err();
    let msg = f.to_string();
    assert!(
        msg.contains("401 unauthorized") && msg.contains("check HCLOUD_TOKEN"),
        "{msg}"
    );
    assert_eq!(Error::from(f.clone()).kind, Kind::Denied);
    assert_eq!(fake.count("GET", "/servers"), 1, "401 is not retried");
    for text in [
        msg,
        format!("{f:?}"),
        format!("{c:?}"),
        lines.lock().unwrap().join("\n"),
    ] {
        assert!(!text.contains(canary), "{text}");
    }
    // The fake did receive it, as a bearer token.
    assert_eq!(
        fake.seen()[0].authorization.as_deref(),
        Some(format!("Bearer {canary}").as_str())
    );
}

#[test]
fn the_token_is_in_no_error_log_or_debug_output_under_any_fault() {
    let fake = Fake::start();
    let (c, lines) = logged(
        &fake,
        Options {
            max_retries: 2,
            timeout: Duration::from_millis(400),
            ..fast()
        },
    );
    let mut said = vec![format!("{c:?}"), format!("{:?}", c.options())];
    let fip = fake.add_floating_ip("203.0.113.10", "ipv4", labels(&[]));
    let faults = [
        Fault::Error {
            status: 500,
            code: "server_error",
        },
        Fault::Error {
            status: 503,
            code: "unavailable",
        },
        Fault::RateLimited { reset_in: 1 },
        Fault::Slow(Duration::from_millis(800)),
        Fault::GatewayAfter,
    ];
    for fault in faults {
        fake.fault("GET", "/servers", 5, fault.clone());
        said.push(format!("{:?}", c.servers("app=torrust")));
        fake.fault("POST", "/floating_ips", 5, fault);
        said.push(format!("{:?}", c.assign_floating_ip(fip, 999_999)));
        if let Err(f) = c.server(1) {
            said.push(f.to_string());
        }
    }
    fake.fail_action("create_server", "server_error", "injected");
    let f = c.create_server(&new_server("fails")).unwrap_err();
    said.push(f.to_string());
    said.push(Error::from(f).to_string());
    said.extend(lines.lock().unwrap().iter().cloned());
    let all = said.join("\n");
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    assert!(
        all.contains("retrying"),
        "the faults were retried and said so:\n{all}"
    );
}

#[test]
fn retries_503_502_conflict_and_locked_but_not_500() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    for (status, code) in [
        (503, "unavailable"),
        (502, "bad_gateway"),
        (409, "conflict"),
        (423, "locked"),
        (504, "timeout"),
    ] {
        let before = fake.count("GET", "/servers");
        fake.fault("GET", "/servers", 2, Fault::Error { status, code });
        c.servers("app=torrust").unwrap();
        assert_eq!(
            fake.count("GET", "/servers") - before,
            3,
            "{code}: two failures, then the answer"
        );
    }
    fake.fault(
        "GET",
        "/servers",
        1,
        Fault::Error {
            status: 500,
            code: "server_error",
        },
    );
    let f = c.servers("app=torrust").unwrap_err();
    assert!(f.to_string().contains("500 server_error"), "{f}");
    assert!(f.to_string().contains("try again in a few minutes"), "{f}");
}

#[test]
fn gives_up_after_five_retries_with_the_last_error() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    fake.fault(
        "GET",
        "/volumes",
        100,
        Fault::Error {
            status: 503,
            code: "unavailable",
        },
    );
    let t = Instant::now();
    let f = c.volumes("app=torrust").unwrap_err();
    assert_eq!(fake.count("GET", "/volumes"), 6, "1 + 5 retries");
    assert!(f.to_string().contains("(6 attempts)"), "{f}");
    // 10 + 20 + 40 + 80 + 80 ms: doubling, capped.
    assert!(
        t.elapsed() >= Duration::from_millis(230),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_429_waits_as_its_rate_limit_headers_say() {
    let fake = Fake::start();
    let (c, lines) = logged(&fake, fast());
    fake.fault(
        "GET",
        "/floating_ips",
        1,
        Fault::RateLimited { reset_in: 2 },
    );
    let t = Instant::now();
    c.floating_ips("").unwrap();
    let waited = t.elapsed();
    // Remaining 0: one request grows back in (Reset - now) / Limit, at least 1 s.
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(fake.count("GET", "/floating_ips"), 2);
    assert!(lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("429 rate_limit_exceeded")));
}

#[test]
fn an_empty_bucket_is_waited_for_not_run_into() {
    // A bucket of 3 that grows back 2 a second.
    let fake = Fake::with(Config {
        rate_limit: (3, 2.0),
        ..Config::default()
    });
    let c = client(&fake, fast());
    let t = Instant::now();
    for _ in 0..7 {
        c.volumes("").unwrap();
    }
    assert!(
        fake.seen().iter().all(|r| r.status != 429),
        "no request ran into the limit"
    );
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    let rate = c.rate_limit().unwrap();
    assert_eq!(rate.limit, 3);
}

#[test]
fn an_action_that_ends_in_error_is_the_error() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    let s = c.create_server(&new_server("a")).unwrap();
    let fip = fake.add_floating_ip("203.0.113.10", "ipv4", labels(&[]));
    fake.fail_action(
        "assign_floating_ip",
        "floating_ip_assign_failed",
        "could not assign",
    );
    let f = c.assign_floating_ip(fip, s.id).unwrap_err();
    assert!(matches!(f, Failure::Action { .. }), "{f:?}");
    let msg = f.to_string();
    assert!(
        msg.contains("assign_floating_ip") && msg.contains("could not assign"),
        "{msg}"
    );
    assert_eq!(
        c.floating_ip(fip).unwrap().unwrap().server,
        None,
        "a failed action changes nothing"
    );
}

#[test]
fn an_action_that_never_ends_is_reported_after_the_bound() {
    let fake = Fake::start();
    let c = client(
        &fake,
        Options {
            action_timeout: Duration::from_millis(400),
            ..fast()
        },
    );
    let mut new = new_server("a");
    new.start_after_create = true;
    let s = c.create_server(&new).unwrap();
    fake.world(|w| w.stall.push("shutdown_server".into()));
    let f = c.shutdown_server(s.id).unwrap_err();
    assert!(matches!(f, Failure::ActionTimeout { .. }), "{f:?}");
    assert!(f.to_string().contains("still runs after"), "{f}");
}

#[test]
fn a_create_whose_answer_was_lost_is_looked_up_by_name_not_sent_again() {
    let fake = Fake::start();
    let (c, lines) = logged(
        &fake,
        Options {
            timeout: Duration::from_millis(300),
            ..fast()
        },
    );
    fake.fault(
        "POST",
        "/servers",
        1,
        Fault::Slow(Duration::from_millis(1200)),
    );
    let s = c
        .create_server(&new_server("torrust-production-lost"))
        .unwrap();
    assert_eq!(
        fake.count("POST", "/servers"),
        1,
        "one POST, never a second server"
    );
    assert_eq!(fake.world(|w| w.servers.len()), 1);
    assert_eq!(s.name, "torrust-production-lost");
    assert_eq!(s.status, "off");
    let looked = fake.seen().into_iter().any(|r| {
        r.method == "GET"
            && r.path == "/servers"
            && r.query
                .contains(&("name".into(), "torrust-production-lost".into()))
    });
    assert!(looked, "looked the server up by name");
    assert!(lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("was done; not sent again")));
}

#[test]
fn a_volume_behind_a_502_is_looked_up_by_name_not_made_twice() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    fake.fault("POST", "/volumes", 1, Fault::GatewayAfter);
    let new = NewVolume {
        name: "torrust-production-data".into(),
        size_gb: 10,
        location: "fsn1".into(),
        labels: hetzner::labels("production", None),
        format: Some("ext4".into()),
    };
    let v = c.create_volume(&new).unwrap();
    assert_eq!(fake.count("POST", "/volumes"), 1);
    assert_eq!(fake.world(|w| w.volumes.len()), 1);
    assert_eq!(
        v.device_path(),
        format!("/dev/disk/by-id/scsi-0HC_Volume_{}", v.id)
    );
    let post = fake
        .seen()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.body["format"], "ext4");
    assert_eq!(post.body["automount"], json!(false));
}

#[test]
fn a_post_that_did_not_happen_is_sent_again_after_the_look_up() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    // A gateway timeout that never reached the API: nothing was made.
    fake.fault(
        "POST",
        "/servers",
        1,
        Fault::Error {
            status: 504,
            code: "timeout",
        },
    );
    c.create_server(&new_server("second-try")).unwrap();
    assert_eq!(fake.count("POST", "/servers"), 2);
    assert_eq!(fake.world(|w| w.servers.len()), 1);
}

#[test]
fn an_attach_refused_because_a_lost_one_got_there_first_is_done() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    let s = c.create_server(&new_server("a")).unwrap();
    let v = fake.add_volume("torrust-data", 10, labels(&[]));
    // The first attach is carried out but its answer lost; the look-up
    // finds it still running, the second is refused, locked, then
    // `volume_already_attached` (to this very server) once the first ends.
    fake.fault(
        "POST",
        &format!("/volumes/{v}/actions/attach"),
        1,
        Fault::GatewayAfter,
    );
    c.attach_volume(v, s.id).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(c.volume(v).unwrap().unwrap().server, Some(s.id));
    assert!(fake.count("POST", &format!("/volumes/{v}/actions/attach")) >= 2);
}

#[test]
fn a_lost_assign_is_checked_before_it_is_sent_again() {
    let fake = Fake::start();
    let c = client(
        &fake,
        Options {
            timeout: Duration::from_millis(300),
            ..fast()
        },
    );
    let s = c.create_server(&new_server("a")).unwrap();
    let fip = fake.add_floating_ip("203.0.113.10", "ipv4", labels(&[]));
    fake.fault(
        "POST",
        "/floating_ips",
        1,
        Fault::Slow(Duration::from_millis(1000)),
    );
    c.assign_floating_ip(fip, s.id)
        .unwrap_or_else(|f| panic!("{f}"));
    // The action was still running at the look-up: sent again, and the
    // second found it locked until the first ended; never two assignments.
    assert_eq!(c.floating_ip(fip).unwrap().unwrap().server, Some(s.id));
}

#[test]
fn volume_and_floating_ip_move_between_servers() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    let mut a = new_server("old");
    a.start_after_create = true;
    let old = c.create_server(&a).unwrap();
    let mut b = new_server("new");
    b.start_after_create = true;
    let new = c.create_server(&b).unwrap();
    let vol = fake.add_volume(
        "data",
        10,
        labels(&[("app", "torrust"), ("env", "production")]),
    );
    let fip = fake.add_floating_ip("203.0.113.10", "ipv4", labels(&[]));

    c.attach_volume(vol, old.id).unwrap();
    c.assign_floating_ip(fip, old.id).unwrap();
    assert_eq!(
        c.server(old.id).unwrap().unwrap().public_net.floating_ips,
        vec![fip]
    );
    c.attach_volume(vol, old.id).unwrap();
    assert_eq!(
        fake.count("POST", "/volumes"),
        1,
        "attached already: nothing sent"
    );

    c.shutdown_server(old.id).unwrap();
    c.wait_status(old.id, &["off"], Duration::from_secs(2))
        .unwrap();
    c.detach_volume(vol).unwrap();
    c.attach_volume(vol, new.id).unwrap();
    c.assign_floating_ip(fip, new.id).unwrap();
    assert_eq!(c.volume(vol).unwrap().unwrap().server, Some(new.id));
    assert_eq!(
        c.floating_ip_by_address("203.0.113.10")
            .unwrap()
            .unwrap()
            .server,
        Some(new.id)
    );
    assert!(c.server(old.id).unwrap().unwrap().volumes.is_empty());
    c.unassign_floating_ip(fip).unwrap();
    assert_eq!(c.floating_ip(fip).unwrap().unwrap().server, None);
    assert_eq!(c.volumes("env=production").unwrap().len(), 1);
    assert_eq!(c.volume_by_name("data").unwrap().unwrap().id, vol);
}

#[test]
fn power_off_and_delete_leave_the_volume_and_ip_behind() {
    let fake = Fake::start();
    let c = client(&fake, fast());
    let mut new = new_server("gone");
    new.start_after_create = true;
    let s = c.create_server(&new).unwrap();
    let vol = fake.add_volume("data", 10, labels(&[]));
    let fip = fake.add_floating_ip("2001:db8:1::", "ipv6", labels(&[]));
    c.attach_volume(vol, s.id).unwrap();
    c.assign_floating_ip(fip, s.id).unwrap();
    c.poweroff_server(s.id).unwrap();
    assert_eq!(c.server(s.id).unwrap().unwrap().status, "off");
    c.poweron_server(s.id).unwrap();
    assert_eq!(c.server_by_name("gone").unwrap().unwrap().status, "running");
    assert!(c.delete_server(s.id).unwrap());
    assert!(c.server(s.id).unwrap().is_none());
    assert!(!c.delete_server(s.id).unwrap(), "gone already");
    assert_eq!(c.volume(vol).unwrap().unwrap().server, None);
    assert_eq!(
        c.floating_ip_by_address("2001:db8:1::/64")
            .unwrap()
            .unwrap()
            .server,
        None
    );
}

#[test]
fn polling_costs_at_most_about_one_request_a_second() {
    let fake = Fake::with(Config {
        action_duration: Duration::from_secs(4),
        ..Config::default()
    });
    // The default poll schedule (500 ms, 1 s, 1.5 s, 2 s, 2 s, ...).
    let c = client(
        &fake,
        Options {
            poll_base: Options::default().poll_base,
            poll_cap: Options::default().poll_cap,
            ..fast()
        },
    );
    let t = Instant::now();
    c.create_server(&new_server("slow")).unwrap();
    let waited = t.elapsed().as_secs_f64();
    let polls = fake.count("GET", "/actions");
    assert!(waited >= 4.0, "{waited}");
    assert!((polls as f64) <= waited, "{polls} polls in {waited:.1} s");
}

#[test]
fn a_slow_api_is_still_answered_within_the_timeout() {
    let fake = Fake::with(Config {
        latency: Duration::from_millis(50),
        ..Config::default()
    });
    let c = client(&fake, fast());
    let s = c.create_server(&new_server("latent")).unwrap();
    assert_eq!(c.servers("app=torrust").unwrap()[0].id, s.id);
    assert!(c.requests_sent() >= 3);
}
