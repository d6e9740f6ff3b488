//! Command-line definitions (clap) only; no logic.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// tracker is healthy the service address (INFRASTRUCTURE_FLOATING_IPV4) moves to it
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
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// Print the problems as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// Print the variables as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// No longer needed, kept for old scripts: every seed format (seed.iso, seed.img,
    /// seed.qcow2) is always written, so a version's bytes never depend on the flags.
    #[arg(long = "seed-format", value_enum, hide = true)]
    pub seed_formats: Vec<SeedFormat>,
    /// Print {"env","version","path",...} as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// The older release's version (a directory name under releases/<env>/).
    pub from: String,
    /// The newer release's version.
    pub to: String,
    /// Print the changes as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

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
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// libvirt: connection URI (virsh -c) where the environment's VMs run.
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// Print the releases as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleasesPruneArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// How many of the newest releases to keep (at least 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// libvirt: connection URI (virsh -c) where the environment's VMs run.
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
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
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// The release to check [default: every release of the environment].
    pub version: Option<String>,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The environment (ports and token come from it)
    pub env: String,
    /// Host to probe [default: the address the environment serves at:
    /// INFRASTRUCTURE_FLOATING_IPV4, else INFRASTRUCTURE_IPV4_ADDRESS; else the bind
    /// address, or 127.0.0.1 when it binds all].
    /// The API and health-check API are published on the VM's 127.0.0.1 only, so
    /// they are skipped for any other host, unless the environment sets
    /// PUBLISH_ADMIN_PORTS=true (a test VM on an isolated network).
    #[arg(long)]
    pub host: Option<String>,
    /// Retry with backoff until every check passes or this much time has passed (30s, 5m; at most 24h).
    #[arg(long, value_parser = wait_duration)]
    pub wait: Option<Duration>,
    /// Timeout of a request, 1ms to 60s; UDP retries double it, 3 attempts (BEP 15's backoff, scaled down).
    #[arg(long, default_value = "1s", value_parser = request_timeout)]
    pub timeout: Duration,
    /// Also check Prometheus /-/healthy and Grafana /api/health (when enabled), on loopback
    /// hosts or with PUBLISH_ADMIN_PORTS=true.
    #[arg(long)]
    pub monitoring: bool,
    /// Print the checks as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

const REGISTRY_HELP: &str = "\
Registry credentials come from the environment, per registry as written in the
reference (non-alphanumerics become _):
  TORRUST_BAKE_REGISTRY_<REGISTRY>_USERNAME, TORRUST_BAKE_REGISTRY_<REGISTRY>_PASSWORD
  e.g. TORRUST_BAKE_REGISTRY_GHCR_IO_USERNAME, TORRUST_BAKE_REGISTRY_127_0_0_1_5000_PASSWORD
They answer Basic challenges and are sent to Bearer token services (Docker Hub).
Docker Hub references may omit docker.io/ and library/ (caddy:2.10.2).

Without --env the lock is images/images.lock, which every environment without a
lock of its own uses. With --env ENV it is images/ENV.lock, which replaces
images/images.lock for ENV as a whole (it lists every image ENV runs): copy
images/images.lock there, change what ENV should try, pin it with --env ENV.

Examples:
  torrust-bake images pin
  torrust-bake images pin tracker
  torrust-bake images verify --json
  cp images/images.lock images/staging.lock && torrust-bake images pin --env staging tracker
  torrust-bake images verify --env staging

Exit codes: 0 ok, 1 mismatch, unknown image, bad reference or refused
credentials, 2 registry unreachable or other error.";

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Resolve each service's tag to its digest (and linux/amd64, linux/arm64 digests of a
    /// multi-arch index), show what changed and rewrite the lock atomically. If any image
    /// fails to resolve, the lock is left as it was.
    #[command(after_help = REGISTRY_HELP)]
    Pin(PinArgs),
    /// Check that every digest in the lock is what its tag resolves to now; exit 1 naming
    /// each mismatch (and whether the locked digest can still be pulled).
    #[command(after_help = REGISTRY_HELP)]
    Verify(ImagesVerifyArgs),
}

#[derive(Debug, Args)]
pub struct PinArgs {
    /// Services to pin (keys of the lock) [default: all].
    pub services: Vec<String>,
    /// Pin this environment's own lock, images/ENV.lock (it must exist: pinning never
    /// creates one, nor edits the shared lock for one environment).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct ImagesVerifyArgs {
    /// Verify the lock this environment builds with: images/ENV.lock when it exists,
    /// else images/images.lock.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Speak plain HTTP to this registry (host[:port] as in the reference), e.g. a local
    /// mirror. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
    /// Timeout of each request; 429, 5xx and connection failures are retried 4 times
    /// with backoff, honouring Retry-After up to 60s.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

const DEPLOY_HELP: &str = "\
INFRASTRUCTURE_PROVIDER picks where the VM runs; every provider has these verbs.
libvirt: the VM's shape and files come from LIBVIRT_* variables (`torrust-bake show
<env>`): LIBVIRT_BASE_IMAGE (a path, or a URL + LIBVIRT_BASE_IMAGE_SHA512),
LIBVIRT_VCPUS, LIBVIRT_MEMORY_MIB, LIBVIRT_DISK_SIZE_GB, LIBVIRT_DOMAIN_TYPE
(auto|kvm|qemu), LIBVIRT_FIRMWARE (efi|bios), LIBVIRT_NETWORK, LIBVIRT_STORAGE_DIR;
it is reached through virsh: --connect URI, else LIBVIRT_DEFAULT_URI, else libvirt's
default (qemu:///system for root). hetzner: not implemented yet (issue 22).
Health is what the new VM says on its serial console: its tracker passed its Docker
health check. Each deploy that came up healthy, each replacement and rollback is
appended to releases/<env>/deployments.log. One deploy, rollback or destroy of an
environment runs at a time (releases/<env>/deploy.lock).

Examples:
  torrust-bake deploy local --dry-run          # the steps and the domain XML; changes nothing
  torrust-bake deploy local --wait 15m
  torrust-bake deploy local --release 3f2a9c1d0b7e --connect qemu:///system
  torrust-bake status local --json
  torrust-bake rollback local
  torrust-bake destroy local --purge           # also deletes the data disk

Exit codes: 0 ok (deployed, replaced, nothing to do), 1 invalid input, a boot that
failed or was rolled back, 2 the provider unreachable or failed.";

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// Deploy this stored release (releases/<env>/<VERSION>) instead of building the
    /// environment's current one.
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,
    /// Print the steps and the new VM's description (libvirt: the domain XML) of a first
    /// deploy; change nothing (no release written, no file, no VM) and ask the provider
    /// nothing it need not.
    #[arg(long)]
    pub dry_run: bool,
    /// Follow the new VM's serial console until its release says the tracker is healthy
    /// or why it failed, or this much time passes (30s, 10m; at most 24h). A first deploy
    /// waits only when asked; a replacement always does [default: 15m].
    #[arg(long, visible_alias = "health-wait", value_name = "DURATION", value_parser = wait_duration)]
    pub wait: Option<Duration>,
    #[command(flatten)]
    pub provider: ProviderFlags,
    /// Print the outcome as JSON on stdout (a first deploy: domain, steps, XML, boot; a
    /// replacement: outcome, previous, reason, outage_ms, steps, timeline).
    #[arg(long)]
    pub json: bool,
}

/// Flags of one provider, ignored by the others.
#[derive(Debug, Args)]
pub struct ProviderFlags {
    /// How long an old VM gets to power off on ACPI before it is destroyed.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// libvirt: attach this seed to the new VM: iso (a read-only CD-ROM) or img (a
    /// read-only vfat disk).
    #[arg(long, value_enum, default_value = "iso")]
    pub seed: LibvirtSeed,
    /// libvirt: connection URI (virsh -c), e.g. qemu:///system.
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// libvirt: connection URI (virsh -c).
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// Print the VMs as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    #[command(flatten)]
    pub how: ReplaceHow,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// Also delete the environment's data disk (its database and state).
    #[arg(long)]
    pub purge: bool,
    /// How long a guest gets to power off after the ACPI request before it is
    /// destroyed; 0s destroys at once.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// libvirt: connection URI (virsh -c).
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// Print what was done as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The deprecated `libvirt` verbs, kept so that old scripts run; each calls
/// the code of its new verb and says so on stderr.
#[derive(Debug, Subcommand)]
pub enum LibvirtCommand {
    /// Build the environment's release (or take --release), then: base image (downloaded
    /// once and verified when it is a URL), a qcow2 overlay over it, the seed copied beside
    /// it (0600), the environment's data disk (made on first use, kept by `down`), the
    /// domain torrust-<env>-<short version> defined and started. Each step is printed with
    /// its duration.
    #[command(hide = true)]
    Up(LibvirtUpArgs),
    /// Deprecated: `deploy` (a replacement, the same hand-over).
    #[command(hide = true)]
    Replace(LibvirtReplaceArgs),
    /// Replace the current release with the one that served before it (by
    /// releases/<env>/deployments.log), the same way as `replace`.
    #[command(hide = true)]
    Rollback(RollbackArgs),
    /// The environment's domains (found by their metadata): release, state, address,
    /// console log, data disk.
    #[command(hide = true)]
    Status(StatusArgs),
    /// Stop the environment's domains (ACPI power-off, then forced after
    /// --shutdown-timeout), undefine them with their UEFI variables and delete their
    /// overlay, seed and console log. The data disk stays unless --purge.
    #[command(hide = true)]
    Down(DestroyArgs),
}

#[derive(Debug, Args)]
pub struct LibvirtUpArgs {
    /// The environment (with INFRASTRUCTURE_PROVIDER=libvirt)
    pub env: String,
    /// Boot this stored release (releases/<env>/<VERSION>) instead of building the
    /// environment's current one.
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,
    /// libvirt connection URI (virsh -c), e.g. qemu:///system.
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// Attach this seed: iso (a read-only CD-ROM) or img (a read-only vfat disk).
    #[arg(long, value_enum, default_value = "iso")]
    pub seed: LibvirtSeed,
    /// Print the domain XML and the steps; change nothing (no release written, no file,
    /// no domain).
    #[arg(long)]
    pub dry_run: bool,
    /// Follow the VM's serial console until its release says the tracker is healthy
    /// (exit 0) or why it failed (exit 1, with the reason), or this much time passes
    /// (exit 1); prints the boot timeline: firmware, kernel, cloud-init stages, Docker,
    /// each image pulled, tracker healthy (30s, 10m; at most 24h).
    #[arg(long, value_name = "DURATION", value_parser = wait_duration)]
    pub wait: Option<Duration>,
    /// Print the outcome (domain, steps, XML, with --wait the timeline) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LibvirtSeed {
    Iso,
    Img,
}

#[derive(Debug, Args)]
pub struct LibvirtReplaceArgs {
    /// The environment: local, staging, production or another environments/<ENV>.env
    pub env: String,
    /// Replace with this stored release (releases/<env>/<VERSION>) instead of the
    /// environment's current build.
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,
    #[command(flatten)]
    pub how: ReplaceHow,
}

/// How a replacement runs (shared by rollback and the old replace).
#[derive(Debug, Clone, Args)]
pub struct ReplaceHow {
    /// How long the new VM gets to become healthy (and the old one, when it comes back).
    #[arg(long, visible_alias = "wait", default_value = "15m", value_parser = wait_duration)]
    pub health_wait: Duration,
    /// How long the old VM gets to power off on ACPI before it is destroyed.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// libvirt: attach this seed to the new VM: iso or img.
    #[arg(long, value_enum, default_value = "iso")]
    pub seed: LibvirtSeed,
    /// libvirt: connection URI (virsh -c).
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// Print the outcome, the outage and the new VM's boot timeline as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Extra seed formats `build` can write (seed.iso and seed.img are always written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeedFormat {
    /// seed.qcow2: the vfat seed inside a qcow2 image.
    Qcow2,
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

impl Command {
    /// Whether the command was asked for JSON (its errors then go to
    /// stdout as JSON too, so a script reads one document either way).
    pub fn json(&self) -> bool {
        match self {
            Command::Check(a) => a.json,
            Command::Show(a) => a.json,
            Command::Build(a) => a.json,
            Command::Diff(a) => a.json,
            Command::Verify(a) => a.json,
            Command::Health(a) => a.json,
            Command::Secrets {
                action: SecretsCommand::Init(a) | SecretsCommand::Path(a),
            } => a.json,
            Command::Images {
                action:
                    ImagesCommand::Pin(PinArgs { registry: a, .. })
                    | ImagesCommand::Verify(ImagesVerifyArgs { registry: a, .. }),
            } => a.json,
            Command::Deploy(a) => a.json,
            Command::Status(a) => a.json,
            Command::Rollback(a) => a.how.json,
            Command::Destroy(a) => a.json,
            Command::Libvirt { action } => match action {
                LibvirtCommand::Up(a) => a.json,
                LibvirtCommand::Replace(a) => a.how.json,
                LibvirtCommand::Rollback(a) => a.how.json,
                LibvirtCommand::Status(a) => a.json,
                LibvirtCommand::Down(a) => a.json,
            },
            Command::Releases {
                action: ReleasesCommand::List(a),
            } => a.json,
            Command::Releases {
                action: ReleasesCommand::Prune(a),
            } => a.json,
            Command::Completions(_) | Command::Man => false,
        }
    }
}
