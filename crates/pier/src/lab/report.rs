//! What a lab run found: per variant, the narrative, the counts of every
//! verdict, the expectations checked, and examples of the records behind
//! them. As text for a terminal, JSON, and JUnit XML for CI.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::apps::AppOutcome;
use super::clients::{ConsumerOutcome, ProducerOutcome};

pub use pier_workbench::{Checked, LabClient, LabReport, Said, VariantReport};

/// A lab client's summary, from its own account.
pub(super) struct ClientSummary;

impl ClientSummary {
    pub(super) fn producer(p: &ProducerOutcome) -> LabClient {
        LabClient {
            name: p.name.clone(),
            role: "producer".to_owned(),
            records: p.acknowledged.len() as u64,
            resends: p.resends,
            crashes: 0,
            dropped_at_crash: Vec::new(),
            errors: p.errors.clone(),
            output: Vec::new(),
        }
    }

    pub(super) fn consumer(c: &ConsumerOutcome) -> LabClient {
        LabClient {
            name: c.name.clone(),
            role: "consumer".to_owned(),
            records: c.processed.values().map(|n| u64::from(*n)).sum(),
            resends: 0,
            crashes: c.crashes,
            dropped_at_crash: c.dropped_at_crash.clone(),
            errors: c.errors.clone(),
            output: Vec::new(),
        }
    }

    pub(super) fn app(a: &AppOutcome, processed: &BTreeMap<String, u32>) -> LabClient {
        LabClient {
            name: a.name.clone(),
            role: "app".to_owned(),
            records: processed.values().map(|n| u64::from(*n)).sum(),
            resends: 0,
            crashes: a.kills,
            dropped_at_crash: Vec::new(),
            errors: a.errors.clone(),
            output: a
                .exits
                .iter()
                .map(|e| format!("exited: {e}"))
                .chain(a.output.iter().cloned())
                .collect(),
        }
    }
}

/// Record ids a terminal report lists per measure (`--json` has them all,
/// up to [`super::judge::EXAMPLES_MAX`]).
const TEXT_LISTED: usize = 30;

/// The report for a terminal.
pub fn text(report: &LabReport) -> String {
    let this = report;
    {
        let mut s = String::new();
        let _ = writeln!(s, "lab {} — {}", this.lab, this.title);
        for v in &this.variants {
            let mark = if v.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(s, "\n  variant {:?}: {mark} ({} ms)", v.name, v.elapsed_ms);
            if !v.about.is_empty() {
                let _ = writeln!(s, "    {}", v.about);
            }
            for c in &v.clients {
                let _ = writeln!(
                    s,
                    "    {} {}: {} records{}{}",
                    c.role,
                    c.name,
                    c.records,
                    if c.resends > 0 {
                        format!(", {} resends", c.resends)
                    } else {
                        String::new()
                    },
                    if c.crashes > 0 {
                        format!(", {} crash", c.crashes)
                    } else {
                        String::new()
                    },
                );
                for e in &c.errors {
                    let _ = writeln!(s, "      error: {e}");
                }
            }
            for e in &v.expectations {
                let mark = if e.met { "ok  " } else { "FAIL" };
                let _ = writeln!(
                    s,
                    "    {mark} {} {} (was {})",
                    e.verdict, e.condition, e.actual
                );
            }
            for (name, n) in v.counts.iter().filter(|(_, n)| **n > 0) {
                let listed = v.examples.get(name).map(Vec::as_slice).unwrap_or_default();
                if listed.is_empty() {
                    let _ = writeln!(s, "    {name}: {n}");
                    continue;
                }
                // A quantity (ms, records at once) lists what reached it.
                let quantity = name.starts_with("max_");
                let shown = &listed[..listed.len().min(TEXT_LISTED)];
                let more = if !quantity && (*n as usize) > shown.len() {
                    format!(", … {} more", *n as usize - shown.len())
                } else {
                    String::new()
                };
                let _ = writeln!(s, "    {name}: {n} [{}{more}]", shown.join(", "));
            }
        }
        let _ = writeln!(
            s,
            "\n{}",
            if this.passed {
                "lab passed"
            } else {
                "lab FAILED: an expectation was not met"
            }
        );
        s
    }
}

/// JUnit XML: a test suite per lab, a test case per variant, a failure
/// listing the expectations it broke.
pub fn junit(report: &LabReport) -> String {
    let this = report;
    {
        let failures = this.variants.iter().filter(|v| !v.passed).count();
        let seconds: f64 = this
            .variants
            .iter()
            .map(|v| v.elapsed_ms as f64 / 1000.0)
            .sum();
        let mut s = String::new();
        let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            s,
            r#"<testsuites name="pier labs" tests="{}" failures="{failures}" time="{seconds:.3}">"#,
            this.variants.len()
        );
        let _ = writeln!(
            s,
            r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="0" time="{seconds:.3}">"#,
            xml(&this.lab),
            this.variants.len()
        );
        for v in &this.variants {
            let _ = write!(
                s,
                r#"    <testcase classname="lab.{}" name="{}" time="{:.3}""#,
                xml(&this.lab),
                xml(&v.name),
                v.elapsed_ms as f64 / 1000.0
            );
            if v.passed {
                let _ = writeln!(s, "/>");
                continue;
            }
            let broken: Vec<String> = v
                .expectations
                .iter()
                .filter(|e| !e.met)
                .map(|e| format!("{} {} (was {})", e.verdict, e.condition, e.actual))
                .collect();
            let detail: Vec<String> = v
                .expectations
                .iter()
                .filter(|e| !e.met)
                .filter_map(|e| {
                    v.examples
                        .get(&e.verdict)
                        .map(|l| format!("{}: {}", e.verdict, l.join(", ")))
                })
                .collect();
            let _ = writeln!(
                s,
                ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>",
                xml(&broken.join("; ")),
                xml(&detail.join("\n"))
            );
        }
        let _ = writeln!(s, "  </testsuite>\n</testsuites>");
        s
    }
}

fn xml(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => " ".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
