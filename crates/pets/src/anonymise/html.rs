//! The release panel's anonymisation report as one self-contained HTML page: the levels
//! chosen, the risk before and after, what suppression cost, and the trade-off front as a
//! plot (information loss against the average risk of what is kept).

use super::job::AnonymiseOutcome;
use crate::disclosure::RiskReport;
use crate::disclosure::html::esc;

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn checks_table(title: &str, r: &RiskReport) -> String {
    let rows: String = r
        .checks
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{:.4}</td><td>{} {:.4}</td><td>{}</td></tr>",
                esc(&c.title),
                if c.passed { "pass" } else { "fail" },
                if c.passed { "pass" } else { "FAIL" },
                c.measured,
                esc(&c.requirement),
                c.threshold,
                c.failing_records
            )
        })
        .collect();
    format!(
        "<h3>{} — {} ({} records)</h3><table><tr><th>check</th><th></th><th>measured</th>\
         <th>required</th><th>records failing</th></tr>{rows}</table>",
        esc(title),
        esc(&r.verdict),
        r.n_records
    )
}

/// The front as an SVG scatter: loss (x) against average risk (y), the optimum in green.
fn front_plot(o: &AnonymiseOutcome) -> String {
    let front = &o.search.front;
    if front.is_empty() {
        return String::new();
    }
    let (w, h, m) = (560.0, 300.0, 50.0);
    let max_loss = front
        .iter()
        .map(|n| n.loss)
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let max_risk = front
        .iter()
        .map(|n| n.average_risk)
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let x = |v: f64| m + v / max_loss * (w - 2.0 * m);
    let y = |v: f64| h - m + -v / max_risk * (h - 2.0 * m);
    let points: String = front
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let label = n
                .levels
                .iter()
                .zip(&o.hierarchies)
                .map(|(&l, hs)| format!("{}: {}", hs.column, hs.levels[l]))
                .collect::<Vec<_>>()
                .join("; ");
            format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{}\"><title>{}\nloss {:.4}, \
                 average risk {:.4}, suppressed {}</title></circle>",
                x(n.loss),
                y(n.average_risk),
                if i == 0 { "#1e8449" } else { "#2e86c1" },
                esc(&label),
                n.loss,
                n.average_risk,
                n.suppressed_records
            )
        })
        .collect();
    format!(
        "<svg width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"trade-off front\">\
         <line x1=\"{m}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#555\"/>\
         <line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{b}\" stroke=\"#555\"/>\
         <text x=\"{cx}\" y=\"{ty}\" text-anchor=\"middle\" font-size=\"12\">information loss ({measure}) →</text>\
         <text x=\"14\" y=\"{cy}\" font-size=\"12\" transform=\"rotate(-90 14 {cy})\" text-anchor=\"middle\">average risk →</text>\
         <text x=\"{r}\" y=\"{ty2}\" text-anchor=\"end\" font-size=\"11\">{maxl:.3}</text>\
         <text x=\"{m2}\" y=\"{m}\" text-anchor=\"end\" font-size=\"11\">{maxr:.3}</text>\
         {points}</svg>",
        b = h - m,
        r = w - m,
        cx = w / 2.0,
        ty = h - 15.0,
        ty2 = h - m + 15.0,
        cy = h / 2.0,
        m2 = m - 4.0,
        maxl = max_loss,
        maxr = max_risk,
        measure = esc(&o.record.measure),
    )
}

/// Render the outcome as a standalone HTML page.
pub fn render_html(o: &AnonymiseOutcome) -> String {
    let r = &o.record;
    let levels: String = r
        .quasi_identifiers
        .iter()
        .map(|q| {
            format!(
                "<tr><td>{}</td><td><b>{}</b></td><td>{}{}</td></tr>",
                esc(&q.column),
                esc(&q.level_name),
                esc(&q.hierarchy),
                if q.defaulted {
                    " (default: none declared)"
                } else {
                    ""
                }
            )
        })
        .collect();
    let front_rows: String = o
        .search
        .front
        .iter()
        .map(|n| {
            let levels = n
                .levels
                .iter()
                .zip(&o.hierarchies)
                .map(|(&l, h)| format!("{} to {}", h.column, h.levels[l]))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "<tr><td>{}</td><td>{:.4}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td></tr>",
                esc(&levels),
                n.loss,
                n.suppressed_records,
                n.average_risk,
                n.highest_risk
            )
        })
        .collect();
    let micro = if r.microaggregation.is_empty() {
        String::new()
    } else {
        let rows: String = r
            .microaggregation
            .iter()
            .map(|m| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4} ({})</td></tr>",
                    esc(&m.column),
                    m.function.name(),
                    m.classes,
                    m.loss,
                    esc(&m.loss_measure)
                )
            })
            .collect();
        format!(
            "<h2>Microaggregated columns</h2><p>Not generalised: in each released class every \
             value is replaced by the class's aggregate, so the column is constant within every \
             class and the models hold over it as over the others.</p><table><tr><th>column</th>\
             <th>function</th><th>classes</th><th>information loss</th></tr>{rows}</table>"
        )
    };
    let local = if r.local_recoding == 0 {
        String::new()
    } else {
        let rows: String = r
            .iterations
            .iter()
            .map(|it| {
                let levels = it
                    .level_names
                    .iter()
                    .zip(&r.quasi_identifiers)
                    .map(|(l, q)| format!("{} to {l}", q.column))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td></tr>",
                    if it.iteration == 0 {
                        "global".to_string()
                    } else {
                        it.iteration.to_string()
                    },
                    esc(&levels),
                    it.records_in,
                    if it.dropped {
                        "0 (dropped: the release would fail)".to_string()
                    } else {
                        it.records_released.to_string()
                    },
                    it.loss
                )
            })
            .collect();
        format!(
            "<h2>Local recoding</h2><p>The records the global optimum suppressed were searched \
             again (at most {max} iteration(s)): {before} record(s) suppressed before, {after} \
             after. Each record is released under the levels of the iteration that kept it.</p>\
             <table><tr><th>iteration</th><th>levels</th><th>records searched</th>\
             <th>records released</th><th>loss over them</th></tr>{rows}</table>",
            max = r.local_recoding,
            before = r.records_suppressed_global,
            after = r.records_suppressed,
        )
    };
    let warnings: String = o
        .warnings
        .iter()
        .map(|w| format!("<li>{}</li>", esc(&w.message)))
        .collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pets anonymise</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}}\
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}\
.pass{{color:#1e8449}}.fail{{color:#c0392b;font-weight:bold}}</style></head><body>\
<h1>Anonymisation of {input}</h1>\
<p>The least information loss ({measure}: {loss:.4}) that meets the models with at most {limit} of \
records suppressed: {suppressed} of {records_in} records ({share}) {mode}; {out} records released. \
Direct identifiers left out: {dropped}.</p>\
<h2>Levels chosen</h2><table><tr><th>column</th><th>released as</th><th>hierarchy</th></tr>{levels}</table>\
{micro}{local}<h2>Risk before and after</h2>{before}{after}\
<h2>Alternatives</h2><p>Each point keeps less risk for more loss; none is beaten on both by \
another evaluated transformation ({evaluated} of {nodes} lattice nodes evaluated, {tagged} ruled out \
without evaluation).</p>{plot}\
<table><tr><th>levels</th><th>loss</th><th>suppressed</th><th>average risk</th><th>highest risk</th></tr>{front_rows}</table>\
{warn}<p><small>pets {version}</small></p></body></html>",
        input = esc(&r.input),
        measure = esc(&r.measure),
        loss = r.loss,
        limit = pct(r.suppression_limit),
        suppressed = r.records_suppressed,
        records_in = r.records_in,
        share = pct(r.records_suppressed as f64 / r.records_in.max(1) as f64),
        mode = match r.suppressed_rows {
            super::SuppressedRows::Remove => "removed",
            super::SuppressedRows::Mask => "masked",
        },
        out = r.records_out,
        dropped = if r.dropped_columns.is_empty() {
            "none".to_string()
        } else {
            esc(&r.dropped_columns.join(", "))
        },
        before = checks_table("Before", &o.before),
        after = checks_table("After", &o.after),
        evaluated = o.search.evaluated,
        nodes = o.search.lattice_nodes,
        tagged = o.search.tagged,
        plot = front_plot(o),
        warn = if warnings.is_empty() {
            String::new()
        } else {
            format!("<h2>Warnings</h2><ul>{warnings}</ul>")
        },
        version = esc(&r.pets_version),
    )
}
