//! The simulated machine behind a BMC: a power state, a delay before a change takes
//! effect, and the faults its BMC shows.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fence_core::PowerState;

/// What a simulated BMC does wrong. The default is a well-behaved BMC.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Never answer: UDP datagrams are ignored, TCP connections are accepted and never
    /// spoken to (a hung BMC).
    pub silent: bool,
    /// The share (0.0 to 1.0) of datagrams (IPMI) or requests (Redfish: the connection is
    /// dropped without an answer) that are lost.
    pub drop_share: f64,
    /// Refuse every power command (IPMI completion code 0xD5; Redfish HTTP 500).
    pub refuse_resets: bool,
    /// Accept power-off commands and keep reporting On: the BMC lies. A fencing tool that
    /// trusts the acknowledgement instead of a status read is caught by this.
    pub lie: bool,
}

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        silent: false,
        drop_share: 0.0,
        refuse_resets: false,
        lie: false,
    };

    /// Parses one fault mode as the command line names it and adds it to `self`:
    /// `silent`, `drop=SHARE` (e.g. `drop=0.3`), `refuse`, `lie`.
    pub fn with(mut self, mode: &str) -> Result<Faults, String> {
        match mode {
            "silent" | "no-answer" => self.silent = true,
            "refuse" | "refuse-resets" => self.refuse_resets = true,
            "lie" => self.lie = true,
            _ => {
                let share = mode
                    .strip_prefix("drop=")
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|s| (0.0..=1.0).contains(s))
                    .ok_or_else(|| {
                        format!(
                            "unknown fault '{mode}': expected silent, drop=SHARE (0..1), refuse or lie"
                        )
                    })?;
                self.drop_share = share;
            }
        }
        Ok(self)
    }

    /// Both sets of faults at once (the larger drop share).
    pub fn merge(self, other: Faults) -> Faults {
        Faults {
            silent: self.silent || other.silent,
            drop_share: self.drop_share.max(other.drop_share),
            refuse_resets: self.refuse_resets || other.refuse_resets,
            lie: self.lie || other.lie,
        }
    }

    /// True when this datagram or request is to be lost, by the configured share.
    pub fn drops(&self) -> bool {
        self.drop_share > 0.0 && rand::random::<f64>() < self.drop_share
    }
}

/// Called with the new state each time a power change of a [`Machine`] takes effect
/// ([`Machine::on_power_change`]).
pub type PowerHook = Arc<dyn Fn(PowerState) + Send + Sync>;

/// A simulated machine: its power state, with changes that take effect after a delay.
pub struct Machine {
    delay: Duration,
    state: Mutex<State>,
    hook: OnceLock<PowerHook>,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("delay", &self.delay)
            .field("state", &self.state)
            .field("hook", &self.hook.get().map(|_| "set"))
            .finish()
    }
}

#[derive(Debug)]
struct State {
    power: PowerState,
    /// A change accepted and not yet in effect: the state it leads to, and when.
    pending: Vec<(PowerState, Instant)>,
    /// Power changes that took effect, for tests and the demo.
    changes: u64,
}

impl Machine {
    /// A machine in state `initial` whose power changes take effect `delay` after they are
    /// asked for.
    pub fn new(initial: PowerState, delay: Duration) -> Machine {
        Machine {
            delay,
            state: Mutex::new(State {
                power: initial,
                pending: Vec::new(),
                changes: 0,
            }),
            hook: OnceLock::new(),
        }
    }

    /// Calls `hook` with the new state each time a power change takes effect from now on
    /// (not for [`Machine::force`]): what makes a simulated BMC power a real thing off and
    /// on (`fence-sim --on-power-change`). The hook runs while the machine's state is
    /// locked, so nobody reads the new state before the hook has returned. A change takes
    /// effect when the machine is next looked at after its delay (at once without one).
    /// Returns false when a hook was already set (it stays).
    pub fn on_power_change(&self, hook: PowerHook) -> bool {
        self.hook.set(hook).is_ok()
    }

    fn settled(&self) -> std::sync::MutexGuard<'_, State> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        while let Some(&(to, at)) = s.pending.first() {
            if at > now {
                break;
            }
            s.pending.remove(0);
            if s.power != to {
                s.power = to;
                s.changes += 1;
                if let Some(hook) = self.hook.get() {
                    hook(to);
                }
            }
        }
        s
    }

    /// The power state now.
    pub fn power(&self) -> PowerState {
        self.settled().power
    }

    /// True while an accepted change has not taken effect yet.
    pub fn in_transition(&self) -> bool {
        !self.settled().pending.is_empty()
    }

    /// How many power changes have taken effect.
    pub fn changes(&self) -> u64 {
        self.settled().changes
    }

    /// Sets the state at once (for tests and set-up), dropping pending changes.
    pub fn force(&self, power: PowerState) {
        let mut s = self.settled();
        s.pending.clear();
        s.power = power;
    }

    /// The state a change under way leads to, when it differs from the state now.
    pub fn heading(&self) -> Option<PowerState> {
        let s = self.settled();
        s.pending
            .iter()
            .map(|&(to, _)| to)
            .find(|&to| to != s.power)
    }

    /// Asks for `target`; it takes effect after the delay. Asking for the state the machine
    /// is in, with nothing under way, changes nothing; asking again for the change under way
    /// keeps its deadline (a client that repeats a reset does not postpone it).
    pub fn switch(&self, target: PowerState) {
        self.switch_within(target, self.delay);
    }

    /// The same with its own delay (an OS that shuts down takes longer than a power cut).
    pub fn switch_within(&self, target: PowerState, delay: Duration) {
        let mut s = self.settled();
        if s.pending.is_empty() && s.power == target {
            return;
        }
        if matches!(s.pending.as_slice(), [(to, _)] if *to == target) {
            return;
        }
        let at = Instant::now() + delay;
        s.pending.clear();
        s.pending.push((target, at));
        drop(s);
        // A zero delay takes effect before the next read.
        drop(self.settled());
    }

    /// Off now (after the delay), on again one delay later (at least 100 ms later).
    pub fn cycle(&self) {
        let mut s = self.settled();
        let off_at = Instant::now() + self.delay;
        let on_at = off_at + self.delay.max(Duration::from_millis(100));
        s.pending.clear();
        s.pending.push((PowerState::Off, off_at));
        s.pending.push((PowerState::On, on_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_takes_effect_after_the_delay() {
        let m = Machine::new(PowerState::On, Duration::from_millis(50));
        m.switch(PowerState::Off);
        assert_eq!(m.power(), PowerState::On);
        assert!(m.in_transition());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(m.power(), PowerState::Off);
        assert!(!m.in_transition());
        assert_eq!(m.changes(), 1);
    }

    #[test]
    fn a_repeated_change_keeps_its_deadline_and_a_change_to_the_present_state_is_none() {
        let m = Machine::new(PowerState::On, Duration::from_millis(200));
        m.switch(PowerState::On);
        assert!(!m.in_transition());
        assert_eq!(m.heading(), None);
        m.switch(PowerState::Off);
        assert_eq!(m.heading(), Some(PowerState::Off));
        std::thread::sleep(Duration::from_millis(120));
        m.switch(PowerState::Off);
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(
            m.power(),
            PowerState::Off,
            "the repeat did not postpone the change"
        );
    }

    #[test]
    fn without_delay_a_change_is_immediate() {
        let m = Machine::new(PowerState::Off, Duration::ZERO);
        m.switch(PowerState::On);
        assert_eq!(m.power(), PowerState::On);
    }

    #[test]
    fn a_cycle_goes_off_then_on() {
        let m = Machine::new(PowerState::On, Duration::ZERO);
        m.cycle();
        assert_eq!(m.power(), PowerState::Off);
        std::thread::sleep(Duration::from_millis(110));
        assert_eq!(m.power(), PowerState::On);
        assert_eq!(m.changes(), 2);
    }

    #[test]
    fn the_hook_sees_every_change_that_takes_effect_and_before_any_reader() {
        let m = Arc::new(Machine::new(PowerState::On, Duration::from_millis(30)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let me = Arc::downgrade(&m);
        assert!(m.on_power_change(Arc::new(move |to| {
            // the state is locked while the hook runs: nobody can read it yet
            let locked = me.upgrade().is_some_and(|m| m.state.try_lock().is_err());
            log.lock().unwrap().push((to, locked));
        })));
        assert!(
            !m.on_power_change(Arc::new(|_| {})),
            "a second hook is refused"
        );
        m.switch(PowerState::Off);
        assert!(seen.lock().unwrap().is_empty(), "not before the delay");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(m.power(), PowerState::Off);
        m.switch(PowerState::Off); // no change: no call
        m.cycle();
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(m.power(), PowerState::On);
        m.force(PowerState::Off); // set-up, not a power change
        assert_eq!(
            *seen.lock().unwrap(),
            vec![(PowerState::Off, true), (PowerState::On, true)],
            "the cycle's Off found the machine off already: only its On is a change"
        );
    }

    #[test]
    fn fault_modes_parse() {
        let f = Faults::NONE.with("lie").unwrap().with("drop=0.25").unwrap();
        assert!(f.lie && !f.silent && !f.refuse_resets);
        assert_eq!(f.drop_share, 0.25);
        assert!(Faults::NONE.with("drop=2").is_err());
        assert!(Faults::NONE.with("bogus").is_err());
        assert!(!Faults::NONE.drops());
        let all = Faults {
            drop_share: 1.0,
            ..Faults::NONE
        };
        assert!(all.drops());
    }
}
