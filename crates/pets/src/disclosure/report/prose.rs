//! Plain language: the report's summary lines (most important first) and the number and
//! list formatting shared by checks, fixes and the HTML rendering.

use super::{Check, Fix, RiskReport};

pub(crate) fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        return "0%".into();
    }
    let p = 100.0 * a as f64 / b as f64;
    if p > 0.0 && p < 0.1 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

/// Thousands separators for counts in plain-language text.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub(crate) fn list(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

pub(super) fn summary(r: &RiskReport) -> Vec<String> {
    let mut s = Vec::new();
    let n = r.n_records;
    let failed: Vec<&Check> = r.checks.iter().filter(|c| !c.passed).collect();
    if failed.is_empty() {
        s.push(format!(
            "PASS: all {} checks pass for {} records.",
            r.checks.len(),
            thousands(n)
        ));
    } else {
        s.push(format!(
            "FAIL: {} of {} checks fail ({}).",
            failed.len(),
            r.checks.len(),
            failed
                .iter()
                .map(|c| c.id.replace('_', "-"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for c in &failed {
        s.push(c.explanation.clone());
    }
    if let Some(sc) = &r.scenarios {
        let mut minimal: Vec<_> = sc
            .minimal_singling_out
            .iter()
            .filter_map(|&m| sc.get(m))
            .collect();
        minimal.sort_by(|a, b| {
            a.columns
                .len()
                .cmp(&b.columns.len())
                .then(b.sample_uniques.cmp(&a.sample_uniques))
        });
        for m in minimal.iter().take(3) {
            s.push(format!(
                "Knowing only {} is enough to single out {} {}.",
                list(&m.columns),
                thousands(m.sample_uniques),
                if m.sample_uniques == 1 {
                    "person"
                } else {
                    "people"
                }
            ));
        }
    }
    if let Some(j) = &r.reidentification.journalist {
        s.push(format!(
            "If the intruder does not know who is in the extract (journalist), the highest \
             chance of a correct match is {:.0}% and the expected share of records matched \
             (marketer) is {:.1}%.",
            100.0 * j.highest,
            100.0 * r.reidentification.marketer.unwrap_or(0.0)
        ));
    }
    if !r.passed {
        let useful: Vec<&Fix> = r
            .fixes
            .iter()
            .filter(|f| {
                f.kind != "suppress" && f.records_under_k_after < r.k_anonymity.records_under_k
            })
            .take(3)
            .collect();
        for f in &r.fixes {
            if f.kind == "suppress" {
                s.push(format!("What would fix k-anonymity: {}.", f.action));
            }
        }
        for f in useful {
            s.push(format!(
                "Or: {} (leaves {} records in groups under {}).",
                f.action,
                thousands(f.records_under_k_after),
                r.config.k
            ));
        }
    }
    s
}

pub(super) fn summarise_linkage(r: &mut RiskReport) {
    if let Some(l) = &r.linkage {
        r.summary.push(format!(
            "Linking the intruder's table on {}: {} release records are matched uniquely and {} \
             of the intruder's rows point to exactly one record.",
            list(&l.columns),
            thousands(l.release_matched_uniquely),
            thousands(l.attacker_rows_matching_one)
        ));
    }
}
