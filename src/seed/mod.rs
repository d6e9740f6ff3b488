//! NoCloud seeds: the cloud-init files on a filesystem labelled `cidata`
//! (ISO 9660) or `CIDATA` (vfat), optionally inside a qcow2 image. Pure
//! functions from files to image bytes; same files, same bytes.

pub mod fat;
pub mod iso9660;
pub mod qcow2;

/// A file in the seed's root directory.
#[derive(Debug, Clone)]
pub struct SeedFile {
    /// `user-data`, `meta-data`, `network-config`.
    pub name: String,
    pub bytes: Vec<u8>,
    /// Readable by root only (user-data carries secrets).
    pub secret: bool,
}
