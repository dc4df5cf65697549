//! Files read and written during a run (`ssl_ca_file`, `ssl_known_hosts_file`), each within
//! [`FILE_BOUND`]: the work runs in a thread of its own, so a hung file system costs the
//! bound and no more; and only regular files are taken (opening a FIFO waits for a writer).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bound on reading or appending to one file.
pub(crate) const FILE_BOUND: Duration = Duration::from_secs(2);

/// The file's bytes; `Ok(None)` when it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let path: PathBuf = path.to_owned();
    bounded(move || read_regular(&path))
        .unwrap_or_else(|| Err(format!("not read within {} s", FILE_BOUND.as_secs())))
}

/// Appends `text` to the file (made when missing) in one write.
pub(crate) fn append(path: &Path, text: &str) -> Result<(), String> {
    let (path, text): (PathBuf, String) = (path.to_owned(), text.to_owned());
    bounded(move || append_regular(&path, &text))
        .unwrap_or_else(|| Err(format!("not written within {} s", FILE_BOUND.as_secs())))
}

fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(m) if !m.is_file() => return Err("not a regular file".to_owned()),
        Ok(_) => {}
    }
    std::fs::read(path).map(Some).map_err(|e| e.to_string())
}

fn append_regular(path: &Path, text: &str) -> Result<(), String> {
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() {
            return Err("not a regular file".to_owned());
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    // One write of the whole text: concurrent agents append whole lines.
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

/// Runs `work` in a thread of its own, waiting at most [`FILE_BOUND`]; `None` past it (the
/// thread is left to finish or to end with the process).
fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("fence-redfish-file".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .ok()?;
    rx.recv_timeout(FILE_BOUND).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once_and_a_missing_file_is_none() {
        let dir = std::env::temp_dir().join(format!(
            "fence-redfish-files-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let started = std::time::Instant::now();
        assert_eq!(read(&fifo).unwrap_err(), "not a regular file");
        assert_eq!(append(&fifo, "x").unwrap_err(), "not a regular file");
        assert!(started.elapsed() < FILE_BOUND);
        assert_eq!(read(&dir.join("missing")).unwrap(), None);
        append(&dir.join("new"), "a\n").unwrap();
        append(&dir.join("new"), "b\n").unwrap();
        assert_eq!(read(&dir.join("new")).unwrap().unwrap(), b"a\nb\n");
    }
}
