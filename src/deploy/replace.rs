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

use anyhow::Result;

use super::boot::Event;
use super::handover;
use super::plan::{point, Plan};
pub use super::plan::{PlanKind, ReplaceOptions, ReplaceOutcome, Replaced};
use super::record;
use super::resolve::{self, ReleaseRef};
use super::steps::{Step, Steps};
use super::stop_start;
use super::Inputs;
use crate::config::Config;
use crate::provider::{Machine, Machines};

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
        plan: if warm {
            PlanKind::HandOver
        } else {
            PlanKind::StopThenStart
        },
        reason: None,
        outage_ms: None,
        service_address: None,
        backup: None,
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
        stop_start::run(&mut steps, &plan, new_running, &mut out, on_event)?;
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
            "to make"
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

/// The release before the current one, by the deployment record: what
/// `rollback` replaces the current one with.
pub fn rollback_target(project: &Path, env: &str) -> Result<Option<String>> {
    Ok(record::current_and_previous(&record::read(project, env)?.entries).1)
}
