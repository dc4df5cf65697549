//! The agent personas: which names this binary answers to, and what each name means.
//!
//! A persona is a fence-agents agent name (`fence_ipmilan`, `fence_ilo3`, ...). It selects
//! the backend, the descriptions of the metadata, the actions offered and the
//! persona-specific defaults that fence-agents keys on `basename(argv[0])` (fence_ilo3:
//! `lanplus=1`, `power_wait=4`, ...).
//!
//! The binary is also installed under names of its own next to Debian's Python agents,
//! `<prefix><agent without "fence_">` (default prefix `fence_rs_`, so `fence_rs_ipmilan`),
//! which map to the same personas; metadata then reports the invoked name, as fence-agents
//! reports `basename(argv[0])`.

use std::sync::LazyLock;

use fence_core::Action;
use fence_core::agent::{AgentFamily, Persona, Plugs};
use fence_core::params::{ParamSpec, ParamTable, common};

/// The default prefix of the names `install` creates.
pub(crate) const DEFAULT_PREFIX: &str = "fence_rs_";

/// One agent name this binary answers to: a persona of a registered family.
#[derive(Clone, Copy)]
pub(crate) struct Agent {
    /// The fence-agents name (`fence_ilo3`).
    pub name: &'static str,
    /// The persona behind the name.
    pub persona: &'static Persona,
    /// The family (backend) that serves it.
    pub family: &'static AgentFamily,
}

impl PartialEq for Agent {
    fn eq(&self, other: &Agent) -> bool {
        self.name == other.name
    }
}

impl Eq for Agent {}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Agent({})", self.name)
    }
}

/// Every agent name, in the order `--list-agents` prints them: each registered family's
/// personas, its main one first.
pub(crate) fn all() -> &'static [Agent] {
    static AGENTS: LazyLock<Vec<Agent>> = LazyLock::new(|| {
        crate::registry::families()
            .iter()
            .flat_map(|&family| {
                family.personas.iter().map(move |persona| Agent {
                    name: persona.name,
                    persona,
                    family,
                })
            })
            .collect()
    });
    &AGENTS
}

/// The texts of an agent's metadata header.
#[derive(Clone, Debug)]
pub(crate) struct Docs {
    /// `shortdesc` of `<resource-agent>`.
    pub shortdesc: &'static str,
    /// `<longdesc>`, with troff markup (`\n.P\n` for paragraphs) as fence-agents writes it.
    pub longdesc: String,
    /// `<vendor-url>`.
    pub vendor_url: &'static str,
    /// The `<symlink>` lines: name and description.
    pub symlinks: Vec<(String, &'static str)>,
}

impl Agent {
    /// The agent called `name` exactly.
    pub(crate) fn by_name(name: &str) -> Option<Agent> {
        all().iter().copied().find(|a| a.name == name)
    }

    /// The agent an invoked program name stands for: an agent name, or
    /// `<prefix><agent without "fence_">` where the prefix starts with `fence` and ends
    /// with `_` or `-` (`fence_rs_ilo3`, `fence-rs-vbox`).
    pub(crate) fn from_program_name(name: &str) -> Option<Agent> {
        if let Some(a) = Agent::by_name(name) {
            return Some(a);
        }
        all()
            .iter()
            .copied()
            .filter(|a| {
                let suffix = a.suffix();
                name.strip_suffix(suffix).is_some_and(|prefix| {
                    prefix.len() > "fence".len()
                        && prefix.starts_with("fence")
                        && (prefix.ends_with('_') || prefix.ends_with('-'))
                })
            })
            .max_by_key(|a| a.suffix().len())
    }

    /// The name without `fence_` (`ilo3`).
    pub(crate) fn suffix(&self) -> &'static str {
        self.name.strip_prefix("fence_").unwrap_or(self.name)
    }

    /// The agent's plug semantics: fence-agents gives agents with an address but no plug
    /// (ipmilan, redfish) `port_as_ip`, makes `plug` optional and drops `separator`.
    pub(crate) fn port_as_ip(&self) -> bool {
        self.family.plugs == Plugs::PortAsIp
    }

    /// True when the agent has real plugs (VMs) that must be named.
    pub(crate) fn has_plugs(&self) -> bool {
        self.family.plugs == Plugs::Named
    }

    /// True when a password, password script (or identity file) is required.
    pub(crate) fn needs_password(&self) -> bool {
        self.family.needs_password
    }

    /// The actions metadata advertises, in fence-agents' order: `list` and `list-status`
    /// for agents with plugs, `diag` for those that accept it.
    pub(crate) fn advertised_actions(&self) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|a| match a {
                Action::List | Action::ListStatus => self.has_plugs(),
                _ => self.accepts(*a),
            })
            .collect()
    }

    /// True for the family's main persona (`fence_ipmilan`), false for its aliases.
    fn is_main(&self) -> bool {
        self.family.main_name() == self.name
    }

    /// The `<symlink>` description of this name: its shortdesc for an alias, `None` for
    /// the family's main name.
    pub(crate) fn alias_desc(&self) -> Option<&'static str> {
        (!self.is_main()).then_some(self.persona.shortdesc)
    }

    /// The metadata `shortdesc`: the main persona's (aliases are its symlinks and share its
    /// metadata).
    fn shortdesc(&self) -> &'static str {
        self.family.main().map_or("", |p| p.shortdesc)
    }

    /// The actions accepted on input. fence-agents also accepts `list` and `list-status`
    /// for plug-less agents (it answers with a notice) although metadata does not show
    /// them.
    pub(crate) fn accepts(&self, action: Action) -> bool {
        match action {
            Action::Diag => self.family.accepts_diag,
            _ => true,
        }
    }

    /// The whole parameter table of this persona: the rows every agent has, the family's
    /// rows, and the persona's defaults.
    pub(crate) fn table(&self) -> ParamTable {
        let mut table = ParamTable::new()
            .with(&common::every_agent())
            .with(&(self.family.params)())
            .with(&crate::events::params());
        if self.port_as_ip() {
            // fence-agents' dependency expansion for agents with ipaddr but no port.
            table.remove("separator");
            if table.get("port_as_ip").is_none() {
                table.insert(common::PORT_AS_IP);
            }
            let plug = table.get("plug").cloned().unwrap_or(common::PLUG);
            let mut plug = plug
                .hint("ip")
                .required(false)
                .desc("IP address or hostname of fencing device (together with --port-as-ip)");
            plug.short = Some('n');
            table.insert(plug);
            table.set_required("ip", false);
        }
        for (name, value) in self.persona.defaults {
            table.set_default(name, Some(*value));
        }
        table
    }

    /// The metadata header texts. `invoked` is the name the program was called by; alias
    /// names get the same prefix.
    pub(crate) fn docs(&self, invoked: &str) -> Docs {
        let prefix = invoked
            .strip_suffix(self.suffix())
            .filter(|p| !p.is_empty())
            .unwrap_or("fence_");
        Docs {
            shortdesc: self.shortdesc(),
            longdesc: self.family.longdesc_for(invoked),
            vendor_url: self.family.vendor_url,
            symlinks: all()
                .iter()
                .filter(|a| a.family.main_name() == self.family.main_name())
                .filter_map(|a| {
                    a.alias_desc()
                        .map(|d| (format!("{prefix}{}", a.suffix()), d))
                })
                .collect(),
        }
    }
}

/// True when `row` is a secret (`password`, `password_script`, `hexadecimal_kg`, ...) or
/// looks like one by its name, should a backend forget to mark it.
pub(crate) fn is_sensitive(row: &ParamSpec) -> bool {
    row.secret
        || row.name.contains("passw")
        || row.name.contains("token")
        || row.name.ends_with("_kg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_map_to_personas() {
        assert_eq!(
            Agent::from_program_name("fence_ilo3").map(|a| a.name),
            Some("fence_ilo3")
        );
        assert_eq!(
            Agent::from_program_name("fence_rs_ipmilanplus").map(|a| a.name),
            Some("fence_ipmilanplus")
        );
        assert_eq!(
            Agent::from_program_name("fence_rs_ipmilan").map(|a| a.name),
            Some("fence_ipmilan")
        );
        assert_eq!(
            Agent::from_program_name("fence-rs-vbox").map(|a| a.name),
            Some("fence_vbox")
        );
        assert_eq!(Agent::from_program_name("fence_apc"), None);
        assert_eq!(Agent::from_program_name("vbox"), None);
        assert_eq!(Agent::from_program_name("fence-agent"), None);
    }

    #[test]
    fn persona_defaults_follow_fence_agents() {
        let t = Agent::by_name("fence_ilo3").map(|a| a.table());
        let t = t.as_ref();
        assert_eq!(
            t.and_then(|t| t.get("power_wait")).and_then(|r| r.default),
            Some("4")
        );
        assert_eq!(
            t.and_then(|t| t.get("lanplus")).and_then(|r| r.default),
            Some("1")
        );
        let t = Agent::by_name("fence_imm").map(|a| a.table());
        let t = t.as_ref();
        assert_eq!(
            t.and_then(|t| t.get("power_wait")).and_then(|r| r.default),
            Some("2")
        );
        assert_eq!(
            t.and_then(|t| t.get("lanplus")).and_then(|r| r.default),
            Some("0")
        );
        assert!(t.and_then(|t| t.get("separator")).is_none());
    }

    #[test]
    fn agents_come_from_the_backends_in_list_order() {
        let names: Vec<&str> = all().iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "fence_ipmilan",
                "fence_ilo3",
                "fence_ilo4",
                "fence_ilo5",
                "fence_ipmilanplus",
                "fence_imm",
                "fence_idrac",
                "fence_redfish",
                "fence_vbox",
            ]
        );
        let agent = |n| Agent::by_name(n).unwrap();
        assert_eq!(agent("fence_ipmilan").alias_desc(), None);
        assert_eq!(
            agent("fence_ilo3").alias_desc(),
            Some("Fence agent for HP iLO3")
        );
        assert_eq!(agent("fence_ilo3").shortdesc(), "Fence agent for IPMI");
        assert_eq!(
            agent("fence_redfish").shortdesc(),
            "I/O Fencing agent for Redfish"
        );
        assert_eq!(
            agent("fence_vbox").shortdesc(),
            "Fence agent for VirtualBox"
        );
    }

    #[test]
    fn advertised_actions_follow_the_plugs() {
        use Action::*;
        let actions = |n| Agent::by_name(n).unwrap().advertised_actions();
        assert_eq!(
            actions("fence_vbox"),
            [
                On,
                Off,
                Reboot,
                Status,
                List,
                ListStatus,
                Monitor,
                Metadata,
                Manpage,
                ValidateAll
            ]
        );
        assert_eq!(
            actions("fence_redfish"),
            [
                On,
                Off,
                Reboot,
                Status,
                Monitor,
                Metadata,
                Manpage,
                ValidateAll,
                Diag
            ]
        );
    }

    #[test]
    fn alias_docs_use_the_invoked_prefix() {
        let a = Agent::by_name("fence_idrac");
        let docs = a.map(|a| a.docs("fence_rs_idrac"));
        let names: Vec<String> = docs
            .map(|d| d.symlinks.into_iter().map(|(n, _)| n).collect())
            .unwrap_or_default();
        assert_eq!(names.len(), 6);
        assert!(names.contains(&"fence_rs_ilo3".to_owned()), "{names:?}");
    }
}
