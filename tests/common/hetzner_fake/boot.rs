//! What a fake server says while it boots, served as a release serves it
//! (`torrust-bake:` lines at http://<its IPv4>:9099/boot.log, read-only),
//! so the Hetzner provider's boot follower can be tested without a VM.
//!
//! A server that serves its boot status gets an address of its own on
//! loopback (127.77.x.y, unique in the process: tests run side by side)
//! with a listener on port 9099 that answers only while the server runs.
//! Its lines follow the release's script (templates/install.sh.tera and
//! data-volume.sh.tera) as far as the fake can tell it: installed and
//! images pulled; then, without the data volume, "ready for data" until one
//! is attached; with it, services started and the tracker healthy. A
//! release can be made to fail before it is ready, or once it has the data.
//! Each power-on is a new boot (the file lives in /run).

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{fake_http, World};

/// How a release (by its `release` label) behaves when it boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Good,
    /// Fails before it is ready for data (an image the registry lacks).
    FailsBeforeReady,
    /// Fails once it has the data (a stack that cannot start on it).
    FailsWithData,
    /// Says nothing at all (its firewall does not let the status through).
    Silent,
}

/// One server's current boot: the lines written so far.
#[derive(Debug, Clone)]
pub struct Boot {
    pub lines: Vec<String>,
    started: Instant,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Binds a boot-status listener on a loopback address no other fake
/// server of this process has, and serves `id`'s boot from `world` there.
/// Returns the address.
pub(crate) fn listen(world: &Arc<Mutex<World>>, id: u64) -> String {
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let ip = format!("127.77.{}.{}", n / 250 % 250, n % 250 + 1);
        let Ok(listener) = TcpListener::bind((ip.as_str(), 9099)) else {
            continue;
        };
        let world = Arc::downgrade(world);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Some(world) = world.upgrade() else { return };
                let Some(request) = fake_http::read_request(&stream) else {
                    continue;
                };
                let text = {
                    let mut w = world.lock().unwrap();
                    w.tick();
                    w.status_reads += 1;
                    w.boot_log(id)
                };
                // A server that is off, gone or silent does not answer.
                let Some(text) = text.filter(|_| request.target == "/boot.log") else {
                    continue;
                };
                let response = fake_http::Response::new(200, text)
                    .header("Content-Type", "text/plain; charset=utf-8");
                fake_http::write_response(&stream, &request.method, &response);
            }
        });
        return ip;
    }
}

impl World {
    /// The server started: a new boot begins.
    pub(crate) fn boot_started(&mut self, id: u64) {
        let release = self.release_of(id);
        self.boots.insert(
            id,
            Boot {
                lines: vec![
                    format!("torrust-bake: boot {id}-{}", self.next_id),
                    format!("torrust-bake: release {release} files in place"),
                    "torrust-bake: boot status served on port 9099".into(),
                    "torrust-bake: docker up".into(),
                    "torrust-bake: pulled tracker in 1.2 s".into(),
                    "torrust-bake: images ready".into(),
                ],
                started: Instant::now(),
            },
        );
    }

    fn release_of(&self, id: u64) -> String {
        self.servers.get(&id).map_or(String::new(), |s| {
            s["labels"]["release"].as_str().unwrap_or("").to_string()
        })
    }

    /// The boot log of `id` as it stands now, moved on by what happened to
    /// the server since the last read; `None` while it does not answer.
    pub(crate) fn boot_log(&mut self, id: u64) -> Option<String> {
        let server = self.servers.get(&id)?;
        if server["status"] != "running" {
            return None;
        }
        let volume = server["volumes"]
            .as_array()
            .and_then(|v| v.first())
            .and_then(serde_json::Value::as_u64);
        let behaviour = self
            .behaviour
            .get(&self.release_of(id))
            .copied()
            .unwrap_or(Behaviour::Good);
        if behaviour == Behaviour::Silent {
            return None;
        }
        let slow = self.boot_takes;
        let boot = self.boots.entry(id).or_insert_with(|| Boot {
            lines: Vec::new(),
            started: Instant::now(),
        });
        if boot.started.elapsed() < slow {
            // Still installing: only the boot's first line is written.
            let first = boot.lines.first().cloned().unwrap_or_default();
            return Some(format!("{first}\n"));
        }
        let said = |b: &Boot, what: &str| b.lines.iter().any(|l| l.contains(what));
        let say = |b: &mut Boot, what: String| {
            if !said(b, &what) {
                b.lines.push(format!("torrust-bake: {what}"));
            }
        };
        match (behaviour, volume) {
            (Behaviour::FailsBeforeReady, _) => say(
                boot,
                "FAILED: cannot pull the tracker image registry.test/torrust/tracker@sha256:0000 (details on the console)".into(),
            ),
            (_, None) => say(
                boot,
                "ready for data: waiting for the data volume torrust-data".into(),
            ),
            (_, Some(v)) => {
                if said(boot, "ready for data") {
                    say(
                        boot,
                        format!("data volume attached: /dev/disk/by-id/scsi-0HC_Volume_{v}"),
                    );
                }
                say(boot, "services started".into());
                if behaviour == Behaviour::FailsWithData {
                    say(boot, "FAILED: tracker not healthy within 120 s".into());
                } else {
                    say(boot, "tracker healthy".into());
                }
            }
        }
        let mut text = boot.lines.join("\n");
        text.push('\n');
        Some(text)
    }
}
