//! Log files (`debug_file`, `event_log`) opened and written without ever holding up
//! fencing.
//!
//! - The path is examined and opened in a thread of its own, waited for at most a bound
//!   ([`OPEN_BOUND`]): a hung network file system costs that bound, not the fencing.
//! - A FIFO or a socket is refused: opening a FIFO for writing waits for a reader, and
//!   writing to one waits while its buffer is full. The open itself is non-blocking
//!   (`O_NONBLOCK | O_NOCTTY`), should the path turn into one between the check and the
//!   open; the opened file is checked again.
//! - Regular files and character devices (`/dev/null`) are taken, opened for appending,
//!   created with mode 0640 when missing.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long opening a log file may take before the run goes on without it.
pub(crate) const OPEN_BOUND: Duration = Duration::from_secs(2);

/// Why a log file was not opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The path names something that is not a file (`a FIFO`, `a socket`, ...).
    NotAFile(&'static str),
    /// The open failed.
    Io(std::io::Error),
    /// The open did not finish within the bound (a hung file system).
    TimedOut(Duration),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::NotAFile(kind) => write!(
                f,
                "it is {kind}, not a regular file (writing to it could block the agent)"
            ),
            OpenError::Io(e) => write!(f, "{e}"),
            OpenError::TimedOut(bound) => write!(
                f,
                "it did not open within {} s (a hung file system?)",
                bound.as_secs_f64()
            ),
        }
    }
}

/// What kind of thing a file type is, when it is not one a log may go to.
fn refused_kind(t: std::fs::FileType) -> Option<&'static str> {
    if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_dir() {
        Some("a directory")
    } else {
        None
    }
}

/// Opens `path` for appending, in the calling thread; may block on a hung file system.
pub(crate) fn open_now(path: &Path) -> Result<File, OpenError> {
    if let Ok(meta) = std::fs::metadata(path) {
        if let Some(kind) = refused_kind(meta.file_type()) {
            return Err(OpenError::NotAFile(kind));
        }
    }
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if let Some(kind) = refused_kind(meta.file_type()) {
        return Err(OpenError::NotAFile(kind));
    }
    Ok(file)
}

/// Opens `path` for appending, waiting at most `bound` (see the module documentation).
pub(crate) fn open_append(path: &Path, bound: Duration) -> Result<File, OpenError> {
    let owned: PathBuf = path.to_owned();
    bounded(bound, move || open_now(&owned)).unwrap_or(Err(OpenError::TimedOut(bound)))
}

/// Runs `work` in a thread of its own and waits at most `bound` for its result; `None`
/// when it takes longer (the thread is left to finish or to die with the process) or when
/// no thread can be started.
pub(crate) fn bounded<T: Send + 'static>(
    bound: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("log-file".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .ok()?;
    rx.recv_timeout(bound).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fence-logfile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }

    #[test]
    fn a_fifo_without_a_reader_is_refused_at_once() {
        let d = dir("fifo");
        let fifo = d.join("fifo");
        mkfifo(&fifo);
        let started = Instant::now();
        let e = open_append(&fifo, Duration::from_secs(5)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1), "{e}");
        assert!(e.to_string().contains("a FIFO, not a regular file"), "{e}");
    }

    #[test]
    fn a_fifo_with_a_reader_is_refused_too() {
        let d = dir("fifo-reader");
        let fifo = d.join("fifo");
        mkfifo(&fifo);
        let _reader = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&fifo)
            .unwrap();
        let e = open_append(&fifo, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, OpenError::NotAFile("a FIFO")), "{e}");
    }

    #[test]
    fn files_and_dev_null_are_opened_for_appending() {
        let d = dir("file");
        let path = d.join("log");
        std::fs::write(&path, "first\n").unwrap();
        let mut f = open_append(&path, OPEN_BOUND).unwrap();
        std::io::Write::write_all(&mut f, b"second\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\nsecond\n");
        assert!(open_append(Path::new("/dev/null"), OPEN_BOUND).is_ok());
        assert!(matches!(
            open_append(&d, OPEN_BOUND).unwrap_err(),
            OpenError::NotAFile("a directory")
        ));
        assert!(matches!(
            open_append(&d.join("no/such/dir"), OPEN_BOUND).unwrap_err(),
            OpenError::Io(_)
        ));
    }

    #[test]
    fn work_that_takes_longer_than_the_bound_is_left_behind() {
        let started = Instant::now();
        let r = bounded(Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_secs(3));
            1
        });
        assert_eq!(r, None);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(bounded(Duration::from_secs(5), || 2), Some(2));
    }
}
