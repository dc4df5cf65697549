//! Argument checks (fence-agents' `_validate_input`): the same checks, in the same order,
//! with the same messages. `validate-all` reports every failure; other actions stop at the
//! first. Nothing here contacts the device.

use fence_core::Action;
use fence_core::params::{ParamSpec, ParamType};

use crate::agents::Agent;
use crate::input::Input;

/// Every failed check's message, in fence-agents' order.
pub(crate) fn check(agent: &Agent, input: &Input, action: Action) -> Vec<String> {
    let o = &input.options;
    let table = o.table();
    let mut failures = Vec::new();
    let given = |name: &str| input.given(name);

    if table.get("username").is_some_and(|r| r.required) && !given("username") {
        failures.push("Failed: You have to set login name".to_owned());
    }
    if table.get("ip").is_some() && !given("ip") && !given("target") {
        failures.push("Failed: You have to enter fence address".to_owned());
    }
    if agent.needs_password() {
        let has_identity = table.get("identity_file").is_some();
        let ok = given("password")
            || given("password_script")
            || (has_identity && given("identity_file"));
        if !ok {
            failures.push(if has_identity {
                "Failed: You have to enter password, password script or identity file".to_owned()
            } else {
                "Failed: You have to enter password or password script".to_owned()
            });
        }
    }
    if let Some(file) = o
        .non_empty("identity_file")
        .filter(|_| given("identity_file"))
    {
        // fence-agents also demands ssh (-x) with an identity file; fence_vbox always
        // uses SSH, so that check can never fail here.
        if !std::path::Path::new(file).is_file() {
            // The path is echoed input: text from outside.
            failures.push(format!(
                "Failed: Identity file {} does not exist",
                crate::logging::scrub_outside(file)
            ));
        }
    }
    if agent.has_plugs()
        && !matches!(action, Action::List | Action::ListStatus | Action::Monitor)
        && !given("plug")
    {
        failures.push("Failed: You have to enter plug number or machine identification".to_owned());
    }
    for row in in_fence_agents_order(table.rows(), CHOICE_ORDER) {
        if let ParamType::Select(choices) = row.ty {
            if input.invalid.contains(row.name) {
                let list: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
                failures.push(format!(
                    "Failed: You have to enter a valid choice for --{} from the valid values: [{}]",
                    row.long,
                    list.join(", ")
                ));
            }
        }
    }
    // Numbers are checked as fence-agents checks them, with Python's int(): "1.5" is refused
    // even where a decimal would work. A bad verbose_level is only warned about (see the
    // logging set-up).
    for row in in_fence_agents_order(table.rows(), NUMBER_ORDER)
        .into_iter()
        .filter(|r| r.name != "verbose_level")
    {
        let Some(raw) = input.raw.get(row.name) else {
            continue;
        };
        let kind = match row.ty {
            ParamType::Second => "time in seconds",
            ParamType::Integer => "integer",
            _ => continue,
        };
        if !python_int(raw) {
            failures.push(format!(
                "Failed: The value you have entered for --{} is not a valid {kind}",
                row.long
            ));
        }
    }
    failures
}

/// The order fence-agents checks choices in (its `device_opt` order).
const CHOICE_ORDER: &[&str] = &["auth", "privlvl", "method", "host_os"];
/// The order fence-agents checks numbers in (`ipport` from the agent's options, then the
/// options every agent gets).
const NUMBER_ORDER: &[&str] = &[
    "ipport",
    "power_timeout",
    "shell_timeout",
    "login_timeout",
    "power_wait",
    "stonith_status_sleep",
    "retry_on",
    "delay",
];

/// The rows named in `order` first, in that order, then the others in table order.
fn in_fence_agents_order<'a>(rows: &'a [ParamSpec], order: &[&str]) -> Vec<&'a ParamSpec> {
    let mut list: Vec<&ParamSpec> = order
        .iter()
        .filter_map(|n| rows.iter().find(|r| r.name == *n))
        .collect();
    list.extend(rows.iter().filter(|r| !order.contains(&r.name)));
    list
}

/// True when Python's `int()` accepts the text: surrounding whitespace, an optional sign,
/// digits with single underscores between them.
fn python_int(text: &str) -> bool {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    #[test]
    fn python_int_semantics() {
        for ok in ["0", "12", " 7 ", "+3", "-1", "1_000"] {
            assert!(super::python_int(ok), "{ok}");
        }
        for bad in ["", "1.5", "x", "1__0", "_1", "1_", "--1", "0x10"] {
            assert!(!super::python_int(bad), "{bad}");
        }
    }

    use super::*;
    use crate::input::parse_stdin;

    #[test]
    fn vbox_lists_every_failure_in_order() {
        let a = Agent::by_name("fence_vbox").unwrap();
        let input = parse_stdin(&a, a.table(), "power_wait=x\nhost_os=beos\n");
        let f = check(&a, &input, Action::ValidateAll);
        assert_eq!(
            f,
            vec![
                "Failed: You have to set login name",
                "Failed: You have to enter fence address",
                "Failed: You have to enter password, password script or identity file",
                "Failed: You have to enter plug number or machine identification",
                "Failed: You have to enter a valid choice for --host-os from the valid values: ['linux', 'macos', 'windows']",
                "Failed: The value you have entered for --power-wait is not a valid time in seconds",
            ]
        );
    }

    #[test]
    fn ipmilan_needs_only_an_address() {
        let a = Agent::by_name("fence_ipmilan").unwrap();
        let input = parse_stdin(&a, a.table(), "");
        assert_eq!(
            check(&a, &input, Action::Status),
            vec!["Failed: You have to enter fence address"]
        );
        let input = parse_stdin(&a, a.table(), "ip=10.0.0.1\n");
        assert!(check(&a, &input, Action::Status).is_empty());
    }
}
