//! A libvirt domain's state as virsh prints it, and what it means for fencing.
//!
//! virsh prints `virDomainState` through `virshDomainStateToString` (libvirt
//! tools/virsh-domain-monitor.c, the `virshDomainState` enum): `no state`, `running`,
//! `idle` (VIR_DOMAIN_BLOCKED), `paused`, `in shutdown`, `shut off`, `crashed`,
//! `pmsuspended`. The words are translated on a host with another locale, so every command
//! runs with `LC_ALL=C`.
//!
//! Only `shut off` is Off: no guest runs and libvirt holds nothing of it. Every other
//! state is On for fencing, and `off` destroys the domain:
//! - `paused` and `pmsuspended`: the guest's memory is kept and it resumes (`virsh resume`,
//!   a wakeup event) with its disks open: a paused node left alone writes again;
//! - `in shutdown`: the guest still runs while it shuts down, and may never finish;
//! - `crashed`: with `on_crash=preserve` the domain keeps its resources (the QEMU process,
//!   the disk images) until it is destroyed;
//! - `no state`, `idle`, `running`: a guest exists.
//!
//! fence-agents' fence_virsh reads `in shutdown`, `crashed` and `pmsuspended` as off
//! (fence_virsh.py `get_power_status`: only running, blocked, idle, no state and paused are
//! on), so a suspended guest is reported fenced and left resumable.

use fence_core::PowerState;

/// A domain state, as virsh names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainState {
    /// `no state`.
    NoState,
    /// `running`.
    Running,
    /// `idle` (blocked on a resource).
    Idle,
    /// `paused`.
    Paused,
    /// `in shutdown`.
    InShutdown,
    /// `shut off`.
    ShutOff,
    /// `crashed`.
    Crashed,
    /// `pmsuspended`.
    PmSuspended,
}

/// Every state with virsh's word for it.
const WORDS: [(&str, DomainState); 8] = [
    ("no state", DomainState::NoState),
    ("running", DomainState::Running),
    ("idle", DomainState::Idle),
    ("paused", DomainState::Paused),
    ("in shutdown", DomainState::InShutdown),
    ("shut off", DomainState::ShutOff),
    ("crashed", DomainState::Crashed),
    ("pmsuspended", DomainState::PmSuspended),
];

impl DomainState {
    /// The state virsh printed as `word` (`virsh domstate`'s whole line).
    pub fn parse(word: &str) -> Option<DomainState> {
        let word = word.trim();
        WORDS.iter().find(|(w, _)| *w == word).map(|&(_, s)| s)
    }

    /// The state at the end of a `virsh list --all` row, and the row before it.
    pub fn at_end(row: &str) -> Option<(&str, DomainState)> {
        let row = row.trim_end();
        WORDS.iter().find_map(|&(w, s)| {
            row.strip_suffix(w)
                .filter(|before| before.ends_with(' '))
                .map(|before| (before, s))
        })
    }

    /// What it means for fencing: Off only when no guest runs and nothing is held.
    pub fn power(self) -> PowerState {
        match self {
            DomainState::ShutOff => PowerState::Off,
            _ => PowerState::On,
        }
    }

    /// virsh's word for it.
    pub fn word(self) -> &'static str {
        WORDS
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("no state", |(w, _)| *w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shut_off_is_off() {
        for (word, state) in WORDS {
            assert_eq!(DomainState::parse(word), Some(state));
            assert_eq!(state.word(), word);
            let due = if word == "shut off" {
                PowerState::Off
            } else {
                PowerState::On
            };
            assert_eq!(state.power(), due, "{word}");
        }
        assert_eq!(DomainState::parse("shut"), None);
        assert_eq!(DomainState::parse("running\n"), Some(DomainState::Running));
    }

    #[test]
    fn a_list_row_ends_with_its_state() {
        assert_eq!(
            DomainState::at_end(" 1    web 01   running"),
            Some((" 1    web 01   ", DomainState::Running))
        );
        assert_eq!(
            DomainState::at_end(" -    db   shut off  "),
            Some((" -    db   ", DomainState::ShutOff))
        );
        assert_eq!(DomainState::at_end("nothing here"), None);
    }
}
