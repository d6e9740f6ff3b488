//! The module structure docs/ARCHITECTURE.md describes, checked: data flows
//! one way (config -> render -> release -> boot media -> deploy ->
//! provider), no
//! import cycles, nothing below the CLI imports the CLI; and inside every
//! module, no circle among its files (`super::`, `self::` and `crate::`
//! paths resolved to the file that defines them). Reads the paths in src/
//! as text (cheaper than installing a tool in CI).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up; a module may use only those in
/// lower layers. Keep in step with docs/ARCHITECTURE.md's module map.
const LAYERS: &[&[&str]] = &[
    &["error", "output"],
    &["digest", "version", "http", "seed"],
    &["config"],
    &["images"],
    &["render"],
    &["cloudinit"],
    &["release"],
    &["backup", "diff", "health"],
    &["provider"],
    &["deploy"],
    &["cli"],
    &["commands"],
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under src/ belongs to (None: lib.rs, main.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Every top-level module named as `crate::NAME` in code (comments skipped).
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
            rest = after;
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(uses(&text).into_iter().filter(|u| *u != module));
    }
    graph
}

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| {
            panic!("module {module} is in no layer: add it to LAYERS and docs/ARCHITECTURE.md")
        })
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|p| p == node) {
        let mut cycle = path[at..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    path.push(node.to_string());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(c) = cycle_from(graph, next, path) {
            return Some(c);
        }
    }
    path.pop();
    None
}

#[test]
fn modules_form_no_cycle() {
    let graph = graph();
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module, &mut Vec::new()) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn modules_use_only_lower_layers() {
    let mut wrong = Vec::new();
    for (module, used) in graph() {
        for u in used {
            if layer(&u) >= layer(&module) {
                wrong.push(format!("{module} uses {u}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "upward or sideways imports (see docs/ARCHITECTURE.md): {}",
        wrong.join(", ")
    );
}

/// A file's module path: src/config/load.rs is `config::load`,
/// src/config/validate/mod.rs is `config::validate`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its inline test module
/// (`#[cfg(test)] mod tests`, last in a file by convention here), whose
/// `super` is the file itself and whose imports are the tests', not the
/// module's.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().starts_with("mod tests"))
        {
            break;
        }
        out.push_str(line.split("//").next().unwrap_or(""));
        out.push('\n');
    }
    out
}

/// Every path that starts at `crate`, `super` or `self`, with the braces of
/// `use a::{b, c::d}` expanded: each as its segments.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start = i == 0
            || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':');
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        if at_word_start
            && (rest.starts_with("crate::")
                || rest.starts_with("super::")
                || rest.starts_with("self::"))
        {
            let (found, end) = expand(&bytes, i);
            out.extend(found);
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The paths written from `start` (`a::b::{c, d::e}`), and where they end.
fn expand(chars: &[char], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut segs = Vec::new();
    let mut i = start;
    loop {
        let word: String = chars[i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        i += word.chars().count();
        if !word.is_empty() {
            segs.push(word);
        }
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            if chars.get(i) == Some(&'{') {
                return group(chars, i + 1, &segs);
            }
            continue;
        }
        return (vec![segs], i);
    }
}

/// The items of a `{...}` group after `prefix`, up to its closing brace.
fn group(chars: &[char], mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut out = Vec::new();
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
            i += 1;
        }
        match chars.get(i) {
            None => return (out, i),
            Some('}') => return (out, i + 1),
            _ => {}
        }
        let (items, end) = expand(chars, i);
        for item in items {
            let mut p = prefix.to_vec();
            p.extend(item);
            out.push(p);
        }
        // Skip an `as name` and anything else up to the next item.
        i = end;
        while chars.get(i).is_some_and(|c| *c != ',' && *c != '}') {
            i += 1;
        }
        if end == i && chars.get(i).is_none() {
            return (out, i);
        }
    }
}

/// The file module a path from `from` lands in: its deepest prefix that is a
/// file (src/<p>.rs or src/<p>/mod.rs).
fn resolve(src: &Path, from: &[String], path: &[String]) -> Vec<String> {
    let mut base: Vec<String> = Vec::new();
    let mut segs = path.iter().peekable();
    match segs.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segs.next();
        }
        Some("self") => {
            segs.next();
            base = from.to_vec();
        }
        _ => {
            base = from.to_vec();
            while segs.peek().is_some_and(|s| *s == "super") {
                segs.next();
                base.pop();
            }
        }
    }
    for seg in segs {
        let mut next = base.clone();
        next.push(seg.clone());
        let rel = next.join("/");
        if src.join(format!("{rel}.rs")).is_file() || src.join(&rel).join("mod.rs").is_file() {
            base = next;
        } else {
            break;
        }
    }
    base
}

/// Within each directory of src/, its files and subfolders as nodes and an
/// edge where one takes a name from another (a folder's mod.rs is the
/// folder itself: what it re-exports from its children, and what they take
/// from it, are not edges between siblings).
fn sibling_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let from = module_path(&src, &file);
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for path in paths(&code) {
            let to = resolve(&src, &from, &path);
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common < from.len() && common < to.len() {
                let a = from[..=common].join("::");
                let b = to[..=common].join("::");
                graph.entry(a).or_default().insert(b);
            }
        }
    }
    graph
}

#[test]
fn the_files_of_a_module_form_no_circle() {
    let graph = sibling_graph();
    for node in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, node, &mut Vec::new()) {
            panic!(
                "import circle among files: {} (move what both need into a file of its own that neither imports)",
                cycle.join(" -> ")
            );
        }
    }
    // The reading sees the edges it must: a file's `super::` import.
    assert!(
        graph
            .get("config::load")
            .is_some_and(|to| to.contains("config::report")),
        "{graph:?}"
    );
}

#[test]
fn the_path_reader_expands_groups_and_skips_tests() {
    let code = code_of(
        "use super::{boot::{self, Event}, plan::Plan as P};\nlet x = crate::a::b(super::c);\n#[cfg(test)]\nmod tests {\n    use super::d;\n}\n",
    );
    let found: Vec<String> = paths(&code).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        vec![
            "super::boot::self",
            "super::boot::Event",
            "super::plan::Plan",
            "crate::a::b",
            "super::c"
        ]
    );
}

#[test]
fn the_checker_sees_imports_and_cycles() {
    let text = "use crate::config::Config;\n// crate::commands in a comment\nlet x = crate::render::url_encode(s);";
    let found: Vec<String> = uses(text).into_iter().collect();
    assert_eq!(found, vec!["config", "render"]);
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        cycle_from(&g, "a", &mut Vec::new()),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}
