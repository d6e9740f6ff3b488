//! The replacement when two machines of the environment cannot run at once
//! (a static address they cannot share, `Config::side_by_side`): every old
//! machine stops, then the new one, defined with the data volume, boots.
//! The outage is one boot; a failure brings the old machine back.

use std::time::Instant;

use anyhow::Result;

use super::boot::{self, describe, Event, Outcome};
use super::plan::{backup_gate, finish, point, roll_back, stop_bound, Plan, ReplaceOutcome};
use super::steps::Steps;

/// One machine at a time: every old machine stops before the new one,
/// defined with the data volume, starts.
pub(super) fn run(
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
    let bound = stop_bound(plan);
    for m in old {
        steps.run("stop old", || machines.stop(&m.name, bound))?;
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
    let refused = if outcome == Outcome::Healthy {
        backup_gate(steps, plan, &out.timeline.clone(), out)?
    } else {
        None
    };
    if outcome != Outcome::Healthy || refused.is_some() {
        out.reason = Some(refused.unwrap_or_else(|| describe(&outcome)));
        roll_back(steps, plan, out)?;
        out.outage_ms = plan.back.is_some().then(|| outage.elapsed().as_millis());
        return Ok(());
    }
    out.service_address = point(steps, machines, plan.config, new)?;
    out.outage_ms = (!old.is_empty()).then(|| outage.elapsed().as_millis());
    finish(steps, plan, out)
}
