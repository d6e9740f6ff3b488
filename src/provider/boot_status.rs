//! The release's boot status, read over the network: every release serves
//! the `torrust-bake:` lines of its current boot, read-only, on
//! `BOOT_STATUS_PORT` (templates/status.service.tera). A provider that has
//! no console file to read (Hetzner: the API offers only a VNC console)
//! follows a boot through it. Provider-neutral, so beside the trait, not in
//! one provider's folder.
//!
//! The file is small (a boot writes a few dozen lines) and served whole by
//! Python's `http.server` (no ranges), so each read fetches all of it and
//! skips what the cursor says was seen. A reboot starts the file again
//! with a line naming the boot (`torrust-bake: boot <boot_id>`): the
//! reader keeps the boot it read and starts from 0 when it changes.

use std::time::Duration;

use crate::config::BOOT_STATUS_PORT;

/// The boot status of the machine at `address` (its own, not a floating
/// one), or why it could not be read (not up yet, firewalled).
pub fn fetch(address: &str, timeout: Duration) -> Result<String, String> {
    let host = if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_string()
    };
    let url = format!("http://{host}:{BOOT_STATUS_PORT}/boot.log");
    match crate::http::client(timeout).get(&url).call() {
        Ok(r) => r.into_string().map_err(|e| format!("{url}: {e}")),
        Err(ureq::Error::Status(code, _)) => Err(format!("{url} answered {code}")),
        Err(e) => Err(format!("{url}: {e}")),
    }
}

/// The boot `text` is of: its first line.
pub fn boot_of(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// The lines of `text` after byte `cursor`, which moves to its end; from 0
/// when `text` is of another boot than `seen` says (which it then holds),
/// or the cursor is past its end or inside a line's character. A last line
/// without its newline is left for the next read.
pub fn new_lines(text: &str, seen: &mut String, cursor: &mut u64) -> Vec<String> {
    let boot = boot_of(text);
    if text.contains('\n') && boot != seen.as_str() {
        *seen = boot.to_string();
        *cursor = 0;
    }
    let rest = match text.get(*cursor as usize..) {
        Some(rest) => rest,
        None => {
            *cursor = 0;
            text
        }
    };
    let whole = rest.rfind('\n').map_or(0, |i| i + 1);
    *cursor += whole as u64;
    rest[..whole].lines().map(str::to_string).collect()
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_once_whole_and_again_after_a_reboot() {
        let (mut seen, mut c) = (String::new(), 0);
        let mut read = |t: &str| new_lines(t, &mut seen, &mut c);
        assert_eq!(read("boot 1\nb"), vec!["boot 1"]);
        assert_eq!(read("boot 1\nb\nc\n"), vec!["b", "c"]);
        assert_eq!(read("boot 1\nb\nc\n"), Vec::<String>::new());
        // A new boot, shorter or longer than the old one's file.
        assert_eq!(read("boot 2\nx\n"), vec!["boot 2", "x"]);
        assert_eq!(
            read("boot 3\n\u{2714} pulled\nready for data\nmore\n"),
            vec!["boot 3", "\u{2714} pulled", "ready for data", "more"]
        );
        assert_eq!(last_lines("1\n2\n3\n", 2), vec!["2", "3"]);
    }

    #[test]
    fn a_cursor_inside_a_character_starts_again_instead_of_panicking() {
        let (mut seen, mut c) = ("boot 1".to_string(), 8);
        assert_eq!(
            new_lines("boot 1\n\u{2714}\n", &mut seen, &mut c),
            vec!["boot 1", "\u{2714}"]
        );
    }
}
