//! The libvirt console as a source of boot lines: the serial console's
//! log file (`<serial type='file'>` in the domain XML), read on from a
//! byte offset. What the lines mean is `deploy::boot`'s.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Reads what the console log gained since `offset`: whole lines only (a
/// partial last line waits for the next read). Serial output carries `\r`
/// and terminal escapes; both are dropped.
pub fn new_lines(path: &Path, offset: &mut u64) -> Vec<String> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len < *offset {
        *offset = 0; // truncated: the domain was started again
    }
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(*offset)).is_err() || f.read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        return Vec::new();
    };
    *offset += end as u64 + 1;
    String::from_utf8_lossy(&buf[..end])
        .lines()
        .map(strip_escapes)
        .collect()
}

/// The last whole lines of the console log, read from at most its last
/// `max` bytes: `status` wants the release's last word, and a console log
/// may be gigabytes (#27 item 17: status read all 2 GiB into memory).
pub fn last_lines(path: &Path, max: u64) -> Vec<String> {
    let Ok(f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut offset = len.saturating_sub(max);
    let mut lines = new_lines(path, &mut offset);
    if len > max && !lines.is_empty() {
        lines.remove(0); // began mid-line
    }
    lines
}

fn strip_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_carriage_returns_are_dropped() {
        assert_eq!(
            strip_escapes("\u{1b}[0;32m  OK  \u{1b}[0m] Started x.\r"),
            "  OK  ] Started x."
        );
    }

    #[test]
    fn only_whole_lines_are_read_and_a_truncated_log_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        std::fs::write(&log, "one\r\ntwo\npart").unwrap();
        let mut at = 0;
        assert_eq!(new_lines(&log, &mut at), ["one", "two"]);
        assert!(new_lines(&log, &mut at).is_empty());
        std::fs::write(&log, "x\n").unwrap();
        assert_eq!(new_lines(&log, &mut at), ["x"]);
        assert!(new_lines(&dir.path().join("none"), &mut 0).is_empty());
    }

    #[test]
    fn the_tail_is_read_from_the_end_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        let mut text = "noise line\n".repeat(100_000);
        text.push_str("torrust-bake: tracker healthy\nlogin:\n");
        std::fs::write(&log, &text).unwrap();
        let tail = last_lines(&log, 1024);
        assert!(tail.len() < 100, "{}", tail.len());
        assert_eq!(tail.last().map(String::as_str), Some("login:"));
        assert!(
            tail.iter()
                .all(|l| l == "noise line" || l.starts_with("torrust-bake") || l == "login:"),
            "a partial first line: {tail:?}"
        );
        assert_eq!(last_lines(&log, 1 << 30).len(), 100_002);
    }
}
