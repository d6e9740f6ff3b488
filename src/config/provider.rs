//! Provider settings: which provider runs the VM and what boot media it
//! takes. A leaf the config holds (what a provider requires of the
//! environment is a rule, in `validate/infrastructure.rs`); the
//! provider *operations* (deploy, replace, retire) live in `src/provider/`,
//! above the release pipeline (docs/ARCHITECTURE.md, "Providers").

use std::path::PathBuf;

use serde::Serialize;
use sha2::Digest as _;

/// Hetzner Cloud's limit on user-data (API reference, `POST /servers`).
pub const HETZNER_USER_DATA_LIMIT: u64 = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// A local KVM/QEMU VM through libvirt, booted with a NoCloud seed.
    Libvirt,
    /// A Hetzner Cloud server, its cloud-init in the API's user-data.
    Hetzner,
}

/// How a provider hands the release to the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMedia {
    /// A NoCloud seed attached as a disk (seed.iso or seed.img).
    Seed,
    /// user-data passed through the provider's API, at most `limit` bytes.
    UserData { limit: u64 },
}

impl Provider {
    /// The values INFRASTRUCTURE_PROVIDER takes.
    pub const NAMES: &'static [&'static str] = &["libvirt", "hetzner"];

    /// The provider named by a validated INFRASTRUCTURE_PROVIDER.
    pub fn parse(name: &str) -> Option<Provider> {
        match name {
            "libvirt" => Some(Provider::Libvirt),
            "hetzner" => Some(Provider::Hetzner),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::Libvirt => "libvirt",
            Provider::Hetzner => "hetzner",
        }
    }

    /// As written in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Libvirt => "libvirt",
            Provider::Hetzner => "Hetzner",
        }
    }

    pub fn boot_media(self) -> BootMedia {
        match self {
            Provider::Libvirt => BootMedia::Seed,
            Provider::Hetzner => BootMedia::UserData {
                limit: HETZNER_USER_DATA_LIMIT,
            },
        }
    }

    /// The regions (locations) this provider offers, as torrust-bake knows
    /// them; `None` where a region means nothing. Hetzner's, from its API
    /// (`GET /locations`): a location opened since is taken with a `+`
    /// in front (`INFRASTRUCTURE_REGION=+xyz1`), unchecked.
    pub fn regions(self) -> Option<&'static [&'static str]> {
        match self {
            Provider::Libvirt => None,
            Provider::Hetzner => Some(&["fsn1", "nbg1", "hel1", "ash", "hil", "sin"]),
        }
    }
}

/// What a Hetzner server is given besides its release (`HETZNER_*`): read
/// by `provider::hetzner` at `deploy`, not part of any release.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hetzner {
    /// The project's SSH keys, by name or id.
    pub ssh_keys: Vec<String>,
    /// Firewalls, by name or id.
    pub firewalls: Vec<String>,
}

/// How a libvirt VM is shaped and where its files live
/// (`LIBVIRT_*`); read by `provider::libvirt` at `libvirt up`, not part of
/// any release (a release is what the VM boots, not the VM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Libvirt {
    pub vcpus: u64,
    pub memory_mib: u64,
    pub disk_size_gb: u64,
    pub base_image: BaseImage,
    pub domain_type: DomainType,
    pub firmware: Firmware,
    pub network: String,
    pub storage_dir: PathBuf,
}

/// The cloud image a libvirt VM boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseImage {
    /// A file on this host; checked against `sha512` when one was set.
    Path {
        path: PathBuf,
        sha512: Option<String>,
    },
    /// Downloaded once into the cache and checked against `sha512`.
    Url { url: String, sha512: String },
}

/// The libvirt domain type: hardware virtualisation or emulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainType {
    /// `kvm` when libvirt's capabilities offer it, else `qemu`.
    Auto,
    Kvm,
    /// TCG: QEMU emulates the CPU (slow; works where KVM does not).
    Qemu,
}

impl DomainType {
    pub fn parse(name: &str) -> Option<DomainType> {
        match name {
            "auto" => Some(DomainType::Auto),
            "kvm" => Some(DomainType::Kvm),
            "qemu" => Some(DomainType::Qemu),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DomainType::Auto => "auto",
            DomainType::Kvm => "kvm",
            DomainType::Qemu => "qemu",
        }
    }
}

/// The firmware a libvirt VM boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// UEFI (OVMF), Secure Boot off.
    Efi,
    /// SeaBIOS.
    Bios,
}

impl Firmware {
    pub fn parse(name: &str) -> Option<Firmware> {
        match name {
            "efi" => Some(Firmware::Efi),
            "bios" => Some(Firmware::Bios),
            _ => None,
        }
    }
}

/// The MAC address of the VM's first NIC: locally administered (QEMU's
/// 52:54:00 prefix), derived from the host name, so that network-config
/// (which matches the NIC by it) and the libvirt domain agree without
/// another variable. The one place it is computed.
pub fn nic_mac(hostname: &str) -> String {
    let h = sha2::Sha256::digest(hostname.as_bytes());
    format!("52:54:00:{:02x}:{:02x}:{:02x}", h[0], h[1], h[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in Provider::NAMES {
            assert_eq!(Provider::parse(name).unwrap().name(), *name);
        }
        assert_eq!(Provider::parse("aws"), None);
    }

    #[test]
    fn mac_is_stable_and_local() {
        let mac = nic_mac("torrust-tracker");
        assert_eq!(mac, nic_mac("torrust-tracker"));
        assert!(mac.starts_with("52:54:00:"));
        assert_ne!(mac, nic_mac("other"));
    }
}
