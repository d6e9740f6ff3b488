//! A provider in memory for the deploy layer's tests: machines that say
//! what a release says on its console (`torrust-bake: ready for data`,
//! `tracker healthy`, `FAILED: ...`) when started and when given the data
//! volume, a service address, and a kill switch: the Nth call that changes
//! something fails, as if the tool died there, so a test can run the deploy
//! again and check that it converges. Every change is checked against the
//! invariants the hand-over promises (the data volume on at most one
//! running machine; the address only on the machine that holds the data).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::config::Config;
use crate::provider::{Machine, MachineState, Machines, StepRunner, StopHow, Stopped};

/// How a release behaves when it boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Good,
    /// Fails before it is ready for data (an image the registry lacks).
    FailsBeforeReady,
    /// Fails once it has the data (a stack that cannot start on it).
    FailsWithData,
}

#[derive(Debug, Default)]
struct Vm {
    release: String,
    running: bool,
    holds: bool,
    booted: bool,
    lines: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    vms: BTreeMap<String, Vm>,
    route: Option<String>,
    changes: usize,
    kill_at: Option<usize>,
    /// Killed: every change from the kill on fails (the tool is dead).
    killed: bool,
    /// What a VM says of the previous one's backup as it gets the volume.
    backup_line: Option<String>,
    /// The next change whose words start with one of these fails, once.
    fail_on: Vec<String>,
    behaviour: BTreeMap<String, Behaviour>,
    violations: Vec<String>,
    calls: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Fake {
    state: RefCell<State>,
}

/// A machine as a test sees it: name, release, running, holds the data.
pub type Seen = (String, String, bool, bool);

pub const VOLUME: &str = "/fake/data-torrust-data.raw";

impl Fake {
    /// Release `release` behaves as `b` when it boots.
    /// The line a VM says of the previous one's backup once it holds the
    /// volume (`torrust-bake: hand-over backup: ...`).
    pub fn backup_says(&self, line: &str) {
        self.state.borrow_mut().backup_line = Some(line.to_string());
    }

    pub fn behaves(&self, release: &str, b: Behaviour) {
        self.state.borrow_mut().behaviour.insert(release.into(), b);
    }

    /// The tool dies at the `n`th change from now on (1-based): it and
    /// every later one fail; `None`: a new run, alive.
    pub fn kill_at(&self, n: Option<usize>) {
        let mut s = self.state.borrow_mut();
        s.kill_at = n.map(|n| s.changes + n);
        s.killed = false;
    }

    /// The next change named `what...` fails, as a provider may (and only that).
    pub fn fail_on(&self, what: &str) {
        self.state.borrow_mut().fail_on = vec![what.into()];
    }

    /// ... and the next one named `what...` too.
    pub fn fail_on_too(&self, what: &str) {
        self.state.borrow_mut().fail_on.push(what.into());
    }

    /// Changes made so far.
    pub fn changes(&self) -> usize {
        self.state.borrow().changes
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.borrow().violations.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.borrow().calls.clone()
    }

    /// (name, release, running, holds the data) of every machine, and where
    /// the address points.
    pub fn snapshot(&self) -> (Vec<Seen>, Option<String>) {
        let s = self.state.borrow();
        let vms = s
            .vms
            .iter()
            .map(|(n, v)| (n.clone(), v.release.clone(), v.running, v.holds))
            .collect();
        (vms, s.route.clone())
    }

    /// Counts a change and fails if the kill switch says so.
    fn change(&self, what: String) -> Result<()> {
        let mut s = self.state.borrow_mut();
        s.changes += 1;
        s.calls.push(what.clone());
        if s.kill_at == Some(s.changes) || s.killed {
            s.killed = true;
            bail!("killed at change {} ({what})", s.changes);
        }
        if let Some(i) = s.fail_on.iter().position(|f| what.starts_with(f.as_str())) {
            s.fail_on.remove(i);
            bail!("{what} failed (the provider said no)");
        }
        Ok(())
    }

    fn check(&self) {
        let mut s = self.state.borrow_mut();
        let holders: Vec<String> = s
            .vms
            .iter()
            .filter(|(_, v)| v.running && v.holds)
            .map(|(n, _)| n.clone())
            .collect();
        if holders.len() > 1 {
            let why = format!("the data volume is on running {holders:?}");
            s.violations.push(why);
        }
    }

    /// What the release on `name` says now that something happened.
    fn speak(&self, name: &str) {
        let mut s = self.state.borrow_mut();
        let release = s.vms[name].release.clone();
        let b = s
            .behaviour
            .get(&release)
            .copied()
            .unwrap_or(Behaviour::Good);
        let vm = s.vms.get_mut(name).unwrap();
        if !vm.running {
            return;
        }
        let say = |vm: &mut Vm, l: &str| vm.lines.push(format!("torrust-bake: {l}"));
        if !vm.booted {
            vm.booted = true;
            vm.lines.push("Linux version 6.1".into());
            if b == Behaviour::FailsBeforeReady {
                say(
                    vm,
                    "FAILED: cannot pull the tracker image r/t@sha256:00: manifest unknown",
                );
                return;
            }
            say(vm, "images ready");
            if !vm.holds {
                say(vm, "ready for data: waits for the data volume torrust-data");
                return;
            }
        }
        if vm.holds {
            if b == Behaviour::FailsWithData {
                say(vm, "FAILED: the tracker is not running (exited 1)");
            } else {
                say(vm, "tracker healthy");
            }
        }
    }
}

impl Machines for Fake {
    fn provider(&self) -> &'static str {
        "fake"
    }

    fn list(&self, _env: &str) -> Result<Vec<Machine>> {
        let s = self.state.borrow();
        Ok(s.vms
            .iter()
            .map(|(n, v)| Machine {
                name: n.clone(),
                release: v.release.clone(),
                kind: "fake".into(),
                description: String::new(),
                console_log: None,
                data_disk: v.holds.then(|| VOLUME.to_string()),
                dir: None,
            })
            .collect())
    }

    fn create(
        &self,
        _config: &Config,
        version: &str,
        _release_dir: &Path,
        with_data: bool,
        _dry_run: bool,
        _step: &mut StepRunner,
    ) -> Result<Machine> {
        let name = format!("vm-{version}");
        self.change(format!("create {name}"))?;
        let vm = Vm {
            release: version.into(),
            ..Vm::default()
        };
        self.state.borrow_mut().vms.insert(name.clone(), vm);
        // The definition with the volume, as a provider would make it.
        self.state.borrow_mut().vms.get_mut(&name).unwrap().holds = with_data;
        self.check();
        Ok(self.list("")?.into_iter().find(|m| m.name == name).unwrap())
    }

    fn start(&self, name: &str) -> Result<()> {
        self.change(format!("start {name}"))?;
        {
            let mut s = self.state.borrow_mut();
            let vm = s.vms.get_mut(name).unwrap();
            vm.running = true;
            // A new boot's console, as libvirt truncates the log file.
            vm.lines.clear();
        }
        self.check();
        self.speak(name);
        Ok(())
    }

    fn state(&self, name: &str) -> Result<MachineState> {
        let running = self.state.borrow().vms.get(name).is_some_and(|v| v.running);
        Ok(MachineState {
            words: if running { "running" } else { "shut off" }.into(),
            running,
        })
    }

    fn stop(&self, name: &str, _bound: Duration) -> Result<Stopped> {
        self.change(format!("stop {name}"))?;
        let mut s = self.state.borrow_mut();
        let vm = s.vms.get_mut(name).unwrap();
        let was = std::mem::replace(&mut vm.running, false);
        Ok((
            if was { StopHow::Acpi } else { StopHow::Off },
            String::new(),
        ))
    }

    fn retire(&self, m: &Machine) -> Result<String> {
        self.change(format!("retire {}", m.name))?;
        let mut s = self.state.borrow_mut();
        if s.vms.get(&m.name).is_some_and(|v| v.running) {
            s.violations
                .push(format!("retired {} while it ran", m.name));
        }
        s.vms.remove(&m.name);
        Ok(String::new())
    }

    fn attach_data(&self, _config: &Config, m: &Machine) -> Result<String> {
        self.change(format!("attach {}", m.name))?;
        let held = std::mem::replace(
            &mut self.state.borrow_mut().vms.get_mut(&m.name).unwrap().holds,
            true,
        );
        self.check();
        if !held {
            let s = &mut *self.state.borrow_mut();
            let said = s.backup_line.clone();
            let vm = s.vms.get_mut(&m.name).unwrap();
            if vm.running {
                vm.lines
                    .push("torrust-bake: data volume attached: /dev/sdb".into());
                vm.lines.extend(said);
            }
        }
        if !held {
            self.speak(&m.name);
        }
        Ok(String::new())
    }

    fn detach_data(&self, _config: &Config, m: &Machine) -> Result<String> {
        self.change(format!("detach {}", m.name))?;
        let mut s = self.state.borrow_mut();
        let vm = s.vms.get_mut(&m.name).unwrap();
        if vm.running && vm.holds {
            bail!("refusing to detach from running {}", m.name);
        }
        vm.holds = false;
        Ok(String::new())
    }

    fn point(&self, _config: &Config, m: &Machine) -> Result<Option<String>> {
        self.change(format!("point {}", m.name))?;
        let mut s = self.state.borrow_mut();
        let ok = s.vms.get(&m.name).is_some_and(|v| v.running && v.holds);
        if !ok {
            s.violations.push(format!(
                "address pointed at {}, which does not serve the data",
                m.name
            ));
        }
        s.route = Some(m.name.clone());
        Ok(Some(m.name.clone()))
    }

    fn pointed(&self, _config: &Config) -> Option<String> {
        self.state.borrow().route.clone()
    }

    fn boot_lines(&self, m: &Machine, cursor: &mut u64) -> Vec<String> {
        let s = self.state.borrow();
        let Some(vm) = s.vms.get(&m.name) else {
            return Vec::new();
        };
        let from = (*cursor as usize).min(vm.lines.len());
        *cursor = vm.lines.len() as u64;
        vm.lines[from..].to_vec()
    }

    fn recent_lines(&self, m: &Machine) -> Vec<String> {
        self.boot_lines(m, &mut 0)
    }

    fn addresses(&self, _name: &str) -> Vec<String> {
        Vec::new()
    }

    fn data_volume(&self, _config: &Config) -> Result<Option<String>> {
        Ok(Some(VOLUME.into()))
    }

    fn delete_data_volume(&self, _volume: &str) -> Result<()> {
        Ok(())
    }
}
