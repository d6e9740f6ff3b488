//! Arguments of `releases list|prune` (commands/releases_cmds.rs).

use super::*;

#[derive(Debug, Subcommand)]
pub enum ReleasesCommand {
    /// Every release of the environment: version, when it was last built (from the
    /// local build log), size, and where it runs (the VMs its provider reports).
    #[command(after_help = "\
Examples:
  torrust-bake releases list production
  torrust-bake releases list local --json")]
    List(ReleasesListArgs),
    /// Delete all but the newest N releases (by build time); a release a VM boots, the one
    /// serving and the rollback target (releases/<env>/deployments.log) are never deleted,
    /// and nothing is when the provider cannot tell what runs.
    #[command(after_help = "\
Examples:
  torrust-bake releases prune local --keep 3 --dry-run
  torrust-bake releases prune production --keep 5")]
    Prune(ReleasesPruneArgs),
}

#[derive(Debug, Args)]
pub struct ReleasesListArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct ReleasesPruneArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    /// How many of the newest releases to keep (at least 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}
