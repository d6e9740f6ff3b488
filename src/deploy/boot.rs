//! The boot timeline and its outcome, read from what a booting machine
//! says: firmware, kernel, cloud-init's stages and the release's own
//! `torrust-bake: ...` lines (templates/install.sh.tera, start.sh.tera),
//! and whether the tracker came up or why it did not. Host clock times,
//! taken when a line is first seen (polled every 250 ms).
//!
//! The parsing is provider-neutral; the lines come from the provider
//! (`Machines::boot_lines`: libvirt's serial console log). That is the one
//! channel every boot has before any network, so a release that cannot
//! start says why there and `deploy --wait` reports the reason instead of
//! timing out.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use crate::provider::{Machine, Machines};

/// One point of the boot timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Milliseconds since the machine was started.
    pub ms: u128,
    pub event: Stage,
    pub detail: String,
}

/// What a boot line marks, in the order a boot passes them. Written (in
/// JSON too) as the words the timeline always had (`cloud-init
/// modules:final`, `pulled tracker`, `tracker healthy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// The first console output.
    Firmware,
    Kernel,
    /// A cloud-init stage starting (`init-local`, `modules:final`, ...).
    CloudInit(String),
    CloudInitDone,
    /// The release's files verified in place.
    ReleaseInPlace,
    DockerUp,
    /// One service's image pulled.
    Pulled(String),
    ImagesReady,
    /// The compose stack created, not started (`up --no-start`).
    StackPrepared,
    /// A standby waits for the data volume.
    ReadyForData,
    DataAttached,
    DataDiskFormatted,
    ReleaseInstalled,
    /// What the previous VM's shutdown backed up (`snapshot ...`, or
    /// `none (...)`), as the VM that took the volume found it.
    HandoverBackup,
    /// The previous VM's hand-over backup failed; the detail says why.
    HandoverBackupFailed,
    /// `deploy --restore`: a snapshot restored onto the empty volume.
    Restored,
    ServicesStarted,
    TrackerHealthy,
    /// The release's `FAILED:` line; the detail says why.
    Failed,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Stage::Firmware => "firmware",
            Stage::Kernel => "kernel",
            Stage::CloudInit(stage) => return write!(f, "cloud-init {stage}"),
            Stage::CloudInitDone => "cloud-init done",
            Stage::ReleaseInPlace => "release in place",
            Stage::DockerUp => "docker up",
            Stage::Pulled(service) => return write!(f, "pulled {service}"),
            Stage::ImagesReady => "images ready",
            Stage::StackPrepared => "stack prepared",
            Stage::ReadyForData => "ready for data",
            Stage::DataAttached => "data attached",
            Stage::DataDiskFormatted => "data disk formatted",
            Stage::ReleaseInstalled => "release installed",
            Stage::HandoverBackup => "hand-over backup",
            Stage::HandoverBackupFailed => "backup failed",
            Stage::Restored => "restored",
            Stage::ServicesStarted => "services started",
            Stage::TrackerHealthy => "tracker healthy",
            Stage::Failed => "failed",
        };
        f.write_str(word)
    }
}

impl Serialize for Stage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How a wait for the tracker ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "reason")]
pub enum Outcome {
    /// The release said its tracker is healthy.
    Healthy,
    /// The release is installed and its images pulled, and it waits for
    /// the data volume (a replacement's standby, before the hand-over).
    Ready,
    /// The release said why it failed (its `torrust-bake: FAILED:` line).
    Failed(String),
    /// Neither within the wait; the console's last line.
    TimedOut(String),
}

/// What a machine said while a deploy followed its boot.
#[derive(Debug, Serialize)]
pub struct Boot {
    pub timeline: Vec<Event>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The outcome in a few words, for a step's detail and a rollback's reason.
pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Healthy => "tracker healthy".into(),
        Outcome::Ready => "ready for data (installed, images pulled)".into(),
        Outcome::Failed(why) => format!("the VM said: {why}"),
        Outcome::TimedOut(last) if last.is_empty() => {
            "not healthy within the wait, and not one boot line could be read (libvirt: the console log; Hetzner: the boot status on TCP 9099, which the server's firewall must open to this machine)".into()
        }
        Outcome::TimedOut(last) => {
            format!("not healthy within the wait; the console's last line: {last:?}")
        }
    }
}

/// The timeline event a console line marks, with its detail.
pub fn classify(line: &str) -> Option<(Stage, String)> {
    let line = line.trim();
    if line.contains("Linux version ") {
        return Some((Stage::Kernel, String::new()));
    }
    if let Some(rest) = line.split("Cloud-init v. ").nth(1) {
        if let Some(stage) = rest
            .split('\'')
            .nth(1)
            .filter(|_| rest.contains(" running '"))
        {
            return Some((Stage::CloudInit(stage.to_string()), String::new()));
        }
        if rest.contains(" finished at ") {
            return Some((Stage::CloudInitDone, String::new()));
        }
    }
    let said = line.split("torrust-bake: ").nth(1)?;
    if let Some(reason) = said.strip_prefix("FAILED: ") {
        return Some((Stage::Failed, reason.to_string()));
    }
    if let Some(result) = said.strip_prefix("hand-over backup: ") {
        return Some((Stage::HandoverBackup, result.to_string()));
    }
    if let Some(why) = said.strip_prefix("hand-over backup failed: ") {
        return Some((Stage::HandoverBackupFailed, why.to_string()));
    }
    let stage = if let Some(service) = said.strip_prefix("pulled ") {
        Stage::Pulled(service.split(" in ").next().unwrap_or(service).to_string())
    } else if said.contains("files in place") {
        Stage::ReleaseInPlace
    } else if said.starts_with("formatting ") {
        Stage::DataDiskFormatted
    } else if said.starts_with("ready for data") {
        Stage::ReadyForData
    } else if said.starts_with("restored snapshot ") {
        Stage::Restored
    } else if said.starts_with("data volume attached") {
        Stage::DataAttached
    } else if said.starts_with("release ") && said.contains(" installed") {
        Stage::ReleaseInstalled
    } else {
        match said {
            "docker up" => Stage::DockerUp,
            "images ready" => Stage::ImagesReady,
            "stack prepared" => Stage::StackPrepared,
            "services started" => Stage::ServicesStarted,
            "tracker healthy" => Stage::TrackerHealthy,
            _ => return None,
        }
    };
    Some((stage, said.to_string()))
}

/// What a wait for a machine's boot lines waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// The tracker healthy (a first deploy, a hand-over's new machine).
    Healthy,
    /// A standby ready for the data volume (or, had it the volume, healthy).
    Ready,
}

/// Follows a machine's boot lines (`lines` gives what came since it was
/// last asked) until the release says it reached `goal` or that it failed,
/// or `timeout` passes (from `started`, when the machine was started).
/// Each new event goes to `on_event` and onto `events`, which may hold an
/// earlier wait's (a hand-over follows the same boot twice).
/// `gone` is asked every 5 s whether the VM itself stopped (and why): a
/// powered-off VM says nothing more, so waiting on would only time out.
pub fn watch(
    lines: &mut dyn FnMut() -> Vec<String>,
    started: Instant,
    timeout: Duration,
    goal: Goal,
    events: &mut Vec<Event>,
    on_event: &mut dyn FnMut(&Event),
    gone: &mut dyn FnMut() -> Option<String>,
) -> Outcome {
    let mut last = String::new();
    let mut asked = Instant::now();
    let waited = Instant::now();
    loop {
        let lines = lines();
        let now = started.elapsed().as_millis();
        if events.is_empty() && !lines.is_empty() {
            push(
                events,
                on_event,
                now,
                Stage::Firmware,
                "first console output",
            );
        }
        for line in lines {
            if !line.trim().is_empty() {
                last = line.trim().to_string();
            }
            let Some((event, detail)) = classify(&line) else {
                continue;
            };
            let outcome = match event {
                Stage::Failed => Some(Outcome::Failed(detail.clone())),
                Stage::TrackerHealthy => Some(Outcome::Healthy),
                Stage::ReadyForData if goal == Goal::Ready => Some(Outcome::Ready),
                _ => None,
            };
            push(events, on_event, now, event, &detail);
            if let Some(o) = outcome {
                return o;
            }
        }
        if waited.elapsed() >= timeout {
            return Outcome::TimedOut(last);
        }
        if asked.elapsed() >= Duration::from_secs(5) {
            asked = Instant::now();
            if let Some(why) = gone() {
                return Outcome::Failed(format!("{why}; the console's last line: {last:?}"));
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn push(
    events: &mut Vec<Event>,
    on_event: &mut dyn FnMut(&Event),
    ms: u128,
    event: Stage,
    detail: &str,
) {
    // A line the release wrote to the console and cloud-init copied there
    // too comes twice: one event.
    if events
        .last()
        .is_some_and(|l| l.event == event && l.detail == detail)
    {
        return;
    }
    let e = Event {
        ms,
        event,
        detail: detail.to_string(),
    };
    on_event(&e);
    events.push(e);
}

/// The release's last word among a machine's boot lines (`tracker
/// healthy`, `FAILED: ...`, or the step it is at), for `status`.
pub fn last_word(lines: &[String]) -> Option<String> {
    lines.iter().rev().find_map(|l| {
        l.split("torrust-bake: ")
            .nth(1)
            .map(|s| s.trim().to_string())
    })
}

/// Why the machine `name` no longer runs, if it does not. A provider that
/// does not answer is no reason to stop watching: the console decides.
fn off(machines: &dyn Machines, name: &str) -> Option<String> {
    match machines.state(name) {
        Ok(state) if state.running => None,
        Ok(state) => Some(format!("the VM is {}", state.words)),
        Err(_) => None,
    }
}

/// Follows `machine`'s boot from its start (`started`) through its
/// provider until its tracker is healthy, up to `timeout`.
pub fn follow(
    machines: &dyn Machines,
    machine: &Machine,
    started: Instant,
    timeout: Duration,
    on_event: &mut dyn FnMut(&Event),
) -> (Vec<Event>, Outcome) {
    let mut f = Follow::new(machines, machine, started);
    let outcome = f.until(Goal::Healthy, timeout, on_event);
    (f.events, outcome)
}

/// One machine's boot, followed in steps (a standby to `Ready`, then,
/// after the hand-over, to `Healthy`), its timeline kept across them. The
/// first wait reads the boot lines from the start: a rerun after a kill
/// finds what the machine already said.
pub struct Follow<'a> {
    machines: &'a dyn Machines,
    machine: &'a Machine,
    started: Instant,
    cursor: u64,
    pub events: Vec<Event>,
}

impl<'a> Follow<'a> {
    pub fn new(machines: &'a dyn Machines, machine: &'a Machine, started: Instant) -> Self {
        Follow {
            machines,
            machine,
            started,
            cursor: 0,
            events: Vec::new(),
        }
    }

    /// Waits up to `timeout` (from now) for `goal`.
    pub fn until(
        &mut self,
        goal: Goal,
        timeout: Duration,
        on_event: &mut dyn FnMut(&Event),
    ) -> Outcome {
        let (machines, machine) = (self.machines, self.machine);
        let cursor = &mut self.cursor;
        let mut lines = || machines.boot_lines(machine, cursor);
        let mut gone = || off(machines, &machine.name);
        watch(
            &mut lines,
            self.started,
            timeout,
            goal,
            &mut self.events,
            on_event,
            &mut gone,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line source over a growing file: whole lines only, as a provider gives them.
    fn file_lines(path: std::path::PathBuf) -> impl FnMut() -> Vec<String> {
        let mut seen = 0;
        move || {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            let lines: Vec<String> = whole
                .lines()
                .skip(seen)
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect();
            seen += lines.len();
            lines
        }
    }

    #[test]
    fn console_lines_mark_the_timeline() {
        let c = |l: &str| classify(l).map(|(e, _)| e.to_string());
        assert_eq!(
            c("[    0.000000] Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org)")
                .as_deref(),
            Some("kernel")
        );
        assert_eq!(c("[   31.2] cloud-init[312]: Cloud-init v. 22.4.2 running 'init-local' at Thu, 26 Nov 2026 13:00:00 +0000. Up 30.1 seconds.").as_deref(), Some("cloud-init init-local"));
        assert_eq!(
            c("cloud-init[1]: Cloud-init v. 22.4.2 running 'modules:final' at X").as_deref(),
            Some("cloud-init modules:final")
        );
        assert_eq!(c("cloud-init[1]: Cloud-init v. 22.4.2 finished at Thu, 26 Nov 2026. Datasource DataSourceNoCloud.  Up 99.0 seconds").as_deref(), Some("cloud-init done"));
        assert_eq!(
            c("[  80.1] cloud-init[9]: torrust-bake: pulled tracker in 7 s").as_deref(),
            Some("pulled tracker")
        );
        assert_eq!(
            c("torrust-bake: tracker healthy").as_deref(),
            Some("tracker healthy")
        );
        assert_eq!(
            c("torrust-bake: release 0123abcd4567: 14 files in place, checksums verified")
                .as_deref(),
            Some("release in place")
        );
        assert_eq!(
            classify("torrust-bake: FAILED: cannot pull the tracker image r:5000/t@sha256:00: manifest unknown"),
            Some((Stage::Failed, "cannot pull the tracker image r:5000/t@sha256:00: manifest unknown".into()))
        );
        assert_eq!(c("Starting systemd-udevd"), None);
        assert_eq!(
            c("torrust-bake: installing docker.io from the distribution"),
            None
        );
    }

    #[test]
    fn backup_lines_are_their_own_events() {
        let c = |l: &str| classify(l).map(|(e, d)| (e.to_string(), d));
        let got = c("torrust-bake: hand-over backup: snapshot 647185a8 (6 bytes in 2 s)");
        assert_eq!(
            got,
            Some((
                "hand-over backup".into(),
                "snapshot 647185a8 (6 bytes in 2 s)".into()
            ))
        );
        let got = c("torrust-bake: hand-over backup failed: cannot reach the repository (details on the console)");
        assert_eq!(got.unwrap().0, "backup failed");
        // Said by the VM that takes the volume as it starts: no result.
        assert_eq!(c("torrust-bake: hand-over backup armed"), None);
        let got = c("torrust-bake: restored snapshot 647185a8 (8192 bytes in 1 s)");
        assert_eq!(got.unwrap().0, "restored");
    }

    #[test]
    fn watch_reads_lines_as_they_come_and_notices_a_stopped_vm() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        std::fs::write(&log, "BdsDxe: loading\n").unwrap();
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
                std::thread::sleep(Duration::from_millis(400));
                f.write_all(
                    b"Linux version 6.1\ntorrust-bake: docker up\ntorrust-bake: tracker hea",
                )
                .unwrap();
                std::thread::sleep(Duration::from_millis(400));
                f.write_all(b"lthy\n").unwrap();
            })
        };
        let mut seen = Vec::new();
        let mut events = Vec::new();
        let outcome = watch(
            &mut file_lines(log.clone()),
            Instant::now(),
            Duration::from_secs(10),
            Goal::Healthy,
            &mut events,
            &mut |e| seen.push(e.event.to_string()),
            &mut || None,
        );
        writer.join().unwrap();
        assert_eq!(outcome, Outcome::Healthy);
        assert_eq!(seen, ["firmware", "kernel", "docker up", "tracker healthy"]);
        assert!(events[3].ms >= 700, "{events:?}");
        // A VM that powered off says nothing more: reported, not waited out.
        std::fs::write(&log, "Linux version 6.1\n").unwrap();
        let t = Instant::now();
        let outcome = watch(
            &mut file_lines(log.clone()),
            t,
            Duration::from_secs(60),
            Goal::Healthy,
            &mut Vec::new(),
            &mut |_| {},
            &mut || Some("the VM is shut off".into()),
        );
        assert!(
            matches!(&outcome, Outcome::Failed(w) if w.starts_with("the VM is shut off")),
            "{outcome:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_standby_is_followed_to_ready_then_on_to_healthy() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        std::fs::write(&log, "Linux version 6.1\ntorrust-bake: pulled tracker in 3 s\ntorrust-bake: images ready\n[ 9.1] cloud-init[9]: torrust-bake: images ready\ncloud-init[9]: torrust-bake: ready for data: release 0123 waits for the data volume torrust-data\n").unwrap();
        let mut lines = file_lines(log.clone());
        let (t, mut events) = (Instant::now(), Vec::new());
        let wait = |goal, lines: &mut dyn FnMut() -> Vec<String>, events: &mut Vec<Event>| {
            watch(
                lines,
                t,
                Duration::from_millis(600),
                goal,
                events,
                &mut |_| {},
                &mut || None,
            )
        };
        assert_eq!(wait(Goal::Ready, &mut lines, &mut events), Outcome::Ready);
        std::fs::write(&log, std::fs::read_to_string(&log).unwrap() + "torrust-bake: data volume attached: /dev/sdb\ntorrust-bake: services started\ntorrust-bake: tracker healthy\n").unwrap();
        assert_eq!(
            wait(Goal::Healthy, &mut lines, &mut events),
            Outcome::Healthy
        );
        let names: Vec<String> = events.iter().map(|e| e.event.to_string()).collect();
        assert_eq!(
            names,
            [
                "firmware",
                "kernel",
                "pulled tracker",
                "images ready",
                "ready for data",
                "data attached",
                "services started",
                "tracker healthy"
            ]
        );
        // Waiting for a healthy tracker, "ready for data" is only a step.
        std::fs::write(&log, "torrust-bake: ready for data: x\n").unwrap();
        let outcome = wait(Goal::Healthy, &mut file_lines(log.clone()), &mut Vec::new());
        assert!(matches!(outcome, Outcome::TimedOut(_)), "{outcome:?}");
    }

    #[test]
    fn watch_follows_a_growing_log_to_its_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        std::fs::write(&log, "BdsDxe: loading Boot0001\r\nLinux version 6.1\r\ntorrust-bake: pulled tracker in 3 s\ntorrust-bake: FAILED: the tracker is exited: boom\npartial").unwrap();
        let mut seen = Vec::new();
        let mut record = |e: &Event| seen.push(e.event.to_string());
        let mut events = Vec::new();
        let outcome = watch(
            &mut file_lines(log.clone()),
            Instant::now(),
            Duration::from_secs(5),
            Goal::Healthy,
            &mut events,
            &mut record,
            &mut || None,
        );
        assert_eq!(
            outcome,
            Outcome::Failed("the tracker is exited: boom".into())
        );
        assert_eq!(seen, ["firmware", "kernel", "pulled tracker", "failed"]);
        assert_eq!(events.len(), 4);
        std::fs::write(&log, "Linux version 6.1\nstill booting\n").unwrap();
        let outcome = watch(
            &mut file_lines(log.clone()),
            Instant::now(),
            Duration::from_millis(300),
            Goal::Healthy,
            &mut Vec::new(),
            &mut |_| {},
            &mut || None,
        );
        assert_eq!(outcome, Outcome::TimedOut("still booting".into()));
        assert_eq!(last_word(&file_lines(log.clone())()), None);
        std::fs::write(
            &log,
            "torrust-bake: docker up\ntorrust-bake: tracker healthy\nlogin:\n",
        )
        .unwrap();
        assert_eq!(
            last_word(&file_lines(log.clone())()).as_deref(),
            Some("tracker healthy")
        );
    }
}
