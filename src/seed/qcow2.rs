//! The vfat seed inside a qcow2 image (imago; qcow2-rs cannot write a
//! backing file name, which the libvirt provider needs for VM overlays).
//! Only clusters holding non-zero data are written, so the image stays small.
//!
//! imago 0.2.6 writes the header's feature name table (QEMU qcow2 spec,
//! "Feature name table", magic 0x6803f857) in hash-map order, which differs
//! from run to run; `sort_feature_names` puts its 48-byte entries in
//! (type, bit) order so the same seed gives the same bytes.

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
    let mut bytes =
        std::fs::read(&path).with_context(|| format!("reading back {}", path.display()))?;
    sort_feature_names(&mut bytes);
    Ok(bytes)
}

const FEATURE_NAME_TABLE: u32 = 0x6803_f857;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Sorts the entries of the feature name table header extension in place.
pub fn sort_feature_names(image: &mut [u8]) {
    // Version 3 headers give their length at offset 100; extensions follow,
    // each {magic u32, length u32, data padded to 8 bytes}, ended by magic 0.
    let Some(mut at) = be32(image, 100).map(|l| l as usize) else {
        return;
    };
    while let (Some(magic), Some(len)) = (be32(image, at), be32(image, at + 4)) {
        let len = len as usize;
        if magic == 0 || at + 8 + len > image.len() {
            return;
        }
        if magic == FEATURE_NAME_TABLE && len.is_multiple_of(48) {
            let table = &mut image[at + 8..at + 8 + len];
            let mut entries: Vec<[u8; 48]> =
                table.chunks(48).filter_map(|c| c.try_into().ok()).collect();
            entries.sort();
            for (dst, e) in table.chunks_mut(48).zip(entries) {
                dst.copy_from_slice(&e);
            }
            return;
        }
        at += 8 + len.div_ceil(8) * 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: u8, bit: u8, name: &str) -> Vec<u8> {
        let mut e = vec![kind, bit];
        e.extend_from_slice(name.as_bytes());
        e.resize(48, 0);
        e
    }

    #[test]
    fn feature_name_table_is_sorted_in_place() {
        // A v3 header of 104 bytes, then the table extension, then the end.
        let mut img = vec![0u8; 104];
        img[100..104].copy_from_slice(&104u32.to_be_bytes());
        let entries = [
            entry(1, 0, "lazy refcounts"),
            entry(0, 1, "corrupt"),
            entry(0, 0, "dirty"),
        ];
        img.extend_from_slice(&FEATURE_NAME_TABLE.to_be_bytes());
        img.extend_from_slice(&(48u32 * 3).to_be_bytes());
        for e in &entries {
            img.extend_from_slice(e);
        }
        img.extend_from_slice(&[0; 8]);
        let before = img.len();
        sort_feature_names(&mut img);
        assert_eq!(img.len(), before);
        let table = &img[112..112 + 144];
        assert_eq!(&table[..48], entry(0, 0, "dirty").as_slice());
        assert_eq!(&table[48..96], entry(0, 1, "corrupt").as_slice());
        assert_eq!(&table[96..], entry(1, 0, "lazy refcounts").as_slice());
    }

    #[test]
    fn other_headers_are_left_alone() {
        let mut short = vec![1u8; 50];
        sort_feature_names(&mut short);
        assert_eq!(short, vec![1u8; 50]);
    }
}
