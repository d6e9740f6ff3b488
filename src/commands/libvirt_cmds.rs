//! `libvirt up|status|down`.

use super::*;

/// What `up` (and `replace`, for its new domain) is asked to do.
pub(super) fn up_options(
    release: Option<Version>,
    connect: &Option<String>,
    seed: LibvirtSeed,
    dry_run: bool,
) -> libvirt::UpOptions {
    libvirt::UpOptions {
        release,
        virsh: Virsh {
            uri: connect.clone(),
        },
        dry_run,
        seed: match seed {
            LibvirtSeed::Iso => libvirt::SeedKind::Iso,
            LibvirtSeed::Img => libvirt::SeedKind::Img,
        },
    }
}

pub(super) fn print_step(step: &libvirt::Step) {
    errln!(
        "{:>8.1} s  {:12} {}",
        step.ms as f64 / 1000.0,
        step.step,
        step.detail
    );
}

pub fn libvirt_up(project: &Path, args: &LibvirtUpArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    known_env(project, env)?;
    let release = args
        .release
        .as_deref()
        .map(str::parse::<Version>)
        .transpose()?;
    let (report, ok) = load_all(project, env);
    let Some((config, images)) = ok else {
        return report_failure(&report, json);
    };
    if !report.problems.is_empty() && !json {
        errln!("{report}");
    }
    let templates = render::Templates::load(project)?;
    let opts = up_options(release, &args.connect, args.seed, args.dry_run);
    let mut progress = |s: &libvirt::Step| {
        if !json {
            print_step(s)
        }
    };
    let mut out = libvirt::up(project, &config, &images, &templates, &opts, &mut progress)?;
    if let (Some(wait), false) = (args.wait, out.dry_run) {
        if !json {
            errln!(
                "{env}: following {} until the tracker is healthy (at most {})",
                out.console_log.display(),
                humantime::format_duration(wait)
            );
        }
        libvirt::wait_boot(&mut out, &opts.virsh, wait, &mut |e| {
            if !json {
                print_event(e)
            }
        });
        let healthy =
            out.boot.as_ref().map(|b| &b.outcome) == Some(&libvirt::console::Outcome::Healthy);
        if healthy && !out.already_running {
            let d = libvirt::deployments::Deployment::now("up", &out.version, &out.domain);
            libvirt::deployments::append(project, env, &d)?;
        }
    }
    if json {
        print_json(&out)?;
    } else if out.dry_run {
        out!("{}", out.xml);
        outln!(
            "{env}: dry run, nothing changed; `torrust-bake libvirt up {env}` would start {} (release {})",
            out.domain, out.version
        );
    } else if out.already_running {
        outln!(
            "{env}: {} (release {}) is already running; console: {}",
            out.domain,
            out.version,
            out.console_log.display()
        );
    } else {
        outln!(
            "{env}: started {} (release {}, {}); console: {}; `torrust-bake libvirt status {env}` shows its address",
            out.domain,
            out.version,
            out.domain_type.name(),
            out.console_log.display()
        );
    }
    Ok(boot_verdict(&out, json))
}

pub(super) fn print_event(e: &libvirt::console::Event) {
    errln!(
        "{:>8.1} s  {:18} {}",
        e.ms as f64 / 1000.0,
        e.event,
        e.detail
    );
}

/// Exit 0 unless `--wait` saw the release fail or not finish; says why.
fn boot_verdict(out: &libvirt::UpOutcome, json: bool) -> ExitCode {
    use libvirt::console::Outcome;
    let Some(boot) = &out.boot else {
        return ExitCode::SUCCESS;
    };
    let at = |ms: u128| format!("{:.1} s", ms as f64 / 1000.0);
    let end = boot.timeline.last().map_or(0, |e| e.ms);
    let (ok, message) = match &boot.outcome {
        Outcome::Healthy => (true, format!("{}: release {} on {}: tracker healthy {} after the domain started", out.env, out.version, out.domain, at(end))),
        Outcome::Failed(why) => (false, format!("{}: release {} on {} failed to start: {why} (the VM said so {} after start; console: {})", out.env, out.version, out.domain, at(end), out.console_log.display())),
        Outcome::TimedOut(last) => (false, format!("{}: release {} on {}: the tracker was not healthy within the wait; the console's last line: {last:?} (console: {}); `torrust-bake libvirt status {}` shows where it is", out.env, out.version, out.domain, out.console_log.display(), out.env)),
    };
    if !json {
        if ok {
            outln!("{message}")
        } else {
            errln!("{message}")
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn libvirt_status(args: &LibvirtStatusArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    named_env(env)?;
    let virsh = Virsh {
        uri: args.connect.clone(),
    };
    let domains = libvirt::status(&virsh, env)?;
    if json {
        print_json(&serde_json::json!({ "env": env, "domains": domains }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if domains.is_empty() {
        outln!("{env}: no domains (`torrust-bake libvirt up {env}` starts one)");
    }
    for d in &domains {
        let address = if d.addresses.is_empty() {
            "-".to_string()
        } else {
            d.addresses.join(",")
        };
        let path = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map_or("-".to_string(), |p| p.display().to_string())
        };
        outln!(
            "{}  release {}  {}  boot {:?}  address {}  console {}  data {}",
            d.domain,
            d.release,
            d.state,
            d.boot.as_deref().unwrap_or("-"),
            address,
            path(&d.console_log),
            path(&d.data_disk)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn libvirt_down(project: &Path, args: &LibvirtDownArgs) -> Result<ExitCode> {
    let (env, json) = (args.env.as_str(), args.json);
    named_env(env)?;
    // The config names the data disk even when no domain is left to; down
    // itself needs no valid config (it works from libvirt's records).
    let loaded = config::load(project, env, &config::process_env);
    let data_disk = loaded
        .config
        .as_ref()
        .and_then(libvirt::data_disk)
        .map(|d| d.path);
    if args.purge && loaded.config.is_none() {
        errln!("{}", loaded.report);
        errln!("{env}: the configuration has errors; only data disks of existing domains can be purged");
    }
    let opts = libvirt::DownOptions {
        virsh: Virsh {
            uri: args.connect.clone(),
        },
        shutdown_timeout: args.shutdown_timeout,
        purge: args.purge,
        data_disk,
    };
    let mut progress = |s: &libvirt::Step| {
        if !json {
            print_step(s)
        }
    };
    let (outcomes, data_disks) = libvirt::down(env, &opts, &mut progress)?;
    if json {
        print_json(&serde_json::json!({
            "env": env, "domains": outcomes, "data_disks": data_disks, "purged": args.purge,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if outcomes.is_empty() {
        outln!("{env}: no domains");
    }
    for o in &outcomes {
        outln!(
            "{env}: {} (release {}) stopped ({}) and undefined",
            o.domain,
            o.release,
            o.stop
        );
    }
    for d in &data_disks {
        if args.purge {
            outln!("{env}: data disk {} deleted", d.display());
        } else {
            outln!(
                "{env}: data disk {} kept for the next `libvirt up` (--purge deletes it)",
                d.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
