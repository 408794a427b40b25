//! The output record and bundle a release panel reviews.
//!
//! A bundle is a folder: one CSV per output (`output_001.csv`, ...: the published cells and
//! the rules each fails), `record.json` (every output with the call that made it, the
//! data's provenance, the rules and checks, pass/fail per cell, the analyst's exception
//! request and the checker's decision) and `summary.html` (the same for a person). Every file
//! is written to a temporary file and renamed, and `record.json` last, so a bundle never
//! holds a partial file or a record naming a file not written.
//!
//! **Differencing** ([`differencing`]): when an output is added, it is compared with each
//! earlier one: two tables whose record totals differ by 1 to `threshold - 1` (for example
//! all attendances, and the attendances of over-18s) let a reader recover a group that small
//! by subtraction; so do two tables by the same columns whose published cells differ by 1 to
//! `threshold - 1` records. Each such pair gets a [`DifferencingWarning`] on the later output.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::OutputError;
use super::job::CheckedTable;
use super::rules::Agg;
use crate::disclosure::html::esc;

/// Where an output's data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The file name (or what the caller calls in-memory data).
    pub source: String,
    /// SHA-256 of the file's bytes (hex), when it is a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Provenance {
    /// A file: its name and the SHA-256 of its content (streamed).
    pub fn of_file(path: &Path) -> Result<Provenance, OutputError> {
        let err = |e: std::io::Error| OutputError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let mut f = std::fs::File::open(path).map_err(err)?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let digest = h.finalize();
        Ok(Provenance {
            source: path.display().to_string(),
            sha256: Some(digest.iter().map(|b| format!("{b:02x}")).collect()),
        })
    }

    /// Data with no file (a data frame in a notebook): its name, and a hash if the caller
    /// has one.
    pub fn named(source: impl Into<String>, sha256: Option<String>) -> Provenance {
        Provenance {
            source: source.into(),
            sha256,
        }
    }
}

/// A warning that two outputs may be differenced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DifferencingWarning {
    /// The earlier output.
    pub other: String,
    /// What can be recovered, in words.
    pub message: String,
}

/// The checker's decision on one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Released.
    Approve,
    /// Not released.
    Reject,
}

/// One output in the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// `output_001`, ...
    pub id: String,
    /// The call that made it (the command line, or the Python call).
    pub call: String,
    /// The data it was computed from.
    pub provenance: Provenance,
    /// The output file in the bundle.
    pub file: String,
    /// The checked (and mitigated) table.
    pub table: CheckedTable,
    /// The analyst's request for an exception, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// Differencing warnings against earlier outputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differencing: Vec<DifferencingWarning>,
    /// The checker's decision, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The checker's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
}

/// The whole record (`record.json`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BundleRecord {
    /// The pets version that wrote it.
    pub pets_version: String,
    /// The outputs, in the order made.
    pub outputs: Vec<OutputRecord>,
}

/// A bundle folder and its record.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    /// The record.
    pub record: BundleRecord,
}

const RECORD: &str = "record.json";
const SUMMARY: &str = "summary.html";

impl Bundle {
    /// A new, empty bundle to be written to `dir` (nothing is written until
    /// [`Bundle::finalise`]).
    pub fn new(dir: impl Into<PathBuf>) -> Bundle {
        Bundle {
            dir: dir.into(),
            record: BundleRecord {
                pets_version: env!("CARGO_PKG_VERSION").into(),
                outputs: Vec::new(),
            },
        }
    }

    /// The bundle in `dir`: read if it holds a `record.json`, else new.
    pub fn open_or_new(dir: impl Into<PathBuf>) -> Result<Bundle, OutputError> {
        let dir = dir.into();
        if dir.join(RECORD).exists() {
            Bundle::load(&dir)
        } else {
            Ok(Bundle::new(dir))
        }
    }

    /// The bundle written in `dir` (an error naming the file if it has no record).
    pub fn load(dir: &Path) -> Result<Bundle, OutputError> {
        let path = dir.join(RECORD);
        let text = std::fs::read_to_string(&path).map_err(|e| OutputError::File {
            path: path.display().to_string(),
            message: format!("{e}; is {} a bundle of `pets outputs`?", dir.display()),
        })?;
        let record: BundleRecord = serde_json::from_str(&text).map_err(|e| OutputError::File {
            path: path.display().to_string(),
            message: format!("not a record of `pets outputs`: {e}"),
        })?;
        Ok(Bundle {
            dir: dir.to_path_buf(),
            record,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Add an output; returns its id. Differencing against earlier outputs is checked here.
    pub fn add(&mut self, table: CheckedTable, call: String, provenance: Provenance) -> String {
        let id = format!("output_{:03}", self.record.outputs.len() + 1);
        let differencing = self
            .record
            .outputs
            .iter()
            .filter_map(|o| {
                differencing(&o.table, &table).map(|message| DifferencingWarning {
                    other: o.id.clone(),
                    message,
                })
            })
            .collect();
        self.record.outputs.push(OutputRecord {
            file: format!("{id}.csv"),
            id: id.clone(),
            call,
            provenance,
            table,
            exception: None,
            differencing,
            decision: None,
            decision_reason: None,
        });
        id
    }

    fn find(&mut self, id: &str) -> Result<&mut OutputRecord, OutputError> {
        let ids: Vec<String> = self.record.outputs.iter().map(|o| o.id.clone()).collect();
        self.record
            .outputs
            .iter_mut()
            .find(|o| o.id == id)
            .ok_or_else(|| OutputError::Invalid {
                column: None,
                message: format!(
                    "no output {id:?} in the bundle; it has {}",
                    if ids.is_empty() {
                        "none".to_string()
                    } else {
                        ids.join(", ")
                    }
                ),
            })
    }

    /// Append `table` to the bundle in `dir` (created if needed), with the analyst's
    /// exception request if any, and write it; returns the new output's record (its id and
    /// differencing warnings). The one way every front door records an output: nothing is
    /// written if the exception request is invalid.
    pub fn append(
        dir: &Path,
        table: CheckedTable,
        call: String,
        provenance: Provenance,
        exception: Option<&str>,
    ) -> Result<OutputRecord, OutputError> {
        let mut bundle = Bundle::open_or_new(dir)?;
        let id = bundle.add(table, call, provenance);
        if let Some(reason) = exception {
            bundle.request_exception(&id, reason)?;
        }
        bundle.finalise()?;
        Ok(bundle.record.outputs.pop().expect("just added"))
    }

    /// Record the analyst's request that output `id` be released despite failing checks.
    pub fn request_exception(&mut self, id: &str, reason: &str) -> Result<(), OutputError> {
        if reason.trim().is_empty() {
            return Err(OutputError::Invalid {
                column: None,
                message: "an exception request needs a reason for the checker".into(),
            });
        }
        self.find(id)?.exception = Some(reason.trim().to_string());
        Ok(())
    }

    /// Record the checker's decision on output `id`.
    pub fn decide(
        &mut self,
        id: &str,
        decision: Decision,
        reason: &str,
    ) -> Result<(), OutputError> {
        let o = self.find(id)?;
        o.decision = Some(decision);
        o.decision_reason = (!reason.trim().is_empty()).then(|| reason.trim().to_string());
        Ok(())
    }

    /// Write the bundle: each output's CSV, then `summary.html`, then `record.json`, each
    /// to a temporary file renamed into place.
    pub fn finalise(&self) -> Result<(), OutputError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| OutputError::File {
            path: self.dir.display().to_string(),
            message: e.to_string(),
        })?;
        for o in &self.record.outputs {
            let (header, rows) = o.table.csv_rows();
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in std::iter::once(&header).chain(&rows) {
                w.write_record(r)
                    .map_err(|e| OutputError::Internal(e.to_string()))?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| OutputError::Internal(e.to_string()))?;
            write_atomic(&self.dir.join(&o.file), &bytes)?;
        }
        write_atomic(&self.dir.join(SUMMARY), self.render_html().as_bytes())?;
        let json = serde_json::to_string_pretty(&self.record)
            .map_err(|e| OutputError::Internal(e.to_string()))?;
        write_atomic(&self.dir.join(RECORD), json.as_bytes())
    }

    /// The summary as text (what `pets outputs review` prints).
    pub fn summary_text(&self) -> String {
        let mut s = format!(
            "bundle {}: {} output(s)\n",
            self.dir.display(),
            self.record.outputs.len()
        );
        for o in &self.record.outputs {
            let t = &o.table;
            let _ = writeln!(
                s,
                "\n{}  {} {} by {}  [{}]",
                o.id,
                t.kind,
                match &t.values {
                    Some(v) => format!("{}({v})", t.agg.name()),
                    None => "count".into(),
                },
                t.by.join(" x "),
                t.status.to_uppercase()
            );
            let _ = writeln!(s, "  call: {}", o.call);
            let _ = writeln!(
                s,
                "  data: {}{}",
                o.provenance.source,
                o.provenance
                    .sha256
                    .as_ref()
                    .map(|h| format!(" (sha256 {})", &h[..16.min(h.len())]))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                s,
                "  checks: {}; {} of {} cell(s) fail",
                t.checks
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                t.failing(),
                t.cells.len()
            );
            for c in t.cells.iter().filter(|c| !c.failures.is_empty()) {
                let _ = writeln!(
                    s,
                    "    {}: {}{}",
                    c.labels.join(", "),
                    c.failures
                        .iter()
                        .map(|f| format!("{} ({})", f.check.name(), f.reason))
                        .collect::<Vec<_>>()
                        .join("; "),
                    c.mitigated
                        .as_ref()
                        .map(|m| format!(" -> {m}"))
                        .unwrap_or_default()
                );
            }
            if let Some(m) = &t.model {
                let _ = writeln!(
                    s,
                    "  model: {} observations, {} parameters, {} residual degrees of freedom",
                    m.observations,
                    m.coefficients.len(),
                    m.dof()
                );
            }
            if let Some(m) = &t.mitigation {
                let _ = writeln!(s, "  mitigation: {}", m.summary);
            }
            for d in &o.differencing {
                let _ = writeln!(s, "  DIFFERENCING with {}: {}", d.other, d.message);
            }
            if let Some(e) = &o.exception {
                let _ = writeln!(s, "  exception requested: {e}");
            }
            if let Some(d) = o.decision {
                let _ = writeln!(
                    s,
                    "  decision: {}{}",
                    match d {
                        Decision::Approve => "approved",
                        Decision::Reject => "rejected",
                    },
                    o.decision_reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
        }
        s
    }

    /// The summary as one self-contained HTML page (no scripts, no network assets).
    pub fn render_html(&self) -> String {
        let mut body = String::new();
        for o in &self.record.outputs {
            let t = &o.table;
            let _ = write!(
                body,
                "<h2 id=\"{id}\">{id}: {kind} {what} by {by} <span class=\"{cls}\">{status}</span></h2>\
                 <p><b>Call:</b> <code>{call}</code><br><b>Data:</b> {src}{hash}<br>\
                 <b>Checks:</b> {checks}; {fail} of {n} cell(s) fail<br><b>File:</b> {file}</p>",
                id = esc(&o.id),
                kind = esc(&t.kind),
                what = esc(&match &t.values {
                    Some(v) => format!("{}({v})", t.agg.name()),
                    None => "count".into(),
                }),
                by = esc(&t.by.join(" × ")),
                cls = if t.status == "pass" { "pass" } else { "fail" },
                status = esc(&t.status.to_uppercase()),
                call = esc(&o.call),
                src = esc(&o.provenance.source),
                hash = o
                    .provenance
                    .sha256
                    .as_ref()
                    .map(|h| format!(" (SHA-256 <code>{}</code>)", esc(h)))
                    .unwrap_or_default(),
                checks = esc(&t
                    .checks
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")),
                fail = t.failing(),
                n = t.cells.len(),
                file = esc(&o.file),
            );
            body.push_str("<table><tr>");
            for b in &t.by {
                let _ = write!(body, "<th>{}</th>", esc(b));
            }
            body.push_str("<th>published</th><th>fails</th><th>mitigation</th></tr>");
            for c in &t.cells {
                let cls = if c.failures.is_empty() {
                    ""
                } else if c.mitigated.is_some() {
                    "m"
                } else {
                    "f"
                };
                body.push_str("<tr>");
                for l in &c.labels {
                    let _ = write!(body, "<td>{}</td>", esc(l));
                }
                let _ = write!(
                    body,
                    "<td class=\"{cls}\">{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&c.published),
                    esc(&c
                        .failures
                        .iter()
                        .map(|f| format!("{}: {}", f.check.name(), f.reason))
                        .collect::<Vec<_>>()
                        .join("; ")),
                    esc(c.mitigated.as_deref().unwrap_or(""))
                );
            }
            body.push_str("</table>");
            if let Some(m) = &t.model {
                let _ = write!(
                    body,
                    "<p><b>Model:</b> {} observations, {} parameters, {} residual degrees of \
                     freedom; standard errors, p-values and intervals are in {}</p>",
                    m.observations,
                    m.coefficients.len(),
                    m.dof(),
                    esc(&o.file)
                );
            }
            if let Some(m) = &t.mitigation {
                let _ = write!(body, "<p><b>Mitigation:</b> {}</p>", esc(&m.summary));
            }
            for d in &o.differencing {
                let _ = write!(
                    body,
                    "<p class=\"fail\">Differencing with {}: {}</p>",
                    esc(&d.other),
                    esc(&d.message)
                );
            }
            if let Some(e) = &o.exception {
                let _ = write!(body, "<p><b>Exception requested:</b> {}</p>", esc(e));
            }
            let _ = write!(
                body,
                "<p><b>Decision:</b> {}</p>",
                match o.decision {
                    Some(Decision::Approve) => "approved".to_string(),
                    Some(Decision::Reject) => "rejected".to_string(),
                    None => "pending (approve / reject)".to_string(),
                } + &o
                    .decision_reason
                    .as_ref()
                    .map(|r| format!(": {}", esc(r)))
                    .unwrap_or_default()
            );
        }
        format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pets outputs</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;color:#222}}\
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}\
td.f{{background:#f5b7b1}}td.m{{background:#fad7a0}}.pass{{color:#1e8449}}.fail{{color:#c0392b;font-weight:bold}}</style>\
</head><body><h1>Outputs for checking</h1><p>{n} output(s). Cells failing a rule are \
<span style=\"background:#f5b7b1\">&nbsp;red&nbsp;</span>, or \
<span style=\"background:#fad7a0\">&nbsp;amber&nbsp;</span> when mitigated.</p>{body}\
<p><small>pets {version}</small></p></body></html>",
            n = self.record.outputs.len(),
            version = env!("CARGO_PKG_VERSION"),
        )
    }
}

/// Whether `b` differenced with the earlier `a` reveals a small group (see the module
/// documentation), in words. Only counts, and sums or means over the same value column,
/// are compared; tables with no records are skipped.
pub fn differencing(a: &CheckedTable, b: &CheckedTable) -> Option<String> {
    let threshold = b.rules.threshold.max(a.rules.threshold);
    let comparable =
        (a.agg == b.agg && a.values == b.values) || (a.agg == Agg::Count && b.agg == Agg::Count);
    let model =
        a.model.is_some() || b.model.is_some() || a.survival.is_some() || b.survival.is_some();
    if model || !comparable || a.records == 0 || b.records == 0 {
        return None;
    }
    let d = a.records.abs_diff(b.records);
    if (1..threshold).contains(&d) {
        return Some(format!(
            "their record totals differ by {d} (under the threshold {threshold}): \
             subtracting one from the other describes a group of {d}"
        ));
    }
    if a.by == b.by && a.cells.len() == b.cells.len() && a.agg == Agg::Count {
        let small = a
            .cells
            .iter()
            .zip(&b.cells)
            .filter(
                |(x, y)| match (x.published.parse::<u64>(), y.published.parse::<u64>()) {
                    (Ok(x), Ok(y)) => (1..threshold).contains(&x.abs_diff(y)),
                    _ => false,
                },
            )
            .count();
        if small > 0 {
            return Some(format!(
                "{small} published cell(s) of the same breakdown differ by 1 to {}: \
                 subtracting them describes groups under the threshold",
                threshold - 1
            ));
        }
    }
    None
}

/// Write `bytes` to a temporary file beside `path` and rename it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let err = |e: std::io::Error| OutputError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}
