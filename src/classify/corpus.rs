//! Test corpora: the real texts under `../shared/data` that classify's equivalence tests run
//! on. A clone without the shared folder has none: the tests then skip them, saying so.

/// The bytes of `../shared/data/{rel}`, or `None` (with a note on stderr) when it is absent.
pub(crate) fn shared_bytes(rel: &str) -> Option<Vec<u8>> {
    let path = format!("{}/../shared/data/{rel}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("skipping {path}: absent (clone the repo next to shared/)");
            None
        }
    }
}

/// `shared_bytes` as text (invalid UTF-8 replaced).
pub(crate) fn shared_text(rel: &str) -> Option<String> {
    shared_bytes(rel).map(|b| String::from_utf8_lossy(&b).into_owned())
}
