//! The hand-written parser against oci-spec's regex, on edge cases and on
//! generated text: the same verdict, the same parts, the same error.

use super::{agrees_with_oci_spec, parse};

fn same(s: &str) {
    if let Err(e) = agrees_with_oci_spec(s) {
        panic!("{e}");
    }
}

#[test]
fn edge_cases() {
    let hex = |n: usize| "f".repeat(n);
    let mut cases: Vec<String> = [
        "",
        "a",
        "A",
        "-",
        ".",
        "_",
        ":",
        "/",
        "@",
        "a:",
        ":a",
        "a/",
        "/a",
        "a//b",
        "a@",
        "@a",
        "busybox",
        "test.com:tag",
        "test.com:5000",
        "test.com/repo:tag",
        "test:5000/repo",
        "test:5000/repo:tag",
        "lowercase:Uppercase",
        "Uppercase:tag",
        "Foo/bar",
        "FOO.com/bar",
        "foo/Bar",
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "xn--n3h.com/myimage:xn--n3h.com",
        "foo_bar.com:8080",
        "foo/foo_bar.com:8080",
        "opensuse/leap:15.3",
        "localhost/x",
        "localhost:5000/x:1",
        "localhost",
        "index.docker.io/x",
        "index.docker.io/x/y",
        "docker.io/x",
        "docker.io/library/x:1",
        "a.b/c",
        "a:1/b",
        "a:/b",
        "a:x/b",
        "-a.com/b",
        "a-.com/b",
        "a..com/b",
        "a.com./b",
        "a__b",
        "a___b",
        "a._b",
        "a-_b",
        "a--b",
        "a-b",
        "a.b",
        "a_b",
        "a.-b",
        "a-",
        "a.",
        "a_",
        "_a",
        ".a",
        "-a",
        "a/b/c/d",
        "a/b/",
        "a:b:c",
        "a:b/c",
        "a.com:5000:1/b",
        "a:5000/b:c:d",
        "a:tag.-_",
        "a:.tag",
        "a:-tag",
        "a:_tag",
        "a:tä",
        "a:ä",
        "a:€",
        "a:\u{301}",
        "a:\u{200d}",
        "a:a\u{301}",
        "a:\u{203f}",
        "a:٣",
        "ä/b",
        "a/ä",
        "a :b",
        "a:b ",
        " a",
        "a\n",
        "a:b\n",
        "a\u{0}",
        "a@sha256:",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (alg, n) in [
        ("sha256", 64),
        ("sha384", 96),
        ("sha512", 128),
        ("md5", 32),
        ("SHA256", 64),
    ] {
        for len in [31, 32, n - 1, n, n + 1] {
            cases.push(format!("a@{alg}:{}", hex(len)));
            cases.push(format!("a:1@{alg}:{}", hex(len)));
            cases.push(format!("r.io:1/a/b:t@{alg}:{}", "A".repeat(len)));
        }
    }
    for alg in [
        "a+b", "a.b", "a-b", "a_b", "a++b", "+a", "a+", "a1", "1a", "a+1", "",
    ] {
        cases.push(format!("a@{alg}:{}", hex(64)));
    }
    cases.push(format!("a@sha256:{}g", hex(63)));
    cases.push(format!("a@sha256:{}@x", hex(64)));
    for n in [127, 128, 129] {
        cases.push(format!("a:{}", "t".repeat(n)));
        cases.push(format!("a:{}", "ä".repeat(n)));
        cases.push(format!("a:t{}", ".".repeat(n - 1)));
    }
    for n in [246, 247, 248, 254, 255, 256] {
        cases.push("a".repeat(n));
        cases.push(format!("x/{}", "a".repeat(n)));
        cases.push(format!("x.io/{}", "a".repeat(n)));
        cases.push(format!("x.io/{}:t", "a".repeat(n)));
    }
    for s in &cases {
        same(s);
    }
}

/// xorshift64*: the same cases on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len())]
    }
}

const ATOMS: &[&str] = &[
    "a",
    "z",
    "b",
    "0",
    "9",
    "A",
    "Z",
    ".",
    "_",
    "__",
    "-",
    "--",
    "/",
    ":",
    "@",
    "ä",
    "٣",
    "\u{301}",
    "\u{200d}",
    "€",
    " ",
    "+",
    "sha256",
    "sha512",
    "localhost",
    "docker.io",
    "index.docker.io",
];

/// Text made of grammar-heavy atoms: mostly near misses.
fn atoms(rng: &mut Rng) -> String {
    (0..1 + rng.below(12)).map(|_| rng.pick(ATOMS)).collect()
}

/// A reference built part by part, mostly by the grammar, then perhaps
/// broken in one place.
fn structured(rng: &mut Rng) -> String {
    // Runs of `alnum` joined by `seps`, sometimes a wrong separator.
    let runs = |rng: &mut Rng, alnum: &[&str], seps: &[&str]| -> String {
        let mut s = String::new();
        for i in 0..1 + rng.below(3) {
            if i > 0 {
                s.push_str(rng.pick(seps));
            }
            for _ in 0..1 + rng.below(3) {
                s.push_str(rng.pick(alnum));
            }
        }
        s
    };
    let lower = ["a", "b", "z", "0", "9"];
    let path_seps = [".", "_", "__", "-", "--", "---", "._", "-", "."];
    let host = ["a", "B", "0", "Z", "x"];
    let tag_chars = ["a", "Z", "0", "_", "ä", "٣", "t"];
    let mut s = String::new();
    match rng.below(4) {
        0 => {}
        1 => s.push_str(rng.pick(&["localhost/", "docker.io/", "index.docker.io/", "r.io:5000/"])),
        _ => {
            s.push_str(&runs(rng, &host, &["-", ".", ".", "--", "-."]));
            if rng.below(3) == 0 {
                s.push_str(&format!(":{}", rng.below(70000)));
            }
            s.push('/');
        }
    }
    for i in 0..1 + rng.below(3) {
        if i > 0 {
            s.push('/');
        }
        s.push_str(&runs(rng, &lower, &path_seps));
    }
    if rng.below(2) == 0 {
        s.push(':');
        s.push_str(&runs(rng, &tag_chars, &[".", "-", "_", "..", "€"]));
    }
    if rng.below(3) == 0 {
        let alg = rng.pick(&[
            "sha256", "sha384", "sha512", "blake3", "a+b", "sha256", "1x",
        ]);
        let len: usize = rng
            .pick(&["31", "32", "64", "96", "128", "63", "64"])
            .parse()
            .unwrap_or(64);
        s.push_str(&format!(
            "@{alg}:{}",
            &"0123456789abcdefABCDEF".repeat(7)[..len]
        ));
    }
    if rng.below(5) == 0 && !s.is_empty() {
        let mut chars: Vec<char> = s.chars().collect();
        let at = rng.below(chars.len());
        chars[at] = rng.pick(ATOMS).chars().next().unwrap_or('a');
        s = chars.into_iter().collect();
    }
    s
}

#[test]
fn generated_cases_agree_with_oci_spec() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for i in 0..20_000 {
        let s = if i % 2 == 0 {
            atoms(&mut rng)
        } else {
            structured(&mut rng)
        };
        same(&s);
        accepted += usize::from(parse(&s).is_ok());
    }
    // Both verdicts are well represented, so the agreement means something.
    assert!((4_000..16_000).contains(&accepted), "{accepted} accepted");
}
