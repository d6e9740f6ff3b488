//! `images pin|verify`.

use super::*;
use images::env_lock;

/// The lock `images pin|verify` work on: images/images.lock without
/// `--env`; with it, the lock the environment builds with. A pin needs the
/// environment's own lock: pinning the shared one for one environment would
/// change every environment that uses it.
fn lock_for(project: &Path, env: Option<&str>, pinning: bool) -> Result<String> {
    let Some(env) = env else {
        return Ok(images::LOCK_PATH.to_string());
    };
    known_env(project, env)?;
    let (lock, own) = (env_lock::lock_of(project, env), env_lock::path_of(env));
    if lock == own {
        return Ok(lock);
    }
    if pinning {
        return Err(Error::invalid(format!(
            "{env} has no lock of its own: there is no {own}, so it builds with {lock}; to give it one: cp {lock} {own}, then pin again (without --env, pin edits {lock} for every environment that uses it)"
        ))
        .into());
    }
    errln!("{env} has no lock of its own ({own} does not exist): verifying {lock}, which it builds with");
    Ok(lock)
}

fn registry_client(args: &RegistryArgs, quiet: bool) -> images::registry::Client {
    use images::registry::{Client, Options};
    let progress: Box<dyn Fn(&str)> = if quiet {
        Box::new(|_| {})
    } else {
        Box::new(|line| errln!("{line}"))
    };
    Client::new(Options {
        insecure: args.insecure.clone(),
        timeout: args.timeout,
        progress,
        ..Options::default()
    })
}

/// Exit code for outcomes that failed to resolve: 1 when every failure is
/// the user's to fix (bad reference, 404, credentials), else 2.
fn failure_code(outcomes: &[images::pin::Outcome]) -> ExitCode {
    let failed = outcomes.iter().filter(|o| o.error.is_some());
    if failed.clone().all(|o| o.error_is_input) {
        ExitCode::from(1)
    } else {
        ExitCode::from(2)
    }
}

fn short(digest: &Option<images::Digest>) -> String {
    match digest {
        Some(d) => d.to_string(),
        None => "(unpinned)".into(),
    }
}

pub fn images_pin(project: &Path, pin: &PinArgs, json: bool) -> Result<ExitCode> {
    let (services, args) = (&pin.services, &pin.registry);
    let path = lock_for(project, pin.env.as_deref(), true)?;
    let (text, lock) = images::read_lock(project, &path)?;
    let selected = images::pin::select(&lock, &path, services)?;
    let mut client = registry_client(args, false);
    let outcomes =
        images::pin::resolve_all(&lock, &selected, &mut client, false, &|l| errln!("{l}"));
    let failed = outcomes.iter().any(|o| o.error.is_some());
    let mut written = false;
    if !failed {
        let new = images::pin::apply(&text, &outcomes).with_context(|| path.clone())?;
        written = images::pin::write_lock(project, &path, &new)?;
    }
    if json {
        print_json(&serde_json::json!({
            "ok": !failed, "written": written, "lock": path, "images": outcomes,
        }))?;
    } else {
        for o in &outcomes {
            match (&o.error, o.matches()) {
                (Some(e), _) => errln!("{}: error: {e}", o.service),
                (None, true) => outln!("{}: unchanged {}", o.service, short(&o.resolved)),
                (None, false) => outln!(
                    "{}: {} -> {}",
                    o.service,
                    short(&o.locked),
                    short(&o.resolved)
                ),
            }
        }
        if failed {
            errln!("{path} was not changed: fix the errors above and pin again");
        } else if written {
            outln!("wrote {path}");
        } else {
            outln!("{path} already up to date");
        }
    }
    Ok(if failed {
        failure_code(&outcomes)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn images_verify(project: &Path, verify: &ImagesVerifyArgs, json: bool) -> Result<ExitCode> {
    let args = &verify.registry;
    let path = lock_for(project, verify.env.as_deref(), false)?;
    let (_, lock) = images::read_lock(project, &path)?;
    let selected = images::pin::select(&lock, &path, &[])?;
    let mut client = registry_client(args, false);
    let outcomes =
        images::pin::resolve_all(&lock, &selected, &mut client, true, &|l| errln!("{l}"));
    let errors = outcomes.iter().any(|o| o.error.is_some());
    let mismatches = outcomes
        .iter()
        .filter(|o| o.error.is_none() && !o.matches())
        .count();
    if json {
        print_json(&serde_json::json!({
            "ok": !errors && mismatches == 0, "lock": path, "images": outcomes,
        }))?;
    } else {
        for o in &outcomes {
            if let Some(e) = &o.error {
                errln!("{}: error: {e}", o.service);
            } else if o.matches() {
                outln!("{}: ok {}", o.service, short(&o.resolved));
            } else if o.locked.is_none() {
                outln!(
                    "{}: MISMATCH: not pinned; {} is {}",
                    o.service,
                    o.reference,
                    short(&o.resolved)
                );
            } else if o.resolved != o.locked {
                let still = match o.locked_still_exists {
                    Some(true) => "; the locked digest can still be pulled",
                    Some(false) => "; the locked digest is gone from the registry: releases using it will not pull",
                    None => "",
                };
                outln!(
                    "{}: MISMATCH: {} moved {} -> {}{still}",
                    o.service,
                    o.reference,
                    short(&o.locked),
                    short(&o.resolved)
                );
            } else {
                outln!(
                    "{}: MISMATCH: platform digests differ from the index (locked {:?}, index {:?})",
                    o.service, o.locked_platforms, o.platforms
                );
            }
        }
        if mismatches > 0 {
            errln!(
                "{mismatches} image(s) differ from {path}: run `{}` to take the new digests (review the change first)",
                env_lock::pin_command(&path)
            );
        }
    }
    Ok(if errors {
        failure_code(&outcomes)
    } else if mismatches > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
