//! The evaluation report: every figure as one serde struct (the JSON file), and a
//! self-contained HTML page with inline SVG plots drawn here (marginal comparisons, 1-way
//! TVD per view, Cramér's V heatmaps, DCR histograms). No scripts, no network assets.

use pets::disclosure::html::esc;
use std::collections::BTreeMap;
use std::fmt::Write;

use super::EvalOptions;
use super::association::Association;
use super::marginals::{Evaluation, WorkloadTvd};
use super::numeric::{Correlation, NumericDistance};
use super::privacy::Privacy;
use super::utility::Utility;

/// The `format` of the JSON report.
pub const FORMAT: &str = "pets-synth-evaluation";
/// Its version.
pub const VERSION: u32 = 1;

/// Rows of each table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rows {
    /// Real (training) rows.
    pub real: usize,
    /// Synthetic rows.
    pub synth: usize,
    /// Holdout rows, if any.
    pub holdout: Option<usize>,
}

/// One view's distribution in each table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ViewComparison {
    /// The view.
    pub name: String,
    /// Label of each code (values, bins, weekdays, hours, `(other)`, `(null)`).
    pub labels: Vec<String>,
    /// Share of real rows per code.
    pub real: Vec<f64>,
    /// Share of synthetic rows per code.
    pub synth: Vec<f64>,
    /// 1-way TVD.
    pub tvd: f64,
}

/// Everything [`super::EvalJob`] measures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Rows of each table.
    pub rows: Rows,
    /// The columns evaluated.
    pub columns: Vec<String>,
    /// The options.
    pub options: EvalOptions,
    /// Each view's distribution, real and synthetic.
    pub views: Vec<ViewComparison>,
    /// 1-way and 2-way TVD with their baselines.
    pub marginals: Evaluation,
    /// Whether the workload is the default (every 3-way, or a seeded sample).
    pub workload_default: bool,
    /// Mean TVD over the workload.
    pub workload_mean_tvd: f64,
    /// TVD of each marginal of the workload.
    pub workload: Vec<WorkloadTvd>,
    /// Cramér's V of every pair of views.
    pub association: Association,
    /// Distances of each numeric column.
    pub numeric: Vec<NumericDistance>,
    /// Pearson correlations of the numeric columns.
    pub correlation: Correlation,
    /// Train on synthetic, test on real (with a target).
    pub utility: Option<Utility>,
    /// DCR, exact matches, membership inference.
    pub privacy: Privacy,
    /// What the reader should know about how figures were obtained.
    pub notes: Vec<String>,
    /// Warnings of reading the tables (sniffed CSV dialects).
    pub warnings: Vec<pets::Warning>,
    /// Milliseconds per stage.
    pub timings_ms: BTreeMap<String, f64>,
}

impl EvalReport {
    /// Plain-language headline lines, most important first.
    pub fn summary(&self) -> Vec<String> {
        let m = &self.marginals;
        let mut out = vec![format!(
            "{} views, {} pairs: mean 1-way TVD {:.4}; mean 2-way TVD {:.4}; columns shuffled \
             independently {:.4} ({} the synthetic TVD; product of exact 1-ways {:.4})",
            m.views.len(),
            m.pairs.len(),
            m.mean_1way,
            m.mean_2way,
            m.shuffled_2way,
            if m.ratio() < 1e3 {
                format!("{:.2}x", m.ratio())
            } else {
                "over 1000x".into()
            },
            m.independent_2way
        )];
        out.push(format!(
            "workload ({} marginals{}): mean TVD {:.4}",
            self.workload.len(),
            if self.workload_default {
                ", default 3-way"
            } else {
                ""
            },
            self.workload_mean_tvd
        ));
        out.push(format!(
            "Cramér's V: mean |real - synthetic| {:.4}, largest {:.4}{}",
            self.association.mean_abs_difference,
            self.association.max_abs_difference,
            self.association
                .worst_pair
                .as_ref()
                .map(|(a, b)| format!(" ({a} x {b})"))
                .unwrap_or_default()
        ));
        if !self.numeric.is_empty() {
            let w = self
                .numeric
                .iter()
                .map(|n| n.wasserstein_normalised)
                .filter(|x| x.is_finite())
                .fold(0.0f64, f64::max);
            let ks = self
                .numeric
                .iter()
                .map(|n| n.ks)
                .filter(|x| x.is_finite())
                .fold(0.0f64, f64::max);
            out.push(format!(
                "numeric columns ({}): largest Wasserstein-1 / range {w:.4}, largest KS {ks:.4}",
                self.numeric.len()
            ));
        }
        if let Some(u) = &self.utility {
            out.push(format!(
                "utility ({} = {}, test: {} x{}): train on synthetic AUC {:.3} accuracy {:.3}; \
                 train on real AUC {:.3} accuracy {:.3}",
                u.target,
                u.positive,
                u.test_source,
                u.test_rows,
                u.synthetic.auc,
                u.synthetic.accuracy,
                u.real.auc,
                u.real.accuracy
            ));
        }
        let p = &self.privacy;
        out.push(format!(
            "privacy: exact matches {} ({:.2}% of synthetic rows; baseline {:.2}%); DCR 5th \
             percentile {} vs {} ({}); membership inference AUC {}",
            p.exact_matches,
            100.0 * p.exact_match_share,
            100.0 * p.baseline_exact_match_share,
            p.dcr_synth_p5,
            p.dcr_baseline_p5,
            p.baseline,
            p.mia_auc
                .map(|a| format!("{a:.3} (0.5 = chance)"))
                .unwrap_or_else(|| "not run (no holdout)".into())
        ));
        out
    }

    /// The self-contained HTML page.
    pub fn to_html(&self) -> String {
        render_html(self)
    }
}

const REAL: &str = "#2e86c1";
const SYNTH: &str = "#e67e22";

fn f(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "n/a".into()
    }
}

/// Horizontal bars, one per `(label, value)`, scaled to the largest.
fn hbars(title: &str, bars: &[(String, f64)]) -> String {
    let (row, label_w, bar_w) = (18.0, 260.0, 320.0);
    let width = label_w + bar_w + 80.0;
    let height = 28.0 + row * bars.len() as f64 + 6.0;
    let max = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-12);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{t}\" \
         width=\"{width}\" height=\"{height}\"><text x=\"0\" y=\"16\" font-size=\"13\" \
         font-weight=\"bold\">{t}</text>",
        t = esc(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 24.0 + row * i as f64;
        let w = if v.is_finite() { v / max * bar_w } else { 0.0 };
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">{l}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{h}\" fill=\"{REAL}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\" font-size=\"11\">{val}</text>",
            lx = label_w - 4.0,
            ty = y + 12.0,
            l = esc(label),
            h = row - 4.0,
            vx = label_w + w + 4.0,
            val = f(*v),
        );
    }
    s.push_str("</svg>");
    s
}

/// Vertical grouped bars: for each label, a real and a synthetic bar (shares).
fn grouped(title: &str, labels: &[String], a: &[f64], b: &[f64], legend: (&str, &str)) -> String {
    let n = labels.len().max(1);
    let group = (600.0 / n as f64).clamp(8.0, 40.0);
    let (top, plot_h, bottom) = (36.0, 140.0, 70.0);
    let width = 50.0 + group * n as f64 + 10.0;
    let height = top + plot_h + bottom;
    let max = a
        .iter()
        .chain(b)
        .copied()
        .filter(|x| x.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{t}\" \
         width=\"{width:.0}\" height=\"{height:.0}\"><text x=\"0\" y=\"14\" font-size=\"13\" \
         font-weight=\"bold\">{t}</text>\
         <rect x=\"50\" y=\"20\" width=\"10\" height=\"10\" fill=\"{REAL}\"/>\
         <text x=\"64\" y=\"29\" font-size=\"11\">{la}</text>\
         <rect x=\"150\" y=\"20\" width=\"10\" height=\"10\" fill=\"{SYNTH}\"/>\
         <text x=\"164\" y=\"29\" font-size=\"11\">{lb}</text>\
         <text x=\"46\" y=\"{ty:.0}\" font-size=\"10\" text-anchor=\"end\">{mx:.3}</text>\
         <line x1=\"50\" y1=\"{base:.0}\" x2=\"{width:.0}\" y2=\"{base:.0}\" stroke=\"#999\"/>",
        t = esc(title),
        la = esc(legend.0),
        lb = esc(legend.1),
        ty = top + 8.0,
        mx = max,
        base = top + plot_h,
    );
    for (i, label) in labels.iter().enumerate() {
        let x = 50.0 + group * i as f64;
        let bw = (group - 2.0) / 2.0;
        for (k, (v, colour)) in [(a.get(i), REAL), (b.get(i), SYNTH)].iter().enumerate() {
            let v = v.copied().unwrap_or(0.0);
            let h = if v.is_finite() { v / max * plot_h } else { 0.0 };
            let _ = write!(
                s,
                "<rect x=\"{bx:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\" \
                 fill=\"{colour}\"><title>{l}: {v:.4}</title></rect>",
                bx = x + 1.0 + bw * k as f64,
                y = top + plot_h - h,
                l = esc(label),
            );
        }
        let short: String = label.chars().take(14).collect();
        let _ = write!(
            s,
            "<text font-size=\"9\" text-anchor=\"end\" transform=\"translate({tx:.1},{ty:.1}) \
             rotate(-60)\">{l}</text>",
            tx = x + group / 2.0 + 3.0,
            ty = top + plot_h + 10.0,
            l = esc(&short),
        );
    }
    s.push_str("</svg>");
    s
}

/// A square heatmap of values in [0, 1] (white to `colour`), labelled on the left.
fn heatmap(title: &str, names: &[String], m: &[Vec<f64>], rgb: (u8, u8, u8)) -> String {
    let n = names.len();
    let cell = (420.0 / n.max(1) as f64).clamp(6.0, 24.0);
    let label_w = 180.0;
    let width = label_w + cell * n as f64 + 10.0;
    let height = 24.0 + cell * n as f64 + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{t}\" \
         width=\"{width:.0}\" height=\"{height:.0}\"><text x=\"0\" y=\"14\" font-size=\"13\" \
         font-weight=\"bold\">{t}</text>",
        t = esc(title)
    );
    for (i, row) in m.iter().enumerate() {
        let y = 22.0 + cell * i as f64;
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty:.1}\" font-size=\"{fs:.0}\" text-anchor=\"end\">{l}</text>",
            lx = label_w - 4.0,
            ty = y + cell * 0.75,
            fs = (cell * 0.7).clamp(6.0, 11.0),
            l = esc(&names[i]),
        );
        for (j, &v) in row.iter().enumerate() {
            let t = if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let mix = |c: u8| (255.0 - (255.0 - f64::from(c)) * t).round() as u8;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell:.1}\" height=\"{cell:.1}\" \
                 fill=\"rgb({r},{g},{b})\" stroke=\"#eee\"><title>{a} x {bn}: {v:.3}</title></rect>",
                x = label_w + cell * j as f64,
                r = mix(rgb.0),
                g = mix(rgb.1),
                b = mix(rgb.2),
                a = esc(&names[i]),
                bn = esc(&names[j]),
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// Marginal comparisons shown: the views with the largest 1-way TVD.
const SHOWN_VIEWS: usize = 8;

fn render_html(r: &EvalReport) -> String {
    let mut s = String::new();
    s.push_str(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Synthetic data evaluation</title><style>\
         body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;\
         padding:3px 8px;font-size:13px;text-align:left}th{background:#f4f4f4}\
         .figs{display:flex;flex-wrap:wrap;gap:16px}.note{color:#7a5a00}\
         </style></head><body><h1>Synthetic data evaluation</h1>",
    );
    let _ = write!(
        s,
        "<p>{} real rows, {} synthetic rows{}; {} columns as {} views. For the custodian: \
         built from the real data, not for release.</p><ul>",
        r.rows.real,
        r.rows.synth,
        r.rows
            .holdout
            .map(|h| format!(", {h} holdout rows"))
            .unwrap_or_default(),
        r.columns.len(),
        r.views.len()
    );
    for line in r.summary() {
        let _ = write!(s, "<li>{}</li>", esc(&line));
    }
    s.push_str("</ul>");
    for n in &r.notes {
        let _ = write!(s, "<p class=\"note\">Note: {}</p>", esc(n));
    }
    for w in &r.warnings {
        let _ = write!(s, "<p class=\"note\">Warning: {}</p>", esc(&w.message));
    }

    // Marginals.
    s.push_str("<h2>Marginals</h2>");
    let m = &r.marginals;
    s.push_str(&table(
        &[
            "figure",
            "synthetic",
            "columns shuffled",
            "product of 1-ways",
        ],
        &[
            vec![
                "mean 1-way TVD".into(),
                f(m.mean_1way),
                "0".into(),
                "0".into(),
            ],
            vec![
                "mean 2-way TVD".into(),
                f(m.mean_2way),
                f(m.shuffled_2way),
                f(m.independent_2way),
            ],
            vec![
                format!("mean workload TVD ({} marginals)", r.workload.len()),
                f(r.workload_mean_tvd),
                String::new(),
                String::new(),
            ],
        ],
    ));
    let one: Vec<(String, f64)> = r.views.iter().map(|v| (v.name.clone(), v.tvd)).collect();
    s.push_str(&hbars("1-way TVD per view", &one));
    let mut worst: Vec<&ViewComparison> = r.views.iter().collect();
    worst.sort_by(|a, b| b.tvd.total_cmp(&a.tvd));
    s.push_str(
        "<h3>Distributions of the views with the largest 1-way TVD</h3><div class=\"figs\">",
    );
    for v in worst.iter().take(SHOWN_VIEWS) {
        s.push_str(&grouped(
            &format!("{} (TVD {})", v.name, f(v.tvd)),
            &v.labels,
            &v.real,
            &v.synth,
            ("real", "synthetic"),
        ));
    }
    s.push_str("</div>");
    let mut wl: Vec<&WorkloadTvd> = r.workload.iter().collect();
    wl.sort_by(|a, b| b.tvd.total_cmp(&a.tvd));
    s.push_str(&hbars(
        "Workload marginals with the largest TVD",
        &wl.iter()
            .take(15)
            .map(|w| (w.views.join(" x "), w.tvd))
            .collect::<Vec<_>>(),
    ));

    // Association.
    s.push_str("<h2>Association (Cramér's V)</h2><div class=\"figs\">");
    let a = &r.association;
    s.push_str(&heatmap("Real", &a.views, &a.real, (46, 134, 193)));
    s.push_str(&heatmap("Synthetic", &a.views, &a.synth, (230, 126, 34)));
    let diff: Vec<Vec<f64>> = a
        .real
        .iter()
        .zip(&a.synth)
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()).collect())
        .collect();
    s.push_str(&heatmap(
        "|Real - synthetic|",
        &a.views,
        &diff,
        (192, 57, 43),
    ));
    s.push_str("</div>");
    if a.views.len() > 1 {
        let _ = write!(
            s,
            "<p>Mean |difference| {}, largest {}.</p>",
            f(a.mean_abs_difference),
            f(a.max_abs_difference)
        );
    }

    // Numeric.
    if !r.numeric.is_empty() {
        s.push_str("<h2>Numeric columns</h2>");
        let rows: Vec<Vec<String>> = r
            .numeric
            .iter()
            .map(|n| {
                vec![
                    n.column.clone(),
                    n.unit.clone(),
                    f(n.wasserstein),
                    f(n.wasserstein_normalised),
                    f(n.ks),
                    format!("{} / {}", f(n.real_mean), f(n.synth_mean)),
                    format!("{} / {}", f(n.real_sd), f(n.synth_sd)),
                    format!("{} / {}", f(n.real_null_share), f(n.synth_null_share)),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "column",
                "unit",
                "Wasserstein-1",
                "W1 / range",
                "KS",
                "mean real / synthetic",
                "sd real / synthetic",
                "null share real / synthetic",
            ],
            &rows,
        ));
        let c = &r.correlation;
        if c.columns.len() > 1 {
            let _ = write!(
                s,
                "<p>Pearson correlations between numeric columns: mean |real - synthetic| {}.</p>",
                f(c.mean_abs_difference)
            );
        }
    }

    // Utility.
    if let Some(u) = &r.utility {
        let _ = write!(
            s,
            "<h2>Machine-learning utility</h2><p>Logistic regression predicting {} = {} from \
             {} views; tested on {} {} rows ({:.1}% positive: always answering the majority \
             class scores {:.3}).</p>",
            esc(&u.target),
            esc(&u.positive),
            u.features.len(),
            u.test_rows,
            esc(&u.test_source),
            100.0 * u.test_positive_share,
            u.test_positive_share.max(1.0 - u.test_positive_share)
        );
        s.push_str(&table(
            &["trained on", "rows", "AUC", "accuracy"],
            &[
                vec![
                    "synthetic (TSTR)".into(),
                    u.synthetic.train_rows.to_string(),
                    f(u.synthetic.auc),
                    f(u.synthetic.accuracy),
                ],
                vec![
                    "real (TRTR)".into(),
                    u.real.train_rows.to_string(),
                    f(u.real.auc),
                    f(u.real.accuracy),
                ],
            ],
        ));
    }

    // Privacy.
    let p = &r.privacy;
    s.push_str("<h2>Privacy</h2>");
    let shares = |h: &[u64]| -> Vec<f64> {
        let n = h.iter().sum::<u64>().max(1) as f64;
        h.iter().map(|&x| x as f64 / n).collect()
    };
    let labels: Vec<String> = (0..p.dcr_synth.len()).map(|d| d.to_string()).collect();
    s.push_str(&grouped(
        &format!(
            "Distance to the closest training record (views that differ; {} rows each)",
            p.sample_rows
        ),
        &labels,
        &shares(&p.dcr_baseline),
        &shares(&p.dcr_synth),
        (&format!("{} rows", p.baseline), "synthetic rows"),
    ));
    s.push_str(&table(
        &["figure", "synthetic", "baseline"],
        &[
            vec![
                "exact matches with a training row".into(),
                format!("{} ({:.2}%)", p.exact_matches, 100.0 * p.exact_match_share),
                format!(
                    "{} ({:.2}%)",
                    p.baseline_exact_matches,
                    100.0 * p.baseline_exact_match_share
                ),
            ],
            vec![
                "DCR 5th percentile".into(),
                p.dcr_synth_p5.to_string(),
                p.dcr_baseline_p5.to_string(),
            ],
            vec![
                "DCR mean".into(),
                f(p.dcr_synth_mean),
                f(p.dcr_baseline_mean),
            ],
            vec![
                "share at distance 0".into(),
                f(p.dcr_synth_zero_share),
                f(p.dcr_baseline_zero_share),
            ],
            vec![
                "membership-inference AUC (0.5 = chance)".into(),
                p.mia_auc
                    .map(f)
                    .unwrap_or_else(|| "not run: no holdout".into()),
                "0.5".into(),
            ],
        ],
    ));
    s.push_str(
        "<p>Rows are compared on their views; distances count the views that differ. The \
         baseline is real rows the training sample does not hold: the synthetic rows should \
         be no closer to training rows than they are.</p>",
    );
    let _ = write!(
        s,
        "<p style=\"color:#777;font-size:12px\">{} v{}; seed {}; timings (ms): {}</p>\
         </body></html>",
        FORMAT,
        VERSION,
        r.options.seed,
        esc(&r
            .timings_ms
            .iter()
            .map(|(k, v)| format!("{k} {v:.0}"))
            .collect::<Vec<_>>()
            .join(", "))
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_draws() {
        assert_eq!(esc("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
        let h = hbars("t", &[("x<".into(), 0.5), ("y".into(), f64::NAN)]);
        assert!(h.contains("x&lt;") && h.contains("n/a"));
        let g = grouped(
            "g",
            &["a".into(), "b".into()],
            &[0.5, 0.5],
            &[1.0, 0.0],
            ("r", "s"),
        );
        assert_eq!(g.matches("<rect").count(), 2 + 4);
        let m = heatmap(
            "h",
            &["a".into(), "b".into()],
            &[vec![1.0, 0.0], vec![0.0, 1.0]],
            (0, 0, 0),
        );
        assert!(m.contains("rgb(0,0,0)") && m.contains("rgb(255,255,255)"));
    }
}
