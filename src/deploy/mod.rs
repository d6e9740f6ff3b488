//! The provider-neutral deploy layer: what `deploy`, `status`, `rollback`
//! and `destroy` do on every provider (docs/ARCHITECTURE.md, "Deploying").
//! A plan of timed steps (`steps.rs`) run over a provider's primitives
//! (`crate::provider::Machines`), converging from what the provider reports
//! plus the deployment record (`record.rs`); one command that changes what
//! runs per environment at a time (`lock.rs`); the boot timeline and its
//! outcome parsed from the release's own lines (`boot.rs`); the release
//! resolved or built (`resolve.rs`); a first deploy (`first.rs`) or a
//! replacement with its rollback (`replace.rs`); `destroy` and `status`
//! (`lifecycle.rs`); which releases must be kept (`retention.rs`).
//!
//! It sits above `release` (it deploys what that wrote) and `provider` (it
//! drives its primitives), below the CLI. The health gate a replacement
//! passes is what the new machine says while it boots; the `health` probes
//! join when the service address moves (the hand-over step).

pub mod boot;
#[cfg(test)]
mod fake;
pub mod first;
mod handover;
pub mod lifecycle;
pub mod lock;
mod plan;
pub mod record;
pub mod replace;
pub mod resolve;
pub mod retention;
pub mod steps;
mod stop_start;

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::config::Config;
use crate::images::Pinned;
use crate::provider::Machines;
use crate::render::Templates;
use crate::version::Version;

pub use first::{up, UpOutcome};
pub use lifecycle::{destroy, status, DestroyOptions, DownOutcome, MachineStatus};
pub use plan::with_backup_bound;
pub use replace::{replace, rollback_target, PlanKind, ReplaceOptions, ReplaceOutcome, Replaced};
pub use steps::Step;

/// How long a replacement waits for the new machine when not told.
pub const HEALTH_WAIT: Duration = Duration::from_secs(15 * 60);

/// What a deploy boots, and from what.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub project: &'a Path,
    pub config: &'a Config,
    pub images: &'a Pinned,
    pub templates: &'a Templates,
    /// Boot this stored release instead of building the environment's.
    pub release: Option<&'a Version>,
    /// Change nothing; report what would be done (a first deploy's steps).
    pub dry_run: bool,
}

/// What `deploy` did: a first deploy's outcome or a replacement's, each
/// with the JSON its old command (`libvirt up`, `libvirt replace`) printed.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Deployed {
    First(UpOutcome),
    Replaced(ReplaceOutcome),
}

/// How `deploy` runs.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// A first deploy follows the boot this long (not at all when `None`);
    /// a replacement's health gate waits this long (`HEALTH_WAIT` when `None`).
    pub wait: Option<Duration>,
    pub shutdown_timeout: Duration,
    /// A replacement hands over even without the old VM's backup.
    pub no_backup: bool,
}

/// A first deploy when the environment has no machine, else a replacement
/// that converges from whatever an earlier run left. A dry run asks the
/// provider nothing and shows a first deploy's steps.
pub fn deploy(
    inputs: &Inputs,
    machines: &dyn Machines,
    opts: &DeployOptions,
    progress: &mut dyn FnMut(&Step),
    on_event: &mut dyn FnMut(&boot::Event),
) -> Result<Deployed> {
    let env = inputs.config.env.as_str();
    if inputs.dry_run {
        return Ok(Deployed::First(up(
            inputs, machines, None, progress, on_event,
        )?));
    }
    let _lock = lock::take(inputs.project, env, machines)?;
    let running = machines.list(env)?;
    if let (Some(snapshot), Some(m)) = (&inputs.config.backup.restore, running.first()) {
        return Err(crate::error::Error::invalid(format!(
            "{env}: a restore ({snapshot}) is a first deploy onto an empty data volume, and {} serves {env}: run `torrust-bake destroy {env} --purge` first (the volume's data is lost), or deploy without --restore",
            m.name
        ))
        .into());
    }
    if running.is_empty() {
        return Ok(Deployed::First(up(
            inputs, machines, opts.wait, progress, on_event,
        )?));
    }
    let how = ReplaceOptions {
        health_wait: opts.wait.unwrap_or(HEALTH_WAIT),
        shutdown_timeout: opts.shutdown_timeout,
        no_backup: opts.no_backup,
    };
    Ok(Deployed::Replaced(replace(
        inputs, machines, &how, progress, on_event,
    )?))
}

/// A first deploy only (the `libvirt up` alias), under the lock.
pub fn first(
    inputs: &Inputs,
    machines: &dyn Machines,
    wait: Option<Duration>,
    progress: &mut dyn FnMut(&Step),
    on_event: &mut dyn FnMut(&boot::Event),
) -> Result<UpOutcome> {
    let _lock = (!inputs.dry_run)
        .then(|| lock::take(inputs.project, inputs.config.env.as_str(), machines))
        .transpose()?;
    up(inputs, machines, wait, progress, on_event)
}

/// A replacement only (the `libvirt replace` alias, and `rollback` with
/// `inputs.release` set to its target), under the lock.
pub fn replace_locked(
    inputs: &Inputs,
    machines: &dyn Machines,
    opts: &ReplaceOptions,
    progress: &mut dyn FnMut(&Step),
    on_event: &mut dyn FnMut(&boot::Event),
) -> Result<ReplaceOutcome> {
    let _lock = lock::take(inputs.project, inputs.config.env.as_str(), machines)?;
    replace(inputs, machines, opts, progress, on_event)
}
