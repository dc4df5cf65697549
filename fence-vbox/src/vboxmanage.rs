//! `VBoxManage` command lines and output, as `fence_vbox` uses them.

use fence_core::{Error, Result};

use crate::config::{HostOs, VboxConfig};

/// Builds `VBoxManage` command lines for one host (OS, path, sudo).
#[derive(Clone, Debug)]
pub(crate) struct VBoxManage {
    /// `[sudo -n ]VBoxManage`, quoted for the host's shell.
    program: String,
    os: HostOs,
}

/// A VM as `VBoxManage list vms` prints it: `"name" {uuid}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Vm {
    pub name: String,
    pub uuid: String,
}

impl VBoxManage {
    pub(crate) fn new(cfg: &VboxConfig) -> Result<VBoxManage> {
        let os = cfg.host_os;
        // fence_vbox's own Windows default opens a quote and never closes it (for cmd.exe);
        // accept such a value and quote the path properly instead.
        let path = cfg.vboxmanage_path.trim();
        let path = match path.strip_prefix('"') {
            Some(rest) => rest.strip_suffix('"').unwrap_or(rest),
            None => path,
        };
        if path.is_empty() {
            return Err(Error::invalid_input("vboxmanage_path must not be empty"));
        }
        let mut program = String::new();
        if let Some(sudo) = &cfg.sudo_path {
            program.push_str(&quote_for(os, sudo)?);
            program.push_str(" -n ");
        }
        program.push_str(&quote_for(os, path)?);
        Ok(VBoxManage { program, os })
    }

    fn quote(&self, arg: &str) -> Result<String> {
        quote_for(self.os, arg)
    }

    /// `VBoxManage list vms`.
    pub(crate) fn list_vms(&self) -> String {
        format!("{} list vms", self.program)
    }

    /// `VBoxManage list runningvms`.
    pub(crate) fn list_running(&self) -> String {
        format!("{} list runningvms", self.program)
    }

    /// `VBoxManage startvm <vm> --type headless`.
    pub(crate) fn startvm(&self, vm: &str) -> Result<String> {
        Ok(format!(
            "{} startvm {} --type headless",
            self.program,
            self.quote(vm)?
        ))
    }

    /// `VBoxManage controlvm <vm> poweroff`.
    pub(crate) fn poweroff(&self, vm: &str) -> Result<String> {
        Ok(format!(
            "{} controlvm {} poweroff",
            self.program,
            self.quote(vm)?
        ))
    }

    /// `VBoxManage showvminfo <vm> --machinereadable`.
    pub(crate) fn showvminfo(&self, vm: &str) -> Result<String> {
        Ok(format!(
            "{} showvminfo {} --machinereadable",
            self.program,
            self.quote(vm)?
        ))
    }

    /// `VBoxManage discardstate <vm>`.
    pub(crate) fn discardstate(&self, vm: &str) -> Result<String> {
        Ok(format!("{} discardstate {}", self.program, self.quote(vm)?))
    }
}

fn quote_for(os: HostOs, arg: &str) -> Result<String> {
    os.shell().quote(arg)
}

/// Parses `list vms` / `list runningvms` output. Lines that are not `"name" {uuid}`
/// (warnings some VirtualBox versions print) are skipped.
pub(crate) fn parse_list(stdout: &str) -> Vec<Vm> {
    stdout
        .lines()
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            let rest = line.strip_prefix('"')?;
            let (name, uuid) = rest.rsplit_once("\" {")?;
            let uuid = uuid.strip_suffix('}')?;
            if uuid.is_empty() || uuid.contains(['{', '}', ' ']) {
                return None;
            }
            Some(Vm {
                name: name.to_owned(),
                uuid: uuid.to_owned(),
            })
        })
        .collect()
}

/// Strips braces and compares case-insensitively: `{2AD5...}` names the same VM.
pub(crate) fn same_uuid(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        s.trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .to_ascii_lowercase()
    };
    let (a, b) = (strip(a), strip(b));
    !a.is_empty() && a == b
}

/// The VM a plug names: by name first, then by UUID (as fence_vbox matches).
pub(crate) fn find<'a>(vms: &'a [Vm], plug: &str) -> Option<&'a Vm> {
    vms.iter()
        .find(|vm| vm.name == plug)
        .or_else(|| vms.iter().find(|vm| same_uuid(&vm.uuid, plug)))
}

/// VirtualBox's message from a failed command's stderr: the `VBoxManage: error:` lines
/// without the Details/Context lines, else the last non-empty line.
pub(crate) fn error_message(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("VBoxManage: error: "))
        .filter(|l| !l.starts_with("Details:") && !l.starts_with("Context:"))
        .collect();
    if !errors.is_empty() {
        return errors.join("; ");
    }
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("(no message)")
        .to_owned()
}

/// True when VirtualBox says the VM does not exist.
pub(crate) fn is_not_found(stderr: &str) -> bool {
    stderr.contains("Could not find a registered machine")
}

/// True when VirtualBox refused a command because of the machine's state or its session
/// lock, which change by themselves: `VBOX_E_INVALID_VM_STATE` ("Invalid machine state:
/// Starting", "The virtual machine is being powered down"), `VBOX_E_INVALID_OBJECT_STATE`
/// ("already locked by a session") and controlvm's "Machine '...' is not currently running"
/// (VBoxManageControlVM.cpp, printed without a code).
pub(crate) fn is_state_refusal(stderr: &str) -> bool {
    stderr.contains("VBOX_E_INVALID_VM_STATE")
        || stderr.contains("VBOX_E_INVALID_OBJECT_STATE")
        || stderr.contains("is not currently running")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_output_is_parsed_with_hostile_names() {
        let out = "\"vm1\" {2ad5a6a6-7c3e-4d0a-9d1c-1b1e8f7f0a01}\r\n\
                   \"vm with space\" {4cf7c8c8-9e50-4f2c-bf3e-3d30a19f2c03}\n\
                   \"it's \"quoted\" {x}\" {aaaaaaaa-0000-0000-0000-000000000001}\n\
                   WARNING: something\n\
                   \"<inaccessible>\" {bbbbbbbb-0000-0000-0000-000000000002}\n";
        let vms = parse_list(out);
        assert_eq!(vms.len(), 4, "{vms:?}");
        assert_eq!(vms[0].name, "vm1");
        assert_eq!(vms[0].uuid, "2ad5a6a6-7c3e-4d0a-9d1c-1b1e8f7f0a01");
        assert_eq!(vms[1].name, "vm with space");
        assert_eq!(vms[2].name, "it's \"quoted\" {x}");
        assert_eq!(vms[3].name, "<inaccessible>");
    }

    #[test]
    fn plug_matches_name_before_uuid() {
        let vms = vec![
            Vm {
                name: "a".into(),
                uuid: "1111".into(),
            },
            Vm {
                name: "1111".into(),
                uuid: "2222".into(),
            },
        ];
        assert_eq!(find(&vms, "1111").map(|v| v.uuid.as_str()), Some("2222"));
        assert_eq!(find(&vms, "{2222}").map(|v| v.name.as_str()), Some("1111"));
        assert_eq!(find(&vms, "a").map(|v| v.uuid.as_str()), Some("1111"));
        assert_eq!(find(&vms, "b"), None);
        assert_eq!(find(&vms, ""), None);
    }

    #[test]
    fn command_lines_per_os_and_sudo() {
        let linux = VBoxManage::new(&VboxConfig::new("h", "u")).unwrap();
        assert_eq!(linux.list_running(), "VBoxManage list runningvms");
        assert_eq!(
            linux.startvm("vm 1").unwrap(),
            "VBoxManage startvm 'vm 1' --type headless"
        );
        assert_eq!(
            linux.poweroff("a';touch x;'").unwrap(),
            r"VBoxManage controlvm 'a'\'';touch x;'\''' poweroff"
        );
        let sudo = VBoxManage::new(
            &VboxConfig::new("h", "u")
                .host_os(HostOs::Macos)
                .sudo("/usr/bin/sudo"),
        )
        .unwrap();
        assert_eq!(
            sudo.list_vms(),
            "/usr/bin/sudo -n /Applications/VirtualBox.app/Contents/MacOS/VBoxManage list vms"
        );
        let win = VBoxManage::new(&VboxConfig::new("h", "u").host_os(HostOs::Windows)).unwrap();
        assert_eq!(
            win.list_vms(),
            "^\"/Program Files/Oracle/VirtualBox/VBoxManage.exe^\" list vms"
        );
        let compat = VBoxManage::new(
            &VboxConfig::new("h", "u")
                .host_os(HostOs::Windows)
                .vboxmanage_path("\"/Program Files/Oracle/VirtualBox/VBoxManage.exe"),
        )
        .unwrap();
        assert_eq!(compat.list_vms(), win.list_vms());
        assert!(win.startvm("new\nline").is_err());
    }

    #[test]
    fn virtualbox_error_messages() {
        let stderr = "VBoxManage: error: Could not find a registered machine named 'x'\n\
                      VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)\n\
                      VBoxManage: error: Context: \"FindMachine\" at line 2621\n";
        assert_eq!(
            error_message(stderr),
            "Could not find a registered machine named 'x'"
        );
        assert!(is_not_found(stderr));
        assert!(!is_state_refusal(stderr));
        assert!(is_state_refusal(
            "VBoxManage: error: Invalid machine state: Starting (must be Running, Paused or Stuck)\n\
             VBoxManage: error: Details: code VBOX_E_INVALID_VM_STATE (0x80bb0002), component ConsoleWrap\n"
        ));
        assert!(is_state_refusal(
            "VBoxManage: error: Machine 'x' is not currently running.\n"
        ));
        assert_eq!(
            error_message("bash: VBoxManage: command not found\n"),
            "bash: VBoxManage: command not found"
        );
        assert_eq!(error_message(""), "(no message)");
    }
}
