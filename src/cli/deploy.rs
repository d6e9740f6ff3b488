//! Arguments of `deploy`, `status`, `rollback`, `destroy` and the flags they share (commands/deploy_cmds.rs).

use clap::builder::TypedValueParser as _;

use super::*;
use crate::provider::SeedKind;

pub(super) const DEPLOY_HELP: &str = "\
INFRASTRUCTURE_PROVIDER picks where the VM runs; every provider has these verbs.
libvirt: the VM's shape and files come from LIBVIRT_* variables (`torrust-bake show
<env>`): LIBVIRT_BASE_IMAGE (a path, or a URL + LIBVIRT_BASE_IMAGE_SHA512),
LIBVIRT_VCPUS, LIBVIRT_MEMORY_MIB, LIBVIRT_DISK_SIZE_GB, LIBVIRT_DOMAIN_TYPE
(auto|kvm|qemu), LIBVIRT_FIRMWARE (efi|bios), LIBVIRT_NETWORK, LIBVIRT_STORAGE_DIR;
it is reached through virsh: --connect URI, else LIBVIRT_DEFAULT_URI, else libvirt's
default (qemu:///system for root). hetzner: servers through the Hetzner Cloud API,
token in HCLOUD_TOKEN (HCLOUD_ENDPOINT for another API), from INFRASTRUCTURE_REGION,
_INSTANCE_TYPE, _IMAGE, HETZNER_SSH_KEYS (required), HETZNER_FIREWALLS; the volume
INFRASTRUCTURE_DATA_VOLUME is made on first use; INFRASTRUCTURE_FLOATING_IPV4/_IPV6
must exist in the project and move to each new server.
Health is what the new VM says as it boots (libvirt: its serial console; hetzner: the
boot status it serves on TCP 9099, which the firewall must open to this machine): its
tracker passed its Docker health check. Each deploy that came up healthy, each replacement and rollback is
appended to releases/<env>/deployments.log. One deploy, rollback or destroy of an
environment runs at a time (releases/<env>/deploy.lock).

Examples:
  torrust-bake deploy local --dry-run          # the steps and the domain XML; changes nothing
  torrust-bake deploy local --wait 15m
  HCLOUD_TOKEN=... torrust-bake deploy production --dry-run   # the API calls it would make
  torrust-bake deploy local --release 3f2a9c1d0b7e --connect qemu:///system
  torrust-bake status local --json
  torrust-bake rollback local
  torrust-bake destroy local --purge           # also deletes the data disk

Exit codes: 0 ok (deployed, replaced, nothing to do), 1 invalid input, a boot that
failed or was rolled back, 2 the provider unreachable or failed.";

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[arg(help = ENV_HELP)]
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
    /// Hand the data over even when the old VM's shutdown made no backup of it (failed,
    /// timed out, or a release from before hand-over backups). The old VM still tries
    /// one, bounded by BACKUP_HANDOVER_TIMEOUT_SECS.
    #[arg(long)]
    pub no_backup: bool,
    /// Restore SNAPSHOT (latest, or an id from `backup list`) from BACKUP_REPOSITORY onto
    /// an empty data volume at first boot, before the tracker starts
    /// (BACKUP_RESTORE_SNAPSHOT for this deploy). A first deploy only: the VM refuses a
    /// volume that holds data (`destroy --purge` first).
    #[arg(long, value_name = "SNAPSHOT")]
    pub restore: Option<String>,
    #[command(flatten)]
    pub provider: ProviderFlags,
}

/// Where the environment's VMs are reached (libvirt only).
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// libvirt: connection URI (virsh -c) where the environment's VMs run, e.g.
    /// qemu:///system [default: LIBVIRT_DEFAULT_URI, else libvirt's own].
    #[arg(long = "connect", value_name = "URI")]
    pub uri: Option<String>,
}

/// `--seed`'s words, parsed into the provider's own type.
pub(super) fn seed_kind() -> impl clap::builder::TypedValueParser<Value = SeedKind> {
    clap::builder::PossibleValuesParser::new(SeedKind::NAMES)
        .map(|w| SeedKind::parse(&w).unwrap_or_default())
}

/// Flags of one provider, ignored by the others.
#[derive(Debug, Clone, Args)]
pub struct ProviderFlags {
    /// How long an old VM gets to power off on ACPI before it is destroyed;
    /// never less than BACKUP_HANDOVER_TIMEOUT_SECS + 60s when its shutdown
    /// backs up (unless --no-backup).
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// libvirt: attach this seed to the new VM: iso (a read-only CD-ROM) or img (a
    /// read-only vfat disk).
    #[arg(long, default_value = "iso", value_parser = seed_kind())]
    pub seed: SeedKind,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    #[command(flatten)]
    pub how: ReplaceHow,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    /// Also delete the environment's data disk (its database and state).
    #[arg(long)]
    pub purge: bool,
    /// How long a guest gets to power off after the ACPI request before it is
    /// destroyed; 0s destroys at once, as given. Default: the larger of 120s
    /// and BACKUP_HANDOVER_TIMEOUT_SECS + 60s when the shutdown backs up (the
    /// environment's current setting).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Option<Duration>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// How a replacement runs (shared by rollback and the old replace).
#[derive(Debug, Clone, Args)]
pub struct ReplaceHow {
    /// How long the new VM gets to become healthy (and the old one, when it comes back).
    #[arg(long, visible_alias = "wait", default_value = "15m", value_parser = wait_duration)]
    pub health_wait: Duration,
    /// Hand the data over even when the old VM's shutdown made no backup of it.
    #[arg(long)]
    pub no_backup: bool,
    #[command(flatten)]
    pub provider: ProviderFlags,
}
