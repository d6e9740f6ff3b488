//! ISO 9660 image with Joliet and Rock Ridge names, root directory only: the
//! NoCloud seed `cloud-localds` makes with `genisoimage -joliet -rock`.
//!
//! Written here because no maintained crate writes reproducible images:
//! `hadris-iso` 2.x stamps the current time and 3.0 is a release candidate
//! (checked in 2026). Follows ECMA-119 2nd edition (§8.4 volume descriptors,
//! §9.1 directory records, §9.4 path tables), the Joliet specification
//! (supplementary descriptor, escape `%/E`, UCS-2 big-endian names without
//! a `;1` version, as genisoimage writes them) and
//! IEEE P1281 SUSP 1.10 / P1282 RRIP 1.10 (`SP`, `CE`, `ER`, `PX`, `TF`,
//! `NM`). Every date is 1970-01-01 00:00:00 UTC, entries are sorted, so
//! the same files give the same bytes.
//!
//! Layout (2048-byte sectors): 0-15 system area, 16 primary descriptor,
//! 17 Joliet descriptor, 18 terminator, 19-22 path tables (ISO L, M,
//! Joliet L, M), 23 ISO root directory with Rock Ridge, 24 Joliet root,
//! 25 SUSP continuation area (the `ER` entry, too long for the `.` record),
//! 26.. file data, each file from a sector boundary.

use anyhow::{bail, Result};

use super::SeedFile;

pub const SECTOR: usize = 2048;
const PVD: usize = 16;
const SVD: usize = 17;
const TERMINATOR: usize = 18;
const PATH_TABLES: [usize; 4] = [19, 20, 21, 22];
const ROOT: usize = 23;
const JOLIET_ROOT: usize = 24;
const CONTINUATION: usize = 25;
const FIRST_FILE: usize = 26;

const RECORD_DATE: [u8; 7] = [70, 1, 1, 0, 0, 0, 0];
const VOLUME_DATE: &[u8; 16] = b"1970010100000000";

const ER_ID: &[u8] = b"RRIP_1991A";
const ER_DESCRIPTOR: &[u8] =
    b"THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const ER_SOURCE: &[u8] = b"PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

fn both32(v: u32) -> [u8; 8] {
    let mut out = [0; 8];
    out[..4].copy_from_slice(&v.to_le_bytes());
    out[4..].copy_from_slice(&v.to_be_bytes());
    out
}

/// The ISO 9660 level 1 name (`USER_DAT.;1`): d-characters, 8.3, version 1.
pub fn iso_name(name: &str) -> String {
    let d = |s: &str, n: usize| -> String {
        s.chars()
            .map(|c| {
                let c = c.to_ascii_uppercase();
                if c.is_ascii_uppercase() || c.is_ascii_digit() {
                    c
                } else {
                    '_'
                }
            })
            .take(n)
            .collect()
    };
    let (base, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    format!("{}.{};1", d(base, 8), d(ext, 3))
}

fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// A directory record (ECMA-119 §9.1) with `system_use` appended.
fn record(id: &[u8], extent: usize, len: usize, dir: bool, system_use: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; 33];
    r[2..10].copy_from_slice(&both32(extent as u32));
    r[10..18].copy_from_slice(&both32(len as u32));
    r[18..25].copy_from_slice(&RECORD_DATE);
    r[25] = if dir { 2 } else { 0 };
    r[28..32].copy_from_slice(&both16(1));
    r[32] = id.len() as u8;
    r.extend_from_slice(id);
    if id.len().is_multiple_of(2) {
        r.push(0); // padding field: the system use area starts on an even byte
    }
    r.extend_from_slice(system_use);
    if r.len() % 2 == 1 {
        r.push(0);
    }
    r[0] = r.len() as u8;
    r
}

fn su_entry(sig: &[u8; 2], body: &[u8]) -> Vec<u8> {
    let mut e = vec![sig[0], sig[1], (4 + body.len()) as u8, 1];
    e.extend_from_slice(body);
    e
}

/// Rock Ridge `PX` (mode, links, uid 0, gid 0) and `TF` (modify time).
fn rr_attributes(mode: u32, links: u32) -> Vec<u8> {
    let mut px = Vec::new();
    for v in [mode, links, 0, 0] {
        px.extend_from_slice(&both32(v));
    }
    let mut out = su_entry(b"PX", &px);
    let mut tf = vec![0x02]; // flags: modify time only
    tf.extend_from_slice(&RECORD_DATE);
    out.extend(su_entry(b"TF", &tf));
    out
}

fn er_entry() -> Vec<u8> {
    let mut body = vec![
        ER_ID.len() as u8,
        ER_DESCRIPTOR.len() as u8,
        ER_SOURCE.len() as u8,
        1,
    ];
    body.extend_from_slice(ER_ID);
    body.extend_from_slice(ER_DESCRIPTOR);
    body.extend_from_slice(ER_SOURCE);
    su_entry(b"ER", &body)
}

/// Pads `text` to `n` bytes with spaces (a-/d-characters fields).
fn field(text: &[u8], n: usize) -> Vec<u8> {
    let mut f = text.to_vec();
    f.resize(n, b' ');
    f
}

/// A UCS-2 field padded with UCS-2 spaces (Joliet descriptor fields).
fn field_ucs2(text: &str, n: usize) -> Vec<u8> {
    let mut f = ucs2(text);
    while f.len() + 2 <= n {
        f.extend_from_slice(&[0, b' ']);
    }
    f.resize(n, b' ');
    f
}

struct Descriptor<'a> {
    kind: u8,
    volume_id: &'a str,
    joliet: bool,
    total_sectors: usize,
    root: usize,
    path_l: usize,
    path_m: usize,
}

/// A primary (§8.4) or Joliet supplementary volume descriptor.
fn descriptor(d: &Descriptor) -> Vec<u8> {
    let text = |s: &str, n: usize| {
        if d.joliet {
            field_ucs2(s, n)
        } else {
            field(s.as_bytes(), n)
        }
    };
    let mut v = vec![0u8; SECTOR];
    v[0] = d.kind;
    v[1..6].copy_from_slice(b"CD001");
    v[6] = 1;
    v[8..40].copy_from_slice(&text("LINUX", 32));
    v[40..72].copy_from_slice(&text(d.volume_id, 32));
    v[80..88].copy_from_slice(&both32(d.total_sectors as u32));
    if d.joliet {
        v[88..91].copy_from_slice(b"%/E"); // UCS-2 level 3
    }
    v[120..124].copy_from_slice(&both16(1));
    v[124..128].copy_from_slice(&both16(1));
    v[128..132].copy_from_slice(&both16(SECTOR as u16));
    v[132..140].copy_from_slice(&both32(10));
    v[140..144].copy_from_slice(&(d.path_l as u32).to_le_bytes());
    v[148..152].copy_from_slice(&(d.path_m as u32).to_be_bytes());
    v[156..190].copy_from_slice(&record(&[0], d.root, SECTOR, true, &[]));
    v[190..318].copy_from_slice(&text("", 128));
    v[318..446].copy_from_slice(&text("", 128));
    v[446..574].copy_from_slice(&text("", 128));
    v[574..702].copy_from_slice(&text("TORRUST-BAKE", 128));
    for range in [702..739, 739..776, 776..813] {
        v[range].copy_from_slice(&field(b"", 37));
    }
    for (i, at) in [813, 830, 847, 864].into_iter().enumerate() {
        // creation, modification: 1970-01-01; expiration, effective: unset
        if i < 2 {
            v[at..at + 16].copy_from_slice(VOLUME_DATE);
        } else {
            v[at..at + 16].copy_from_slice(b"0000000000000000");
        }
        v[at + 16] = 0;
    }
    v[881] = 1;
    v
}

/// Path table with the root only (§9.4), little- or big-endian.
fn path_table(root: usize, big_endian: bool) -> Vec<u8> {
    let mut t = vec![1, 0];
    if big_endian {
        t.extend_from_slice(&(root as u32).to_be_bytes());
        t.extend_from_slice(&1u16.to_be_bytes());
    } else {
        t.extend_from_slice(&(root as u32).to_le_bytes());
        t.extend_from_slice(&1u16.to_le_bytes());
    }
    t.extend_from_slice(&[0, 0]);
    t
}

/// Puts directory records into one sector.
fn directory(records: &[Vec<u8>], what: &str) -> Result<Vec<u8>> {
    let mut sector: Vec<u8> = records.concat();
    if sector.len() > SECTOR {
        bail!("the {what} directory needs {} bytes, more than one sector: too many or too long file names", sector.len());
    }
    sector.resize(SECTOR, 0);
    Ok(sector)
}

/// The ISO 9660 root directory sector, Rock Ridge entries in each record.
fn iso_root(files: &[&SeedFile], extents: &[usize]) -> Result<Vec<u8>> {
    // ISO names must stay distinct after the 8.3 mapping; sort by them.
    let mut iso: Vec<(String, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (iso_name(&f.name), i))
        .collect();
    iso.sort();
    if let Some(w) = iso.windows(2).find(|w| w[0].0 == w[1].0) {
        bail!(
            "seed files {} and {} share the ISO 9660 name {}",
            files[w[0].1].name,
            files[w[1].1].name,
            w[0].0
        );
    }
    // `.` carries SP (Rock Ridge is here) and a CE pointing at the ER entry,
    // which is too long for a record of at most 255 bytes.
    let mut dot_su = su_entry(b"SP", &[0xBE, 0xEF, 0]);
    let mut ce = Vec::new();
    ce.extend_from_slice(&both32(CONTINUATION as u32));
    ce.extend_from_slice(&both32(0));
    ce.extend_from_slice(&both32(er_entry().len() as u32));
    dot_su.extend(su_entry(b"CE", &ce));
    dot_su.extend(rr_attributes(0o040555, 2));
    let mut records = vec![
        record(&[0], ROOT, SECTOR, true, &dot_su),
        record(&[1], ROOT, SECTOR, true, &rr_attributes(0o040555, 2)),
    ];
    for (name, i) in &iso {
        let f = files[*i];
        let mode = if f.secret { 0o100400 } else { 0o100444 };
        let mut su = rr_attributes(mode, 1);
        let mut nm = vec![0u8];
        nm.extend_from_slice(f.name.as_bytes());
        su.extend(su_entry(b"NM", &nm));
        if su.len() + 33 + name.len() + 1 > 255 {
            bail!(
                "seed file name '{}' is too long for a directory record",
                f.name
            );
        }
        records.push(record(
            name.as_bytes(),
            extents[*i],
            f.bytes.len(),
            false,
            &su,
        ));
    }
    directory(&records, "ISO 9660 root")
}

/// The Joliet root directory sector: UCS-2 names, no version suffix.
fn joliet_root(files: &[&SeedFile], extents: &[usize]) -> Result<Vec<u8>> {
    let mut joliet: Vec<(Vec<u8>, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (ucs2(&f.name), i))
        .collect();
    joliet.sort();
    let mut records = vec![
        record(&[0], JOLIET_ROOT, SECTOR, true, &[]),
        record(&[1], JOLIET_ROOT, SECTOR, true, &[]),
    ];
    for (name, i) in &joliet {
        records.push(record(name, extents[*i], files[*i].bytes.len(), false, &[]));
    }
    directory(&records, "Joliet root")
}

/// The image: volume id `volume_id`, `files` in the root directory.
pub fn build(volume_id: &str, files: &[SeedFile]) -> Result<Vec<u8>> {
    let mut files: Vec<&SeedFile> = files.iter().collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    // Extents, in name order.
    let mut extents = Vec::new();
    let mut next = FIRST_FILE;
    for f in &files {
        extents.push(next);
        next += f.bytes.len().div_ceil(SECTOR);
    }
    let total = next;

    let root = iso_root(&files, &extents)?;
    let jroot = joliet_root(&files, &extents)?;
    let er = er_entry();

    let mut img = vec![0u8; total * SECTOR];
    let mut put = |sector: usize, bytes: &[u8]| {
        img[sector * SECTOR..sector * SECTOR + bytes.len()].copy_from_slice(bytes);
    };
    for (kind, at, joliet, root, pl, pm) in [
        (1, PVD, false, ROOT, PATH_TABLES[0], PATH_TABLES[1]),
        (2, SVD, true, JOLIET_ROOT, PATH_TABLES[2], PATH_TABLES[3]),
    ] {
        put(
            at,
            &descriptor(&Descriptor {
                kind,
                volume_id,
                joliet,
                total_sectors: total,
                root,
                path_l: pl,
                path_m: pm,
            }),
        );
    }
    let mut term = vec![255u8];
    term.extend_from_slice(b"CD001");
    term.push(1);
    put(TERMINATOR, &term);
    put(PATH_TABLES[0], &path_table(ROOT, false));
    put(PATH_TABLES[1], &path_table(ROOT, true));
    put(PATH_TABLES[2], &path_table(JOLIET_ROOT, false));
    put(PATH_TABLES[3], &path_table(JOLIET_ROOT, true));
    put(ROOT, &root);
    put(JOLIET_ROOT, &jroot);
    put(CONTINUATION, &er);
    for (f, at) in files.iter().zip(&extents) {
        put(*at, &f.bytes);
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_level_one() {
        assert_eq!(iso_name("user-data"), "USER_DAT.;1");
        assert_eq!(iso_name("meta-data"), "META_DAT.;1");
        assert_eq!(iso_name("network-config"), "NETWORK_.;1");
        assert_eq!(iso_name("a.json"), "A.JSO;1");
    }

    #[test]
    fn records_are_even_and_sized() {
        let r = record(b"USER_DAT.;1", 26, 5, false, &[]);
        assert_eq!(r.len() % 2, 0);
        assert_eq!(r[0] as usize, r.len());
        assert_eq!(&r[2..6], &26u32.to_le_bytes());
        assert_eq!(&r[6..10], &26u32.to_be_bytes());
    }

    #[test]
    fn clashing_names_are_refused() {
        let f = |n: &str| SeedFile {
            name: n.into(),
            bytes: vec![],
            secret: false,
        };
        let e = build("cidata", &[f("user-data"), f("user-dat")]).unwrap_err();
        assert!(e.to_string().contains("USER_DAT.;1"), "{e}");
    }
}
