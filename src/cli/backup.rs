//! Arguments of `backup list` (commands/backup_cmds.rs).

use super::*;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// The environment's snapshots in BACKUP_REPOSITORY, oldest first: id, time, and what
    /// made it (handover: an old VM's shutdown, the tracker stopped; scheduled: the timer).
    /// Read from this machine with restic (apt-get install restic) and the environment's
    /// credentials; the operator's own RESTIC_* and AWS_* variables are not used.
    #[command(after_help = "\
The VM backs up by itself: at every shutdown (so every hand-over and destroy), and by
BACKUP_SCHEDULE. To make one now, on the VM: systemctl start torrust-backup.service.
Restore: torrust-bake deploy <env> --restore latest|ID (onto an empty data volume).

Examples:
  torrust-bake backup list production
  torrust-bake backup list production --json | jq -r '.snapshots[-1].short_id'

Exit codes: 0 listed, 1 no repository configured or none there yet, the password
refused, 2 the repository unreachable.")]
    List(BackupListArgs),
}

#[derive(Debug, Args)]
pub struct BackupListArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
}
