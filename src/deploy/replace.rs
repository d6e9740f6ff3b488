//! A replacement (`deploy` when a machine runs, `rollback`): a new release
//! takes over the environment's data volume on a new machine; if it does
//! not become healthy, the old machine comes back. Replace, never mutate:
//! the old machine is only stopped until the new one is healthy, then
//! retired.
//!
//! Today one machine per environment serves at a time (one address, one
//! data volume), so a replacement is stop-then-start and the outage is one
//! boot (the warm-standby hand-over is the next step, docs/ARCHITECTURE.md).
//! Health is what the new machine says while it boots (`boot.rs`): its
//! tracker's Docker health check passed. That works even when the
//! machine's network is not reachable from here.
//!
//! Every step reads the state from the provider first, so a replacement
//! killed at any point and run again converges: the target release's
//! machine is the new one, every other machine of the environment is old;
//! nothing is made twice (a machine's name is its release), and no machine
//! starts while another of the environment runs (the data volume is
//! attached to at most one running machine).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::boot::{self, describe, Event, Outcome};
use super::record::{self, Deployment};
use super::resolve;
use super::steps::{Step, Steps};
use super::Inputs;
use crate::config::Config;
use crate::provider::{Machine, Machines};

/// How a replacement runs (deploy, rollback).
#[derive(Debug, Clone)]
pub struct ReplaceOptions {
    /// How long the new machine gets to become healthy (and the old one,
    /// if it must come back).
    pub health_wait: Duration,
    /// How long an old machine gets to stop gracefully before it is forced.
    pub shutdown_timeout: Duration,
}

/// What a replacement did. The JSON of `deploy` when a machine ran before
/// (and of `rollback`), field for field `libvirt replace`'s.
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

/// Replaces the environment's running machine with one of the
/// environment's release (or `inputs.release`), rolling back when it is
/// not healthy in time. The caller holds the deploy lock.
pub fn replace(
    inputs: &Inputs,
    machines: &dyn Machines,
    opts: &ReplaceOptions,
    progress: &mut dyn FnMut(&Step),
    on_event: &mut dyn FnMut(&Event),
) -> Result<ReplaceOutcome> {
    let Inputs {
        project, config, ..
    } = *inputs;
    let env = config.env.as_str();
    let mut steps = Steps::new(progress);
    let rel = steps.run("release", || resolve::resolve(inputs))?;
    let (new, old) = steps.run("domains", || classify(machines, env, &rel.version))?;
    // The old machine to come back to: the one running, else (a
    // replacement interrupted after the stop) the one the record says served.
    let back = pick_old(project, env, machines, &old)?;
    let previous = back.as_ref().map(|m| m.release.clone());
    let new_running = match &new {
        Some(m) => machines.state(&m.name)?.running,
        None => false,
    };
    let new = match new {
        Some(m) => m,
        None => {
            let mut part = |n, f: &mut dyn FnMut() -> Result<String>| steps.part(n, f);
            machines.create(config, &rel.version, &rel.dir, false, &mut part)?
        }
    };
    let mut out = ReplaceOutcome {
        env: env.to_string(),
        version: rel.version.clone(),
        domain: new.name.clone(),
        previous: previous.clone(),
        outcome: "replaced",
        reason: None,
        outage_ms: None,
        steps: Vec::new(),
        timeline: Vec::new(),
    };
    if new_running && old.is_empty() {
        out.outcome = "unchanged";
        out.steps = steps.done;
        return Ok(out);
    }
    // Every old machine stops before the new one starts: one data volume.
    let outage = Instant::now();
    for m in &old {
        steps.run("stop old", || machines.stop(&m.name, opts.shutdown_timeout))?;
    }
    let started = if new_running {
        Instant::now()
    } else {
        steps.run("start new", || {
            let t = Instant::now();
            machines.start(&new.name)?;
            Ok((t, format!("{} with the data disk", new.name)))
        })?
    };
    let (timeline, outcome) = boot::follow(machines, &new, started, opts.health_wait, on_event);
    out.timeline = timeline;
    steps.run("health", || Ok(((), describe(&outcome))))?;
    if outcome == Outcome::Healthy {
        for m in &old {
            steps.run("retire old", || Ok(((), machines.retire(m)?)))?;
        }
        out.outage_ms = (!old.is_empty()).then(|| outage.elapsed().as_millis());
        out.outcome = if old.is_empty() {
            "started"
        } else {
            "replaced"
        };
        let mut d = Deployment::now(out.outcome, &rel.version, &new.name);
        d.previous = previous;
        d.outage_ms = out.outage_ms;
        record::append(project, env, &d)?;
    } else {
        out.reason = Some(describe(&outcome));
        roll_back(
            &mut steps,
            project,
            config,
            machines,
            opts,
            &new,
            back.as_ref(),
            &mut out,
        )?;
        out.outage_ms = back.is_some().then(|| outage.elapsed().as_millis());
    }
    out.steps = steps.done;
    Ok(out)
}

/// The target release's machine, if made, and every other machine (old).
type NewAndOld = (Option<Machine>, Vec<Machine>);

/// The target release's machine, if made, and every other machine of `env`.
fn classify(machines: &dyn Machines, env: &str, version: &str) -> Result<(NewAndOld, String)> {
    let (new, old): (Vec<Machine>, Vec<Machine>) = machines
        .list(env)?
        .into_iter()
        .partition(|m| m.release == version);
    let detail = format!(
        "{} {}; old: {}",
        new.first()
            .map_or(format!("release {version}"), |m| m.name.clone()),
        if new.is_empty() {
            "to define"
        } else {
            "defined (an earlier replace was interrupted, or it runs)"
        },
        if old.is_empty() {
            "none".to_string()
        } else {
            old.iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok(((new.into_iter().next(), old), detail))
}

fn pick_old(
    project: &Path,
    env: &str,
    machines: &dyn Machines,
    old: &[Machine],
) -> Result<Option<Machine>> {
    for m in old {
        if machines.state(&m.name)?.running {
            return Ok(Some(m.clone()));
        }
    }
    let (serving, _) = record::current_and_previous(&record::read(project, env));
    Ok(old
        .iter()
        .find(|m| Some(&m.release) == serving.as_ref())
        .or(old.first())
        .cloned())
}

/// The new machine failed: force it off and retire it, start the old one
/// again with its data volume and wait for it.
#[allow(clippy::too_many_arguments)]
fn roll_back(
    steps: &mut Steps,
    project: &Path,
    config: &Config,
    machines: &dyn Machines,
    opts: &ReplaceOptions,
    new: &Machine,
    back: Option<&Machine>,
    out: &mut ReplaceOutcome,
) -> Result<()> {
    let env = config.env.as_str();
    steps.run("remove new", || {
        machines.stop(&new.name, Duration::ZERO)?;
        let removed = machines.retire(new)?;
        Ok(((), format!("{} destroyed; {removed}", new.name)))
    })?;
    let mut d = Deployment::now("rolled back", &out.version, &new.name);
    d.reason = out.reason.clone();
    let Some(old) = back else {
        out.outcome = "rollback failed";
        d.event = "rollback failed".into();
        d.serving = None;
        return record::append(project, env, &d);
    };
    let started = steps.run("start old", || {
        let t = Instant::now();
        machines.start(&old.name)?;
        Ok((
            t,
            format!("{} (release {}) with the data disk", old.name, old.release),
        ))
    })?;
    let (_, outcome) = boot::follow(machines, old, started, opts.health_wait, &mut |_| {});
    steps.run("health old", || Ok(((), describe(&outcome))))?;
    d.previous = Some(old.release.clone());
    if outcome == Outcome::Healthy {
        out.outcome = "rolled back";
        d.serving = Some(old.release.clone());
    } else {
        out.outcome = "rollback failed";
        d.event = "rollback failed".into();
        d.serving = None;
    }
    record::append(project, env, &d)
}

/// The release before the current one, by the deployment record: what
/// `rollback` replaces the current one with.
pub fn rollback_target(project: &Path, env: &str) -> Option<String> {
    record::current_and_previous(&record::read(project, env)).1
}
