//! VirtualBox's machine states, and what each one means for fencing.
//!
//! The states are VirtualBox's `MachineState` enum (`src/VBox/Main/idl/VirtualBox.xidl`);
//! the names are the short ones `VBoxManage showvminfo --machinereadable` prints as
//! `VMState="..."` (`machineStateToName(state, fShort = true)` in
//! `src/VBox/Frontends/VBoxManage/VBoxManageInfo.cpp`). Every state is one row of
//! [`STATES`]; nothing else in the backend branches on a state.
//!
//! The rule: a state reads [`PowerState::Off`] only when no VM process runs **and** nothing
//! can bring the guest back as it was. `poweroff` and `aborted` are the only such states.
//! A saved VM has no process, but `startvm` resumes its memory image, so a node that
//! believes it still holds its resources would come back after the cluster moved them: it
//! reads On until `off` discards the saved state. A teleported VM's guest runs on the
//! teleportation target, which this host cannot switch off. Every state with a VM process,
//! every transient state, and any state this table does not know, reads On.

use fence_core::PowerState;

/// What it takes to bring a VM from one state to the wanted power state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// It is there already: send nothing.
    Nothing,
    /// `controlvm <uuid> poweroff` (`IConsole::PowerDown`: a power cut, no guest shutdown).
    PowerOff,
    /// `discardstate <uuid>` (`IMachine::DiscardSavedState`): the saved memory image is
    /// deleted and the VM is powered off.
    DiscardState,
    /// `startvm <uuid> --type headless` (`IMachine::LaunchVMProcess`).
    Start,
    /// `discardstate` then `startvm`: a fresh boot, never a resume of the saved image.
    DiscardAndStart,
    /// VirtualBox itself is busy with the VM and accepts no power command until it is done
    /// (a snapshot being taken, restored or deleted while the VM is off): try again later.
    Wait,
    /// This host cannot do it: the guest runs on another host.
    Refuse,
}

/// One machine state and what fencing does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StateRow {
    /// `VMState="..."` of `showvminfo --machinereadable`.
    pub name: &'static str,
    /// The `MachineState` enum value's name in VirtualBox's API.
    pub api: &'static str,
    /// What `status` answers.
    pub power: PowerState,
    /// Whether a VM process (the guest) runs in this state.
    pub process: bool,
    /// How `off` gets there.
    pub to_off: Step,
    /// How `on` gets there.
    pub to_on: Step,
}

const fn row(
    name: &'static str,
    api: &'static str,
    power: PowerState,
    process: bool,
    to_off: Step,
    to_on: Step,
) -> StateRow {
    StateRow {
        name,
        api,
        power,
        process,
        to_off,
        to_on,
    }
}

use PowerState::{Off, On};
use Step::{DiscardAndStart, DiscardState, Nothing, PowerOff, Refuse, Start, Wait};

/// Every `MachineState` of VirtualBox 6.1 and 7.x, in the enum's order.
pub(crate) const STATES: &[StateRow] = &[
    // PoweredOff (1): no process, no saved state; startvm boots the guest afresh.
    row("poweroff", "PoweredOff", Off, false, Nothing, Start),
    // Saved (2): no process, but a memory image that startvm resumes: not fenced until
    // discardstate drops it (Console::PowerDown refuses a saved VM).
    row("saved", "Saved", On, false, DiscardState, DiscardAndStart),
    // Teleported (3): this registration is off, but the guest was moved to, and runs on,
    // the teleportation target; starting it here too would share its disks. Not fenced.
    row("teleported", "Teleported", On, false, Refuse, Refuse),
    // Aborted (4): the VM process died (host crash, kill -9); no saved state.
    row("aborted", "Aborted", Off, false, Nothing, Start),
    // AbortedSaved (5, VirtualBox 7.0+): the process died while a saved state exists;
    // startvm would restore it, as for Saved.
    row(
        "aborted-saved",
        "AbortedSaved",
        On,
        false,
        DiscardState,
        DiscardAndStart,
    ),
    // Running (6): the guest runs.
    row("running", "Running", On, true, PowerOff, Nothing),
    // Paused (7): the guest is frozen in memory and resumes with one command.
    row("paused", "Paused", On, true, PowerOff, Nothing),
    // Stuck (8): guru meditation; the process is alive and PowerDown accepts it.
    row("gurumeditation", "Stuck", On, true, PowerOff, Nothing),
    // Teleporting (9): the guest runs while it is sent to another host; PowerDown cancels.
    row("teleporting", "Teleporting", On, true, PowerOff, Nothing),
    // LiveSnapshotting (10): the guest runs while its snapshot is taken.
    row(
        "livesnapshotting",
        "LiveSnapshotting",
        On,
        true,
        PowerOff,
        Nothing,
    ),
    // Starting (11): the process is up and the guest about to run.
    row("starting", "Starting", On, true, PowerOff, Nothing),
    // Stopping (12): the process is powering the guest down; it ends in poweroff.
    row("stopping", "Stopping", On, true, PowerOff, Wait),
    // Saving (13): the process writes the guest's memory; it ends in saved.
    row("saving", "Saving", On, true, PowerOff, Wait),
    // Restoring (14): the process loads a saved image; the guest about to run.
    row("restoring", "Restoring", On, true, PowerOff, Nothing),
    // TeleportingPausedVM (15): a paused guest being sent to another host.
    row(
        "teleportingpausedvm",
        "TeleportingPausedVM",
        On,
        true,
        PowerOff,
        Nothing,
    ),
    // TeleportingIn (16): the process receives a guest from another host; it will run here.
    row(
        "teleportingin",
        "TeleportingIn",
        On,
        true,
        PowerOff,
        Nothing,
    ),
    // DeletingSnapshotOnline (17): the guest runs while a snapshot is deleted.
    row(
        "deletingsnapshotlive",
        "DeletingSnapshotOnline",
        On,
        true,
        PowerOff,
        Nothing,
    ),
    // DeletingSnapshotPaused (18): as above, with the guest paused.
    row(
        "deletingsnapshotlivepaused",
        "DeletingSnapshotPaused",
        On,
        true,
        PowerOff,
        Nothing,
    ),
    // OnlineSnapshotting (19): the guest runs while a snapshot with memory is taken.
    row(
        "onlinesnapshotting",
        "OnlineSnapshotting",
        On,
        true,
        PowerOff,
        Nothing,
    ),
    // RestoringSnapshot (20): VBoxSVC, not a VM process, rewrites the disks; it ends in
    // poweroff or saved (a snapshot taken online). Not confirmed off until then.
    row(
        "restoringsnapshot",
        "RestoringSnapshot",
        On,
        false,
        Wait,
        Wait,
    ),
    // DeletingSnapshot (21): VBoxSVC merges the disks of a VM that is off or saved.
    row(
        "deletingsnapshot",
        "DeletingSnapshot",
        On,
        false,
        Wait,
        Wait,
    ),
    // SettingUp (22): VBoxSVC is changing media of a VM that is off or saved.
    row("settingup", "SettingUp", On, false, Wait, Wait),
    // Snapshotting (23): an offline snapshot of a VM that is off or saved.
    row("snapshotting", "Snapshotting", On, false, Wait, Wait),
];

/// A state this table does not know (a newer VirtualBox): On, never Off, and `off` tries
/// `controlvm poweroff`, whose refusal the engine retries.
pub(crate) const UNKNOWN: StateRow = row("unknown", "unknown", On, true, PowerOff, Wait);

/// What `list runningvms` tells about a VM it lists: one of Running, Paused, Teleporting,
/// LiveSnapshotting or TeleportingPausedVM (`kListRunningVMs` in VBoxManageList.cpp), all
/// of which have a process and take `controlvm poweroff`.
pub(crate) const LISTED_RUNNING: StateRow = row(
    "runningvms",
    "listed by list runningvms",
    On,
    true,
    PowerOff,
    Nothing,
);

/// The row of a `VMState` name; [`UNKNOWN`] for a name not in the table.
pub(crate) fn lookup(name: &str) -> StateRow {
    STATES
        .iter()
        .find(|r| r.name == name)
        .copied()
        .unwrap_or(UNKNOWN)
}

/// The `VMState` value of `showvminfo --machinereadable` output: `None` unless exactly one
/// line holds it (a second one, say from a multi-line description, makes it unknown).
pub(crate) fn parse_vmstate(stdout: &str) -> Option<&str> {
    let mut values = machinereadable_values(stdout, "VMState");
    match (values.next(), values.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

/// The values of `key="value"` (or `key=value`) lines in `--machinereadable` output.
fn machinereadable_values<'a>(stdout: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> {
    stdout.lines().filter_map(move |line| {
        let value = line
            .trim_end_matches('\r')
            .strip_prefix(key)?
            .strip_prefix('=')?;
        Some(
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_with_a_process_reads_on() {
        for row in STATES.iter().chain([&UNKNOWN, &LISTED_RUNNING]) {
            if row.process {
                assert_eq!(row.power, On, "{}", row.name);
                assert_ne!(row.to_off, Nothing, "{}", row.name);
            }
        }
    }

    #[test]
    fn only_poweroff_and_aborted_read_off() {
        let off: Vec<&str> = STATES
            .iter()
            .filter(|r| r.power == Off)
            .map(|r| r.name)
            .collect();
        assert_eq!(off, ["poweroff", "aborted"]);
        assert_eq!(lookup("some-future-state").power, On);
        assert_eq!(lookup("").power, On);
    }

    #[test]
    fn table_holds_virtualbox_s_23_states_once() {
        assert_eq!(STATES.len(), 23);
        for (i, a) in STATES.iter().enumerate() {
            assert!(
                STATES[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
        // A saved image is never resumed by on or reboot.
        for name in ["saved", "aborted-saved"] {
            assert_eq!(lookup(name).to_off, DiscardState);
            assert_eq!(lookup(name).to_on, DiscardAndStart);
        }
    }

    #[test]
    fn vmstate_is_read_from_machinereadable_output() {
        let out = "name=\"vm1\"\r\nUUID=\"2ad5\"\r\nVMState=\"gurumeditation\"\r\n\
                   VMStateChangeTime=\"2026-01-01T00:00:00.000000000\"\r\n";
        assert_eq!(parse_vmstate(out), Some("gurumeditation"));
        assert_eq!(machinereadable_values(out, "UUID").next(), Some("2ad5"));
        let twice = format!("{out}VMState=\"poweroff\"\n");
        assert_eq!(parse_vmstate(&twice), None, "two VMState lines");
        assert_eq!(parse_vmstate("VMStateChangeTime=\"x\"\n"), None);
        assert_eq!(parse_vmstate("name=\"VMState=\\\"poweroff\\\"\"\n"), None);
        assert_eq!(parse_vmstate(""), None);
    }
}
