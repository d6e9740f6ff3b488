//! The warm-standby replacement: the new machine boots beside the old one
//! without the data volume, installs its release, pulls its images and
//! says it is ready for data (templates/install.sh.tera). Only then does
//! the old machine stop (gracefully: the tracker closes its database), the
//! volume move to the new one while it runs (a hot-plug), the new one
//! mount it and start its stack, the service address move to it once it is
//! healthy, and the old one retire. The outage is that stop, the move and
//! a stack start, not a boot.
//!
//! A failure before the hand-over (an image the registry lacks, a failed
//! install) never touches the old machine: the new one is removed and the
//! old never stopped serving. A failure after it gives the volume and the
//! address back to the old machine and starts it (`plan::roll_back`).
//!
//! Run again after a kill at any step, it converges from what the
//! provider says: a standby that already said "ready for data" is not
//! waited for twice (its boot lines are read from the start), the old
//! machines are stopped if they still run, the volume is detached from
//! them if they still hold it, attached to the new one if it does not yet,
//! and the address moved. At every moment the volume is on at most one
//! running machine: it is attached to the new one only once every old one
//! is off, and given back to an old one only once the new one is off.

use std::time::Instant;

use anyhow::Result;

use super::boot::{describe, Follow, Goal, Outcome};
use super::plan::{
    backup_gate, finish, point, roll_back, stop_bound, Plan, ReplaceOutcome, Replaced,
};
use super::record::{self, Deployment};
use super::steps::Steps;
use crate::deploy::boot::Event;

/// Runs the hand-over for `plan`; `new_running` says whether the new
/// machine was already running (an earlier run's standby).
pub(super) fn run(
    steps: &mut Steps,
    plan: &Plan,
    new_running: bool,
    out: &mut ReplaceOutcome,
    on_event: &mut dyn FnMut(&Event),
) -> Result<()> {
    let Plan {
        config,
        machines,
        opts,
        new,
        ..
    } = *plan;
    let started = if new_running {
        Instant::now()
    } else {
        steps.run("start standby", || {
            let t = Instant::now();
            machines.start(&new.name)?;
            Ok((
                t,
                format!("{} beside the old VM, without the data volume", new.name),
            ))
        })?
    };
    let mut follow = Follow::new(machines, new, started);
    let with_volume = config.data_volume.is_some();
    // When the hand-over began (this run): the outage's start.
    let mut handed = None;
    if with_volume && new.data_disk.is_none() {
        // Timed as a step: the wait is where a standby's seconds go.
        let ready = steps.run("standby", || {
            let o = follow.until(Goal::Ready, opts.health_wait, on_event);
            let said = describe(&o);
            Ok((o, said))
        })?;
        out.timeline = follow.events.clone();
        match ready {
            Outcome::Ready => {}
            Outcome::Healthy => {
                // It found a volume of its own: not ours to take over.
                out.reason = Some("the standby started a tracker before it had the data volume (it found a disk labelled DATA_VOLUME of its own?)".into());
                return abandon(steps, plan, out);
            }
            failed => {
                out.reason = Some(describe(&failed));
                return abandon(steps, plan, out);
            }
        }
        let began = Instant::now();
        if let Err(e) = hand_over(steps, plan) {
            // The old machine may be stopped already: it must come back
            // (#27 item 2), with the volume.
            out.reason = Some(format!("the hand-over failed: {e:#}"));
            roll_back(steps, plan, out)?;
            out.outage_ms = Some(began.elapsed().as_millis());
            return Ok(());
        }
        handed = Some(began);
    }
    let outage = handed.unwrap_or_else(Instant::now);
    let healthy = steps.run("health", || {
        let o = follow.until(Goal::Healthy, opts.health_wait, on_event);
        let said = describe(&o);
        Ok((o, said))
    })?;
    out.timeline = follow.events.clone();
    let refused = if healthy == Outcome::Healthy {
        backup_gate(steps, plan, &follow.events, out)?
    } else {
        None
    };
    if let Some(why) = refused {
        out.reason = Some(why);
        roll_back(steps, plan, out)?;
        out.outage_ms = Some(outage.elapsed().as_millis());
        return Ok(());
    }
    if healthy != Outcome::Healthy {
        out.reason = Some(describe(&healthy));
        if !with_volume {
            // Nothing was handed over: the old machines never stopped.
            return abandon(steps, plan, out);
        }
        roll_back(steps, plan, out)?;
        out.outage_ms = Some(outage.elapsed().as_millis());
        return Ok(());
    }
    out.service_address = point(steps, machines, config, new)?;
    if !with_volume {
        // No volume to move: the old machines stop once the address moved.
        for m in plan.old {
            steps.run("stop old", || machines.stop(&m.name, opts.shutdown_timeout))?;
        }
    }
    out.outage_ms = (!plan.old.is_empty()).then(|| outage.elapsed().as_millis());
    finish(steps, plan, out)
}

/// Stops every old machine (gracefully, bounded), takes the volume from
/// each that holds it, and gives it to the new one while it runs.
fn hand_over(steps: &mut Steps, plan: &Plan) -> Result<()> {
    let Plan {
        config,
        machines,
        new,
        old,
        ..
    } = *plan;
    let bound = stop_bound(plan);
    for m in old {
        steps.run("stop old", || machines.stop(&m.name, bound))?;
    }
    for m in old {
        steps.run("detach", || Ok(((), machines.detach_data(config, m)?)))?;
    }
    steps.run("attach", || Ok(((), machines.attach_data(config, new)?)))
}

/// The new release failed before it got anything: remove it; the old
/// machines never stopped. Recorded, so the record says why.
fn abandon(steps: &mut Steps, plan: &Plan, out: &mut ReplaceOutcome) -> Result<()> {
    let Plan {
        project,
        config,
        machines,
        new,
        ..
    } = *plan;
    steps.run("remove standby", || {
        machines.stop(&new.name, std::time::Duration::ZERO)?;
        let removed = machines.retire(new)?;
        Ok((
            (),
            format!("{} destroyed; {removed}; the old VM kept serving", new.name),
        ))
    })?;
    out.outcome = Replaced::Kept;
    out.outage_ms = Some(0);
    out.service_address = plan.back.and_then(|_| machines.pointed(config));
    let mut d = Deployment::now(out.outcome.into(), &out.version, &new.name);
    d.reason = out.reason.clone();
    d.serving = out.previous.clone();
    d.previous = out.previous.clone();
    d.outage_ms = Some(0);
    record::append(project, config.env.as_str(), &d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::validate::testing::config;
    use crate::config::vars::VarId::*;
    use crate::config::Config;
    use crate::deploy::boot::Stage;
    use crate::deploy::fake::{Behaviour, Fake};
    use crate::deploy::record::DeployEvent;
    use crate::deploy::replace::{
        replace_with, PlanKind, ReplaceOptions, ReplaceOutcome, Replaced,
    };
    use crate::deploy::resolve::ReleaseRef;
    use crate::deploy::steps::Steps;
    use crate::provider::Machines;

    const OLD: &str = "aaaa0000aaaa";
    const NEW: &str = "bbbb1111bbbb";

    fn warm() -> Config {
        config(&[(INFRASTRUCTURE_FLOATING_IPV4, "10.9.0.7")])
    }

    /// A fake with release OLD serving: running, holding the data, routed.
    fn serving(c: &Config) -> Fake {
        let fake = Fake::default();
        let mut none = |_: &'static str, _: &mut dyn FnMut() -> anyhow::Result<String>| Ok(());
        let m = fake
            .create(c, OLD, std::path::Path::new("/r"), true, false, &mut none)
            .unwrap();
        fake.start(&m.name).unwrap();
        fake.point(c, &m).unwrap();
        fake
    }

    fn deploy(
        fake: &Fake,
        c: &Config,
        project: &std::path::Path,
    ) -> anyhow::Result<ReplaceOutcome> {
        deploy_with(fake, c, project, false)
    }

    fn deploy_with(
        fake: &Fake,
        c: &Config,
        project: &std::path::Path,
        no_backup: bool,
    ) -> anyhow::Result<ReplaceOutcome> {
        let rel = ReleaseRef {
            version: NEW.into(),
            dir: "/r".into(),
        };
        let opts = ReplaceOptions {
            health_wait: Duration::from_secs(3),
            shutdown_timeout: Duration::from_secs(1),
            no_backup,
        };
        let mut quiet = |_: &crate::deploy::Step| {};
        replace_with(
            project,
            c,
            &rel,
            fake,
            &opts,
            Steps::new(&mut quiet),
            &mut |_| {},
        )
    }

    fn serves(fake: &Fake, release: &str) {
        let (vms, route) = fake.snapshot();
        let name = format!("vm-{release}");
        assert_eq!(vms, vec![(name.clone(), release.to_string(), true, true)]);
        assert_eq!(route, Some(name));
        assert_eq!(fake.violations(), Vec::<String>::new());
    }

    #[test]
    fn the_new_vm_boots_beside_the_old_and_takes_over_once_ready() {
        let c = warm();
        let project = tempfile::tempdir().unwrap();
        let fake = serving(&c);
        let out = deploy(&fake, &c, project.path()).unwrap();
        assert_eq!(
            (out.outcome, out.plan),
            (Replaced::Replaced, PlanKind::HandOver)
        );
        serves(&fake, NEW);
        let calls = fake.calls();
        let order: Vec<&str> = calls.iter().skip(3).map(String::as_str).collect();
        assert_eq!(
            order,
            [
                "create vm-bbbb1111bbbb",
                "start vm-bbbb1111bbbb",
                "stop vm-aaaa0000aaaa",
                "detach vm-aaaa0000aaaa",
                "attach vm-bbbb1111bbbb",
                "point vm-bbbb1111bbbb",
                "retire vm-aaaa0000aaaa",
            ]
        );
        let steps: Vec<&str> = out.steps.iter().map(|s| s.step).collect();
        assert!(
            steps.ends_with(&[
                "start standby",
                "standby",
                "stop old",
                "detach",
                "attach",
                "health",
                "address",
                "retire old"
            ]),
            "{steps:?}"
        );
        let events: Vec<Stage> = out.timeline.iter().map(|e| e.event.clone()).collect();
        assert!(
            events.ends_with(&[
                Stage::ReadyForData,
                Stage::DataAttached,
                Stage::TrackerHealthy
            ]),
            "{events:?}"
        );
    }

    #[test]
    fn the_old_vms_backup_is_reported_and_without_one_the_hand_over_is_refused() {
        let c = warm();
        let project = tempfile::tempdir().unwrap();
        let fake = serving(&c);
        fake.backup_says("torrust-bake: hand-over backup: snapshot 647185a8 (6 bytes in 2 s)");
        let out = deploy(&fake, &c, project.path()).unwrap();
        assert_eq!(out.outcome, Replaced::Replaced, "{out:?}");
        assert_eq!(
            out.backup.as_deref(),
            Some("snapshot 647185a8 (6 bytes in 2 s)")
        );
        assert!(out.steps.iter().any(|s| s.step == "backup"));

        for said in [
            "torrust-bake: hand-over backup failed: cannot reach the repository",
            "torrust-bake: hand-over backup: none (the previous VM made none: forced off, or its release predates hand-over backups)",
        ] {
            let fake = serving(&c);
            fake.backup_says(said);
            let out = deploy(&fake, &c, project.path()).unwrap();
            assert_eq!(out.outcome, Replaced::RolledBack, "{out:?}");
            let why = out.reason.as_deref().unwrap();
            assert!(why.contains("refusing to hand over") && why.contains("--no-backup"), "{why}");
            serves(&fake, OLD);
            let fake = serving(&c);
            fake.backup_says(said);
            let out = deploy_with(&fake, &c, project.path(), true).unwrap();
            assert_eq!(out.outcome, Replaced::Replaced, "{out:?}");
            serves(&fake, NEW);
        }
    }

    #[test]
    fn a_release_that_fails_before_the_hand_over_never_touches_the_old_vm() {
        let c = warm();
        let project = tempfile::tempdir().unwrap();
        let fake = serving(&c);
        fake.behaves(NEW, Behaviour::FailsBeforeReady);
        let out = deploy(&fake, &c, project.path()).unwrap();
        assert_eq!((out.outcome, out.outage_ms), (Replaced::Kept, Some(0)));
        assert!(
            out.reason.as_deref().unwrap().contains("manifest unknown"),
            "{out:?}"
        );
        serves(&fake, OLD);
        assert!(
            !fake.calls().iter().any(|c| c.contains("vm-aaaa0000aaaa")
                && !c.starts_with("create")
                && !c.starts_with("start")
                && !c.starts_with("point")),
            "{:?}",
            fake.calls()
        );
        let record = crate::deploy::record::read(project.path(), "local")
            .unwrap()
            .entries;
        assert_eq!(
            record.last().unwrap().event,
            DeployEvent::from(Replaced::Kept)
        );
        assert_eq!(record.last().unwrap().serving.as_deref(), Some(OLD));
    }

    #[test]
    fn a_release_that_fails_with_the_data_gives_it_back_to_the_old_vm() {
        let c = warm();
        let project = tempfile::tempdir().unwrap();
        let fake = serving(&c);
        fake.behaves(NEW, Behaviour::FailsWithData);
        let out = deploy(&fake, &c, project.path()).unwrap();
        assert_eq!(out.outcome, Replaced::RolledBack, "{out:?}");
        serves(&fake, OLD);
    }

    #[test]
    fn a_hand_over_that_fails_after_the_old_vm_stopped_brings_it_back() {
        for (plan, failing) in [
            (PlanKind::HandOver, "attach"),
            (PlanKind::StopThenStart, "start vm-bbbb"),
        ] {
            let c = if plan == PlanKind::HandOver {
                warm()
            } else {
                config(&[
                    (INFRASTRUCTURE_IPV4_ADDRESS, "192.168.122.50/24"),
                    (INFRASTRUCTURE_IPV4_GATEWAY, "192.168.122.1"),
                ])
            };
            let project = tempfile::tempdir().unwrap();
            let fake = serving(&c);
            fake.fail_on(failing);
            // Removing the new VM fails too: the old one comes back anyway.
            fake.fail_on_too("retire vm-bbbb");
            let out = deploy(&fake, &c, project.path()).unwrap();
            assert_eq!(out.outcome, Replaced::RolledBack, "{plan:?}: {out:?}");
            assert!(out.reason.as_deref().unwrap().contains("failed"), "{out:?}");
            let (vms, _) = fake.snapshot();
            let old = (format!("vm-{OLD}"), OLD.to_string(), true, true);
            let new = (format!("vm-{NEW}"), NEW.to_string(), false, false);
            assert_eq!(vms, vec![old, new], "{plan:?}");
            assert_eq!(fake.violations(), Vec::<String>::new());
        }
    }

    #[test]
    fn a_static_address_replaces_by_stop_then_start() {
        let c = config(&[
            (INFRASTRUCTURE_IPV4_ADDRESS, "192.168.122.50/24"),
            (INFRASTRUCTURE_IPV4_GATEWAY, "192.168.122.1"),
        ]);
        let project = tempfile::tempdir().unwrap();
        let fake = serving(&c);
        let out = deploy(&fake, &c, project.path()).unwrap();
        assert_eq!(
            (out.outcome, out.plan),
            (Replaced::Replaced, PlanKind::StopThenStart)
        );
        let (vms, _) = fake.snapshot();
        assert_eq!(
            vms,
            vec![(format!("vm-{NEW}"), NEW.to_string(), true, true)]
        );
        assert_eq!(fake.violations(), Vec::<String>::new());
    }

    /// Killed at every change of a hand-over (and of a rollback after it),
    /// in turn, and run again: it converges, and the volume is never on two
    /// running VMs nor the address on one without the data.
    #[test]
    fn a_hand_over_killed_at_any_step_converges_when_run_again() {
        for behaviour in [
            Behaviour::Good,
            Behaviour::FailsWithData,
            Behaviour::FailsBeforeReady,
        ] {
            let c = warm();
            let whole = {
                let project = tempfile::tempdir().unwrap();
                let fake = serving(&c);
                fake.behaves(NEW, behaviour);
                let before = fake.changes();
                deploy(&fake, &c, project.path()).unwrap();
                fake.changes() - before
            };
            assert!(whole >= 4, "{behaviour:?}: {whole} changes");
            for kill in 1..=whole {
                let project = tempfile::tempdir().unwrap();
                let fake = serving(&c);
                fake.behaves(NEW, behaviour);
                fake.kill_at(Some(kill));
                let killed = deploy(&fake, &c, project.path());
                assert!(
                    killed.is_err(),
                    "{behaviour:?}: change {kill} of {whole} was not reached"
                );
                fake.kill_at(None);
                let out = deploy(&fake, &c, project.path()).unwrap_or_else(|e| {
                    panic!("{behaviour:?}, killed at {kill}: the rerun failed: {e:#}")
                });
                // Nothing waited out: every rerun finds what the VMs said.
                assert!(
                    !out.reason
                        .as_deref()
                        .unwrap_or("")
                        .contains("within the wait"),
                    "{behaviour:?}, killed at {kill}: {out:?}"
                );
                let want = if behaviour == Behaviour::Good {
                    NEW
                } else {
                    OLD
                };
                let (vms, route) = fake.snapshot();
                assert_eq!(
                    (vms.len(), route.as_deref()),
                    (1, Some(format!("vm-{want}").as_str())),
                    "{behaviour:?}, killed at {kill}: {vms:?}, calls {:?}",
                    fake.calls()
                );
                if behaviour == Behaviour::Good {
                    serves(&fake, NEW);
                } else {
                    assert!(!out.ok(), "{out:?}");
                }
                assert_eq!(
                    fake.violations(),
                    Vec::<String>::new(),
                    "{behaviour:?}, killed at {kill}"
                );
            }
        }
    }
}
