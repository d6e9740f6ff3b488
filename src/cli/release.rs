//! Arguments of `build`, `diff`, `verify` (commands/release_cmds.rs).

use clap::ValueEnum;

use super::*;

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    /// No longer needed, kept for old scripts: every seed format (seed.iso, seed.img,
    /// seed.qcow2) is always written, so a version's bytes never depend on the flags.
    #[arg(long = "seed-format", value_enum, hide = true)]
    pub seed_formats: Vec<SeedFormat>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    /// The older release's version (a directory name under releases/<env>/).
    pub from: String,
    /// The newer release's version.
    pub to: String,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Checks every file against SHA256SUMS and SHA256SUMS.secret, the lists against
manifest.json, secret-bearing files against their digests under
TORRUST_BAKE_RELEASE_KEY (when it is set), and that no file was added.

Examples:
  torrust-bake verify production
  torrust-bake verify production 3f2a9c1d0b7e --json")]
pub struct VerifyArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    /// The release to check [default: every release of the environment].
    pub version: Option<String>,
}

/// Extra seed formats `build` can write (seed.iso and seed.img are always written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeedFormat {
    /// seed.qcow2: the vfat seed inside a qcow2 image.
    Qcow2,
}
