//! `fence-agent install` and `uninstall`: a copy of this executable in a directory, one
//! link per agent name to that copy, and a record of both so that `uninstall` removes
//! exactly what `install` made.
//!
//! - The executable is **copied** into DIR under its own file name (`DIR/fence-agent`),
//!   through a temporary file and a rename, so `cargo clean` or a rebuild never breaks an
//!   installed agent and an agent running during an upgrade keeps its old file. When the
//!   running executable already is that file (a package's `/usr/sbin/fence-agent`), nothing
//!   is copied.
//! - The links are relative (`fence_rs_ipmilan -> fence-agent`). Debian's fence-agents
//!   installs Python agents under the standard names in /usr/sbin, so the default names
//!   carry a prefix of our own; `--prefix fence_` installs the standard names instead.
//! - An existing file that is not one of our links is never replaced without `--force`;
//!   with it, the file is kept as `DIR/.NAME.fence-rs-saved` (a name Pacemaker does not
//!   list as an agent) and `uninstall` puts it back.
//! - The record is `DIR/.fence-rs-install`, one line per thing made: `copy NAME`, `link
//!   NAME TARGET`, `saved NAME`. `uninstall` removes this program's links (only those with
//!   `--prefix` when given), restores what they had replaced, and removes the copy once no
//!   recorded link uses it; a link someone else made or changed is left alone and named.
//!
//! A packaged installation needs none of this (the package manager owns its files); see
//! packaging/README.md.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::agents::{self, DEFAULT_PREFIX};

/// The record of what install made in a directory.
const RECORD: &str = ".fence-rs-install";

/// The options of `install` and `uninstall`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstallOptions {
    /// The directory to install into.
    pub dir: PathBuf,
    /// The name prefix replacing `fence_` (default `fence_rs_`); `None` for `uninstall`
    /// without `--prefix` (every name).
    pub prefix: Option<String>,
    /// Replace (and keep) existing files that are not our links.
    pub force: bool,
}

/// Parses `install --dir DIR [--prefix P] [--force]` (and the same for `uninstall`).
pub(crate) fn parse(args: &[String]) -> Result<InstallOptions, String> {
    let mut dir = None;
    let mut prefix = None;
    let mut force = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("Failed: install: {what} needs a value"))
        };
        match name {
            "--dir" | "-d" => dir = Some(PathBuf::from(value("--dir")?)),
            "--prefix" => prefix = Some(value("--prefix")?),
            "--force" | "-f" => force = true,
            other => return Err(format!("Failed: install: unknown argument '{other}'")),
        }
    }
    let dir = dir.ok_or("Failed: install: --dir DIR is required")?;
    if let Some(p) = &prefix {
        if !p.starts_with("fence") || !(p.ends_with('_') || p.ends_with('-')) || p.contains('/') {
            return Err(format!(
                "Failed: install: the prefix must start with 'fence' and end with '_' or '-' \
                 (got '{p}'); Pacemaker lists only agents named fence_*"
            ));
        }
    }
    Ok(InstallOptions { dir, prefix, force })
}

/// One line of the record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Made {
    /// The copy of an executable, by file name.
    Copy(String),
    /// A link: its name and the copy it points to.
    Link(String, String),
    /// A foreign file a link replaced, kept as `.NAME.fence-rs-saved`.
    Saved(String),
}

impl Made {
    /// One line of the record; `None` for anything else, and for a name that is not a
    /// plain file name in DIR (no `/`, no leading `.`), so a tampered record cannot name a
    /// file elsewhere.
    fn parse(line: &str) -> Option<Made> {
        let mut words = line.split(' ');
        let made = match (words.next(), words.next(), words.next()) {
            (Some("copy"), Some(n), None) => Made::Copy(n.to_owned()),
            (Some("link"), Some(n), Some(t)) => Made::Link(n.to_owned(), t.to_owned()),
            (Some("saved"), Some(n), None) => Made::Saved(n.to_owned()),
            _ => return None,
        };
        let plain = |n: &str| !n.is_empty() && !n.contains('/') && !n.starts_with('.');
        let names_ok = match &made {
            Made::Copy(n) | Made::Saved(n) => plain(n),
            Made::Link(n, t) => plain(n) && plain(t),
        };
        (words.next().is_none() && names_ok).then_some(made)
    }

    /// The record's line for this entry.
    fn line(&self) -> String {
        match self {
            Made::Copy(n) => format!("copy {n}"),
            Made::Link(n, t) => format!("link {n} {t}"),
            Made::Saved(n) => format!("saved {n}"),
        }
    }
}

/// The record of `dir`: what install made there.
#[derive(Debug, Default)]
struct Record {
    dir: PathBuf,
    made: BTreeSet<Made>,
}

impl Record {
    /// Reads `dir`'s record (empty when there is none).
    fn load(dir: &Path) -> Result<Record, String> {
        let path = dir.join(RECORD);
        let made = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    Made::parse(l).ok_or_else(|| {
                        format!(
                            "Failed: install: {} has a line I do not understand: '{l}'",
                            path.display()
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => {
                return Err(format!(
                    "Failed: install: cannot read {}: {e}",
                    path.display()
                ));
            }
        };
        Ok(Record {
            dir: dir.to_owned(),
            made,
        })
    }

    /// Writes the record (through a rename), or removes it when empty.
    fn save(&self) -> Result<(), String> {
        let path = self.dir.join(RECORD);
        if self.made.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!(
                    "Failed: install: cannot remove {}: {e}",
                    path.display()
                )),
                _ => Ok(()),
            };
        }
        let text: String = self.made.iter().map(|m| m.line() + "\n").collect();
        write_replacing(&path, text.as_bytes(), 0o644)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("Failed: install: cannot write {}: {e}", path.display())
    })
}

/// The running executable and its file name.
fn this_executable() -> Result<(PathBuf, String), String> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("Failed: install: cannot find this executable: {e}"))?;
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or("Failed: install: this executable has no file name")?;
    Ok((exe, name))
}

/// True when `path` is a symlink to the copy called `copy` (relative, as install makes
/// them, or to any file of that name, as earlier versions linked into the build folder).
fn is_link_to(path: &Path, copy: &str) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::read_link(path)
            .is_ok_and(|t| t.file_name().is_some_and(|n| n.to_string_lossy() == copy))
}

/// The name a replaced file is kept under: hidden, so Pacemaker does not list it.
fn saved_name(name: &str) -> String {
    format!(".{name}.fence-rs-saved")
}

/// Installs this executable into `dir` under `names` (links to its copy); returns the
/// lines to print. Nothing is changed when a name is taken by a foreign file and `force`
/// is not set.
pub(crate) fn install_names(
    dir: &Path,
    names: &[String],
    force: bool,
) -> Result<Vec<String>, String> {
    let (exe, copy) = this_executable()?;
    if !dir.is_dir() {
        return Err(format!(
            "Failed: install: {} is not a directory",
            dir.display()
        ));
    }
    let mut record = Record::load(dir)?;
    let target = dir.join(&copy);
    let same_file = target.canonicalize().is_ok_and(|t| t == exe);
    // A file of the copy's name that install did not make (a package's binary) is foreign too.
    let foreign_copy = !same_file
        && target.symlink_metadata().is_ok()
        && !record.made.contains(&Made::Copy(copy.clone()));
    // Every foreign file first, so a refusal changes nothing.
    let foreign: Vec<&String> = foreign_copy
        .then_some(&copy)
        .into_iter()
        .chain(names.iter().filter(|n| {
            let p = dir.join(n);
            p.symlink_metadata().is_ok() && !is_link_to(&p, &copy)
        }))
        .collect();
    if !foreign.is_empty() && !force {
        return Err(format!(
            "Failed: install: {} exist{} in {} and {} not made by install; not replacing without \
             --force (which keeps each as .NAME.fence-rs-saved for uninstall to restore)",
            foreign
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if foreign.len() == 1 { "s" } else { "" },
            dir.display(),
            if foreign.len() == 1 { "is" } else { "are" },
        ));
    }
    // Each step keeps the name in place (a hard link keeps the replaced file, a rename puts
    // the new one over it) and is recorded at once, so an error half way leaves a record
    // that uninstall can undo.
    let mut lines = Vec::new();
    if foreign_copy {
        keep(dir, &copy, &mut record)?;
        lines.push(format!(
            "{} kept as {}",
            target.display(),
            dir.join(saved_name(&copy)).display()
        ));
    }
    if !same_file {
        let bytes = std::fs::read(&exe)
            .map_err(|e| format!("Failed: install: cannot read {}: {e}", exe.display()))?;
        write_replacing(&target, &bytes, 0o755)?;
        record.made.insert(Made::Copy(copy.clone()));
        record.save()?;
        lines.push(format!("{} (copy of {})", target.display(), exe.display()));
    }
    for name in names {
        let path = dir.join(name);
        if std::fs::read_link(&path).is_ok_and(|t| t == Path::new(&copy)) {
            if !record
                .made
                .contains(&Made::Link(name.clone(), copy.clone()))
            {
                // A link of the same shape that install did not make (a package's): not ours
                // to record, so uninstall leaves it.
                lines.push(format!(
                    "{} -> {copy} (already there, not recorded)",
                    path.display()
                ));
            } else {
                lines.push(format!("{} -> {copy} (already there)", path.display()));
            }
            continue;
        }
        if path.symlink_metadata().is_ok() && !is_link_to(&path, &copy) {
            keep(dir, name, &mut record)?;
            lines.push(format!(
                "{} kept as {}",
                path.display(),
                dir.join(saved_name(name)).display()
            ));
        }
        link_replacing(&copy, &path)?;
        record.made.insert(Made::Link(name.clone(), copy.clone()));
        record.save()?;
        lines.push(format!("{} -> {copy}", path.display()));
    }
    Ok(lines)
}

/// Keeps `dir/name` as `dir/.name.fence-rs-saved` (a hard link: the name stays in place
/// until its replacement is renamed over it) and records it.
fn keep(dir: &Path, name: &str, record: &mut Record) -> Result<(), String> {
    let path = dir.join(name);
    let saved = dir.join(saved_name(name));
    let _ = std::fs::remove_file(&saved); // a leftover of an earlier, unrecorded run
    std::fs::hard_link(&path, &saved)
        .map_err(|e| format!("Failed: install: cannot keep {}: {e}", path.display()))?;
    record.made.insert(Made::Saved(name.to_owned()));
    record.save()
}

/// Makes `path` a symlink to `target` through a temporary link renamed over it, so the
/// name never goes missing (a fence operation at that moment still finds an agent).
fn link_replacing(target: &str, path: &Path) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.link.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("Failed: install: cannot create {}: {e}", path.display())
        })
}

/// `install`: every agent name with the prefix.
pub(crate) fn install(opts: &InstallOptions) -> Result<Vec<String>, String> {
    let prefix = opts.prefix.as_deref().unwrap_or(DEFAULT_PREFIX);
    let names: Vec<String> = agents::all()
        .iter()
        .map(|a| format!("{prefix}{}", a.suffix()))
        .collect();
    install_names(&opts.dir, &names, opts.force)
}

/// `uninstall`: removes this program's recorded links (the agent names with the prefix
/// when given; every link, the alert agent's too, without),
/// restores the files they replaced, and removes the copy once no recorded link uses it.
pub(crate) fn uninstall(opts: &InstallOptions) -> Result<Vec<String>, String> {
    let (_, copy) = this_executable().map_err(|e| e.replacen("install:", "uninstall:", 1))?;
    let dir = &opts.dir;
    let mut record = Record::load(dir)?;
    let mut lines = Vec::new();
    let chosen: Vec<String> = record
        .made
        .iter()
        .filter_map(|m| match m {
            Made::Link(n, t) if *t == copy => Some(n.clone()),
            _ => None,
        })
        .filter(|n| {
            opts.prefix.as_ref().is_none_or(|p| {
                agents::all()
                    .iter()
                    .any(|a| *n == format!("{p}{}", a.suffix()))
            })
        })
        .collect();
    for name in &chosen {
        let path = dir.join(name);
        record.made.remove(&Made::Link(name.clone(), copy.clone()));
        if is_link_to(&path, &copy) {
            std::fs::remove_file(&path)
                .map_err(|e| format!("Failed: uninstall: cannot remove {}: {e}", path.display()))?;
            lines.push(format!("removed {}", path.display()));
        } else if path.symlink_metadata().is_ok() {
            lines.push(format!("left {} (no longer our link)", path.display()));
            continue;
        }
        if record.made.remove(&Made::Saved(name.clone())) {
            let saved = dir.join(saved_name(name));
            std::fs::rename(&saved, &path).map_err(|e| {
                format!("Failed: uninstall: cannot restore {}: {e}", path.display())
            })?;
            lines.push(format!("restored {}", path.display()));
        }
    }
    let still_used = record
        .made
        .iter()
        .any(|m| matches!(m, Made::Link(_, t) if *t == copy));
    if !still_used && record.made.remove(&Made::Copy(copy.clone())) {
        let path = dir.join(&copy);
        match std::fs::remove_file(&path) {
            Ok(()) => lines.push(format!("removed {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "Failed: uninstall: cannot remove {}: {e}",
                    path.display()
                ));
            }
        }
        if record.made.remove(&Made::Saved(copy.clone())) {
            std::fs::rename(dir.join(saved_name(&copy)), &path).map_err(|e| {
                format!("Failed: uninstall: cannot restore {}: {e}", path.display())
            })?;
            lines.push(format!("restored {}", path.display()));
        }
    }
    record.save()?;
    if lines.is_empty() {
        lines.push(format!("nothing of {copy} installed in {}", dir.display()));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_round_trip() {
        for m in [
            Made::Copy("fence-agent".into()),
            Made::Link("fence_rs_vbox".into(), "fence-agent".into()),
            Made::Saved("fence_ipmilan".into()),
        ] {
            assert_eq!(Made::parse(&m.line()), Some(m.clone()));
        }
        assert_eq!(Made::parse("link a"), None);
        assert_eq!(Made::parse("copy a b"), None);
        assert_eq!(Made::parse("remove /"), None);
        assert_eq!(Made::parse("link ../../etc/passwd fence-agent"), None);
        assert_eq!(Made::parse("saved .x"), None);
    }

    #[test]
    fn prefixes_that_pacemaker_would_not_list_are_refused() {
        let args = |p: &str| {
            vec![
                "--dir".to_owned(),
                "/tmp".to_owned(),
                "--prefix".to_owned(),
                p.to_owned(),
            ]
        };
        assert!(parse(&args("fence_")).is_ok());
        assert!(parse(&args("rs_")).is_err());
        assert!(parse(&args("fence_x/")).is_err());
        assert!(parse(&["--dir".to_owned()]).is_err());
    }
}
