//! Arguments of The deprecated `libvirt up|replace|rollback|status|down` (commands/libvirt_cmds.rs).

use super::*;
use crate::provider::SeedKind;

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
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// libvirt: attach this seed to the new VM: iso (a read-only CD-ROM) or img (a
    /// read-only vfat disk).
    #[arg(long, default_value = "iso", value_parser = seed_kind())]
    pub seed: SeedKind,
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
}

#[derive(Debug, Args)]
pub struct LibvirtReplaceArgs {
    #[arg(help = ENV_HELP)]
    pub env: String,
    /// Replace with this stored release (releases/<env>/<VERSION>) instead of the
    /// environment's current build.
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,
    #[command(flatten)]
    pub how: ReplaceHow,
}
