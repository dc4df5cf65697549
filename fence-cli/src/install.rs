//! `fence-agent install`: one symlink per agent name, pointing at this executable.
//!
//! Debian's fence-agents installs Python agents under the standard names in /usr/sbin, so
//! the default names carry a prefix of our own (`fence_rs_ipmilan`, ...). `--prefix fence_`
//! installs under the standard names instead. An existing file that is not already a link
//! to this executable is never replaced without `--force`.

use std::path::{Path, PathBuf};

use crate::agents::{self, DEFAULT_PREFIX};

/// The options of `install`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstallOptions {
    /// The directory to create the links in.
    pub dir: PathBuf,
    /// The name prefix replacing `fence_` (default `fence_rs_`).
    pub prefix: String,
    /// Replace existing files that are not our links.
    pub force: bool,
}

/// Parses `install --dir DIR [--prefix P] [--force]`.
pub(crate) fn parse(args: &[String]) -> Result<InstallOptions, String> {
    let mut dir = None;
    let mut prefix = DEFAULT_PREFIX.to_owned();
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
                .ok_or_else(|| format!("install: {what} needs a value"))
        };
        match name {
            "--dir" | "-d" => dir = Some(PathBuf::from(value("--dir")?)),
            "--prefix" => prefix = value("--prefix")?,
            "--force" | "-f" => force = true,
            other => return Err(format!("install: unknown argument '{other}'")),
        }
    }
    let dir = dir.ok_or("install: --dir DIR is required")?;
    if !prefix.starts_with("fence") || !(prefix.ends_with('_') || prefix.ends_with('-')) {
        return Err(format!(
            "install: the prefix must start with 'fence' and end with '_' or '-' (got '{prefix}'); \
             Pacemaker lists only agents named fence_*"
        ));
    }
    Ok(InstallOptions { dir, prefix, force })
}

/// True when `path` is a symlink that resolves to `exe`.
fn is_our_link(path: &Path, exe: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
        && path.canonicalize().is_ok_and(|p| p == exe)
}

/// Creates the links; returns the lines to print, or the first error.
pub(crate) fn install(opts: &InstallOptions) -> Result<Vec<String>, String> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("install: cannot find this executable: {e}"))?;
    if !opts.dir.is_dir() {
        return Err(format!(
            "install: {} is not a directory",
            opts.dir.display()
        ));
    }
    let mut done = Vec::new();
    for agent in agents::all() {
        let name = format!("{}{}", opts.prefix, agent.suffix());
        let path = opts.dir.join(&name);
        if is_our_link(&path, &exe) {
            done.push(format!(
                "{} -> {} (already there)",
                path.display(),
                exe.display()
            ));
            continue;
        }
        if path.symlink_metadata().is_ok() {
            if !opts.force {
                return Err(format!(
                    "install: {} exists and is not a link to {}; not replacing it without --force",
                    path.display(),
                    exe.display()
                ));
            }
            std::fs::remove_file(&path)
                .map_err(|e| format!("install: cannot remove {}: {e}", path.display()))?;
        }
        std::os::unix::fs::symlink(&exe, &path)
            .map_err(|e| format!("install: cannot create {}: {e}", path.display()))?;
        done.push(format!("{} -> {}", path.display(), exe.display()));
    }
    Ok(done)
}
