//! The resources of one service: where they are ([`Layout::resolve`]) and their documents.
//!
//! The documents follow the DMTF schemas (DSP8010) of the `@odata.type` versions they name,
//! with every required property; DMTF's Redfish Service Validator checks them against those
//! schemas in CI (fence-sim/tests/dmtf_validators.rs).

use serde_json::{Value, json};

use super::profile::{Profile, ResetTypesIn};

/// The Redfish protocol version the service root announces.
pub(crate) const REDFISH_VERSION: &str = "1.8.0";

/// The predefined roles (DSP0266 §13.2.2) and their privileges.
const ROLES: [(&str, &[&str]); 3] = [
    (
        "Administrator",
        &[
            "Login",
            "ConfigureManager",
            "ConfigureUsers",
            "ConfigureSelf",
            "ConfigureComponents",
        ],
    ),
    (
        "Operator",
        &["Login", "ConfigureSelf", "ConfigureComponents"],
    ),
    ("ReadOnly", &["Login", "ConfigureSelf"]),
];

/// The one account: the user both authentication schemes accept.
const ACCOUNT_ID: &str = "1";

/// A resource of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// `/redfish`: the protocol version document.
    Version,
    /// `/redfish/v1`.
    Root,
    /// `/redfish/v1/odata`: the OData service document.
    OData,
    /// `/redfish/v1/$metadata`: the OData metadata document (XML).
    Metadata,
    /// The Systems collection.
    Systems,
    /// System `n` (1-based).
    System(usize),
    /// The reset action of system `n`.
    Reset(usize),
    /// The ActionInfo of the reset action of system `n`.
    ResetInfo(usize),
    /// The Chassis collection.
    ChassisCollection,
    /// The chassis of system `n`.
    Chassis(usize),
    /// The Managers collection.
    Managers,
    /// The manager.
    Manager,
    /// The account service.
    AccountService,
    /// Its accounts collection.
    Accounts,
    /// The one account.
    Account,
    /// Its roles collection.
    Roles,
    /// A predefined role, by its index in [`ROLES`].
    Role(usize),
    /// The session service.
    SessionService,
    /// Its sessions collection.
    Sessions,
    /// `Sessions/Members`: a POST here creates a session too (DSP0266 §10.3.1).
    SessionsMembers,
    /// Session `id`.
    Session(u64),
}

impl Resource {
    /// The methods it allows, for `Allow` and 405.
    pub(crate) fn allow(self) -> &'static str {
        match self {
            Resource::Reset(_) | Resource::SessionsMembers => "POST",
            Resource::Sessions => "GET, HEAD, POST",
            Resource::Session(_) => "GET, HEAD, DELETE",
            _ => "GET, HEAD",
        }
    }

    /// Readable without authentication (DSP0266 §13.3.4: `/redfish`, the service root,
    /// `/redfish/v1/odata` and `$metadata`).
    pub(crate) fn public(self) -> bool {
        matches!(
            self,
            Resource::Version | Resource::Root | Resource::OData | Resource::Metadata
        )
    }
}

/// Where the resources of a service are: its profile and its number of systems.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// The vendor profile.
    pub(crate) profile: &'static Profile,
    /// Systems, 1..=systems.
    pub(crate) systems: usize,
}

impl Layout {
    /// A URI as the profile writes it (with iLO's trailing slash).
    pub(crate) fn link(&self, path: &str) -> String {
        if self.profile.trailing_slash && !path.ends_with('/') {
            format!("{path}/")
        } else {
            path.to_owned()
        }
    }

    fn id_link(&self, path: &str) -> Value {
        json!({ "@odata.id": self.link(path) })
    }

    /// The path of system `n`.
    pub(crate) fn system_path(&self, n: usize) -> String {
        format!("/redfish/v1/Systems/{}", self.profile.system_id(n))
    }

    fn chassis_path(&self, n: usize) -> String {
        format!("/redfish/v1/Chassis/{}", self.profile.chassis_id(n))
    }

    fn manager_path(&self) -> String {
        format!("/redfish/v1/Managers/{}", self.profile.manager_id)
    }

    /// The path of the reset action of system `n`.
    pub(crate) fn reset_path(&self, n: usize) -> String {
        format!("{}/Actions/ComputerSystem.Reset", self.system_path(n))
    }

    fn reset_info_path(&self, n: usize) -> String {
        format!("{}/ResetActionInfo", self.system_path(n))
    }

    /// The path of session `id`.
    pub(crate) fn session_path(&self, id: u64) -> String {
        format!("/redfish/v1/SessionService/Sessions/{id}")
    }

    /// The resource at `path` (a trailing slash or none).
    pub(crate) fn resolve(&self, path: &str) -> Option<Resource> {
        let path = path.trim_end_matches('/');
        let fixed = [
            ("/redfish", Resource::Version),
            ("/redfish/v1", Resource::Root),
            ("/redfish/v1/odata", Resource::OData),
            ("/redfish/v1/$metadata", Resource::Metadata),
            ("/redfish/v1/Systems", Resource::Systems),
            ("/redfish/v1/Chassis", Resource::ChassisCollection),
            ("/redfish/v1/Managers", Resource::Managers),
            ("/redfish/v1/AccountService", Resource::AccountService),
            ("/redfish/v1/AccountService/Accounts", Resource::Accounts),
            ("/redfish/v1/AccountService/Roles", Resource::Roles),
            ("/redfish/v1/SessionService", Resource::SessionService),
            ("/redfish/v1/SessionService/Sessions", Resource::Sessions),
            (
                "/redfish/v1/SessionService/Sessions/Members",
                Resource::SessionsMembers,
            ),
        ];
        if let Some((_, r)) = fixed.iter().find(|(p, _)| *p == path) {
            return Some(*r);
        }
        if path == self.manager_path() {
            return Some(Resource::Manager);
        }
        if path == format!("/redfish/v1/AccountService/Accounts/{ACCOUNT_ID}") {
            return Some(Resource::Account);
        }
        if let Some(name) = path.strip_prefix("/redfish/v1/AccountService/Roles/") {
            return ROLES
                .iter()
                .position(|(role, _)| *role == name)
                .map(Resource::Role);
        }
        if let Some(id) = path.strip_prefix("/redfish/v1/SessionService/Sessions/") {
            return id.parse().ok().map(Resource::Session);
        }
        (1..=self.systems).find_map(|n| {
            let system = self.system_path(n);
            if path == system {
                Some(Resource::System(n))
            } else if path == self.reset_path(n) {
                Some(Resource::Reset(n))
            } else if path == self.reset_info_path(n)
                && self.profile.reset_types_in == ResetTypesIn::ActionInfo
            {
                Some(Resource::ResetInfo(n))
            } else if path == self.chassis_path(n) {
                Some(Resource::Chassis(n))
            } else {
                None
            }
        })
    }

    /// `/redfish`.
    pub(crate) fn version(&self) -> Value {
        json!({ "v1": "/redfish/v1/" })
    }

    /// The service root.
    pub(crate) fn root(&self, uuid: &str) -> Value {
        json!({
            "@odata.id": self.link("/redfish/v1"),
            "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
            "Id": "RootService",
            "Name": "Root Service",
            "RedfishVersion": REDFISH_VERSION,
            "UUID": uuid,
            "Vendor": self.profile.manufacturer,
            "Product": self.profile.models,
            "Systems": self.id_link("/redfish/v1/Systems"),
            "Chassis": self.id_link("/redfish/v1/Chassis"),
            "Managers": self.id_link("/redfish/v1/Managers"),
            "AccountService": self.id_link("/redfish/v1/AccountService"),
            "SessionService": self.id_link("/redfish/v1/SessionService"),
            "Links": { "Sessions": self.id_link("/redfish/v1/SessionService/Sessions") },
        })
    }

    /// The OData service document: the service root's top-level resources.
    pub(crate) fn odata(&self) -> Value {
        let entry = |name: &str, url: &str| json!({"name": name, "kind": "Singleton", "url": url});
        json!({
            "@odata.context": "/redfish/v1/$metadata",
            "value": [
                entry("Service", "/redfish/v1/"),
                entry("Systems", "/redfish/v1/Systems"),
                entry("Chassis", "/redfish/v1/Chassis"),
                entry("Managers", "/redfish/v1/Managers"),
                entry("AccountService", "/redfish/v1/AccountService"),
                entry("SessionService", "/redfish/v1/SessionService"),
                entry("Sessions", "/redfish/v1/SessionService/Sessions"),
            ],
        })
    }

    /// The OData metadata document: a reference to every DMTF schema the service uses, and
    /// the entity container.
    pub(crate) fn metadata(&self) -> String {
        let schemas: [(&str, &[&str]); 23] = [
            ("ServiceRoot", &["ServiceRoot", "ServiceRoot.v1_5_0"]),
            ("Resource", &["Resource", "Resource.v1_0_0"]),
            ("ComputerSystemCollection", &["ComputerSystemCollection"]),
            (
                "ComputerSystem",
                &["ComputerSystem", "ComputerSystem.v1_13_0"],
            ),
            ("ActionInfo", &["ActionInfo", "ActionInfo.v1_1_2"]),
            ("ChassisCollection", &["ChassisCollection"]),
            ("Chassis", &["Chassis", "Chassis.v1_14_0"]),
            ("ManagerCollection", &["ManagerCollection"]),
            ("Manager", &["Manager", "Manager.v1_10_0"]),
            (
                "AccountService",
                &["AccountService", "AccountService.v1_8_0"],
            ),
            ("ManagerAccountCollection", &["ManagerAccountCollection"]),
            (
                "ManagerAccount",
                &["ManagerAccount", "ManagerAccount.v1_7_0"],
            ),
            ("RoleCollection", &["RoleCollection"]),
            ("Role", &["Role", "Role.v1_3_0"]),
            (
                "SessionService",
                &["SessionService", "SessionService.v1_1_8"],
            ),
            ("SessionCollection", &["SessionCollection"]),
            ("Session", &["Session", "Session.v1_3_0"]),
            ("Message", &["Message", "Message.v1_1_1"]),
            ("RedfishExtensions", &["RedfishExtensions.v1_0_0"]),
            ("Privileges", &["Privileges", "Privileges.v1_0_0"]),
            ("Settings", &["Settings"]),
            ("TaskService", &["TaskService"]),
            ("Task", &["Task"]),
        ];
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <edmx:Edmx xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\" Version=\"4.0\">\n",
        );
        for (file, namespaces) in schemas {
            xml.push_str(&format!(
                "  <edmx:Reference Uri=\"http://redfish.dmtf.org/schemas/v1/{file}_v1.xml\">\n"
            ));
            for ns in namespaces {
                xml.push_str(&format!("    <edmx:Include Namespace=\"{ns}\"/>\n"));
            }
            xml.push_str("  </edmx:Reference>\n");
        }
        xml.push_str(
            "  <edmx:DataServices>\n\
             \x20   <Schema xmlns=\"http://docs.oasis-open.org/odata/ns/edm\" Namespace=\"Service\">\n\
             \x20     <EntityContainer Name=\"Service\" Extends=\"ServiceRoot.v1_5_0.ServiceContainer\"/>\n\
             \x20   </Schema>\n\
             \x20 </edmx:DataServices>\n\
             </edmx:Edmx>\n",
        );
        xml
    }

    fn collection(&self, path: &str, odata_type: &str, name: &str, members: Vec<String>) -> Value {
        let members: Vec<Value> = members.iter().map(|m| self.id_link(m)).collect();
        json!({
            "@odata.id": self.link(path),
            "@odata.type": odata_type,
            "Name": name,
            "Members@odata.count": members.len(),
            "Members": members,
        })
    }

    /// The Systems collection.
    pub(crate) fn systems(&self) -> Value {
        self.collection(
            "/redfish/v1/Systems",
            "#ComputerSystemCollection.ComputerSystemCollection",
            "Computer System Collection",
            (1..=self.systems).map(|n| self.system_path(n)).collect(),
        )
    }

    /// System `n` in power state `power` (a Redfish PowerState word).
    pub(crate) fn system(&self, n: usize, power: &str, uuid: &str) -> Value {
        let mut reset = json!({ "target": self.link(&self.reset_path(n)) });
        match self.profile.reset_types_in {
            ResetTypesIn::AllowableValues => {
                reset["ResetType@Redfish.AllowableValues"] = json!(self.profile.reset_types);
            }
            ResetTypesIn::ActionInfo => {
                reset["@Redfish.ActionInfo"] = json!(self.link(&self.reset_info_path(n)));
            }
        }
        json!({
            "@odata.id": self.link(&self.system_path(n)),
            "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
            "Id": self.profile.system_id(n),
            "Name": format!("node{n}"),
            "SystemType": "Physical",
            "Manufacturer": self.profile.manufacturer,
            "Model": self.profile.model,
            "SerialNumber": format!("FENCESIM{n:04}"),
            "UUID": uuid,
            "PowerState": power,
            "Status": {"State": "Enabled", "Health": "OK"},
            "Links": {
                "Chassis": [self.id_link(&self.chassis_path(n))],
                "ManagedBy": [self.id_link(&self.manager_path())],
            },
            "Actions": { "#ComputerSystem.Reset": reset },
        })
    }

    /// The ActionInfo of system `n`'s reset action.
    pub(crate) fn reset_info(&self, n: usize) -> Value {
        json!({
            "@odata.id": self.link(&self.reset_info_path(n)),
            "@odata.type": "#ActionInfo.v1_1_2.ActionInfo",
            "Id": "ResetActionInfo",
            "Name": "Reset Action Info",
            "Parameters": [{
                "Name": "ResetType",
                "Required": true,
                "DataType": "String",
                "AllowableValues": self.profile.reset_types,
            }],
        })
    }

    /// The Chassis collection.
    pub(crate) fn chassis_collection(&self) -> Value {
        self.collection(
            "/redfish/v1/Chassis",
            "#ChassisCollection.ChassisCollection",
            "Chassis Collection",
            (1..=self.systems).map(|n| self.chassis_path(n)).collect(),
        )
    }

    /// The chassis of system `n`.
    pub(crate) fn chassis(&self, n: usize, power: &str) -> Value {
        json!({
            "@odata.id": self.link(&self.chassis_path(n)),
            "@odata.type": "#Chassis.v1_14_0.Chassis",
            "Id": self.profile.chassis_id(n),
            "Name": format!("Chassis of node{n}"),
            "ChassisType": "RackMount",
            "Manufacturer": self.profile.manufacturer,
            "Model": self.profile.model,
            "PowerState": power,
            "Status": {"State": "Enabled", "Health": "OK"},
            "Links": {
                "ComputerSystems": [self.id_link(&self.system_path(n))],
                "ManagedBy": [self.id_link(&self.manager_path())],
            },
        })
    }

    /// The Managers collection.
    pub(crate) fn managers(&self) -> Value {
        self.collection(
            "/redfish/v1/Managers",
            "#ManagerCollection.ManagerCollection",
            "Manager Collection",
            vec![self.manager_path()],
        )
    }

    /// The manager: the BMC of every system of the service.
    pub(crate) fn manager(&self, uuid: &str) -> Value {
        json!({
            "@odata.id": self.link(&self.manager_path()),
            "@odata.type": "#Manager.v1_10_0.Manager",
            "Id": self.profile.manager_id,
            "Name": "Manager",
            "ManagerType": "BMC",
            "Manufacturer": self.profile.manufacturer,
            "FirmwareVersion": self.profile.firmware,
            "UUID": uuid,
            "Status": {"State": "Enabled", "Health": "OK"},
            "Links": {
                "ManagerForServers": (1..=self.systems)
                    .map(|n| self.id_link(&self.system_path(n)))
                    .collect::<Vec<_>>(),
                "ManagerForChassis": (1..=self.systems)
                    .map(|n| self.id_link(&self.chassis_path(n)))
                    .collect::<Vec<_>>(),
            },
        })
    }

    /// The account service.
    pub(crate) fn account_service(&self) -> Value {
        json!({
            "@odata.id": self.link("/redfish/v1/AccountService"),
            "@odata.type": "#AccountService.v1_8_0.AccountService",
            "Id": "AccountService",
            "Name": "Account Service",
            "ServiceEnabled": true,
            "Accounts": self.id_link("/redfish/v1/AccountService/Accounts"),
            "Roles": self.id_link("/redfish/v1/AccountService/Roles"),
        })
    }

    /// The accounts collection.
    pub(crate) fn accounts(&self) -> Value {
        self.collection(
            "/redfish/v1/AccountService/Accounts",
            "#ManagerAccountCollection.ManagerAccountCollection",
            "Accounts Collection",
            vec![format!("/redfish/v1/AccountService/Accounts/{ACCOUNT_ID}")],
        )
    }

    /// The one account.
    pub(crate) fn account(&self, username: &str) -> Value {
        json!({
            "@odata.id": self.link(&format!("/redfish/v1/AccountService/Accounts/{ACCOUNT_ID}")),
            "@odata.type": "#ManagerAccount.v1_7_0.ManagerAccount",
            "Id": ACCOUNT_ID,
            "Name": "User Account",
            "UserName": username,
            "RoleId": "Administrator",
            "AccountTypes": ["Redfish"],
            "Enabled": true,
            "Locked": false,
            "Password": null,
            "Links": { "Role": self.id_link("/redfish/v1/AccountService/Roles/Administrator") },
        })
    }

    /// The roles collection.
    pub(crate) fn roles(&self) -> Value {
        self.collection(
            "/redfish/v1/AccountService/Roles",
            "#RoleCollection.RoleCollection",
            "Roles Collection",
            ROLES
                .iter()
                .map(|(r, _)| format!("/redfish/v1/AccountService/Roles/{r}"))
                .collect(),
        )
    }

    /// Predefined role `i`.
    pub(crate) fn role(&self, i: usize) -> Value {
        let (name, privileges) = ROLES[i.min(ROLES.len() - 1)];
        json!({
            "@odata.id": self.link(&format!("/redfish/v1/AccountService/Roles/{name}")),
            "@odata.type": "#Role.v1_3_0.Role",
            "Id": name,
            "Name": format!("{name} Role"),
            "RoleId": name,
            "IsPredefined": true,
            "AssignedPrivileges": privileges,
        })
    }

    /// The session service.
    pub(crate) fn session_service(&self) -> Value {
        json!({
            "@odata.id": self.link("/redfish/v1/SessionService"),
            "@odata.type": "#SessionService.v1_1_8.SessionService",
            "Id": "SessionService",
            "Name": "Session Service",
            "ServiceEnabled": true,
            "SessionTimeout": self.profile.session_timeout.as_secs(),
            "Status": {"State": "Enabled", "Health": "OK"},
            "Sessions": self.id_link("/redfish/v1/SessionService/Sessions"),
        })
    }

    /// The sessions collection.
    pub(crate) fn sessions(&self, ids: &[u64]) -> Value {
        self.collection(
            "/redfish/v1/SessionService/Sessions",
            "#SessionCollection.SessionCollection",
            "Session Collection",
            ids.iter().map(|id| self.session_path(*id)).collect(),
        )
    }

    /// Session `id` of `username`.
    pub(crate) fn session(&self, id: u64, username: &str) -> Value {
        json!({
            "@odata.id": self.link(&self.session_path(id)),
            "@odata.type": "#Session.v1_3_0.Session",
            "Id": id.to_string(),
            "Name": "User Session",
            "UserName": username,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::{GENERIC, ILO5, OPENBMC};
    use super::*;

    #[test]
    fn paths_resolve_with_and_without_the_trailing_slash() {
        let ilo = Layout {
            profile: &ILO5,
            systems: 2,
        };
        assert_eq!(
            ilo.resolve("/redfish/v1/Systems/2/"),
            Some(Resource::System(2))
        );
        assert_eq!(
            ilo.resolve("/redfish/v1/Systems/2"),
            Some(Resource::System(2))
        );
        assert_eq!(ilo.resolve("/redfish/v1/Systems/3"), None);
        assert_eq!(ilo.link("/redfish/v1/Systems/1"), "/redfish/v1/Systems/1/");
        let bmc = Layout {
            profile: &OPENBMC,
            systems: 1,
        };
        assert_eq!(
            bmc.resolve("/redfish/v1/Systems/system/ResetActionInfo"),
            Some(Resource::ResetInfo(1))
        );
        let generic = Layout {
            profile: &GENERIC,
            systems: 1,
        };
        assert_eq!(
            generic.resolve("/redfish/v1/Systems/1/ResetActionInfo"),
            None
        );
        assert_eq!(
            generic.resolve("/redfish/v1/AccountService/Roles/Operator"),
            Some(Resource::Role(1))
        );
    }

    #[test]
    fn every_link_of_every_document_resolves() {
        for profile in &super::super::profile::PROFILES {
            let l = Layout {
                profile,
                systems: 2,
            };
            let docs = [
                l.root("u"),
                l.systems(),
                l.system(1, "On", "u"),
                l.system(2, "Off", "u"),
                l.chassis_collection(),
                l.chassis(1, "On"),
                l.managers(),
                l.manager("u"),
                l.account_service(),
                l.accounts(),
                l.account("admin"),
                l.roles(),
                l.role(0),
                l.session_service(),
                l.sessions(&[1]),
            ];
            let mut links = Vec::new();
            fn walk(v: &Value, out: &mut Vec<String>) {
                match v {
                    Value::Object(m) => {
                        for (k, v) in m {
                            match (k.as_str(), v) {
                                (
                                    "@odata.id" | "target" | "@Redfish.ActionInfo",
                                    Value::String(s),
                                ) => out.push(s.clone()),
                                _ => walk(v, out),
                            }
                        }
                    }
                    Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                    _ => {}
                }
            }
            docs.iter().for_each(|d| walk(d, &mut links));
            for link in links {
                assert!(l.resolve(&link).is_some(), "{}: {link}", profile.name);
            }
        }
    }
}
