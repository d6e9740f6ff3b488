//! The vfat seed inside a qcow2 image (imago; qcow2-rs cannot write a
//! backing file name, which the libvirt provider will need for VM disks).
//! Only clusters holding non-zero data are written, so the image stays small.

use std::path::Path;

use anyhow::{Context, Result};
use imago::file::File;
use imago::qcow2::Qcow2;
use imago::{
    DenyImplicitOpenGate, FormatAccess, FormatCreateBuilder, FormatDriverBuilder, Storage,
    StorageCreateOptions,
};

const CHUNK: usize = 64 * 1024;

/// qcow2 bytes holding `raw` as its guest-visible content. imago writes
/// through a file, so this uses a temp file in `scratch` and reads it back.
pub fn from_raw(raw: &[u8], scratch: &Path) -> Result<Vec<u8>> {
    let tmp = tempfile::Builder::new()
        .prefix(".seed-")
        .suffix(".qcow2")
        .tempfile_in(scratch)
        .with_context(|| format!("creating a temp file in {}", scratch.display()))?;
    let path = tmp.path().to_path_buf();
    let storage = File::create_open(StorageCreateOptions::new().filename(&path).overwrite(true))
        .with_context(|| format!("opening {}", path.display()))?;
    let qcow2 = Qcow2::<File>::create_builder(storage)
        .size(raw.len() as u64)
        .create_open(DenyImplicitOpenGate::default(), |s| {
            Ok(Qcow2::<File>::builder(s).write(true))
        })
        .with_context(|| format!("formatting {} as qcow2", path.display()))?;
    {
        let access = FormatAccess::new(qcow2);
        for (i, chunk) in raw.chunks(CHUNK).enumerate() {
            if chunk.iter().any(|&b| b != 0) {
                access
                    .write(chunk, (i * CHUNK) as u64)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        access
            .flush()
            .with_context(|| format!("flushing {}", path.display()))?;
    }
    std::fs::read(&path).with_context(|| format!("reading back {}", path.display()))
}
