//! Small state files in the data directory (users, ACLs, the HTTP token) that hold
//! secrets or decide who may do what: readable by the owner only, and
//! replaced whole, so a crash leaves the old or the new content.

use std::io::Write;
use std::path::Path;

/// Writes a temporary file (0600), fsyncs it, renames it over `path` and
/// fsyncs the directory. On error, says which step failed.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), (&'static str, std::io::Error)> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ("creating the directory of", e))?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| ("creating", e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| ("writing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| ("replacing", e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ("syncing the directory of", e))
}

/// The file's bytes; `None` if it does not exist yet.
pub(crate) fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
