//! What a replacement works on (`Plan`), how it runs (`ReplaceOptions`)
//! and how it ends (`finish`, `roll_back`, the address moved by `point`):
//! shared by both plans, the warm-standby hand-over (`handover.rs`) and
//! stop-then-start (`stop_start.rs`), which `replace.rs` picks between. A
//! file of its own so the plans import it and never each other.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::boot::{self, describe, Event, Outcome};
pub use super::record::Replaced;
use super::record::{self, Deployment};
use super::resolve::ReleaseRef;
use super::steps::{Step, Steps};
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
    /// Hand over even when the old machine's shutdown made no backup.
    pub no_backup: bool,
}

/// Which of the two plans a replacement ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PlanKind {
    /// The warm standby: the new machine booted beside the old one.
    #[serde(rename = "hand-over")]
    HandOver,
    /// One machine at a time (a static address): the outage is one boot.
    #[serde(rename = "stop-then-start")]
    StopThenStart,
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
    pub plan: PlanKind,
    /// Why the new release did not take over (what its VM said).
    pub reason: Option<String>,
    /// From the hand-over's start (the old VM's stop request) to the
    /// service address on a healthy tracker again; 0 when the old VM never
    /// stopped.
    pub outage_ms: Option<u128>,
    /// Where the service address points after it (the provider's words).
    pub service_address: Option<String>,
    /// The old VM's hand-over backup as the new VM found it on the volume
    /// (`snapshot <id> (...)`), when the release makes one.
    pub backup: Option<String>,
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
    let mut d = Deployment::now(out.outcome.into(), &plan.rel.version, &plan.new.name);
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
    if config.floating().is_empty() {
        return Ok(None);
    }
    steps.run("address", || {
        let said = machines.point(config, m)?;
        let detail = said.clone().unwrap_or_else(|| "no service address".into());
        Ok((said, detail))
    })
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
    let mut d = Deployment::now(Replaced::RolledBack.into(), &out.version, &new.name);
    d.reason = out.reason.clone();
    let Some(old) = back else {
        out.outcome = Replaced::RollbackFailed;
        d.event = out.outcome.into();
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
        d.event = out.outcome.into();
        d.serving = None;
    }
    record::append(project, env, &d)
}

/// How long an old machine gets to stop: the operator's bound, or longer
/// when its shutdown makes the hand-over backup (its own bound, plus a
/// minute for the rest of the shutdown): a forced stop would lose it.
pub(super) fn stop_bound(plan: &Plan) -> Duration {
    if plan.opts.no_backup {
        return plan.opts.shutdown_timeout;
    }
    with_backup_bound(plan.opts.shutdown_timeout, &plan.config.backup)
}

/// `bound`, or longer when a machine's shutdown backs up: the hand-over
/// backup's own bound and a minute for the rest of the shutdown.
pub fn with_backup_bound(bound: Duration, backup: &crate::config::backup::Backup) -> Duration {
    if !backup.enabled {
        return bound;
    }
    bound.max(Duration::from_secs(backup.handover_timeout_secs + 60))
}

/// The hand-over backup, as the new machine reported it from the volume
/// (its `hand-over backup` line): kept in `out.backup` and shown as a
/// step; a failed or missing one is why the hand-over is refused (the
/// caller rolls back), unless `--no-backup`. A release that says nothing
/// (one from before hand-over backups, a rollback's target) is not held
/// to it.
pub(super) fn backup_gate(
    steps: &mut Steps,
    plan: &Plan,
    events: &[Event],
    out: &mut ReplaceOutcome,
) -> Result<Option<String>> {
    if plan.config.data_volume.is_none() || plan.old.is_empty() {
        return Ok(None);
    }
    let said = events.iter().rev().find(|e| {
        matches!(
            e.event,
            boot::Stage::HandoverBackup | boot::Stage::HandoverBackupFailed
        )
    });
    let Some(said) = said else { return Ok(None) };
    let failed = said.event == boot::Stage::HandoverBackupFailed;
    let made = !failed && said.detail.starts_with("snapshot ");
    let detail = if failed {
        format!("failed: {}", said.detail)
    } else {
        said.detail.clone()
    };
    if made {
        out.backup = Some(detail.clone());
    }
    let no_backup = plan.opts.no_backup;
    steps.run("backup", || {
        let note = if !made && no_backup {
            " (--no-backup: handed over without one)"
        } else {
            ""
        };
        Ok(((), format!("the old VM's hand-over backup: {detail}{note}")))
    })?;
    let first_deploy = detail.starts_with("none (no database yet)");
    let what = if failed {
        detail
    } else {
        format!("is missing: {detail}")
    };
    Ok((!made && !no_backup && !first_deploy).then(|| {
        format!("the old VM's hand-over backup {what}: refusing to hand over without one (fix the repository: `torrust-bake backup list {}`; or deploy --no-backup)", plan.config.env)
    }))
}
