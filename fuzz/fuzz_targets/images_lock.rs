//! `images/images.lock` (user input, read as UTF-8): parsed as `build`,
//! `images pin` and `images verify` read it, each reference parsed, and
//! `images pin`'s edit applied; the edited lock must parse again and carry
//! the pinned digests.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use torrust_bake::images::pin::{apply, Outcome};
use torrust_bake::images::{line_of, parse_lock, parse_reference, Digest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lock = match parse_lock(text) {
        Ok(lock) => lock,
        Err(e) => {
            assert!(e.line <= text.lines().count().max(1), "{e:?}");
            return;
        }
    };
    let mut outcomes = Vec::new();
    for (service, img) in &lock.images {
        let _ = parse_reference(&img.reference);
        let _ = line_of(text, service);
        let platforms = if service.len() % 2 == 0 {
            BTreeMap::new()
        } else {
            BTreeMap::from([("linux/amd64".to_string(), Digest::of(b"amd64"))])
        };
        outcomes.push(Outcome {
            service: service.clone(),
            reference: img.reference.clone(),
            locked: img.digest,
            locked_platforms: img.platforms.clone(),
            resolved: Some(Digest::of(service.as_bytes())),
            platforms,
            locked_still_exists: None,
            error: None,
            error_is_input: false,
        });
    }
    let edited = apply(text, &outcomes).expect("every service of a parsed lock has a table");
    let again = parse_lock(&edited)
        .unwrap_or_else(|e| panic!("the pinned lock does not parse: {e:?}\n{edited}"));
    for o in &outcomes {
        let img = &again.images[&o.service];
        assert_eq!(img.digest, o.resolved, "{edited}");
        assert_eq!(img.platforms, o.platforms, "{edited}");
        assert_eq!(img.reference, o.reference, "{edited}");
    }
    assert_eq!(again.images.len(), lock.images.len());
});
