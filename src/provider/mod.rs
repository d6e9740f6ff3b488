//! Provider operations: putting a release on a VM and taking it off again
//! (deploy, replace, retire, status), one module per provider, each with its
//! own API client. They sit above the release pipeline (they deploy what it
//! wrote) and will call the health gate (`crate::health`) to decide whether
//! a new VM may replace the old one. Provider *settings* (which provider,
//! what it requires, what boot media it takes) are a leaf in
//! `config::provider`, so the config can hold them without importing
//! anything up here.
//!
//! `libvirt`: up, status, down through `virsh`. Hetzner comes next
//! (docs/ARCHITECTURE.md, "Providers").

pub mod libvirt;

pub use crate::config::provider::{BootMedia, Provider};
