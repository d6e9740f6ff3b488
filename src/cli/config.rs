//! Arguments of `check`, `show`, `secrets init|path` (commands/config_cmds.rs).

use super::*;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create the environment's secrets file (0600) with strong random values for every
    /// secret it lacks; values already there are never changed.
    #[command(after_help = "\
The file is $TORRUST_BAKE_SECRETS_DIR/<env>.env (default
~/.config/torrust-bake/secrets/<env>.env), never inside the project directory or
an environments/ directory (it would be committed). Precedence: process environment >
secrets file > environments/<env>.env > default. Back it up: MySQL and Grafana
keep the passwords of their first start on the data volume.

Examples:
  torrust-bake secrets init production
  TORRUST_BAKE_SECRETS_DIR=/srv/tracker-secrets torrust-bake secrets init staging")]
    Init(SecretsInitArgs),
    /// Print where the environment's secrets file is (it may not exist yet).
    Path(SecretsInitArgs),
}

#[derive(Debug, Args)]
pub struct SecretsInitArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
}
