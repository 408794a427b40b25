//! The protected tables as one self-contained HTML page for a release panel: the rule and
//! its source, how many cells were suppressed and how, each table as a grid with suppressed
//! cells marked (primary or secondary), and the audit's interval for every suppressed cell.
//! No scripts, no network assets, no suppressed value.

use std::fmt::Write;

use super::job::{ProtectedTable, ProtectedTables};
use super::{Rule, Secondary};
use crate::disclosure::html::esc;

fn interval_text(c: &super::PublishedCell) -> String {
    match c.interval {
        Some(i) => match i.high {
            Some(h) => format!("{} to {}", i.low, h),
            None => format!("{} or more", i.low),
        },
        None => String::new(),
    }
}

/// One table as a grid: a row per combination of all but the last column, a column per
/// value of the last (one row for a one-column table).
fn grid(t: &ProtectedTable, stats: &[String]) -> String {
    let d = t.by.len();
    let last: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for c in &t.cells {
            let l = c.labels[d - 1].as_str();
            if !v.contains(&l) {
                v.push(l);
            }
        }
        v
    };
    let mut h = String::from("<table class=\"grid\"><tr>");
    for b in &t.by[..d - 1] {
        let _ = write!(h, "<th>{}</th>", esc(b));
    }
    for l in &last {
        let _ = write!(h, "<th>{} {}</th>", esc(&t.by[d - 1]), esc(l));
    }
    h.push_str("</tr>");
    for row in t.cells.chunks(last.len()) {
        h.push_str("<tr>");
        for l in &row[0].labels[..d - 1] {
            let _ = write!(h, "<th>{}</th>", esc(l));
        }
        for c in row {
            let (class, what) = match c.suppressed {
                Some("primary") => ("p", "small count (primary)"),
                Some(_) => ("s", "suppressed to protect a small count (secondary)"),
                None => ("", ""),
            };
            let mut title = String::new();
            if !what.is_empty() {
                let _ = write!(title, "{what}; the audit: {}", interval_text(c));
            }
            let extra: String = c
                .statistics
                .iter()
                .zip(stats)
                .filter(|(v, _)| !v.is_empty())
                .map(|(v, s)| format!("<br><small>{}: {}</small>", esc(s), esc(v)))
                .collect();
            let _ = write!(
                h,
                "<td class=\"{class}\" title=\"{}\">{}{extra}</td>",
                esc(&title),
                esc(&c.published)
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    h
}

/// Render the protected tables as a standalone HTML page.
pub fn render_html(o: &ProtectedTables) -> String {
    let stats: Vec<String> = o.statistics.iter().map(|s| s.label()).collect();
    let mut body = String::new();
    for t in &o.tables {
        let _ = write!(body, "<h3>By {}</h3>", esc(&t.by.join(" × ")));
        body.push_str(&grid(t, &stats));
        let suppressed: String = t
            .cells
            .iter()
            .filter(|c| c.suppressed.is_some())
            .map(|c| {
                format!(
                    "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                    esc(&c.labels.join(", ")),
                    if c.suppressed == Some("primary") {
                        "p"
                    } else {
                        "s"
                    },
                    c.suppressed.unwrap_or_default(),
                    esc(&interval_text(c))
                )
            })
            .collect();
        if !suppressed.is_empty() {
            let _ = write!(
                body,
                "<details><summary>The audit of its suppressed cells</summary><table>\
                 <tr><th>cell</th><th>suppressed</th><th>what the published numbers allow \
                 it to be</th></tr>{suppressed}</table></details>"
            );
        }
    }
    let method = match &o.secondary_suppression {
        None => "none (the rule protects by rounding)".to_string(),
        Some(s) => {
            let m = match s.method {
                Secondary::Greedy => "a greedy heuristic (not minimal)".to_string(),
                Secondary::Exact => format!(
                    "exact: the fewest {} by an integer program ({} rounds, {} cuts)",
                    match s.cost {
                        Some(super::Cost::Value) => "suppressed counts (total value)",
                        _ => "suppressed cells",
                    },
                    s.rounds.unwrap_or(0),
                    s.cuts.unwrap_or(0)
                ),
            };
            match &s.fallback {
                Some(why) => format!("{m}; the exact method gave up: {}", esc(why)),
                None => m,
            }
        }
    };
    let verdict = if o.protected {
        match o.rule {
            Rule::Hes => "Every count is rounded or, if small, suppressed.".to_string(),
            Rule::Threshold { protection, .. } => format!(
                "Protected: no suppressed small count can be narrowed to an interval less \
                 than {protection} wide from the published numbers."
            ),
        }
    } else {
        "NOT PROTECTED: some small counts can be narrowed too far; do not publish.".to_string()
    };
    let warnings: String = o
        .warnings
        .iter()
        .map(|w| format!("<li>{}</li>", esc(&w.message)))
        .collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pets table</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;color:#222}}\
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}\
.grid td{{text-align:right}}td.p{{background:#f5b7b1}}td.s{{background:#fad7a0}}\
.pass{{color:#1e8449}}.fail{{color:#c0392b;font-weight:bold}}</style></head><body>\
<h1>Protected count tables</h1>\
<p class=\"{vclass}\">{verdict}</p>\
<p><b>Rule:</b> {source}</p>\
<p>{tables} table(s); <b>{primary}</b> small cell(s) suppressed (primary, \
<span style=\"background:#f5b7b1\">&nbsp;red&nbsp;</span>) and <b>{secondary}</b> more to \
protect them (secondary, <span style=\"background:#fad7a0\">&nbsp;amber&nbsp;</span>). \
Secondary suppression: {method}. {narrowest}</p>\
<p>The audit solves, for each suppressed cell, the least and greatest value it can take given \
every published number of every table here (linear programming); hover a cell to see it.</p>\
{body}{warn}<p><small>pets {version}</small></p></body></html>",
        vclass = if o.protected { "pass" } else { "fail" },
        source = esc(&o.source),
        tables = o.tables.len(),
        primary = o.primary,
        secondary = o.secondary,
        narrowest = if o.narrowest_interval.is_finite() {
            format!(
                "The narrowest interval of a suppressed small count is {} wide.",
                o.narrowest_interval
            )
        } else if o.primary > 0 {
            "No suppressed small count is bounded above by what is published.".to_string()
        } else {
            String::new()
        },
        warn = if warnings.is_empty() {
            String::new()
        } else {
            format!("<h2>Warnings</h2><ul>{warnings}</ul>")
        },
        version = env!("CARGO_PKG_VERSION"),
    )
}
