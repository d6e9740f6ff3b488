//! The vfat seed inside a qcow2 image (imago; qcow2-rs cannot write a
//! backing file name, which the libvirt provider needs for VM overlays).
//! Only clusters holding non-zero data are written, so the image stays small.
//!
//! imago writes to a storage object; [`Memory`] is one over a byte buffer,
//! so the image is made without a scratch file (creating, syncing, reading
//! back and removing one cost a build ~4 ms). It behaves as imago's own
//! `File` does with buffered I/O (no alignment; zeroes read back where
//! nothing was written; writing zeroes past the end grows it), so the bytes
//! are the ones a file gets (a test holds it to that).
//!
//! imago 0.2.6 writes the header's feature name table (QEMU qcow2 spec,
//! "Feature name table", magic 0x6803f857) in hash-map order, which differs
//! from run to run; `sort_feature_names` puts its 48-byte entries in
//! (type, bit) order so the same seed gives the same bytes.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use imago::io_buffers::{IoVector, IoVectorMut};
use imago::qcow2::Qcow2;
use imago::storage::drivers::CommonStorageHelper;
use imago::storage::PreallocateMode;
use imago::{
    DenyImplicitOpenGate, FormatAccess, FormatCreateBuilder, FormatDriverBuilder, Storage,
};

const CHUNK: usize = 64 * 1024;

/// qcow2 bytes holding `raw` as its guest-visible content.
pub fn from_raw(raw: &[u8]) -> Result<Vec<u8>> {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    write_image(
        Memory {
            bytes: bytes.clone(),
            helper: CommonStorageHelper::default(),
        },
        raw,
    )?;
    let mut image = std::mem::take(&mut *lock(&bytes));
    sort_feature_names(&mut image);
    Ok(image)
}

/// Formats `storage` as qcow2 and writes the non-zero chunks of `raw`.
fn write_image<S: Storage + 'static>(storage: S, raw: &[u8]) -> Result<()> {
    let qcow2 = Qcow2::<S>::create_builder(storage)
        .size(raw.len() as u64)
        .create_open(DenyImplicitOpenGate::default(), |s| {
            Ok(Qcow2::<S>::builder(s).write(true))
        })
        .context("formatting seed.qcow2")?;
    let access = FormatAccess::new(qcow2);
    for (i, chunk) in raw.chunks(CHUNK).enumerate() {
        if chunk.iter().any(|&b| b != 0) {
            access
                .write(chunk, (i * CHUNK) as u64)
                .context("writing seed.qcow2")?;
        }
    }
    access.flush().context("flushing seed.qcow2")
}

/// A storage object in memory: the image's bytes, shared with the caller,
/// who takes them once imago is done.
struct Memory {
    bytes: Arc<Mutex<Vec<u8>>>,
    helper: CommonStorageHelper,
}

/// The buffer, even after a panic elsewhere (it holds plain bytes).
fn lock(bytes: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    bytes.lock().unwrap_or_else(|e| e.into_inner())
}

fn range(offset: u64, len: u64) -> io::Result<(usize, usize)> {
    let start = usize::try_from(offset).map_err(io::Error::other)?;
    let len = usize::try_from(len).map_err(io::Error::other)?;
    let end = start
        .checked_add(len)
        .ok_or_else(|| io::Error::other("seed.qcow2: offset overflow"))?;
    Ok((start, end))
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Memory({} bytes)", lock(&self.bytes).len())
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("seed.qcow2 (in memory)")
    }
}

// imago's `Storage` declares its I/O methods `unsafe` (a caller that
// lets the buffers go early breaks them); these bodies are safe code over a
// Vec, so the one exception to the crate's `unsafe_code = "deny"` is here.
#[allow(unsafe_code)]
impl Storage for Memory {
    fn size(&self) -> io::Result<u64> {
        Ok(lock(&self.bytes).len() as u64)
    }

    // Past the end reads as zeroes, as a file's hole does.
    unsafe fn pure_readv(&self, mut bufv: IoVectorMut<'_>, offset: u64) -> io::Result<()> {
        let (start, end) = range(offset, bufv.len())?;
        let bytes = lock(&self.bytes);
        let mut out = vec![0u8; end - start];
        if start < bytes.len() {
            let have = end.min(bytes.len());
            out[..have - start].copy_from_slice(&bytes[start..have]);
        }
        bufv.copy_from_slice(&out);
        Ok(())
    }

    unsafe fn pure_writev(&self, bufv: IoVector<'_>, offset: u64) -> io::Result<()> {
        let (start, end) = range(offset, bufv.len())?;
        let mut bytes = lock(&self.bytes);
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bufv.copy_into_slice(&mut bytes[start..end]);
        Ok(())
    }

    // As `File`: zeroes inside, and the image grown to the range's end.
    unsafe fn pure_write_zeroes(&self, offset: u64, length: u64) -> io::Result<()> {
        let (start, end) = range(offset, length)?;
        let mut bytes = lock(&self.bytes);
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].fill(0);
        Ok(())
    }

    unsafe fn pure_write_allocated_zeroes(&self, offset: u64, length: u64) -> io::Result<()> {
        // SAFETY: the same request, forwarded; both only touch the buffer.
        unsafe { self.pure_write_zeroes(offset, length) }
    }

    // As `File`'s hole punch: zeroes, the length kept.
    unsafe fn pure_discard(&self, offset: u64, length: u64) -> io::Result<()> {
        let (start, end) = range(offset, length)?;
        let mut bytes = lock(&self.bytes);
        let end = end.min(bytes.len());
        if start < end {
            bytes[start..end].fill(0);
        }
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    unsafe fn invalidate_cache(&self) -> io::Result<()> {
        Ok(())
    }

    fn get_storage_helper(&self) -> &CommonStorageHelper {
        &self.helper
    }

    fn resize(&self, new_size: u64, _prealloc_mode: PreallocateMode) -> io::Result<()> {
        let size = usize::try_from(new_size).map_err(io::Error::other)?;
        lock(&self.bytes).resize(size, 0);
        Ok(())
    }
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

    /// The image imago writes to a file, as seed.qcow2 was made before.
    fn through_a_file(raw: &[u8]) -> Vec<u8> {
        use imago::file::File;
        use imago::StorageCreateOptions;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.qcow2");
        let opts = StorageCreateOptions::new().filename(&path).overwrite(true);
        write_image(File::create_open(opts).unwrap(), raw).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        sort_feature_names(&mut bytes);
        bytes
    }

    #[test]
    fn in_memory_the_same_bytes_as_through_a_file() {
        let mut raw = vec![0u8; 1 << 20];
        raw[0] = 0xeb;
        raw[CHUNK + 17] = 1;
        raw[(1 << 20) - 1] = 0x55;
        let sizes = [0, 512, CHUNK, CHUNK + 1, 1 << 20];
        for size in sizes {
            let raw = &raw[..size];
            assert_eq!(from_raw(raw).unwrap(), through_a_file(raw), "{size} bytes");
        }
        let fat = crate::seed::fat::build(
            "CIDATA",
            &[crate::seed::SeedFile {
                name: "user-data".into(),
                bytes: b"#cloud-config\n".to_vec(),
                secret: true,
            }],
        )
        .unwrap();
        assert_eq!(from_raw(&fat).unwrap(), through_a_file(&fat));
    }

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
