//! The libvirt provider: the `provider::Machines` primitives over local VMs
//! (docs/ARCHITECTURE.md, "Providers"; libvirt's domain XML format). What
//! a deploy does with them is `crate::deploy`'s; this folder keeps only what
//! touches libvirt: virsh, domain XML, disks, the console file.
//!
//! A VM is a domain named `torrust-<env>-<short version>` whose `<metadata>`
//! records the environment, the release and the VM's directory
//! (`domain.rs`); every command finds its domains by reading that back from
//! libvirt, so nothing is kept on the side. Its files (`disks.rs`) live in
//! `LIBVIRT_STORAGE_DIR/<env>/`: one directory per domain (overlay, seed,
//! console log) and the environment's data disk, which outlives domains so
//! that the next release finds its data. libvirt is driven through `virsh`
//! (`virsh.rs` says why).

pub mod console;
pub mod disks;
pub mod domain;
mod lifecycle;
pub mod route;
pub mod virsh;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{Connect, Machine, MachineState, Machines, SeedKind, StepRunner, Stopped};
use crate::config::provider::{nic_mac, DomainType, Firmware};
use crate::config::Config;
use crate::error::{Error, Kind};
use domain::{Accel, DataDisk, Record, Seed, Spec};
use virsh::Virsh;

/// The libvirt primitives: a virsh connection and the seed new VMs get.
#[derive(Debug, Clone)]
pub struct Libvirt {
    pub virsh: Virsh,
    pub seed: SeedKind,
}

impl Libvirt {
    pub fn new(how: &Connect) -> Libvirt {
        Libvirt {
            virsh: Virsh {
                uri: how.libvirt_uri.clone(),
            },
            seed: how.libvirt_seed,
        }
    }
}

impl Machines for Libvirt {
    fn provider(&self) -> &'static str {
        "libvirt"
    }

    fn list(&self, env: &str) -> Result<Vec<Machine>> {
        Ok(find_domains(&self.virsh, env)?
            .into_iter()
            .map(|(r, xml)| machine(r, xml))
            .collect())
    }

    fn create(
        &self,
        config: &Config,
        version: &str,
        release_dir: &Path,
        with_data: bool,
        dry_run: bool,
        step: &mut StepRunner,
    ) -> Result<Machine> {
        let new = New {
            version,
            release_dir,
            seed: self.seed,
            with_data,
            dry: dry_run,
        };
        let (spec, xml) = define_new(step, config, &self.virsh, &new)?;
        Ok(Machine {
            name: spec.name,
            release: spec.version,
            kind: spec.accel.name().to_string(),
            description: xml,
            console_log: Some(spec.console_log),
            data_disk: spec
                .data_disk
                .filter(|_| with_data)
                .map(|d| d.path.display().to_string()),
            dir: Some(spec.dir),
        })
    }

    fn attach_data(&self, config: &Config, m: &Machine) -> Result<String> {
        let Some(d) = data_disk(config) else {
            return Ok("no data volume (DATA_VOLUME unset)".into());
        };
        lifecycle::attach_data(&self.virsh, &m.name, &d)
    }

    fn detach_data(&self, config: &Config, m: &Machine) -> Result<String> {
        let Some(d) = data_disk(config) else {
            return Ok("no data volume (DATA_VOLUME unset)".into());
        };
        lifecycle::detach_data(&self.virsh, &m.name, &d)
    }

    fn point(&self, config: &Config, m: &Machine) -> Result<Option<String>> {
        // With a static address only one VM runs, and the network's router
        // brings the floating addresses (IPv4 ones are on its NIC, by
        // network-config): nothing to route here.
        let floating = config.floating();
        if floating.is_empty() || !config.side_by_side() {
            return Ok(None);
        }
        let addresses = self.virsh.addresses(&m.name);
        let bridge = floating
            .iter()
            .any(IpAddr::is_ipv6)
            .then(|| self.virsh.bridge(&config.libvirt.network))
            .flatten();
        let to = route::Target {
            name: &m.name,
            addresses: &addresses,
            mac: &mac(config, &m.name),
            bridge: bridge.as_deref(),
        };
        let said: Vec<String> = floating
            .iter()
            .map(|a| route::point(*a, &to))
            .collect::<Result<_>>()?;
        Ok(Some(said.join(", ")))
    }

    fn pointed(&self, config: &Config) -> Option<String> {
        let said: Vec<String> = config
            .floating()
            .into_iter()
            .filter_map(|a| route::via(a).map(|via| format!("{a} via {via}")))
            .collect();
        (!said.is_empty()).then(|| said.join(", "))
    }

    fn start(&self, name: &str) -> Result<()> {
        self.virsh.start(name)
    }

    fn state(&self, name: &str) -> Result<MachineState> {
        let state = self.virsh.state(name)?;
        Ok(MachineState {
            running: state.is_running(),
            words: state.0,
        })
    }

    fn stop(&self, name: &str, bound: Duration) -> Result<Stopped> {
        lifecycle::stop(&self.virsh, name, bound)
    }

    fn retire(&self, m: &Machine) -> Result<String> {
        lifecycle::retire(&self.virsh, m)
    }

    fn boot_lines(&self, m: &Machine, cursor: &mut u64) -> Vec<String> {
        match &m.console_log {
            Some(log) => console::new_lines(log, cursor),
            None => Vec::new(),
        }
    }

    fn recent_lines(&self, m: &Machine) -> Vec<String> {
        match &m.console_log {
            Some(log) => console::last_lines(log, 64 * 1024),
            None => Vec::new(),
        }
    }

    fn addresses(&self, name: &str) -> Vec<String> {
        self.virsh.addresses(name)
    }

    fn data_volume(&self, config: &Config) -> Result<Option<String>> {
        Ok(data_disk(config)
            .map(|d| d.path)
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string()))
    }

    fn delete_data_volume(&self, path: &str) -> Result<()> {
        std::fs::remove_file(path).with_context(|| format!("removing {path}"))
    }
}

/// A domain of ours as a machine; its type read from the XML's root.
fn machine(r: Record, xml: String) -> Machine {
    let kvm = xml.starts_with("<domain type='kvm'") || xml.starts_with("<domain type=\"kvm\"");
    Machine {
        kind: if kvm { Accel::Kvm } else { Accel::Qemu }
            .name()
            .to_string(),
        console_log: Some(
            r.console_log
                .clone()
                .unwrap_or_else(|| r.dir.join("console.log")),
        ),
        name: r.name,
        release: r.version,
        description: xml,
        data_disk: r.data_disk.map(|p| p.display().to_string()),
        dir: Some(r.dir),
    }
}

/// Our domains (by their metadata) of `env`, with their XML. A domain that
/// cannot be read is an error, never skipped (#27 item 3: status said "no
/// domains", a deploy started a second VM on the data disk, prune deleted
/// the running release), unless it is really gone: deleted between the
/// list and the read, which a second list shows.
pub fn find_domains(virsh: &Virsh, env: &str) -> Result<Vec<(Record, String)>> {
    let mut out = Vec::new();
    for name in virsh.domains()? {
        let xml = match virsh.dumpxml(&name) {
            Ok(xml) => xml,
            Err(e) => {
                if virsh.domains()?.contains(&name) {
                    return Err(e.context(format!(
                        "cannot tell whether domain {name} is one of {env}'s: libvirt lists it but its XML cannot be read; fix libvirt's access to it (virsh dumpxml {name}) and run again"
                    )));
                }
                continue;
            }
        };
        if let Some(r) = domain::parse_record(&xml)? {
            if r.env == env {
                out.push((r, xml));
            }
        }
    }
    Ok(out)
}

fn decide_accel(virsh: &Virsh, wanted: DomainType, dry_run: bool) -> Result<(Accel, String)> {
    match wanted {
        DomainType::Kvm => Ok((Accel::Kvm, "kvm (LIBVIRT_DOMAIN_TYPE)".into())),
        DomainType::Qemu => Ok((Accel::Qemu, "qemu, TCG (LIBVIRT_DOMAIN_TYPE)".into())),
        DomainType::Auto => {
            let caps = virsh.capabilities().map_err(|e| {
                if dry_run {
                    e.context("LIBVIRT_DOMAIN_TYPE=auto asks libvirt even in a dry run; set kvm or qemu to avoid it")
                } else {
                    e
                }
            })?;
            let offered = domain::offered_domain_types(&caps)?;
            if offered.iter().any(|t| t == "kvm") {
                Ok((
                    Accel::Kvm,
                    "kvm (auto: libvirt offers it; set LIBVIRT_DOMAIN_TYPE=qemu if guests hang)"
                        .into(),
                ))
            } else if offered.iter().any(|t| t == "qemu") {
                Ok((
                    Accel::Qemu,
                    "qemu, TCG (auto: libvirt offers no kvm)".into(),
                ))
            } else {
                Err(Error::new(
                    Kind::Unreachable,
                    "libvirt offers no x86_64 hvm domain: install its QEMU driver (Debian: libvirt-daemon-driver-qemu, qemu-system-x86)",
                )
                .into())
            }
        }
    }
}

/// The environment's data disk, when it has a data volume:
/// `LIBVIRT_STORAGE_DIR/<env>/data-<label>.raw`, serial = the label.
pub fn data_disk(config: &Config) -> Option<DataDisk> {
    let env_dir = config.libvirt.storage_dir.join(config.env.as_str());
    config.data_volume.as_ref().map(|label| DataDisk {
        path: env_dir.join(format!("data-{label}.raw")),
        serial: label.clone(),
    })
}

/// A domain's own directory: overlay, seed copy, console log.
fn vm_dir(config: &Config, name: &str) -> PathBuf {
    config
        .libvirt
        .storage_dir
        .join(config.env.as_str())
        .join(name)
}

/// A domain to make: of which release, from where, with what.
struct New<'a> {
    version: &'a str,
    release_dir: &'a Path,
    seed: SeedKind,
    /// The data disk attached from the start (else at the hand-over).
    with_data: bool,
    dry: bool,
}

/// The domain's MAC: the hostname's when the VM has a static address (its
/// network-config matches the NIC by it, and only one VM runs at a time),
/// else the domain's own, since a standby runs beside the VM it replaces.
fn mac(config: &Config, name: &str) -> String {
    if config.side_by_side() {
        nic_mac(name)
    } else {
        nic_mac(&config.hostname)
    }
}

/// The domain of release `version`: its files under the storage directory.
fn spec(config: &Config, name: &str, new: &New, accel: Accel) -> Spec {
    let (version, seed) = (new.version, new.seed);
    let lv = &config.libvirt;
    let dir = vm_dir(config, name);
    Spec {
        name: name.to_string(),
        env: config.env.to_string(),
        version: version.to_string(),
        accel,
        firmware: lv.firmware,
        vcpus: lv.vcpus,
        memory_mib: lv.memory_mib,
        overlay: dir.join("disk.qcow2"),
        seed: match seed {
            SeedKind::Iso => Seed::Iso(dir.join("seed.iso")),
            SeedKind::Img => Seed::Img(dir.join("seed.img")),
        },
        data_disk: data_disk(config),
        attach_data: new.with_data,
        network: lv.network.clone(),
        mac: mac(config, name),
        console_log: dir.join("console.log"),
        dir,
    }
}

fn would(dry: bool, s: String) -> String {
    if dry {
        format!("would: {s}")
    } else {
        s
    }
}

/// The overlay over the base image, the seed copy and the data disk.
fn make_disks(
    step: &mut StepRunner,
    config: &Config,
    spec: &Spec,
    base: &Path,
    release_dir: &Path,
    dry: bool,
) -> Result<()> {
    let lv = &config.libvirt;
    step("overlay", &mut || {
        let want = lv.disk_size_gb * disks::GIB;
        let (format, base_size) = if base.is_file() {
            disks::probe(base)?
        } else {
            (disks::Format::Qcow2, 0)
        };
        let size = want.max(base_size);
        if !dry {
            disks::mkdir(&spec.dir)?;
            disks::overlay(&spec.overlay, base, format, size)?;
        }
        let detail = format!(
            "{} over {} ({}), {} GiB",
            spec.overlay.display(),
            base.display(),
            format.name(),
            size / disks::GIB
        );
        Ok(would(dry, detail))
    })?;
    let seed_src = match spec.seed {
        Seed::Iso(_) => release_dir.join("seed.iso"),
        Seed::Img(_) => release_dir.join("seed.img"),
    };
    step("seed", &mut || {
        if !dry {
            disks::copy_seed(&seed_src, spec.seed.path())?;
        }
        let detail = format!(
            "{} -> {} (0600)",
            seed_src.display(),
            spec.seed.path().display()
        );
        Ok(would(dry, detail))
    })?;
    if let Some(d) = &spec.data_disk {
        step("data disk", &mut || {
            let exists = d.path.is_file();
            if !dry {
                disks::mkdir(&lv.storage_dir.join(config.env.as_str()))?;
                disks::data_disk(&d.path, config.data_volume_size_gb * disks::GIB)?;
            }
            let when = if spec.attach_data {
                ""
            } else {
                "; attached at the hand-over"
            };
            let detail = if exists {
                format!(
                    "{} kept (serial {}; the guest mounts it as is{when})",
                    d.path.display(),
                    d.serial
                )
            } else {
                would(
                    dry,
                    format!(
                        "{} created, {} GiB sparse (serial {}; the guest formats it on first use{when})",
                        d.path.display(),
                        config.data_volume_size_gb,
                        d.serial
                    ),
                )
            };
            Ok(detail)
        })?;
    }
    Ok(())
}

/// Makes the domain of release `version` (its disks, then `virsh
/// define`), not started.
fn define_new(
    step: &mut StepRunner,
    config: &Config,
    virsh: &Virsh,
    new: &New,
) -> Result<(Spec, String)> {
    let lv = &config.libvirt;
    let dry = new.dry;
    let name = crate::provider::machine_name(config.env.as_str(), new.version);
    let (accel, accel_detail) = decide_accel(virsh, lv.domain_type, dry)?;
    step("domain type", &mut || Ok(accel_detail.clone()))?;
    let cache = lv.storage_dir.join("cache");
    let mut base = PathBuf::new();
    step("base image", &mut || {
        let mut report = |line: &str| errln!("{line}");
        let (path, how) = disks::base_image(&lv.base_image, &cache, dry, &mut report)?;
        let detail = format!("{} ({how})", path.display());
        base = path;
        Ok(detail)
    })?;
    let spec = spec(config, &name, new, accel);
    let xml = domain::xml(&spec);
    make_disks(step, config, &spec, &base, new.release_dir, dry)?;
    define(step, virsh, config, &spec, &xml, dry)?;
    Ok((spec, xml))
}

fn define(
    step: &mut StepRunner,
    virsh: &Virsh,
    config: &Config,
    spec: &Spec,
    xml: &str,
    dry: bool,
) -> Result<()> {
    let lv = &config.libvirt;
    let name = &spec.name;
    step("define", &mut || {
        if !dry {
            if let Err(e) = virsh.define(xml) {
                // Nothing names the files now (#27 item 13: the seed,
                // 0600 with secrets, and the overlay stayed, and `destroy`
                // found no domain to take them with).
                let removed = lifecycle::remove_vm_files(&spec.dir)
                    .unwrap_or_else(|r| format!("could not remove them: {r:#}"));
                return Err(e.context(format!(
                    "{} not defined; its files in {}: {removed}",
                    name,
                    spec.dir.display()
                )));
            }
        }
        let firmware = match lv.firmware {
            Firmware::Efi => "UEFI, Secure Boot off",
            Firmware::Bios => "BIOS",
        };
        let detail = format!(
            "{name} ({}, {firmware}, {} vCPU, {} MiB)",
            spec.accel.name(),
            lv.vcpus,
            lv.memory_mib
        );
        Ok(would(dry, detail))
    })
}
