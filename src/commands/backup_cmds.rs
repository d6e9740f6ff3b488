//! `backup list`: the environment's snapshots (`crate::backup`).

use super::*;
use crate::cli::BackupListArgs;

pub fn backup_list(project: &Path, args: &BackupListArgs, json: bool) -> Result<ExitCode> {
    let env = args.env.as_str();
    known_env(project, env)?;
    let (report, ok) = load_all(project, env);
    let Some((config, _)) = ok else {
        return report_failure(&report, json);
    };
    let snapshots = crate::backup::list(project, &config)?;
    if json {
        print_json(&serde_json::json!({ "env": env, "snapshots": snapshots }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if snapshots.is_empty() {
        outln!(
            "{env}: no snapshots yet (the VM makes one at each shutdown and by BACKUP_SCHEDULE)"
        );
    }
    for s in &snapshots {
        outln!("{}  {}  {}", s.short_id, s.time, s.kind());
    }
    Ok(ExitCode::SUCCESS)
}
