//! `libvirt replace`: a new release takes over the environment's data disk
//! on a new VM; if it does not become healthy, the old VM comes back.
//! Replace, never mutate: the old domain is only stopped until the new one
//! is healthy, then undefined.
//!
//! Locally one VM per environment serves at a time (one address, one data
//! disk), so a replacement is stop-then-start and the outage is one boot.
//! Health is what the new VM says on its console (`console.rs`): its
//! tracker's Docker health check passed. That works wherever libvirt runs,
//! even when the VM's network is not reachable from here.
//!
//! Every step reads the state from libvirt first, so a replacement killed
//! at any point and run again converges: the target release's domain is
//! the new one, every other domain of the environment is old; nothing is
//! defined twice (a domain's name is its release), and no domain starts
//! while another of the environment runs (the data disk is attached to at
//! most one running domain).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::console::{self, Event, Outcome};
use super::deployments::{self, Deployment};
use super::domain::{self, Record};
use super::lifecycle::{remove_vm_files, stop};
use super::virsh::Virsh;
use super::{define_new, find_domains, require_libvirt, resolve_release, Step, Steps, UpOptions};
use crate::config::Config;
use crate::images::Pinned;
use crate::render::Templates;

#[derive(Debug, Clone)]
pub struct ReplaceOptions {
    pub up: UpOptions,
    /// How long the new VM gets to become healthy (and the old one, if it
    /// must come back).
    pub health_wait: Duration,
    /// How long an old VM gets to power off on ACPI before it is destroyed.
    pub shutdown_timeout: Duration,
}

/// What `replace` did.
#[derive(Debug, Serialize)]
pub struct ReplaceOutcome {
    pub env: String,
    pub version: String,
    pub domain: String,
    /// The release that served before, if any.
    pub previous: Option<String>,
    /// `replaced`, `started` (nothing ran before), `unchanged` (this
    /// release already serves), `rolled back` or `rollback failed`.
    pub outcome: &'static str,
    /// Why the new release was rolled back (what its VM said).
    pub reason: Option<String>,
    /// From the old VM's stop request to a healthy tracker again.
    pub outage_ms: Option<u128>,
    pub steps: Vec<Step>,
    /// The new VM's boot, from its start.
    pub timeline: Vec<Event>,
}

impl ReplaceOutcome {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, "replaced" | "started" | "unchanged")
    }
}

/// Replaces the environment's running VM with one of the environment's
/// release (or `opts.up.release`), rolling back when it is not healthy in time.
pub fn replace(
    project: &Path,
    config: &Config,
    images: &Pinned,
    templates: &Templates,
    opts: &ReplaceOptions,
    progress: &mut dyn FnMut(&Step),
    on_event: &mut dyn FnMut(&Event),
) -> Result<ReplaceOutcome> {
    require_libvirt(config)?;
    let env = config.env.as_str();
    let virsh = &opts.up.virsh;
    let mut steps = Steps {
        done: Vec::new(),
        progress,
    };
    let _lock = replace_lock(&config.libvirt.storage_dir.join(env), env)?;
    let rel = steps.run("release", || {
        resolve_release(project, config, images, templates, &opts.up)
    })?;
    let name = domain::domain_name(env, &rel.version);
    let (new, old) = steps.run("domains", || classify(virsh, env, &name))?;
    // The old VM to come back to: the one running, else (a replacement
    // interrupted after the stop) the one the record says served.
    let back = pick_old(project, env, virsh, &old)?;
    let previous = back.as_ref().map(|r| r.version.clone());
    let mut out = ReplaceOutcome {
        env: env.to_string(),
        version: rel.version.clone(),
        domain: name.clone(),
        previous: previous.clone(),
        outcome: "replaced",
        reason: None,
        outage_ms: None,
        steps: Vec::new(),
        timeline: Vec::new(),
    };
    let new_running = match &new {
        Some(r) => virsh.state(&r.name)?.is_running(),
        None => false,
    };
    if new_running && old.is_empty() {
        out.outcome = "unchanged";
        out.steps = steps.done;
        return Ok(out);
    }
    if new.is_none() {
        define_new(&mut steps, config, virsh, &rel, opts.up.seed, false)?;
    }
    // Every old VM stops before the new one starts: one data disk.
    let outage = Instant::now();
    for r in &old {
        steps.run("stop old", || stop(virsh, &r.name, opts.shutdown_timeout))?;
    }
    let console_log = new
        .as_ref()
        .and_then(|r| r.console_log.clone())
        .unwrap_or_else(|| {
            config
                .libvirt
                .storage_dir
                .join(env)
                .join(&name)
                .join("console.log")
        });
    let started = if new_running {
        Instant::now()
    } else {
        steps.run("start new", || {
            let t = Instant::now();
            virsh.start(&name)?;
            Ok((t, format!("{name} with the data disk")))
        })?
    };
    let mut gone = || super::off(virsh, &name);
    let (timeline, outcome) =
        console::watch(&console_log, started, opts.health_wait, on_event, &mut gone);
    out.timeline = timeline;
    steps.run("health", || Ok(((), describe(&outcome))))?;
    if outcome == Outcome::Healthy {
        for r in &old {
            retire(&mut steps, virsh, r)?;
        }
        out.outage_ms = (!old.is_empty()).then(|| outage.elapsed().as_millis());
        out.outcome = if old.is_empty() {
            "started"
        } else {
            "replaced"
        };
        let mut d = Deployment::now(out.outcome, &rel.version, &name);
        d.previous = previous;
        d.outage_ms = out.outage_ms;
        deployments::append(project, env, &d)?;
    } else {
        out.reason = Some(describe(&outcome));
        roll_back(
            &mut steps,
            project,
            config,
            opts,
            &name,
            back.as_ref(),
            &mut out,
        )?;
        out.outage_ms = back.is_some().then(|| outage.elapsed().as_millis());
    }
    out.steps = steps.done;
    Ok(out)
}

/// One replacement of an environment at a time: two would stop and start
/// each other's domains. The lock goes with the process, so a killed
/// replacement never blocks the next one.
fn replace_lock(env_dir: &Path, env: &str) -> Result<std::fs::File> {
    super::disks::mkdir(env_dir)?;
    let path = env_dir.join(".replace.lock");
    crate::release::write::try_lock(&path)?.ok_or_else(|| {
        crate::error::Error::invalid(format!(
            "another `libvirt replace` (or `rollback`) of {env} is running (it holds {}); wait for it to finish",
            path.display()
        ))
        .into()
    })
}

/// The target release's domain, if defined, and every other domain (old).
type NewAndOld = (Option<Record>, Vec<Record>);

/// The target release's domain, if defined, and every other domain of `env`.
fn classify(virsh: &Virsh, env: &str, name: &str) -> Result<(NewAndOld, String)> {
    let (new, old): (Vec<Record>, Vec<Record>) = find_domains(virsh, env)?
        .into_iter()
        .partition(|r| r.name == name);
    let detail = format!(
        "{} {}; old: {}",
        name,
        if new.is_empty() {
            "to define"
        } else {
            "defined (an earlier replace was interrupted, or it runs)"
        },
        if old.is_empty() {
            "none".to_string()
        } else {
            old.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok(((new.into_iter().next(), old), detail))
}

fn pick_old(project: &Path, env: &str, virsh: &Virsh, old: &[Record]) -> Result<Option<Record>> {
    for r in old {
        if virsh.state(&r.name)?.is_running() {
            return Ok(Some(r.clone()));
        }
    }
    let (serving, _) = deployments::current_and_previous(&deployments::read(project, env));
    Ok(old
        .iter()
        .find(|r| Some(&r.version) == serving.as_ref())
        .or(old.first())
        .cloned())
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Healthy => "tracker healthy".into(),
        Outcome::Failed(why) => format!("the VM said: {why}"),
        Outcome::TimedOut(last) => {
            format!("not healthy within the wait; the console's last line: {last:?}")
        }
    }
}

/// Undefines an old domain and deletes its overlay, seed copy and console
/// log; the data disk stays (the new VM has it).
fn retire(steps: &mut Steps, virsh: &Virsh, r: &Record) -> Result<()> {
    steps.run("retire old", || {
        // Gone already (another run of replace got here first): converged.
        if virsh.domains()?.contains(&r.name) {
            virsh.undefine(&r.name)?;
        }
        let removed = remove_vm_files(&r.dir)?;
        Ok(((), format!("{} undefined; {}", r.name, removed)))
    })
}

/// The new VM failed: destroy and forget it, start the old one again with
/// its data disk and wait for it.
fn roll_back(
    steps: &mut Steps,
    project: &Path,
    config: &Config,
    opts: &ReplaceOptions,
    name: &str,
    back: Option<&Record>,
    out: &mut ReplaceOutcome,
) -> Result<()> {
    let virsh = &opts.up.virsh;
    let env = config.env.as_str();
    steps.run("remove new", || {
        let _ = stop(virsh, name, Duration::ZERO)?;
        virsh.undefine(name)?;
        let removed = remove_vm_files(&super::vm_dir(config, name))?;
        Ok(((), format!("{name} destroyed and undefined; {removed}")))
    })?;
    let mut d = Deployment::now("rolled back", &out.version, name);
    d.reason = out.reason.clone();
    let Some(old) = back else {
        out.outcome = "rollback failed";
        d.event = "rollback failed".into();
        d.serving = None;
        deployments::append(project, env, &d)?;
        return Ok(());
    };
    let started = steps.run("start old", || {
        let t = Instant::now();
        virsh.start(&old.name)?;
        Ok((
            t,
            format!("{} (release {}) with the data disk", old.name, old.version),
        ))
    })?;
    let log = old
        .console_log
        .clone()
        .unwrap_or_else(|| old.dir.join("console.log"));
    let mut gone = || super::off(virsh, &old.name);
    let (_, outcome) = console::watch(&log, started, opts.health_wait, &mut |_| {}, &mut gone);
    steps.run("health old", || Ok(((), describe(&outcome))))?;
    d.previous = Some(old.version.clone());
    if outcome == Outcome::Healthy {
        out.outcome = "rolled back";
        d.serving = Some(old.version.clone());
    } else {
        out.outcome = "rollback failed";
        d.event = "rollback failed".into();
        d.serving = None;
    }
    deployments::append(project, env, &d)
}

/// The release before the current one, by the deployment record: what
/// `libvirt rollback` replaces the current one with.
pub fn rollback_target(project: &Path, env: &str) -> Option<String> {
    deployments::current_and_previous(&deployments::read(project, env)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_replacement_of_an_environment_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let held = replace_lock(&dir.path().join("local"), "local").unwrap();
        let again = replace_lock(&dir.path().join("local"), "local").unwrap_err();
        assert!(
            format!("{again:#}").contains("another `libvirt replace`"),
            "{again:#}"
        );
        drop(held);
        replace_lock(&dir.path().join("local"), "local").unwrap();
    }
}
