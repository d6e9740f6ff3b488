//! The README's command blocks run as written (issue "Operator experience").
//!
//! Every code block of README.md (indented by 4 spaces, or fenced) whose
//! lines are commands a user types (`torrust-bake ...`, `export ...`,
//! `cargo ...`, `scripts/...`, `sha256sum ...`, `man ...`, see
//! [`is_command_line`]) is either run or marked. A block that cannot run here
//! carries, on the line before it, the reason:
//!
//! ```text
//! <!-- readme-test: skip (needs a registry on the internet) -->
//! ```
//!
//! Any other block runs as one script, `bash -euo pipefail -c BLOCK`, and
//! must exit 0: so a new block either works or says why it cannot be run
//! here. Each block runs
//!
//! - in a fresh copy of the project's `environments/`, `images/` and
//!   `templates/` as the current directory;
//! - with `PATH` starting with a directory holding `torrust-bake`, a symlink
//!   to the binary under test, then this process's `PATH`; an empty `HOME` of
//!   its own (where `secrets init` writes); no other variable;
//! - in a network namespace of its own (`unshare --net`: no route anywhere,
//!   so no block can use the network), with stdin closed, for at most 60 s.
//!
//! The images lock of that copy is the committed one after the README's
//! `torrust-bake images pin tracker` (which needs Docker Hub): the committed
//! lock leaves the tracker unpinned, so the README's production build could
//! not run. The test pins it to the digest `tests/fixtures/images.lock` gives
//! it, which nothing pulls. `the_committed_lock_refuses_production_until_the_tracker_is_pinned`
//! checks that the README's words about the committed lock hold.
//!
//! Likewise the copy's `environments/staging.env` and `production.env` have
//! DOMAIN_NAME and SSL_EMAIL at a domain of their own (`torrust-demo.com`)
//! in place of the committed example.com placeholders, as README.md,
//! "Secrets", asks before a first strict build: strict builds refuse example
//! domains.
//!
//! Placeholders: bash would take them literally, so a block that runs may
//! contain none (`<env>`, `<version>`, a release version such as
//! `3f2a9c1d0b7e`; see [`placeholders`]): the test fails naming them. None
//! of the blocks that run has one today; a block that gets one needs either
//! a substitution here, of a value the test computes (documented beside it),
//! or a marker.
//!
//! The test prints (to stderr, past the test harness's capture) which blocks
//! ran and which were skipped, and why.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_torrust-bake");
const REPO: &str = env!("CARGO_MANIFEST_DIR");
const MARKER: &str = "readme-test:";

/// One code block of a Markdown file.
#[derive(Debug, PartialEq)]
struct Block {
    /// 1-based line of the block's first line of code.
    line: usize,
    /// The info string of a fenced block (`sh`, `bash`, ...); None: indented.
    fence: Option<String>,
    /// The code, without the indentation of an indented block.
    code: String,
    /// The reason given by a `<!-- readme-test: skip (REASON) -->` marker on
    /// the line before the block.
    skip: Option<String>,
}

/// The code blocks of `markdown`: indented (4 spaces or a tab, after a blank
/// line, a heading or an HTML comment, outside a list) and fenced (``` or
/// ~~~). Errors name each `readme-test:` marker that is malformed or not on
/// the line before a block.
fn code_blocks(markdown: &str) -> Result<Vec<Block>, Vec<String>> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut used_markers = Vec::new();
    // Whether the text before is a list: an indented line there continues
    // the list item, it is not code.
    let mut in_list = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start_matches(' ').len();
        let trimmed = line.trim_start();
        let prev = if i == 0 { "" } else { lines[i - 1] };
        // The marker on the line before line `at` (0-based), as it is
        // written; checked below.
        let marker = |at: usize, used: &mut Vec<usize>| -> Option<String> {
            let text = lines.get(at.checked_sub(1)?)?;
            if text.contains(MARKER) {
                used.push(at - 1);
                Some(text.to_string())
            } else {
                None
            }
        };
        if indent <= 3 && (trimmed.starts_with("```") || trimmed.starts_with("~~~")) {
            let ch = trimmed.chars().next().unwrap();
            let len = trimmed.len() - trimmed.trim_start_matches(ch).len();
            let info = trimmed[len..].trim().to_string();
            let start = i + 1;
            let mut end = start;
            while end < lines.len() {
                let t = lines[end].trim_start();
                let close = t.len() - t.trim_start_matches(ch).len();
                if lines[end].len() - t.len() <= 3 && close >= len && t[close..].trim().is_empty() {
                    break;
                }
                end += 1;
            }
            let skip = marker(i, &mut used_markers);
            blocks.push(Block {
                line: start + 1,
                fence: Some(info),
                code: lines[start..end.min(lines.len())].join("\n"),
                skip,
            });
            in_list = false;
            i = end + 1;
            continue;
        }
        let is_code_line = !trimmed.is_empty() && (indent >= 4 || line.starts_with('\t'));
        let after_break = prev.trim().is_empty()
            || prev.starts_with('#')
            || (prev.starts_with("<!--") && prev.trim_end().ends_with("-->"));
        if is_code_line && after_break && !in_list {
            let mut end = i;
            while end < lines.len() {
                let l = lines[end];
                let code_or_blank =
                    l.trim().is_empty() || l.starts_with("    ") || l.starts_with('\t');
                if !code_or_blank {
                    break;
                }
                end += 1;
            }
            while end > i && lines[end - 1].trim().is_empty() {
                end -= 1;
            }
            let code: Vec<&str> = lines[i..end]
                .iter()
                .map(|l| {
                    l.strip_prefix("    ")
                        .or_else(|| l.strip_prefix('\t'))
                        .unwrap_or("")
                })
                .collect();
            let skip = marker(i, &mut used_markers);
            blocks.push(Block {
                line: i + 1,
                fence: None,
                code: code.join("\n"),
                skip,
            });
            i = end;
            continue;
        }
        if !trimmed.is_empty() {
            let list_item = ["- ", "* ", "+ "].iter().any(|p| trimmed.starts_with(p))
                || trimmed.split_once(['.', ')']).is_some_and(|(n, rest)| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && rest.starts_with(' ')
                });
            if list_item {
                in_list = true;
            } else if indent == 0 {
                in_list = false;
            }
        }
        i += 1;
    }
    // Every marker must sit on the line before a block and say why.
    for block in &mut blocks {
        if let Some(text) = block.skip.take() {
            match skip_reason(&text) {
                Some(reason) => block.skip = Some(reason),
                None => errors.push(format!(
                    "the marker before line {}: a marker is \
                     `<!-- readme-test: skip (REASON) -->`, not {text:?}",
                    block.line
                )),
            }
        }
    }
    for (n, line) in lines.iter().enumerate() {
        if line.contains(MARKER) && !used_markers.contains(&n) {
            errors.push(format!(
                "line {}: a readme-test marker must be on the line just before a code block",
                n + 1
            ));
        }
    }
    if errors.is_empty() {
        Ok(blocks)
    } else {
        Err(errors)
    }
}

/// The reason in `<!-- readme-test: skip (REASON) -->`; None if malformed or
/// empty.
fn skip_reason(line: &str) -> Option<String> {
    let rest = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let rest = rest
        .strip_prefix(MARKER)?
        .trim()
        .strip_prefix("skip")?
        .trim();
    let reason = rest.strip_prefix('(')?.strip_suffix(')')?.trim();
    (!reason.is_empty()).then(|| reason.to_string())
}

/// Commands a user types: a block with one line that runs one of these is a
/// command block, which the test runs unless it is marked.
const COMMANDS: &[&str] = &[
    "torrust-bake",
    "export",
    "cargo",
    "sha256sum",
    "man",
    "sudo",
    "apt-get",
    "systemctl",
    "virsh",
];

fn is_command_word(word: &str) -> bool {
    COMMANDS.contains(&word) || word.starts_with("scripts/") || word.starts_with("./scripts/")
}

/// Whether `line` runs a command of [`COMMANDS`] or a script of `scripts/`:
/// as its command (after `NAME=value` assignments), or in a `$( )`.
fn is_command_line(line: &str) -> bool {
    let is_assignment = |w: &&str| {
        w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let first = line.split_whitespace().find(|w| !is_assignment(w));
    first.is_some_and(is_command_word)
        || line
            .split("$(")
            .skip(1)
            .any(|s| s.split_whitespace().next().is_some_and(is_command_word))
}

fn is_command_block(block: &Block) -> bool {
    let has_command = || block.code.lines().any(is_command_line);
    match &block.fence {
        None => has_command(),
        Some(info) => match info.split_whitespace().next().unwrap_or("") {
            "sh" | "bash" | "shell" | "console" => true,
            "" => has_command(),
            _ => false,
        },
    }
}

/// Placeholders in `script` (outside comments) that bash would take
/// literally: `<name>`, and 12 hex digits (a release version).
fn placeholders(script: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in script.lines() {
        let code = match line.find('#') {
            Some(0) => "",
            Some(n) if line[..n].ends_with(char::is_whitespace) => &line[..n],
            _ => line,
        };
        let mut rest = code;
        while let Some(open) = rest.find('<') {
            rest = &rest[open + 1..];
            if let Some(close) = rest.find('>') {
                let name = &rest[..close];
                if name.starts_with(|c: char| c.is_ascii_lowercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    found.push(format!("<{name}>"));
                }
            }
        }
        for word in code.split(|c: char| !c.is_ascii_alphanumeric()) {
            if word.len() == 12
                && word.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
                && word.chars().any(|c| c.is_ascii_digit())
            {
                found.push(word.to_string());
            }
        }
    }
    found
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The committed lock as `images pin tracker` would leave it: the tracker's
/// `digest` and `platforms` taken from `tests/fixtures/images.lock`.
fn lock_with_the_tracker_pinned() -> String {
    let committed = std::fs::read_to_string(Path::new(REPO).join("images/images.lock")).unwrap();
    let fixture =
        std::fs::read_to_string(Path::new(REPO).join("tests/fixtures/images.lock")).unwrap();
    let fixture: toml_edit::DocumentMut = fixture.parse().unwrap();
    let mut lock: toml_edit::DocumentMut = committed.parse().unwrap();
    for key in ["digest", "platforms"] {
        lock["images"]["tracker"][key] = fixture["images"]["tracker"][key].clone();
    }
    lock.to_string()
}

/// A project directory, an empty home and a bin directory with
/// `torrust-bake` in it, under `root`.
fn sandbox(root: &Path, lock: &str) {
    let project = root.join("project");
    for dir in ["environments", "images", "templates"] {
        copy_tree(&Path::new(REPO).join(dir), &project.join(dir));
    }
    std::fs::write(project.join("images/images.lock"), lock).unwrap();
    for name in ["staging", "production"] {
        let file = project.join(format!("environments/{name}.env"));
        let text = std::fs::read_to_string(&file).unwrap();
        let own: String = text
            .lines()
            .map(|l| match l.split_once('=') {
                Some(("DOMAIN_NAME" | "SSL_EMAIL", _)) => l.replace("example.com", "torrust-demo.com"),
                _ => l.to_string(),
            } + "\n")
            .collect();
        assert_ne!(own, text, "{name}.env has no example domain to replace");
        std::fs::write(&file, own).unwrap();
    }
    std::fs::create_dir_all(root.join("home")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::os::unix::fs::symlink(BIN, root.join("bin/torrust-bake")).unwrap();
}

/// Runs `script` in the sandbox under `root` as the module's comment says:
/// exit code (None: killed by a signal or the time limit) and output.
fn run_script(root: &Path, script: &str) -> (Option<i32>, String) {
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let output = Command::new("unshare")
        .args(["--net", "timeout", "--kill-after=5", "60"])
        .args(["bash", "-euo", "pipefail", "-c", script])
        .current_dir(root.join("project"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", root.join("home"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("unshare (util-linux) is needed to run the README's blocks offline ({e})")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(124) => (None, format!("{text}\n(killed after 60 s)")),
        code => (code, text),
    }
}

/// Writes past the test harness's capture, so `cargo test` shows it.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[test]
fn readme_command_blocks_run_as_written_or_say_why_not() {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    let blocks = code_blocks(&readme).unwrap_or_else(|errors| {
        panic!("README.md: {}", errors.join("\n"));
    });
    let lock = lock_with_the_tracker_pinned();
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    let mut report = vec!["README.md's command blocks:".to_string()];
    for block in blocks.iter().filter(|b| is_command_block(b)) {
        let first = block.code.lines().next().unwrap_or("").trim();
        if let Some(reason) = &block.skip {
            skipped += 1;
            report.push(format!(
                "  README.md:{} skipped ({reason}): {first}",
                block.line
            ));
            continue;
        }
        let found = placeholders(&block.code);
        if !found.is_empty() {
            failures.push(format!(
                "README.md:{}: placeholders {found:?} would reach bash as written: have \
                 tests/readme.rs substitute a value it computes, or mark the block \
                 `<!-- readme-test: skip (REASON) -->`",
                block.line
            ));
            continue;
        }
        let root = tempfile::tempdir().unwrap();
        sandbox(root.path(), &lock);
        let start = Instant::now();
        let (code, output) = run_script(root.path(), &block.code);
        let took = start.elapsed();
        if code == Some(0) {
            ran += 1;
            report.push(format!(
                "  README.md:{} ran in {:.1} s: {first}",
                block.line,
                took.as_secs_f64()
            ));
        } else {
            failures.push(format!(
                "README.md:{}: `bash -euo pipefail -c` exited {code:?}; fix the block, or, if \
                 it cannot run here, mark it on the line before with \
                 `<!-- readme-test: skip (REASON) -->`\n--- block\n{}\n--- output\n{output}",
                block.line, block.code
            ));
        }
    }
    report.push(format!(
        "  {ran} ran, {skipped} skipped, {} failed",
        failures.len()
    ));
    say(&report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // A parser that lost the blocks would pass silently.
    assert!(
        ran >= 1 && skipped >= 1,
        "no README block ran or none was skipped"
    );
}

/// README, "Images": the tracker is unpinned in the committed lock, and
/// staging and production builds refuse it until `images pin tracker`.
#[test]
fn the_committed_lock_refuses_production_until_the_tracker_is_pinned() {
    let committed = std::fs::read_to_string(Path::new(REPO).join("images/images.lock")).unwrap();
    let lock: toml::Table = committed.parse().unwrap();
    assert!(
        lock["images"]["tracker"].get("digest").is_none(),
        "the committed lock pins the tracker: README.md, \"Images\", says it does not \
         (update it, and lock_with_the_tracker_pinned in tests/readme.rs)"
    );
    let root = tempfile::tempdir().unwrap();
    sandbox(root.path(), &committed);
    let (code, output) = run_script(
        root.path(),
        "torrust-bake secrets init production >/dev/null\ntorrust-bake build production",
    );
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("tracker is not pinned by digest")
            && output.contains("torrust-bake images pin tracker"),
        "{output}"
    );
}

#[test]
fn code_blocks_markers_and_placeholders() {
    let md = "\
# T

<!-- readme-test: skip (needs (a) reason) -->
    torrust-bake images pin

- a list item

    continued, not code

Text:

```sh
export A=1
torrust-bake check local
```

    LIBVIRT_X=$(scripts/guest-image.sh) \\
    B=2

```toml
a = 1
```
";
    let blocks = code_blocks(md).unwrap();
    let summary: Vec<_> = blocks
        .iter()
        .map(|b| (b.line, b.skip.clone(), is_command_block(b)))
        .collect();
    assert_eq!(
        summary,
        vec![
            (4, Some("needs (a) reason".to_string()), true),
            (13, None, true),
            (17, None, true),
            (21, None, false),
        ]
    );
    assert_eq!(
        blocks[2].code,
        "LIBVIRT_X=$(scripts/guest-image.sh) \\\nB=2"
    );
    // A marker away from a block, or without a reason, is an error.
    assert!(code_blocks("<!-- readme-test: skip (x) -->\n\ntext\n").is_err());
    assert!(code_blocks("<!-- readme-test: skip -->\n    torrust-bake check local\n").is_err());
    assert_eq!(
        placeholders("torrust-bake diff local 3f2a9c1d0b7e <b> > out 2>&1 # <c>"),
        vec!["<b>", "3f2a9c1d0b7e"]
    );
    assert!(placeholders("torrust-bake man > torrust-bake.1").is_empty());
}
