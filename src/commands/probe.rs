//! `probe` (hidden): what the end-to-end scripts need of the product, so
//! they keep to namespace and daemon plumbing. `announce-loop` measures an
//! outage as clients see it, with the BEP 15 code `health` uses;
//! `oci-layout` makes the registry's stand-in images with `images::layout`
//! (the scripts made them with tar, gzip and printf'd JSON before).

use std::io::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::*;
use crate::cli::{AnnounceLoopArgs, OciLayoutArgs};
use crate::health;

pub fn probe_announce_loop(args: &AnnounceLoopArgs) -> Result<ExitCode> {
    let info_hash: [u8; 20] = hex::decode(&args.info_hash)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::invalid("--info-hash: 40 hex digits (20 bytes)"))?;
    let mut out = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let started = Instant::now();
    while !args.until.exists() && started.elapsed() < args.max {
        let ok = health::announce_once(&args.target, info_hash, args.timeout, 2).is_ok();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        writeln!(out, "{now:.3} {}", u8::from(ok))
            .and_then(|()| out.flush())
            .with_context(|| format!("writing {}", args.out.display()))?;
        std::thread::sleep(args.every);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn probe_oci_layout(args: &OciLayoutArgs) -> Result<ExitCode> {
    let config: serde_json::Value = serde_json::from_str(&args.config)
        .map_err(|e| Error::invalid(format!("--config: not JSON: {e}")))?;
    let image = crate::images::layout::Image {
        architecture: args.architecture.clone(),
        config,
        tag: args.tag.clone(),
        created_by: args.created_by.clone(),
    };
    let made = crate::images::layout::write(&args.root, &image, &args.out)?;
    outln!("{}", serde_json::to_string(&made)?);
    Ok(ExitCode::SUCCESS)
}
