//! A first deploy (`libvirt up` before): the release on a new machine,
//! started, and with a wait, followed until its tracker is healthy. One
//! machine per environment serves at a time (one data volume): when another
//! exists, a replacement is what applies (`deploy` picks it; this refuses).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::boot::{self, Boot, Event, Outcome};
use super::plan::point;
use super::record::{self, DeployEvent, Deployment};
use super::resolve::{self, ReleaseRef};
use super::steps::{Step, Steps};
use super::Inputs;
use crate::error::Error;
use crate::provider::{Machine, Machines};

/// What a first deploy did (or, with `--dry-run`, would do). The JSON of
/// `deploy` when nothing ran before, field for field `libvirt up`'s.
#[derive(Debug, Serialize)]
pub struct UpOutcome {
    pub env: String,
    pub version: String,
    pub domain: String,
    pub dry_run: bool,
    /// The machine of this release was already running: nothing was done.
    pub already_running: bool,
    pub domain_type: String,
    pub console_log: Option<PathBuf>,
    pub data_disk: Option<String>,
    pub steps: Vec<Step>,
    pub xml: String,
    /// Where the service address points (the provider's words), when the
    /// environment has one: with a wait once the tracker is healthy, else
    /// once the machine started.
    pub service_address: Option<String>,
    /// With a wait: the boot timeline and how it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<Boot>,
}

/// Puts the release on a new machine and starts it; with `wait`, follows
/// its boot (a healthy first boot goes into the deployment record).
pub fn up(
    inputs: &Inputs,
    machines: &dyn Machines,
    wait: Option<Duration>,
    progress: &mut dyn FnMut(&Step),
    on_event: &mut dyn FnMut(&Event),
) -> Result<UpOutcome> {
    let Inputs {
        project, config, ..
    } = *inputs;
    let env = config.env.as_str();
    let dry = inputs.dry_run;
    let mut steps = Steps::new(progress);
    let rel = steps.run("release", || resolve::resolve(inputs))?;
    let existing = if dry {
        None
    } else {
        check_machines(&mut steps, machines, env, &rel.version)?
    };
    let (machine, started, already_running) = match existing {
        Some(m) => start_existing(&mut steps, machines, m)?,
        None => {
            let mut part = |n, f: &mut dyn FnMut() -> Result<String>| steps.part(n, f);
            let m = machines.create(config, &rel.version, &rel.dir, true, dry, &mut part)?;
            let started = start(&mut steps, machines, &m, env, dry)?;
            (m, started, false)
        }
    };
    let mut boot = None;
    let mut service_address = None;
    if let (Some(wait), false) = (wait, dry) {
        let (timeline, outcome) = boot::follow(machines, &machine, started, wait, on_event);
        if outcome == Outcome::Healthy {
            // The service address follows the machine that serves.
            service_address = point(&mut steps, machines, config, &machine)?;
            if !already_running {
                let d = Deployment::now(DeployEvent::Up, &rel.version, &machine.name);
                record::append(project, env, &d)?;
            }
        }
        boot = Some(Boot { timeline, outcome });
    } else if !dry {
        // Nothing else serves the environment: without a wait the address
        // is its at once (else a deploy that does not wait leaves it
        // pointing nowhere).
        service_address = point(&mut steps, machines, config, &machine)?;
    }
    let mut out = outcome(env, &rel, &machine, dry, already_running, steps.done);
    out.boot = boot;
    out.service_address = service_address;
    Ok(out)
}

fn outcome(
    env: &str,
    rel: &ReleaseRef,
    m: &Machine,
    dry_run: bool,
    already_running: bool,
    steps: Vec<Step>,
) -> UpOutcome {
    UpOutcome {
        env: env.to_string(),
        version: rel.version.clone(),
        domain: m.name.clone(),
        dry_run,
        already_running,
        domain_type: m.kind.clone(),
        console_log: m.console_log.clone(),
        data_disk: m.data_disk.clone(),
        steps,
        xml: m.description.clone(),
        service_address: None,
        boot: None,
    }
}

/// One machine per environment for a first deploy: two would share the
/// data volume. Returns this release's machine if it exists.
fn check_machines(
    steps: &mut Steps,
    machines: &dyn Machines,
    env: &str,
    version: &str,
) -> Result<Option<Machine>> {
    steps.run("domains", || {
        let found = machines.list(env)?;
        if let Some(other) = found.iter().find(|m| m.release != version) {
            return Err(Error::invalid(format!(
                "{env} already has {} (release {}); `torrust-bake deploy {env}` replaces it, `torrust-bake destroy {env}` stops it (they would share the data disk)",
                other.name, other.release
            ))
            .into());
        }
        let mine = found.into_iter().next();
        let detail = match &mine {
            Some(m) => format!("{} exists", m.name),
            None => format!("no machine of {env}"),
        };
        Ok((mine, detail))
    })
}

/// Starts the new machine; returns when it was started.
fn start(
    steps: &mut Steps,
    machines: &dyn Machines,
    m: &Machine,
    env: &str,
    dry: bool,
) -> Result<Instant> {
    let name = &m.name;
    steps.run("start", || {
        let started = Instant::now();
        if !dry {
            machines.start(name).with_context(|| {
                format!(
                    "{name} is defined but did not start; `torrust-bake destroy {env}` removes it"
                )
            })?;
        }
        // A provider without a console file follows the boot over the
        // network (provider::boot_status): nothing to point at.
        let detail = match &m.console_log {
            Some(p) => format!("{name}; console: {}", p.display()),
            None => name.to_string(),
        };
        Ok((
            started,
            if dry {
                format!("would: {detail}")
            } else {
                detail
            },
        ))
    })
}

/// This release's machine exists: start it if it is off.
fn start_existing(
    steps: &mut Steps,
    machines: &dyn Machines,
    m: Machine,
) -> Result<(Machine, Instant, bool)> {
    let state = machines.state(&m.name)?;
    if state.running {
        return Ok((m, Instant::now(), true));
    }
    let started = steps.run("start", || {
        let t = Instant::now();
        machines.start(&m.name)?;
        Ok((t, format!("{} (was {})", m.name, state.words)))
    })?;
    Ok((m, started, false))
}
