//! vfat seed image (FAT12/16 via the `fatfs` crate): label `CIDATA`, long
//! file names, the files in the root directory. Reproducible: a fixed time
//! provider (1980-01-01, FAT's epoch) and a fixed volume id.

use std::io::{Cursor, Write};

use anyhow::{Context, Result};

use super::SeedFile;

#[derive(Debug)]
struct Epoch;

impl fatfs::TimeProvider for Epoch {
    fn get_current_date(&self) -> fatfs::Date {
        fatfs::Date {
            year: 1980,
            month: 1,
            day: 1,
        }
    }

    fn get_current_date_time(&self) -> fatfs::DateTime {
        fatfs::DateTime {
            date: self.get_current_date(),
            time: fatfs::Time {
                hour: 0,
                min: 0,
                sec: 0,
                millis: 0,
            },
        }
    }
}

static EPOCH: Epoch = Epoch;

/// Volume serial number: fixed, so the image bytes are too.
const VOLUME_ID: u32 = 0x7472_6b72;

/// The image size: the files plus 1/8 and 256 KiB for FAT structures,
/// rounded up to 64 KiB.
pub fn image_size(files: &[SeedFile]) -> u64 {
    let data: u64 = files.iter().map(|f| f.bytes.len() as u64 + 4096).sum();
    let size = data + data / 8 + 256 * 1024;
    size.div_ceil(64 * 1024) * 64 * 1024
}

pub fn build(label: &str, files: &[SeedFile]) -> Result<Vec<u8>> {
    let mut label_bytes = [b' '; 11];
    for (dst, src) in label_bytes.iter_mut().zip(label.bytes()) {
        *dst = src.to_ascii_uppercase();
    }
    let mut disk = Cursor::new(vec![0u8; image_size(files) as usize]);
    fatfs::format_volume(
        &mut disk,
        fatfs::FormatVolumeOptions::new()
            .volume_label(label_bytes)
            .volume_id(VOLUME_ID),
    )
    .context("formatting the vfat seed")?;
    {
        let fs = fatfs::FileSystem::new(
            &mut disk,
            fatfs::FsOptions::new()
                .time_provider(&EPOCH)
                .update_accessed_date(false),
        )
        .context("opening the vfat seed")?;
        {
            let root = fs.root_dir();
            let mut sorted: Vec<&SeedFile> = files.iter().collect();
            sorted.sort_by(|a, b| a.name.cmp(&b.name));
            for f in sorted {
                let mut out = root
                    .create_file(&f.name)
                    .with_context(|| format!("creating {} in the vfat seed", f.name))?;
                out.truncate()?;
                out.write_all(&f.bytes)
                    .with_context(|| format!("writing {} to the vfat seed", f.name))?;
            }
        }
        fs.unmount().context("closing the vfat seed")?;
    }
    Ok(disk.into_inner())
}
