//! Docker's image-reference grammar (distribution's `reference` package, as
//! `oci-spec` 0.9's `REFERENCE_REGEXP` writes it), parsed by hand for
//! `check` and `build`.
//!
//! Hand-written because every crate that parses references (oci-spec,
//! docker_credential's, oci-client through oci-spec) compiles the grammar as
//! one regex once per process, and that compile was over half of a build's
//! CPU time (issue 28): `check` runs on every save in an editor, `build` in
//! every CI job. This parser accepts and rejects exactly what oci-spec's
//! `Reference` does, returns the same parts (registry and repository after
//! Docker Hub's defaults, tag, digest) and the same `ParseError`, so every
//! message stays oci-spec's; `tests.rs` holds it to that on generated and
//! edge cases. oci-spec's type stays where a registry is talked to (`images
//! pin|verify`, `registry.rs`), whose cost is the network's anyway.
//!
//! The grammar, with `regex_syntax`'s Unicode `\w` in the tag (the regex
//! crate's own table, so a non-ASCII tag is judged the same):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component ( "/" path-component )*
//! domain     := domain-part ( "." domain-part )* [ ":" [0-9]+ ]
//! domain-part:= [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"* ) [a-z0-9]+ )*
//! tag        := \w [\w.-]{0,127}
//! digest     := algorithm ":" [0-9a-fA-F]{32,}
//! algorithm  := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*
//! ```
//!
//! then oci-spec's checks after the match: the repository (with `library/`
//! added) at most 255 characters, and a `sha256`/`sha384`/`sha512` digest
//! of 64/96/128 hex digits (any other algorithm is unsupported).

use oci_spec::distribution::ParseError;

#[cfg(test)]
mod tests;

const NAME_TOTAL_LENGTH_MAX: usize = 255;
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
const DEFAULT_TAG: &str = "latest";

/// A parsed reference: the parts oci-spec's `Reference` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    registry: String,
    repository: String,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

impl<'a> Reference<'a> {
    /// The registry, `docker.io` when the name has none.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository, with `library/` for Docker Hub's official images.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag; `latest` when the text has neither tag nor digest, as
    /// oci-spec fills it in.
    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }

    /// The digest, `algorithm:hex`, when the text has one.
    pub fn digest(&self) -> Option<&'a str> {
        self.digest
    }
}

/// Parses `s` as oci-spec's `Reference::from_str` does.
pub fn parse(s: &str) -> Result<Reference<'_>, ParseError> {
    if s.is_empty() {
        return Err(ParseError::NameEmpty);
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) if is_digest(digest) => (rest, Some(digest)),
        Some(_) => return Err(ParseError::ReferenceInvalidFormat),
        None => (s, None),
    };
    // A tag holds no ':' or '/', so it follows the last ':' when no '/' does.
    let (name, tag) = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (rest, None),
    };
    if !is_name(name) || !tag.is_none_or(is_tag) {
        return Err(ParseError::ReferenceInvalidFormat);
    }
    let (registry, repository) = split_domain(name);
    if repository.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ParseError::NameTooLong);
    }
    if let Some(d) = digest {
        let want = match d.split_once(':') {
            Some(("sha256", _)) => 64,
            Some(("sha384", _)) => 96,
            Some(("sha512", _)) => 128,
            Some(_) => return Err(ParseError::DigestUnsupported),
            None => return Err(ParseError::DigestInvalidFormat),
        };
        if d.split_once(':').map(|(_, hex)| hex.len()) != Some(want) {
            return Err(ParseError::DigestInvalidLength);
        }
    }
    let tag = match (tag, digest) {
        (None, None) => Some(DEFAULT_TAG),
        (tag, _) => tag,
    };
    Ok(Reference {
        registry,
        repository,
        tag,
        digest,
    })
}

/// Whether [`parse`] and oci-spec's `Reference` agree on `s` (the same
/// verdict, parts and error), else how they differ: for the tests and the
/// `image_reference` fuzz target.
#[doc(hidden)]
pub fn agrees_with_oci_spec(s: &str) -> Result<(), String> {
    let ours = parse(s);
    let theirs = s.parse::<oci_spec::distribution::Reference>();
    let agree = match (&ours, &theirs) {
        (Ok(o), Ok(t)) => {
            (o.registry(), o.repository(), o.tag(), o.digest())
                == (t.registry(), t.repository(), t.tag(), t.digest())
        }
        (Err(o), Err(t)) => o == t,
        _ => false,
    };
    if agree {
        Ok(())
    } else {
        Err(format!("{s:?}: ours {ours:?}, oci-spec {theirs:?}"))
    }
}

/// `[ domain "/" ] path`: a domain, when there is one, is everything
/// before the first '/' (it holds none).
fn is_name(name: &str) -> bool {
    is_path(name)
        || name
            .split_once('/')
            .is_some_and(|(domain, path)| is_domain(domain) && is_path(path))
}

fn is_path(path: &str) -> bool {
    path.split('/').all(is_path_component)
}

/// Runs of `[a-z0-9]` joined by ".", "_", "__" or any number of "-".
fn is_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = matches!(sep, b"." | b"_" | b"__") || sep.iter().all(|&s| s == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    host.split('.').all(is_domain_part)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-zA-Z0-9]`, or `[a-zA-Z0-9-]` starting and ending with `[a-zA-Z0-9]`.
fn is_domain_part(part: &str) -> bool {
    let b = part.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
}

/// `\w [\w.-]{0,127}`, `\w` being Unicode's word characters as the regex
/// crate reads them; the bound counts characters, not bytes.
fn is_tag(tag: &str) -> bool {
    let word = |c: char| {
        if c.is_ascii() {
            c.is_ascii_alphanumeric() || c == '_'
        } else {
            regex_syntax::is_word_character(c)
        }
    };
    let mut chars = tag.chars();
    chars.next().is_some_and(word)
        && tag.chars().count() <= 128
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm ":" hex{32,}`, the algorithm's parts starting with a letter.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let part = |p: &str| {
        let b = p.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    };
    algorithm.split(['-', '_', '+', '.']).all(part)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Docker's `splitDomain` as oci-spec writes it: the first part is a
/// registry only when it has a '.' or ':' or is `localhost`; Docker Hub's
/// legacy name becomes `docker.io`, whose one-part names get `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.split_once('/') {
        Some((left, right)) if left.contains(['.', ':']) || left == "localhost" => {
            (left, right.to_string())
        }
        _ => (DOCKER_HUB, name.to_string()),
    };
    if domain == DOCKER_HUB_LEGACY {
        domain = DOCKER_HUB;
    }
    if domain == DOCKER_HUB && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    (domain.to_string(), rest)
}
