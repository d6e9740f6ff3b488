//! Command-line definitions (clap) only; no logic. One file per group of
//! commands, mirroring `commands/`; here the top level, what every command
//! shares, and the duration parsers.

use std::path::PathBuf;
use std::time::Duration;

// `Args` and `Subcommand` are the submodules' (they take `super::*`).
use clap::{Args, Parser, Subcommand};

mod backup;
mod config;
mod deploy;
mod docs;
mod health;
mod images;
mod libvirt;
mod probe;
mod release;
mod releases;

pub use backup::*;
pub use config::*;
pub use deploy::*;
pub use docs::*;
pub use health::*;
pub use images::*;
pub use libvirt::*;
pub use probe::*;
pub use release::*;
pub use releases::*;

/// The positional ENV of every command that takes one.
const ENV_HELP: &str =
    "The environment: local, staging, production or another environments/<ENV>.env";

const AFTER_HELP: &str = "\
Environments: every environments/<env>.env whose name is 1-32 lower-case letters,
digits and '-' (a letter first, no '-' last). local is lenient; staging and production
are strict (real secrets, digests only, no example domains, unknown variables refused,
in the file or exported); any other declares TORRUST_BAKE_STRICTNESS=strict|lenient
in its file, once. Images come from
images/<env>.lock when it exists, else images/images.lock.
Precedence: process environment > secrets file ($TORRUST_BAKE_SECRETS_DIR/<env>.env,
made by `secrets init`) > environments/<env>.env > built-in default.
Secrets (TORRUST_TRACKER_API_TOKEN, GRAFANA_ADMIN_PASSWORD, MYSQL_PASSWORD,
MYSQL_ROOT_PASSWORD, TORRUST_BAKE_RELEASE_KEY) never come from a committed file.

Exit codes: 0 ok, 1 invalid input or failed check, 2 other error.

Examples:
  torrust-bake check production
  torrust-bake secrets init production
  torrust-bake build production
  torrust-bake verify production
  torrust-bake diff local 3f2a9c1d0b7e 8e41aa02c9d1
  torrust-bake health production --host 203.0.113.7 --wait 5m
  torrust-bake images pin tracker
  torrust-bake images pin --env staging tracker
  torrust-bake deploy local --wait 15m
  torrust-bake status local
  torrust-bake rollback local
  torrust-bake destroy local";

/// Turns an environment into an immutable, reproducible Torrust Tracker release.
#[derive(Debug, Parser)]
#[command(name = "torrust-bake", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Project directory holding environments/, images/, templates/ and releases/
    /// [default: the current directory, or the nearest one above it with an
    /// environments/ directory, as git and cargo look upward].
    #[arg(short = 'C', long = "project-dir", global = true)]
    pub project: Option<PathBuf>,

    /// Print the result as one JSON document on stdout (progress stays on stderr);
    /// a failure too, as {"ok": false, "error", "exit_code"} (README, "Commands").
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate an environment and its image lock; report every problem at once.
    #[command(after_help = "\
Examples:
  torrust-bake check local
  torrust-bake check production --json | jq '.problems[] | .variable'")]
    Check(CheckArgs),
    /// Print the environment's strictness and image lock, and every variable's resolved
    /// value (secrets redacted), each with where it came from.
    #[command(after_help = "\
Examples:
  torrust-bake show production
  torrust-bake show local --json
  torrust-bake show dev --json | jq '.strictness, .image_lock'")]
    Show(ShowArgs),
    /// Build the environment's release into releases/<env>/<version>/.
    ///
    /// The version is a digest of the content: the same inputs give the same version
    /// and the same bytes. A release holds bundle/ (the VM's files), bundle.tar.zst,
    /// manifest.json, SHA256SUMS (+ SHA256SUMS.secret, 0600), cloud-init user-data,
    /// meta-data (network-config with a static address) and the NoCloud seeds seed.iso,
    /// seed.img and seed.qcow2. Secret-bearing files are 0600.
    #[command(after_help = "\
Examples:
  torrust-bake build local
  torrust-bake secrets init production && torrust-bake build production --json")]
    Build(BuildArgs),
    /// Show what changed between two releases of an environment, file by file (secrets redacted).
    #[command(after_help = "\
Examples:
  torrust-bake diff local 3f2a9c1d0b7e 8e41aa02c9d1
  torrust-bake diff production 3f2a9c1d0b7e 8e41aa02c9d1 --json")]
    Diff(DiffArgs),
    /// Check releases against their checksums and manifest; exit 1 naming every difference.
    Verify(VerifyArgs),
    /// The environment's backups in its restic repository (BACKUP_REPOSITORY).
    Backup {
        #[command(subcommand)]
        action: BackupCommand,
    },
    /// List an environment's releases, or prune old ones.
    Releases {
        #[command(subcommand)]
        action: ReleasesCommand,
    },
    /// Keep an environment's secrets between builds, outside the repository.
    Secrets {
        #[command(subcommand)]
        action: SecretsCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "\
Examples:
  torrust-bake completions bash > ~/.local/share/bash-completion/completions/torrust-bake
  torrust-bake completions zsh > ~/.zfunc/_torrust-bake")]
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from these definitions.
    #[command(after_help = "\
Examples:
  torrust-bake man > torrust-bake.1 && man -l torrust-bake.1")]
    Man,
    /// Pin container images by digest in images/images.lock (or an environment's own
    /// images/<env>.lock), or check the pins.
    Images {
        #[command(subcommand)]
        action: ImagesCommand,
    },
    /// Prove a deployment serves BitTorrent clients (UDP, HTTP, the APIs).
    ///
    /// UDP BEP 15 connect/announce/scrape on every UDP port, HTTP announce/scrape on every
    /// HTTP port, the REST API (with the token) and the health-check API. Exit 0 only when
    /// every check passes.
    #[command(after_help = "\
Examples:
  torrust-bake health local
  torrust-bake health production --host 203.0.113.7 --wait 5m
  ssh -L 1212:127.0.0.1:1212 torrust@203.0.113.7 & torrust-bake health production")]
    Health(HealthArgs),
    /// Put the environment's release on its provider (INFRASTRUCTURE_PROVIDER): a first
    /// deploy when nothing runs, else a replacement.
    ///
    /// A first deploy builds the release (or takes --release), makes the VM (libvirt: base
    /// image, qcow2 overlay, seed copy, the data disk made on first use, the domain
    /// torrust-<env>-<short version>) and starts it; with --wait it follows the boot. A
    /// replacement is a hand-over: the new VM boots beside the old one without the data
    /// disk and says when it is ready (installed, images pulled); then the old one stops
    /// (ACPI, then forced), the data disk is hot-plugged into the new one, and once its
    /// tracker is healthy the service addresses (INFRASTRUCTURE_FLOATING_IPV4, _IPV6) move to it
    /// and the old one is retired. A release that fails before that never touches the old
    /// VM (outcome `kept`); one that fails after it gets the disk and the address back to
    /// the old VM (exit 1 either way, with the reason the new VM gave). With a static
    /// address (two VMs cannot share it) the old VM stops before the new one starts. Run
    /// again after an interruption, it picks up where it stopped. Each step is printed
    /// with its duration.
    #[command(after_help = DEPLOY_HELP)]
    Deploy(DeployArgs),
    /// The environment's VMs as its provider reports them: release, state, boot (its last
    /// `torrust-bake:` line), address, console log, data disk.
    #[command(after_help = DEPLOY_HELP)]
    Status(StatusArgs),
    /// Replace the current release with the one that served before it (by
    /// releases/<env>/deployments.log), the way `deploy` replaces.
    #[command(after_help = DEPLOY_HELP)]
    Rollback(RollbackArgs),
    /// Stop the environment's VMs (ACPI power-off, then forced after --shutdown-timeout)
    /// and retire them (libvirt: undefined with their UEFI variables, overlay, seed and
    /// console log deleted). The data disk stays unless --purge.
    #[command(after_help = DEPLOY_HELP)]
    Destroy(DestroyArgs),
    /// Deprecated: `libvirt up|replace|rollback|status|down` are `deploy`, `deploy`,
    /// `rollback`, `status` and `destroy`.
    #[command(hide = true)]
    Libvirt {
        #[command(subcommand)]
        action: LibvirtCommand,
    },
    /// Test support, not for operators: what the end-to-end scripts ask of the product
    /// (scripts/e2e-stack.sh), so that they do not re-implement it.
    #[command(hide = true)]
    Probe {
        #[command(subcommand)]
        action: ProbeCommand,
    },
}

/// A duration between `min` and `max`, as humantime writes them.
fn bounded(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 30s, 5m)"))?;
    if d < min || d > max {
        return Err(format!(
            "{text} is outside {} to {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// `health --wait`: up to a day (longer waits overflow no clock, but are a typo).
fn wait_duration(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::ZERO, Duration::from_secs(24 * 3600))
}

/// A request timeout: a zero timeout would fail every check at once.
fn request_timeout(text: &str) -> Result<Duration, String> {
    bounded(text, Duration::from_millis(1), Duration::from_secs(60))
}
