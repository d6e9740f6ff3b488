//! Command-line definitions (clap) only; no logic.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

const AFTER_HELP: &str = "\
Environments: local, staging, production (environments/<env>.env).
Precedence: process environment > environments/<env>.env > built-in default.
Secrets (TORRUST_TRACKER_API_TOKEN, GRAFANA_ADMIN_PASSWORD, MYSQL_PASSWORD,
MYSQL_ROOT_PASSWORD) come from the process environment; staging and
production refuse missing, placeholder or short ones.

Exit codes: 0 ok, 1 invalid input or failed check, 2 other error.

Examples:
  torrust-bake check production
  torrust-bake show local
  torrust-bake build local
  torrust-bake diff local 3f2a9c1d0b7e 8e41aa02c9d1";

/// Turns an environment into an immutable, reproducible Torrust Tracker release.
#[derive(Debug, Parser)]
#[command(name = "torrust-bake", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Project directory holding environments/, images/, templates/ and releases/.
    #[arg(short = 'C', long = "project-dir", global = true, default_value = ".")]
    pub project: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate an environment and its image lock; report every problem at once.
    Check {
        /// local, staging or production
        env: String,
        /// Print the problems as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print every variable's resolved value (secrets redacted) and where it came from.
    Show {
        /// local, staging or production
        env: String,
        /// Print the variables as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Render, bundle and write releases/<env>/<version>/ (the version is a content digest).
    Build {
        /// local, staging or production
        env: String,
        /// Print {"env","version","path",...} as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show what changed between two releases of an environment, file by file (secrets redacted).
    Diff {
        /// local, staging or production
        env: String,
        /// The older release's version (a directory name under releases/<env>/).
        from: String,
        /// The newer release's version.
        to: String,
        /// Print the changes as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}
