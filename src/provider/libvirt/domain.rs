//! The libvirt domain XML of a release's VM (libvirt's "Domain XML format",
//! https://libvirt.org/formatdomain.html), and reading back what we wrote
//! into its `<metadata>`: the environment, the release and the VM's
//! directory, so that `status` and `down` find an environment's domains from
//! libvirt itself, with no local state file to lose.
//!
//! Pure: a `Spec` in, XML text out (same spec, same bytes; a golden file
//! holds one), and XML text in, a `Record` out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::config::provider::Firmware;

/// Our namespace in `<metadata>`; libvirt keeps one element per namespace.
pub const METADATA_NS: &str = "https://github.com/torrust/torrust-bake/libvirt/v1";
const METADATA_PREFIX: &str = "torrust-bake";

/// A domain type with `auto` already decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    /// TCG.
    Qemu,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Qemu => "qemu",
        }
    }
}

/// How the NoCloud seed is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seed {
    /// seed.iso as a read-only SATA CD-ROM.
    Iso(PathBuf),
    /// seed.img (vfat) as a read-only virtio disk.
    Img(PathBuf),
}

impl Seed {
    pub fn path(&self) -> &Path {
        match self {
            Seed::Iso(p) | Seed::Img(p) => p,
        }
    }
}

/// The persistent data disk and the serial the install script looks for
/// (`/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_<serial>`). It sits on a
/// virtio-scsi controller, so it can be hot-plugged into a running VM (a
/// replacement's hand-over) without the PCIe hot-plug slots q35 lacks: a
/// new LUN on a controller the VM already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDisk {
    pub path: PathBuf,
    pub serial: String,
}

/// The data disk's target name on the SCSI bus (the SATA CD-ROM is `sda`).
const DATA_TARGET: &str = "sdb";

/// The `<disk>` element of the data disk: in the domain XML, and alone for
/// `virsh attach-device` / `detach-device`.
pub fn data_disk_xml(d: &DataDisk) -> String {
    let mut x = String::new();
    disk(
        &mut x,
        "disk",
        "raw",
        &d.path,
        DATA_TARGET,
        "scsi",
        Some(&d.serial),
        false,
    );
    x
}

/// Everything the domain XML says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub env: String,
    pub version: String,
    pub accel: Accel,
    pub firmware: Firmware,
    pub vcpus: u64,
    pub memory_mib: u64,
    /// The VM's own directory: overlay, seed, console log.
    pub dir: PathBuf,
    pub overlay: PathBuf,
    pub seed: Seed,
    /// The environment's data disk (recorded in `<metadata>`)...
    pub data_disk: Option<DataDisk>,
    /// ...and whether the domain has it attached from the start (a first
    /// deploy) or gets it at the hand-over (a replacement's standby).
    pub attach_data: bool,
    pub network: String,
    pub mac: String,
    pub console_log: PathBuf,
}

/// XML-escapes text for an attribute value in single quotes or element text.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn p(path: &Path) -> String {
    esc(&path.to_string_lossy())
}

/// The domain XML for `spec`.
pub fn xml(spec: &Spec) -> String {
    let mut x = String::new();
    // `write!` into a String cannot fail.
    let _ = writeln!(x, "<domain type='{}'>", spec.accel.name());
    let _ = writeln!(x, "  <name>{}</name>", esc(&spec.name));
    let _ = writeln!(
        x,
        "  <title>torrust-bake {} release {}</title>",
        esc(&spec.env),
        esc(&spec.version)
    );
    x.push_str("  <metadata>\n");
    let data = spec
        .data_disk
        .as_ref()
        .map(|d| format!(" data-disk='{}'", p(&d.path)))
        .unwrap_or_default();
    let _ = writeln!(
        x,
        "    <{METADATA_PREFIX}:release xmlns:{METADATA_PREFIX}='{METADATA_NS}' env='{}' version='{}' dir='{}'{data}/>",
        esc(&spec.env),
        esc(&spec.version),
        p(&spec.dir),
    );
    x.push_str("  </metadata>\n");
    let _ = writeln!(x, "  <memory unit='MiB'>{}</memory>", spec.memory_mib);
    let _ = writeln!(x, "  <vcpu>{}</vcpu>", spec.vcpus);
    os(&mut x, spec.firmware);
    x.push_str("  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
    // TCG has no host CPU to pass through; libvirt 9.0 has no model `max`.
    x.push_str(match spec.accel {
        Accel::Kvm => "  <cpu mode='host-passthrough'/>\n",
        Accel::Qemu => "  <cpu mode='maximum'/>\n",
    });
    x.push_str("  <clock offset='utc'/>\n");
    x.push_str("  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n");
    x.push_str("  <devices>\n");
    disk(
        &mut x,
        "disk",
        "qcow2",
        &spec.overlay,
        "vda",
        "virtio",
        None,
        false,
    );
    x.push_str("    <controller type='scsi' index='0' model='virtio-scsi'/>\n");
    if let (Some(d), true) = (&spec.data_disk, spec.attach_data) {
        x.push_str(&data_disk_xml(d));
    }
    match &spec.seed {
        Seed::Iso(path) => disk(&mut x, "cdrom", "raw", path, "sda", "sata", None, true),
        Seed::Img(path) => disk(&mut x, "disk", "raw", path, "vdc", "virtio", None, true),
    }
    let _ = write!(
        x,
        "    <interface type='network'>\n      <source network='{}'/>\n      <mac address='{}'/>\n      <model type='virtio'/>\n    </interface>\n",
        esc(&spec.network),
        esc(&spec.mac)
    );
    let _ = write!(
        x,
        "    <serial type='file'>\n      <source path='{}'/>\n      <target port='0'/>\n    </serial>\n",
        p(&spec.console_log)
    );
    x.push_str("    <memballoon model='none'/>\n");
    x.push_str("  </devices>\n</domain>\n");
    x
}

fn os(x: &mut String, firmware: Firmware) {
    match firmware {
        // libvirt's firmware auto-selection prefers a Secure Boot build with
        // enrolled keys, which refuses unsigned boot loaders: ask for one
        // without either (FIELD-NOTES: "The same image under libvirt").
        Firmware::Efi => x.push_str(
            "  <os firmware='efi'>\n    <type arch='x86_64' machine='q35'>hvm</type>\n    <firmware>\n      <feature enabled='no' name='secure-boot'/>\n      <feature enabled='no' name='enrolled-keys'/>\n    </firmware>\n    <boot dev='hd'/>\n  </os>\n",
        ),
        Firmware::Bios => x.push_str(
            "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n",
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn disk(
    x: &mut String,
    device: &str,
    format: &str,
    path: &Path,
    dev: &str,
    bus: &str,
    serial: Option<&str>,
    readonly: bool,
) {
    let _ = writeln!(x, "    <disk type='file' device='{device}'>");
    let _ = writeln!(x, "      <driver name='qemu' type='{format}'/>");
    let _ = writeln!(x, "      <source file='{}'/>", p(path));
    let _ = writeln!(x, "      <target dev='{dev}' bus='{bus}'/>");
    if let Some(s) = serial {
        let _ = writeln!(x, "      <serial>{}</serial>", esc(s));
    }
    if readonly {
        x.push_str("      <readonly/>\n");
    }
    x.push_str("    </disk>\n");
}

/// What a domain's XML (`virsh dumpxml`) says about it, for domains we made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub name: String,
    pub env: String,
    pub version: String,
    pub dir: PathBuf,
    /// The environment's data disk, when the domain has it attached (a
    /// `<disk>` whose source is the one its metadata names).
    pub data_disk: Option<PathBuf>,
    /// The environment's data disk its metadata names, attached or not.
    pub env_data_disk: Option<PathBuf>,
    pub console_log: Option<PathBuf>,
}

/// Our record of a domain, or `None` for a domain torrust-bake did not make.
pub fn parse_record(xml: &str) -> Result<Option<Record>> {
    let doc = roxmltree::Document::parse(xml).context("parsing the domain XML")?;
    let root = doc.root_element();
    let name = root
        .children()
        .find(|n| n.has_tag_name("name"))
        .and_then(|n| n.text())
        .unwrap_or_default()
        .to_string();
    let Some(meta) = root
        .children()
        .find(|n| n.has_tag_name("metadata"))
        .and_then(|m| {
            m.children()
                .find(|n| n.has_tag_name((METADATA_NS, "release")))
        })
    else {
        return Ok(None);
    };
    let attr = |a: &str| meta.attribute(a).map(str::to_string);
    let (Some(env), Some(version), Some(dir)) = (attr("env"), attr("version"), attr("dir")) else {
        return Ok(None);
    };
    let console_log = root
        .descendants()
        .find(|n| n.has_tag_name("serial") && n.attribute("type") == Some("file"))
        .and_then(|s| s.children().find(|n| n.has_tag_name("source")))
        .and_then(|s| s.attribute("path"))
        .map(PathBuf::from);
    let env_data_disk = attr("data-disk").map(PathBuf::from);
    let attached = |want: &PathBuf| {
        root.descendants()
            .filter(|n| n.has_tag_name("disk"))
            .filter_map(|d| d.children().find(|n| n.has_tag_name("source")))
            .any(|s| s.attribute("file").map(Path::new) == Some(want.as_path()))
    };
    Ok(Some(Record {
        name,
        env,
        version,
        dir: dir.into(),
        data_disk: env_data_disk.clone().filter(attached),
        env_data_disk,
        console_log,
    }))
}

/// The domain types libvirt's capabilities (`virsh capabilities`) offer
/// for x86_64 HVM guests.
pub fn offered_domain_types(capabilities: &str) -> Result<Vec<String>> {
    let doc = roxmltree::Document::parse(capabilities).context("parsing libvirt's capabilities")?;
    let mut out = Vec::new();
    for guest in doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("guest"))
    {
        let hvm = guest
            .children()
            .any(|n| n.has_tag_name("os_type") && n.text() == Some("hvm"));
        let Some(arch) = guest
            .children()
            .find(|n| n.has_tag_name("arch") && n.attribute("name") == Some("x86_64"))
        else {
            continue;
        };
        if !hvm {
            continue;
        }
        for d in arch.children().filter(|n| n.has_tag_name("domain")) {
            if let Some(t) = d.attribute("type") {
                if !out.iter().any(|o| o == t) {
                    out.push(t.to_string());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn spec() -> Spec {
        let dir =
            PathBuf::from("/var/lib/libvirt/images/torrust-bake/local/torrust-local-0123abcd");
        Spec {
            name: crate::provider::machine_name("local", "0123abcd4567"),
            env: "local".into(),
            version: "0123abcd4567".into(),
            accel: Accel::Qemu,
            firmware: Firmware::Efi,
            vcpus: 2,
            memory_mib: 2048,
            overlay: dir.join("disk.qcow2"),
            seed: Seed::Iso(dir.join("seed.iso")),
            data_disk: Some(DataDisk {
                path: "/var/lib/libvirt/images/torrust-bake/local/data-torrust-data.raw".into(),
                serial: "torrust-data".into(),
            }),
            attach_data: true,
            network: "default".into(),
            mac: "52:54:00:12:34:56".into(),
            console_log: dir.join("console.log"),
            dir,
        }
    }

    #[test]
    fn the_name_carries_env_and_short_version() {
        assert_eq!(
            crate::provider::machine_name("local", "0123abcd4567"),
            "torrust-local-0123abcd"
        );
    }

    #[test]
    fn the_record_reads_back_what_the_xml_wrote() {
        let s = spec();
        let r = parse_record(&xml(&s)).unwrap().unwrap();
        assert_eq!(
            r,
            Record {
                name: s.name.clone(),
                env: "local".into(),
                version: "0123abcd4567".into(),
                dir: s.dir.clone(),
                data_disk: Some(s.data_disk.clone().unwrap().path),
                env_data_disk: Some(s.data_disk.clone().unwrap().path),
                console_log: Some(s.console_log.clone()),
            }
        );
        let mut no_data = spec();
        no_data.data_disk = None;
        assert_eq!(
            parse_record(&xml(&no_data)).unwrap().unwrap().data_disk,
            None
        );
        // A standby names the volume but does not hold it, until attached.
        let mut standby = spec();
        standby.attach_data = false;
        let r = parse_record(&xml(&standby)).unwrap().unwrap();
        assert_eq!((r.data_disk, r.env_data_disk.is_some()), (None, true));
        let attached = xml(&standby).replace(
            "  </devices>",
            &format!(
                "{}  </devices>",
                data_disk_xml(standby.data_disk.as_ref().unwrap())
            ),
        );
        assert!(parse_record(&attached)
            .unwrap()
            .unwrap()
            .data_disk
            .is_some());
    }

    #[test]
    fn libvirts_own_rewrite_of_the_metadata_still_reads() {
        // libvirt stores the element under its own prefix choice and adds
        // ids, devices and defaults: what `virsh dumpxml` gives back.
        let dumped = "<domain type='qemu' id='3'>\n  <name>torrust-local-0123abcd</name>\n  <uuid>0f</uuid>\n  <metadata>\n    <tb:release xmlns:tb=\"https://github.com/torrust/torrust-bake/libvirt/v1\" env=\"local\" version=\"0123abcd4567\" dir=\"/d\"/>\n  </metadata>\n  <devices><serial type='file'><source path='/d/console.log'/><target type='isa-serial' port='0'/></serial><console type='file'><source path='/d/console.log'/></console></devices>\n</domain>";
        let r = parse_record(dumped).unwrap().unwrap();
        assert_eq!(
            (r.env.as_str(), r.dir.as_path()),
            ("local", Path::new("/d"))
        );
        assert_eq!(r.console_log.as_deref(), Some(Path::new("/d/console.log")));
        assert_eq!(r.data_disk, None);
    }

    #[test]
    fn foreign_domains_have_no_record() {
        let other = "<domain type='kvm'><name>web</name><metadata><app:x xmlns:app='urn:other' env='local' version='1' dir='/'/></metadata></domain>";
        assert_eq!(parse_record(other).unwrap(), None);
        assert_eq!(
            parse_record("<domain type='kvm'><name>bare</name></domain>").unwrap(),
            None
        );
        assert!(parse_record("<domain").is_err());
    }

    #[test]
    fn values_are_escaped() {
        let mut s = spec();
        s.network = "a'b<c>&\"".into();
        let x = xml(&s);
        assert!(x.contains("<source network='a&apos;b&lt;c&gt;&amp;&quot;'/>"));
        roxmltree::Document::parse(&x).unwrap();
    }

    #[test]
    fn bios_has_no_firmware_element_and_kvm_passes_the_cpu_through() {
        let mut s = spec();
        s.firmware = Firmware::Bios;
        s.accel = Accel::Kvm;
        s.seed = Seed::Img("/d/seed.img".into());
        let x = xml(&s);
        assert!(x.starts_with("<domain type='kvm'>"));
        assert!(x.contains("  <os>\n") && !x.contains("firmware"));
        assert!(x.contains("<cpu mode='host-passthrough'/>"));
        assert!(x.contains("<source file='/d/seed.img'/>\n      <target dev='vdc' bus='virtio'/>\n      <readonly/>"));
    }

    #[test]
    fn capabilities_offer_kvm_only_when_listed() {
        let caps = |domains: &str| {
            format!("<capabilities><host/><guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize>{domains}</arch></guest><guest><os_type>hvm</os_type><arch name='i686'><domain type='kvm'/></arch></guest></capabilities>")
        };
        assert_eq!(
            offered_domain_types(&caps("<domain type='qemu'/><domain type='kvm'/>")).unwrap(),
            vec!["qemu", "kvm"]
        );
        assert_eq!(
            offered_domain_types(&caps("<domain type='qemu'/>")).unwrap(),
            vec!["qemu"]
        );
    }
}
