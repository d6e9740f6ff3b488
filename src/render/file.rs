//! A file of the bundle, as the release writes it.

/// One file of the bundle, at its path relative to the VM's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub secret: bool,
}

#[cfg(test)]
impl File {
    /// A root-owned 0644 file that holds no secret, for unit tests.
    pub fn plain(path: &str, content: &str) -> File {
        File {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            secret: false,
        }
    }
}
