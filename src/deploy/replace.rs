//! A replacement (`deploy` when a machine runs, `rollback`): a new release
//! takes over the environment's data volume on a new machine; if it does
//! not become healthy, the old machine serves again. Replace, never
//! mutate: the old machine is only stopped until the new one is healthy,
//! then retired.
//!
//! Two plans, by whether two machines of the environment can run at once
//! (`Config::side_by_side`): the warm-standby hand-over (`handover.rs`:
//! the new machine boots beside the old one and gets the data volume and
//! the service address once it is ready; the outage is a stop, a hot-plug
//! and a stack start), or, when the VM has a static address two VMs
//! cannot share, stop-then-start here (the outage is one boot).
//! Health is what the new machine says while it boots (`boot.rs`): its
//! tracker's Docker health check passed. That works even when the
//! machine's network is not reachable from here.
//!
//! Every step reads the state from the provider first, so a replacement
//! killed at any point and run again converges: the target release's
//! machine is the new one, every other machine of the environment is old;
//! nothing is made twice (a machine's name is its release), and the data
//! volume is given to a machine only while no other one holding it runs.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::boot::{self, describe, Event, Outcome};
use super::handover;
use super::record::{self, Deployment};
use super::resolve::{self, ReleaseRef};
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

/// How a replacement ended, as its JSON and the deployment record say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Replaced {
    /// The new release serves; the old machine is retired.
    #[serde(rename = "replaced")]
    Replaced,
    /// The new release serves; nothing ran before.
    #[serde(rename = "started")]
    Started,
    /// This release already served.
    #[serde(rename = "unchanged")]
    Unchanged,
    /// The new release failed before the hand-over: the old machine never
    /// stopped serving, the new one is gone.
    #[serde(rename = "kept")]
    Kept,
    /// The new release failed after the hand-over: the old one serves again.
    #[serde(rename = "rolled back")]
    RolledBack,
    /// Neither serves.
    #[serde(rename = "rollback failed")]
    RollbackFailed,
}

impl Replaced {
    /// The word in JSON and in `deployments.log`.
    pub fn word(self) -> &'static str {
        match self {
            Replaced::Replaced => "replaced",
            Replaced::Started => "started",
            Replaced::Unchanged => "unchanged",
            Replaced::Kept => "kept",
            Replaced::RolledBack => "rolled back",
            Replaced::RollbackFailed => "rollback failed",
        }
    }
}

/// What a replacement did. The JSON of `deploy` when a machine ran before
/// (and of `rollback`).
#[derive(Debug, Serialize)]
pub struct ReplaceOutcome {
    pub env: String,
    pub version: String,
    pub domain: String,
    /// The release that served before, if any.
    pub previous: Option<String>,
    pub outcome: Replaced,
    /// `hand-over` (warm standby) or `stop-then-start` (one boot).
    pub plan: &'static str,
    /// Why the new release did not take over (what its VM said).
    pub reason: Option<String>,
    /// From the hand-over's start (the old VM's stop request) to the
    /// service address on a healthy tracker again; 0 when the old VM never
    /// stopped.
    pub outage_ms: Option<u128>,
    /// Where the service address points after it (the provider's words).
    pub service_address: Option<String>,
    pub steps: Vec<Step>,
    /// The new VM's boot, from its start.
    pub timeline: Vec<Event>,
}

impl ReplaceOutcome {
    pub fn ok(&self) -> bool {
        matches!(
            self.outcome,
            Replaced::Replaced | Replaced::Started | Replaced::Unchanged
        )
    }
}

/// What a replacement works on, found before its first change.
pub(super) struct Plan<'a> {
    pub project: &'a Path,
    pub config: &'a Config,
    pub machines: &'a dyn Machines,
    pub opts: &'a ReplaceOptions,
    pub rel: &'a ReleaseRef,
    /// The target release's machine (made if it was not).
    pub new: &'a Machine,
    /// Every other machine of the environment.
    pub old: &'a [Machine],
    /// The old machine to come back to.
    pub back: Option<&'a Machine>,
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
    let mut steps = Steps::new(progress);
    let rel = steps.run("release", || resolve::resolve(inputs))?;
    replace_with(
        inputs.project,
        inputs.config,
        &rel,
        machines,
        opts,
        steps,
        on_event,
    )
}

/// A replacement with release `rel`, resolved already (`steps` holds that step).
pub(super) fn replace_with(
    project: &Path,
    config: &Config,
    rel: &ReleaseRef,
    machines: &dyn Machines,
    opts: &ReplaceOptions,
    mut steps: Steps,
    on_event: &mut dyn FnMut(&Event),
) -> Result<ReplaceOutcome> {
    let env = config.env.as_str();
    let warm = config.side_by_side();
    let (new, old) = steps.run("domains", || classify(machines, env, &rel.version))?;
    // The old machine to come back to: the one running, else (a
    // replacement interrupted after the stop) the one the record says served.
    let back = pick_old(project, env, machines, &old)?;
    let new_running = match &new {
        Some(m) => machines.state(&m.name)?.running,
        None => false,
    };
    // A standby that was stopped (a run killed while removing it) would
    // say nothing on a second boot (its install runs on the first only):
    // removed, and made again.
    let new = match new {
        Some(m)
            if warm && !new_running && m.data_disk.is_none() && config.data_volume.is_some() =>
        {
            steps.run("remove stopped standby", || Ok(((), machines.retire(&m)?)))?;
            None
        }
        other => other,
    };
    let new = match new {
        Some(m) => m,
        None => {
            let mut part = |n, f: &mut dyn FnMut() -> Result<String>| steps.part(n, f);
            // A standby gets the data volume at the hand-over.
            machines.create(config, &rel.version, &rel.dir, !warm, false, &mut part)?
        }
    };
    let mut out = ReplaceOutcome {
        env: env.to_string(),
        version: rel.version.clone(),
        domain: new.name.clone(),
        previous: back.as_ref().map(|m| m.release.clone()),
        outcome: Replaced::Replaced,
        plan: if warm { "hand-over" } else { "stop-then-start" },
        reason: None,
        outage_ms: None,
        service_address: None,
        steps: Vec::new(),
        timeline: Vec::new(),
    };
    let holds = new.data_disk.is_some() || config.data_volume.is_none();
    if new_running && old.is_empty() && holds {
        out.outcome = Replaced::Unchanged;
        out.service_address = point(&mut steps, machines, config, &new)?;
        out.steps = steps.done;
        return Ok(out);
    }
    let plan = Plan {
        project,
        config,
        machines,
        opts,
        rel,
        new: &new,
        old: &old,
        back: back.as_ref(),
    };
    if warm {
        handover::run(&mut steps, &plan, new_running, &mut out, on_event)?;
    } else {
        stop_then_start(&mut steps, &plan, new_running, &mut out, on_event)?;
    }
    out.steps = steps.done;
    Ok(out)
}

/// One machine at a time: every old machine stops before the new one,
/// defined with the data volume, starts.
fn stop_then_start(
    steps: &mut Steps,
    plan: &Plan,
    new_running: bool,
    out: &mut ReplaceOutcome,
    on_event: &mut dyn FnMut(&Event),
) -> Result<()> {
    let Plan {
        machines,
        opts,
        new,
        old,
        ..
    } = *plan;
    let outage = Instant::now();
    for m in old {
        steps.run("stop old", || machines.stop(&m.name, opts.shutdown_timeout))?;
    }
    let started = if new_running {
        Instant::now()
    } else {
        let start = steps.run("start new", || {
            let t = Instant::now();
            machines.start(&new.name)?;
            Ok((t, format!("{} with the data disk", new.name)))
        });
        match start {
            Ok(t) => t,
            Err(e) => {
                // The old machine is stopped: it must come back (#27 item 2).
                out.reason = Some(format!("the new VM did not start: {e:#}"));
                roll_back(steps, plan, out)?;
                out.outage_ms = Some(outage.elapsed().as_millis());
                return Ok(());
            }
        }
    };
    let (timeline, outcome) = steps.run("health", || {
        let (t, o) = boot::follow(machines, new, started, opts.health_wait, on_event);
        let said = describe(&o);
        Ok(((t, o), said))
    })?;
    out.timeline = timeline;
    if outcome != Outcome::Healthy {
        out.reason = Some(describe(&outcome));
        roll_back(steps, plan, out)?;
        out.outage_ms = plan.back.is_some().then(|| outage.elapsed().as_millis());
        return Ok(());
    }
    out.service_address = point(steps, machines, plan.config, new)?;
    out.outage_ms = (!old.is_empty()).then(|| outage.elapsed().as_millis());
    finish(steps, plan, out)
}

/// The new release serves: the old machines are retired and the record says so.
pub(super) fn finish(steps: &mut Steps, plan: &Plan, out: &mut ReplaceOutcome) -> Result<()> {
    for m in plan.old {
        steps.run("retire old", || Ok(((), plan.machines.retire(m)?)))?;
    }
    out.outcome = if plan.old.is_empty() {
        Replaced::Started
    } else {
        Replaced::Replaced
    };
    let mut d = Deployment::now(out.outcome.word(), &plan.rel.version, &plan.new.name);
    d.previous = out.previous.clone();
    d.outage_ms = out.outage_ms;
    record::append(plan.project, plan.config.env.as_str(), &d)
}

/// Points the service address at `m`, as a step when there is one.
pub(super) fn point(
    steps: &mut Steps,
    machines: &dyn Machines,
    config: &Config,
    m: &Machine,
) -> Result<Option<String>> {
    if config.floating_ipv4.is_none() {
        return Ok(None);
    }
    steps.run("address", || {
        let said = machines.point(config, m)?;
        let detail = said.clone().unwrap_or_else(|| "no service address".into());
        Ok((said, detail))
    })
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
    let (serving, _) = record::current_and_previous(&record::read(project, env)?.entries);
    Ok(old
        .iter()
        .find(|m| Some(&m.release) == serving.as_ref())
        .or(old.first())
        .cloned())
}

/// The new machine failed after it got the data volume: force it off and
/// retire it, give the volume back to the old one, start it and wait for
/// it, and point the service address at it again.
pub(super) fn roll_back(steps: &mut Steps, plan: &Plan, out: &mut ReplaceOutcome) -> Result<()> {
    let Plan {
        project,
        config,
        machines,
        opts,
        new,
        back,
        ..
    } = *plan;
    let env = config.env.as_str();
    // The new machine must be off before the old one starts (one volume);
    // that it cannot be forgotten (undefine failed) must not keep the old
    // one down (#27 item 2): its volume is taken from it instead.
    steps.run("remove new", || {
        machines.stop(&new.name, Duration::ZERO)?;
        let removed = match machines.retire(new) {
            Ok(removed) => removed,
            Err(e) if config.data_volume.is_some() => {
                let detached = machines.detach_data(config, new)?;
                format!("not retired ({e:#}); {detached}; `torrust-bake destroy` or virsh undefine removes it")
            }
            Err(e) => return Err(e),
        };
        Ok(((), format!("{} destroyed; {removed}", new.name)))
    })?;
    let mut d = Deployment::now(Replaced::RolledBack.word(), &out.version, &new.name);
    d.reason = out.reason.clone();
    let Some(old) = back else {
        out.outcome = Replaced::RollbackFailed;
        d.event = out.outcome.word().into();
        d.serving = None;
        return record::append(project, env, &d);
    };
    if config.data_volume.is_some() {
        steps.run("attach old", || {
            Ok(((), machines.attach_data(config, old)?))
        })?;
    }
    let started = steps.run("start old", || {
        let t = Instant::now();
        machines.start(&old.name)?;
        Ok((
            t,
            format!("{} (release {}) with the data disk", old.name, old.release),
        ))
    })?;
    let outcome = steps.run("health old", || {
        let (_, o) = boot::follow(machines, old, started, opts.health_wait, &mut |_| {});
        let said = describe(&o);
        Ok((o, said))
    })?;
    d.previous = Some(old.release.clone());
    if outcome == Outcome::Healthy {
        out.service_address = point(steps, machines, config, old)?;
        out.outcome = Replaced::RolledBack;
        d.serving = Some(old.release.clone());
    } else {
        out.outcome = Replaced::RollbackFailed;
        d.event = out.outcome.word().into();
        d.serving = None;
    }
    record::append(project, env, &d)
}

/// The release before the current one, by the deployment record: what
/// `rollback` replaces the current one with.
pub fn rollback_target(project: &Path, env: &str) -> Result<Option<String>> {
    Ok(record::current_and_previous(&record::read(project, env)?.entries).1)
}
