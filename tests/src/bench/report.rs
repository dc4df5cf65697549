//! Statistics over the runs of one action, and the markdown table.

use std::fmt::Write as _;

use super::run::Usage;
use super::targets::{Op, Trips};

/// Wall-time statistics of a series of runs, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Number of runs.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// Fastest run.
    pub min: f64,
    /// Slowest run.
    pub max: f64,
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
}

impl Stats {
    /// Statistics of `samples` (milliseconds); `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        Some(Stats {
            n: s.len(),
            median: quantile(&s, 0.5),
            min: s[0],
            max: s[s.len() - 1],
            q1: quantile(&s, 0.25),
            q3: quantile(&s, 0.75),
        })
    }
}

/// Linear interpolation between the closest ranks of sorted `s`.
fn quantile(s: &[f64], q: f64) -> f64 {
    let pos = q * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Formats milliseconds with 3 significant digits (2 decimals below 10 ms).
pub fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// The results of one implementation for one action of one target.
#[derive(Clone, Debug, Default)]
pub struct ImplResult {
    /// Why this implementation was not measured, if it was not.
    pub unavailable: Option<String>,
    /// Wall times of the timed runs that succeeded, in ms.
    pub times_ms: Vec<f64>,
    /// Timed or observed runs that did not give the expected answer.
    pub failures: Vec<String>,
    /// Resource usage of the observed runs.
    pub usage: Vec<Usage>,
    /// Round trips of the observed runs.
    pub trips: Vec<Trips>,
}

impl ImplResult {
    fn time_cell(&self) -> String {
        if let Some(why) = &self.unavailable {
            return format!("not available ({})", short(why));
        }
        let mut cell = match Stats::of(&self.times_ms) {
            Some(s) => format!(
                "{} ms ({}–{}, IQR {}–{})",
                ms(s.median),
                ms(s.min),
                ms(s.max),
                ms(s.q1),
                ms(s.q3)
            ),
            None => "no successful run".to_owned(),
        };
        if !self.failures.is_empty() {
            let _ = write!(
                cell,
                "; **{} failed**: {}",
                self.failures.len(),
                short(&self.failures[0])
            );
        }
        cell
    }

    fn rss_mib(&self) -> Option<f64> {
        let mut v: Vec<f64> = self
            .usage
            .iter()
            .map(|u| u.max_rss_kib as f64 / 1024.0)
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }

    fn trips_cell(&self) -> String {
        if self.unavailable.is_some() {
            return "–".to_owned();
        }
        let mut distinct: Vec<String> = Vec::new();
        for t in &self.trips {
            let s = t.to_string();
            if !distinct.contains(&s) {
                distinct.push(s);
            }
        }
        if distinct.is_empty() {
            "–".to_owned()
        } else {
            distinct.join(" \\| ")
        }
    }

    /// The median, when there were successful runs and nothing failed.
    fn clean_median(&self) -> Option<f64> {
        if self.unavailable.is_some() || !self.failures.is_empty() {
            return None;
        }
        Stats::of(&self.times_ms).map(|s| s.median)
    }
}

fn short(s: &str) -> String {
    let one = s.replace(['\n', '|'], " ");
    if one.chars().count() > 90 {
        let cut: String = one.chars().take(90).collect();
        format!("{cut}…")
    } else {
        one
    }
}

/// One row: an action of a target, both implementations.
#[derive(Clone, Debug)]
pub struct Row {
    /// `fence_redfish · sushy-emulator`.
    pub target: String,
    /// The action.
    pub op: Op,
    /// Ours (fence-rs).
    pub ours: ImplResult,
    /// Debian's Python agent.
    pub python: ImplResult,
}

impl Row {
    fn targets_cell(&self) -> String {
        let mut parts = Vec::new();
        match (self.ours.clean_median(), self.python.clean_median()) {
            (Some(o), Some(p)) if o > 0.0 => {
                let x = p / o;
                parts.push(format!("≥10×: {} ({x:.1}×)", mark(x >= 10.0)));
            }
            _ => parts.push("≥10×: n/a".to_owned()),
        }
        if self.ours.unavailable.is_none() {
            let mut met = Vec::new();
            for t in &self.ours.trips {
                if let Some((what, ok)) = t.target(self.op) {
                    met.push((what, ok));
                }
            }
            if let Some((what, _)) = met.first() {
                let all = met.iter().all(|(_, ok)| *ok);
                parts.push(format!("{what}: {}", mark(all)));
            }
        }
        parts.join("; ")
    }
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// The markdown table of `rows`.
pub fn table(rows: &[Row]) -> String {
    let mut t = String::new();
    t.push_str(
        "| agent · peer | action | ours: median (min–max, IQR) | Python: median (min–max, IQR) \
         | ours/Python | peak RSS ours / Python | round trips ours | round trips Python | targets |\n",
    );
    t.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let ratio = match (r.ours.clean_median(), r.python.clean_median()) {
            (Some(o), Some(p)) if p > 0.0 => format!("{:.3}", o / p),
            _ => "–".to_owned(),
        };
        let rss = |i: &ImplResult| match i.rss_mib() {
            Some(m) => format!("{m:.1} MiB"),
            None => "–".to_owned(),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |",
            r.target,
            r.op.action(),
            r.ours.time_cell(),
            r.python.time_cell(),
            ratio,
            rss(&r.ours),
            rss(&r.python),
            r.ours.trips_cell(),
            r.python.trips_cell(),
            r.targets_cell()
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_an_odd_series() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (5, 3.0, 1.0, 5.0));
        assert_eq!((s.q1, s.q3), (2.0, 4.0));
    }

    #[test]
    fn stats_of_an_even_series_interpolate() {
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.q1, 1.75);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn a_failed_run_shows_and_voids_the_ratio() {
        let ok = ImplResult {
            times_ms: vec![100.0],
            ..ImplResult::default()
        };
        let bad = ImplResult {
            times_ms: vec![1.0],
            failures: vec!["exit Some(1)".into()],
            ..ImplResult::default()
        };
        let row = Row {
            target: "t".into(),
            op: Op::Status,
            ours: bad,
            python: ok,
        };
        let t = table(&[row]);
        assert!(t.contains("**1 failed**"), "{t}");
        assert!(t.contains("≥10×: n/a"), "{t}");
    }
}

/// One status read done with the peer's own tool, timed like the agents.
#[derive(Clone, Debug)]
pub struct Reference {
    /// `fence_redfish · sushy-emulator`.
    pub target: String,
    /// What ran (`curl: 1 GET`).
    pub tool: String,
    /// Wall times of the runs that exited 0, in ms.
    pub times_ms: Vec<f64>,
    /// Runs that failed.
    pub failures: usize,
}

/// The markdown table of the reference runs.
pub fn reference_table(refs: &[Reference]) -> String {
    let mut t = String::from(
        "| peer | the peer's own tool, one status read | median (min–max, IQR) |\n|---|---|---|\n",
    );
    for r in refs {
        let time = match Stats::of(&r.times_ms) {
            Some(s) => format!(
                "{} ms ({}–{}, IQR {}–{})",
                ms(s.median),
                ms(s.min),
                ms(s.max),
                ms(s.q1),
                ms(s.q3)
            ),
            None => "no successful run".to_owned(),
        };
        let failed = if r.failures > 0 {
            format!("; **{} failed**", r.failures)
        } else {
            String::new()
        };
        let _ = writeln!(t, "| {} | {} | {time}{failed} |", r.target, r.tool);
    }
    t
}
