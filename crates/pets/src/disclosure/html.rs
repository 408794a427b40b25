//! Self-contained HTML rendering of a [`RiskReport`] for a non-technical release panel:
//! verdict and plain-language summary first, then what would fix the failures, the checks,
//! inline SVG charts drawn here (class sizes, risk distribution, per-attribute contribution)
//! and the details. No scripts, no network assets, no values of any class.

use std::fmt::Write;

use super::report::{RiskReport, thousands};

/// Escape text for HTML (`&`, `<`, `>`, `"`, `'`); shared by every HTML report pets writes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const RED: &str = "#c0392b";
const GREEN: &str = "#1e8449";
const BLUE: &str = "#2e86c1";
const GREY: &str = "#7f8c8d";

/// A horizontal bar chart: `(label, value, colour)` per bar.
fn bar_chart(title: &str, bars: &[(String, f64, &str)], unit: &str) -> String {
    let row = 24.0;
    let label_w = 210.0;
    let bar_w = 360.0;
    let width = label_w + bar_w + 110.0;
    let height = 30.0 + row * bars.len() as f64 + 10.0;
    let max = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-12);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{t}\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{t}</text>",
        t = esc(title)
    );
    for (i, (label, value, colour)) in bars.iter().enumerate() {
        let y = 28.0 + row * i as f64;
        let w = (value / max * bar_w).max(if *value > 0.0 { 1.0 } else { 0.0 });
        let shown = if unit == "%" {
            format!("{value:.1}%")
        } else {
            thousands(value.round() as u64)
        };
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" font-size=\"12\" text-anchor=\"end\">{l}</text>\
             <rect x=\"{bx}\" y=\"{y}\" width=\"{w:.1}\" height=\"{h}\" fill=\"{colour}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\" font-size=\"12\">{shown}</text>",
            lx = label_w - 6.0,
            ty = y + 14.0,
            l = esc(label),
            bx = label_w,
            h = row - 6.0,
            vx = label_w + w + 4.0,
        );
    }
    s.push_str("</svg>");
    s
}

fn class_size_chart(r: &RiskReport) -> String {
    let k = r.config.k.max(1);
    let freq = &r.k_anonymity.size_frequencies;
    let mut edges: Vec<u64> = (1..k.min(11)).collect();
    for e in [k, 10, 20, 50, 100, 1000] {
        if edges.last().is_none_or(|&l| e > l) {
            edges.push(e);
        }
    }
    let mut bars = Vec::new();
    for (i, &lo) in edges.iter().enumerate() {
        let hi = edges.get(i + 1).map(|h| h - 1);
        let records: u64 = freq
            .iter()
            .filter(|(s, _)| *s >= lo && hi.is_none_or(|h| *s <= h))
            .map(|(s, c)| s * c)
            .sum();
        let label = match hi {
            Some(h) if h == lo => {
                if lo == 1 {
                    "alone (unique)".to_string()
                } else {
                    format!("groups of {lo}")
                }
            }
            Some(h) => format!("groups of {lo}-{h}"),
            None => format!("groups of {lo}+"),
        };
        let colour = if lo < k { RED } else { GREEN };
        bars.push((label, records as f64, colour));
    }
    bar_chart(
        &format!("Records by size of their group (red: fewer than k = {k})"),
        &bars,
        "records",
    )
}

fn risk_chart(r: &RiskReport) -> String {
    let thr = r.config.risk_threshold;
    let bars: Vec<(String, f64, &str)> = r
        .risk_distribution
        .iter()
        .map(|b| {
            let label = if b.lower == 0.0 {
                format!("up to {:.0}%", 100.0 * b.upper)
            } else {
                format!("{:.0}% to {:.0}%", 100.0 * b.lower, 100.0 * b.upper)
            };
            let colour = if b.upper > thr && b.lower >= thr - 1e-12 || b.lower >= thr {
                RED
            } else if b.upper > thr {
                "#e67e22"
            } else {
                GREEN
            };
            (label, b.records as f64, colour)
        })
        .collect();
    bar_chart(
        &format!(
            "Records by chance of re-identification (threshold {:.0}%)",
            100.0 * thr
        ),
        &bars,
        "records",
    )
}

fn contribution_chart(r: &RiskReport) -> Option<String> {
    if let Some(s) = &r.suda
        && s.total_score > 0.0
    {
        let bars: Vec<(String, f64, &str)> = s
            .contributions
            .iter()
            .map(|c| (c.column.clone(), c.percent, BLUE))
            .collect();
        return Some(bar_chart(
            "Share of the uniqueness risk each attribute takes part in (SUDA)",
            &bars,
            "%",
        ));
    }
    let sc = r.scenarios.as_ref()?;
    let bars: Vec<(String, f64, &str)> = sc
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let drop_mask = ((1u32 << sc.columns.len()) - 1) & !(1 << i);
            let full = (1u32 << sc.columns.len()) - 1;
            let with = sc.get(full)?.records_under_k;
            let without = if drop_mask == 0 {
                0
            } else {
                sc.get(drop_mask)?.records_under_k
            };
            Some((c.clone(), with.saturating_sub(without) as f64, BLUE))
        })
        .collect();
    Some(bar_chart(
        "Records under k that each attribute is responsible for",
        &bars,
        "records",
    ))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn fmt_num(x: f64) -> String {
    if x == f64::MAX || !x.is_finite() {
        "infinite".into()
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        thousands(x.abs() as u64)
    } else {
        format!("{x:.3}")
    }
}

/// Render the report as one self-contained HTML page.
pub fn render_html(r: &RiskReport) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let verdict_colour = if r.passed { GREEN } else { RED };
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Disclosure risk report: {verdict}</title><style>\
         body{{font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;max-width:980px;\
         margin:2em auto;padding:0 1em;color:#222;line-height:1.45}}\
         .verdict{{font-size:2.4em;font-weight:bold;color:#fff;background:{verdict_colour};\
         padding:.3em .6em;border-radius:6px;display:inline-block}}\
         table{{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}}\
         th,td{{border:1px solid #ccc;padding:.35em .5em;text-align:left;vertical-align:top}}\
         th{{background:#f3f3f3}} .pass{{color:{GREEN};font-weight:bold}}\
         .fail{{color:{RED};font-weight:bold}} .num{{text-align:right}}\
         .summary li{{margin:.3em 0}} .muted{{color:{GREY};font-size:.9em}}\
         .warn{{background:#fff3cd;border:1px solid #e0c060;padding:.5em;border-radius:4px}}\
         svg{{max-width:100%;height:auto;margin:.5em 0}}</style></head><body>",
        verdict = esc(&r.verdict),
    );
    let _ = write!(
        h,
        "<h1>Disclosure risk report</h1><p><span class=\"verdict\">{}</span></p>\
         <p class=\"muted\">{} records assessed. Facts an intruder is assumed to know: <b>{}</b>.{}\
         </p>",
        esc(&r.verdict),
        thousands(r.n_records),
        esc(&r.config.quasi_identifiers.join(", ")),
        r.config
            .sensitive
            .as_ref()
            .map(|s| format!(" Sensitive attribute: <b>{}</b>.", esc(s)))
            .unwrap_or_default()
    );
    for w in &r.warnings {
        let _ = write!(h, "<p class=\"warn\">Warning: {}</p>", esc(w));
    }
    h.push_str("<h2>Summary</h2><ul class=\"summary\">");
    for s in &r.summary {
        let _ = write!(h, "<li>{}</li>", esc(s));
    }
    h.push_str("</ul>");

    if !r.fixes.is_empty() {
        let _ = write!(
            h,
            "<h2>What would fix it</h2><p>Each option on its own, with the records that would \
             still be in groups smaller than {k}:</p><table><tr><th>Option</th>\
             <th class=\"num\">Records still under {k}</th><th class=\"num\">Smallest group \
             after</th></tr>",
            k = r.config.k
        );
        for f in r.fixes.iter().take(10) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&f.action),
                thousands(f.records_under_k_after),
                thousands(f.k_after)
            );
        }
        h.push_str("</table>");
    }

    h.push_str(
        "<h2>Checks</h2><table><tr><th>Check</th><th>Result</th><th class=\"num\">Measured</th>\
         <th class=\"num\">Required</th><th class=\"num\">Failing groups</th>\
         <th class=\"num\">Records in them</th><th>What it means</th></tr>",
    );
    for c in &r.checks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{} {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td></tr>",
            esc(&c.title),
            if c.passed { "pass" } else { "fail" },
            if c.passed {
                "&#10004; pass"
            } else {
                "&#10008; FAIL"
            },
            fmt_num(c.measured),
            esc(&c.requirement),
            fmt_num(c.threshold),
            thousands(c.failing_classes),
            thousands(c.failing_records),
            esc(&c.explanation)
        );
    }
    h.push_str("</table>");

    h.push_str("<h2>Pictures</h2>");
    h.push_str(&class_size_chart(r));
    h.push_str(&risk_chart(r));
    if let Some(c) = contribution_chart(r) {
        h.push_str(&c);
    }

    if let Some(sc) = &r.scenarios {
        let _ = write!(
            h,
            "<h2>What an intruder could do with fewer facts</h2><p>Each row assumes the \
             intruder knows only the listed facts. Rows marked &#9733; are the smallest \
             combinations that single someone out.</p><table><tr><th>Facts known</th>\
             <th class=\"num\">People singled out</th><th class=\"num\">Records in groups \
             under {k}</th><th class=\"num\">Highest chance</th><th class=\"num\">Average \
             chance</th></tr>",
            k = sc.k_threshold
        );
        let mut rows: Vec<_> = sc.scenarios.iter().collect();
        rows.sort_by(|a, b| {
            a.columns
                .len()
                .cmp(&b.columns.len())
                .then(b.sample_uniques.cmp(&a.sample_uniques))
        });
        for s in rows.iter().take(64) {
            let star = if sc.minimal_singling_out.contains(&s.mask) {
                "&#9733; "
            } else {
                ""
            };
            let _ = write!(
                h,
                "<tr><td>{star}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&s.columns.join(" + ")),
                thousands(s.sample_uniques),
                thousands(s.records_under_k),
                pct(s.highest_risk),
                pct(s.average_risk)
            );
        }
        h.push_str("</table>");
        if sc.scenarios.len() > 64 {
            let _ = write!(
                h,
                "<p class=\"muted\">{} more combinations are in the JSON report.</p>",
                sc.scenarios.len() - 64
            );
        }
    }

    if let Some(s) = &r.suda
        && !s.msu_counts.is_empty()
    {
        h.push_str(
            "<h2>Smallest sets of facts that single people out</h2><p>Fewest facts \
             first: these are the combinations an intruder needs, and the first ones to \
             generalise or suppress.</p><table><tr><th>Facts</th><th class=\"num\">People for whom these facts alone are enough\
             </th></tr>",
        );
        let mut msus: Vec<_> = s.msu_counts.iter().collect();
        msus.sort_by(|a, b| {
            a.columns
                .len()
                .cmp(&b.columns.len())
                .then(b.records.cmp(&a.records))
        });
        for m in msus.iter().take(15) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(&m.columns.join(" + ")),
                thousands(m.records)
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Details</h2><table>");
    let mut row = |k: &str, v: String| {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    };
    let ka = &r.k_anonymity;
    row(
        "Groups (equivalence classes)",
        format!(
            "{} groups; smallest {}; average size {:.1}; {} people unique",
            thousands(ka.n_classes),
            thousands(ka.k),
            ka.mean_class_size,
            thousands(ka.sample_uniques)
        ),
    );
    let p = &r.reidentification.prosecutor;
    row(
        "Prosecutor risk",
        format!(
            "highest {}, average {}, records above threshold {}",
            pct(p.highest),
            pct(p.average),
            pct(p.records_at_risk)
        ),
    );
    if let Some(j) = &r.reidentification.journalist {
        row(
            "Journalist risk",
            format!(
                "highest {}, average {}, records above threshold {}",
                pct(j.highest),
                pct(j.average),
                pct(j.records_at_risk)
            ),
        );
    }
    if let Some(m) = r.reidentification.marketer {
        row(
            "Marketer risk",
            format!("{} of records expected to be matched", pct(m)),
        );
    }
    if let Some(l) = &r.l_diversity {
        row(
            "l-diversity",
            format!(
                "distinct l = {}, entropy l = {:.3}, recursive (c,l) with l = {}: max r1/tail = {}",
                l.distinct_l,
                l.entropy_l,
                l.recursive.l,
                l.recursive
                    .max_ratio
                    .map_or("infinite (a group has fewer than l values)".into(), |x| {
                        format!("{x:.3}")
                    })
            ),
        );
    }
    if let Some(t) = &r.t_closeness {
        row(
            "t-closeness",
            format!(
                "t = {:.4} ({} distance), mean {:.4}",
                t.t, t.distance, t.mean
            ),
        );
    }
    if let Some(a) = &r.alpha_k {
        row("(alpha,k)-anonymity", format!("alpha = {:.3}", a.alpha));
    }
    if let Some(b) = &r.beta_likeness {
        row("beta-likeness", format!("beta = {:.3}", b.beta));
    }
    if let Some(d) = &r.delta_disclosure {
        row(
            "delta-disclosure",
            format!(
                "delta = {:.3} over values present; {} groups lack some value",
                d.delta,
                thousands(d.classes_missing_a_value)
            ),
        );
    }
    if let Some(pu) = &r.population_uniqueness {
        let f = |x: Option<f64>| x.map_or("not available".to_string(), |v| format!("{v:.1}"));
        row(
            "Population uniques (estimated)",
            format!(
                "Dankar's rule ({:?}): {:.1} ({:.4}% of the population); Pitman {}, Zayatz {}, \
                 SNB {}; sampling fraction {}",
                pu.dankar_model,
                pu.dankar,
                100.0 * pu.dankar_fraction,
                f(pu.pitman),
                f(pu.zayatz),
                f(pu.snb),
                pu.sampling_fraction
            ),
        );
    }
    if let Some(l) = &r.linkage {
        row(
            "Linkage attack",
            format!(
                "on {}: release records matched uniquely {}, into small groups {}, into large \
                 groups {}, not matched {}; intruder rows matching exactly one record {}",
                l.columns.join(", "),
                thousands(l.release_matched_uniquely),
                thousands(l.release_matched_small_class),
                thousands(l.release_matched_large_class),
                thousands(l.release_not_matched),
                thousands(l.attacker_rows_matching_one)
            ),
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<p class=\"muted\">Made by pets {} (pets::disclosure). Definitions: k-anonymity \
         (Sweeney 2002); l-diversity (Machanavajjhala et al. 2007); t-closeness (Li, Li, \
         Venkatasubramanian 2007); (alpha,k)-anonymity (Wong et al. 2006); beta-likeness (Cao \
         &amp; Karras 2012); delta-disclosure (Brickell &amp; Shmatikov 2008); prosecutor, \
         journalist and marketer risk (El Emam &amp; Dankar 2008); population uniqueness \
         (Dankar et al. 2012); SUDA (Elliot et al. 2002). This report shows group sizes and \
         counts only, never the values of a small group.</p></body></html>",
        esc(&r.pets_version)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::RiskConfig;
    use crate::disclosure::report::assess;
    use crate::disclosure::testutil::{cat, int, table};

    #[test]
    fn self_contained_and_readable() {
        let t = table(vec![
            int("age", 10, &[0, 0, 0, 1, 1, 1, 5, 6, 7, 9]),
            cat("sex", 2, &[0, 0, 0, 1, 1, 1, 0, 1, 0, 1]),
            cat("dx", 3, &[0, 1, 2, 0, 0, 1, 2, 2, 0, 1]),
        ]);
        let cfg = RiskConfig {
            sensitive: Some("dx".into()),
            k: 3,
            l: Some(2),
            t: Some(0.3),
            ..RiskConfig::new(["age", "sex"])
        };
        let r = assess(&t, &cfg).unwrap();
        let html = render_html(&r);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("FAIL"));
        assert!(html.contains("What would fix it"));
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(!html.contains("http://") || html.matches("http://").count() == 3); // svg xmlns only
        assert!(!html.contains("https://"));
        assert!(!html.contains("<script"));
        assert!(!html.contains(">v0<") && !html.contains(">v1<"));
    }

    #[test]
    fn escapes() {
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
