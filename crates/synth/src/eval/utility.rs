//! Machine-learning utility: train on synthetic, test on real (TSTR), against train on
//! real, test on real (TRTR), for a binary target such as `admitted`.
//!
//! The model is a logistic regression on the one-hot codes of every other view (each row
//! has exactly one active feature per view), fitted by AdaGrad stochastic gradient descent
//! over a seeded order of the rows, a fixed number of epochs, with a small L2 penalty.
//! Hand-written rather than a crate: linfa's logistic regression pulls ndarray-linalg and a
//! BLAS/LAPACK build, and a dense design matrix of one-hot features would be about 500
//! columns wide; on sparse one-hot rows this is some thirty lines, deterministic and fast
//! (100k rows x 20 views x 5 epochs in well under a second).
//!
//! Test rows are the holdout when there is one; otherwise a seeded 20% of the real rows,
//! the other 80% training TRTR (the synthesiser may have seen the test rows then, which
//! flatters TSTR: the report says so). At most [`MAX_TRAIN_ROWS`] rows train each model and
//! [`MAX_TEST_ROWS`] test it, chosen by the evaluation's seed.

use super::marginals::permutation;
use super::views::View;
use crate::error::{Result, SynthError};

/// Rows a model trains on at most (a seeded sample above that).
pub const MAX_TRAIN_ROWS: usize = 100_000;
/// Rows a model is tested on at most.
pub const MAX_TEST_ROWS: usize = 100_000;
/// Share of the real rows held out for testing when no holdout table is given.
pub const TEST_SHARE: f64 = 0.2;
const EPOCHS: usize = 5;
const LEARNING_RATE: f64 = 0.1;
const L2: f64 = 1e-6;

/// How one model does on the test rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    /// Rows it was trained on.
    pub train_rows: usize,
    /// Area under the ROC curve on the test rows (0.5: chance).
    pub auc: f64,
    /// Share of test rows classified right at the 0.5 threshold.
    pub accuracy: f64,
}

/// Train-on-synthetic against train-on-real for one binary target.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Utility {
    /// The target column.
    pub target: String,
    /// Its positive value (every other value, and null, is negative).
    pub positive: String,
    /// The views used as features.
    pub features: Vec<String>,
    /// Where the test rows come from: `holdout`, or `real split` (a seeded 20% of the real
    /// rows, not used to train TRTR).
    pub test_source: String,
    /// Test rows.
    pub test_rows: usize,
    /// Share of positive test rows; `max(share, 1 - share)` is the accuracy of always
    /// answering the majority class.
    pub test_positive_share: f64,
    /// Share of positive rows in the synthetic table.
    pub synth_positive_share: f64,
    /// Trained on the synthetic table (TSTR).
    pub synthetic: Scores,
    /// Trained on real rows (TRTR): what the synthetic table should approach.
    pub real: Scores,
}

/// A one-hot logistic regression.
struct Logistic {
    offsets: Vec<usize>,
    w: Vec<f64>,
    b: f64,
}

impl Logistic {
    fn score(&self, x: &[&[u32]], r: usize) -> f64 {
        let z = self.b
            + x.iter()
                .zip(&self.offsets)
                .map(|(c, &o)| self.w[o + c[r] as usize])
                .sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }

    fn fit(x: &[&[u32]], sizes: &[usize], y: &[bool], rows: &[u32], seed: u64) -> Logistic {
        let mut offsets = Vec::with_capacity(sizes.len());
        let mut d = 0;
        for s in sizes {
            offsets.push(d);
            d += s;
        }
        let mut m = Logistic {
            offsets,
            w: vec![0.0; d],
            b: 0.0,
        };
        let mut g2 = vec![1e-8; d];
        let mut gb = 1e-8;
        for epoch in 0..EPOCHS {
            let order = permutation(rows.len(), seed.wrapping_add(epoch as u64));
            for &i in &order {
                let r = rows[i as usize] as usize;
                let g = m.score(x, r) - f64::from(u8::from(y[r]));
                gb += g * g;
                m.b -= LEARNING_RATE * g / gb.sqrt();
                for (c, &o) in x.iter().zip(&m.offsets) {
                    let f = o + c[r] as usize;
                    let gf = g + L2 * m.w[f];
                    g2[f] += gf * gf;
                    m.w[f] -= LEARNING_RATE * gf / g2[f].sqrt();
                }
            }
        }
        m
    }
}

/// Area under the ROC curve of `scores` for labels `y` (Mann-Whitney, ties counted half).
/// NaN when either class is absent.
pub fn auc(scores: &[f64], y: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && scores[idx[j]] == scores[idx[i]] {
            j += 1;
        }
        // Ranks i+1..=j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            if y[k] {
                rank_sum += mean_rank;
                pos += 1;
            }
        }
        i = j;
    }
    let neg = scores.len() - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

fn first(p: &[u32], n: usize) -> Vec<u32> {
    let mut v: Vec<u32> = p.iter().copied().take(n).collect();
    v.sort_unstable();
    v
}

/// TSTR and TRTR for `target` (a column with one view) and its `positive` value (default:
/// the second of a column with two declared values, such as `["false", "true"]`).
pub(crate) fn compare(
    views: &[View],
    target: &str,
    positive: Option<&str>,
    only: &[String],
    declared_values: Option<&[String]>,
    seed: u64,
) -> Result<Utility> {
    let t = views.iter().position(|v| v.name == target).ok_or_else(|| {
        SynthError::invalid(
            "target",
            target,
            "not an evaluated categorical column of the schema (present in both tables, not a \
             direct identifier)",
        )
    })?;
    let positive = match (positive, declared_values) {
        (Some(p), _) => p.to_string(),
        (None, Some(v)) if v.len() == 2 => v[1].clone(),
        _ => {
            return Err(SynthError::invalid(
                "target",
                target,
                "the target must be categorical; name its positive value when it does not \
                 have exactly two declared values",
            ));
        }
    };
    let code = views[t]
        .labels
        .iter()
        .position(|l| *l == positive)
        .ok_or_else(|| {
            SynthError::invalid(
                "positive",
                &positive,
                format!("not a value of the target {target}"),
            )
        })? as u32;
    let column_of = |v: &View| v.name.split(':').next().unwrap_or_default().to_string();
    for name in only {
        if !views
            .iter()
            .any(|v| column_of(v) == *name || v.name == *name)
            || *name == target
        {
            return Err(SynthError::invalid(
                "features",
                name,
                "not an evaluated column (or view) other than the target",
            ));
        }
    }
    let features: Vec<usize> = (0..views.len())
        .filter(|&i| views[i].column != views[t].column)
        .filter(|&i| {
            only.is_empty() || only.contains(&views[i].name) || only.contains(&column_of(&views[i]))
        })
        .collect();
    let sizes: Vec<usize> = features.iter().map(|&i| views[i].size()).collect();
    let y_of = |codes: &[u32]| -> Vec<bool> { codes.iter().map(|&c| c == code).collect() };
    let (y_real, y_synth) = (y_of(&views[t].real), y_of(&views[t].synth));
    let real_x: Vec<&[u32]> = features.iter().map(|&i| views[i].real.as_slice()).collect();
    let synth_x: Vec<&[u32]> = features
        .iter()
        .map(|&i| views[i].synth.as_slice())
        .collect();
    let n_real = y_real.len();
    let has_holdout = !views[t].holdout.is_empty();
    // The test rows and the real training rows.
    let (test_x, y_test, test_rows, train_rows, test_source) = if has_holdout {
        let hx: Vec<&[u32]> = features
            .iter()
            .map(|&i| views[i].holdout.as_slice())
            .collect();
        let nh = views[t].holdout.len();
        let ph = permutation(nh, seed ^ 0x7E57);
        let pr = permutation(n_real, seed ^ 0x7EA1);
        (
            hx,
            y_of(&views[t].holdout),
            first(&ph, MAX_TEST_ROWS),
            first(&pr, MAX_TRAIN_ROWS),
            "holdout",
        )
    } else {
        let p = permutation(n_real, seed ^ 0x7EA1);
        let n_test = ((n_real as f64 * TEST_SHARE).round() as usize)
            .max(1)
            .min(n_real);
        let (test, train) = p.split_at(n_test);
        (
            real_x.clone(),
            y_real.clone(),
            first(test, MAX_TEST_ROWS),
            first(train, MAX_TRAIN_ROWS),
            "real split",
        )
    };
    let synth_rows = first(&permutation(y_synth.len(), seed ^ 0x5A17), MAX_TRAIN_ROWS);
    let scores = |m: &Logistic, train_rows: usize| {
        let s: Vec<f64> = test_rows
            .iter()
            .map(|&r| m.score(&test_x, r as usize))
            .collect();
        let y: Vec<bool> = test_rows.iter().map(|&r| y_test[r as usize]).collect();
        let right = s
            .iter()
            .zip(&y)
            .filter(|(p, y)| (**p >= 0.5) == **y)
            .count();
        Scores {
            train_rows,
            auc: auc(&s, &y),
            accuracy: right as f64 / y.len().max(1) as f64,
        }
    };
    let (m_synth, m_real) = rayon::join(
        || Logistic::fit(&synth_x, &sizes, &y_synth, &synth_rows, seed),
        || Logistic::fit(&real_x, &sizes, &y_real, &train_rows, seed),
    );
    let share = |y: &[bool], rows: Option<&[u32]>| match rows {
        Some(r) => r.iter().filter(|&&i| y[i as usize]).count() as f64 / r.len().max(1) as f64,
        None => y.iter().filter(|&&b| b).count() as f64 / y.len().max(1) as f64,
    };
    Ok(Utility {
        target: target.to_string(),
        positive,
        features: features.iter().map(|&i| views[i].name.clone()).collect(),
        test_source: test_source.into(),
        test_rows: test_rows.len(),
        test_positive_share: share(&y_test, Some(&test_rows)),
        synth_positive_share: share(&y_synth, None),
        synthetic: scores(&m_synth, synth_rows.len()),
        real: scores(&m_real, train_rows.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_on_hand_built_scores() {
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), 1.0);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), 0.0);
        // Ties count half: all scores equal is chance.
        assert_eq!(auc(&[0.5; 4], &[false, true, false, true]), 0.5);
        // One positive above one of two negatives.
        assert_eq!(auc(&[0.1, 0.5, 0.9], &[false, true, false]), 0.5);
        assert!(auc(&[0.1, 0.2], &[true, true]).is_nan());
    }

    fn view(name: &str, column: usize, real: Vec<u32>, synth: Vec<u32>, size: usize) -> View {
        View {
            name: name.into(),
            column,
            real,
            synth,
            holdout: Vec::new(),
            labels: match size {
                2 => vec!["false".into(), "true".into()],
                _ => (0..size).map(|i| i.to_string()).collect(),
            },
        }
    }

    #[test]
    fn a_faithful_synthetic_table_trains_as_well_as_the_real_one() {
        // y = (x0 == 1) with 10% of labels flipped; x1 is noise.
        let n = 4_000;
        let x0: Vec<u32> = (0..n).map(|i| (i * 7 % 3) as u32).collect();
        let x1: Vec<u32> = (0..n).map(|i| (i * 13 % 5) as u32).collect();
        let y: Vec<u32> = (0..n)
            .map(|i| u32::from((x0[i] == 1) != (i % 10 == 0)))
            .collect();
        let noise: Vec<u32> = (0..n).map(|i| (i * 31 % 7 == 0) as u32).collect();
        let views = vec![
            view("x0", 0, x0.clone(), x0.clone(), 3),
            view("x1", 1, x1.clone(), x1.clone(), 5),
            view("y", 2, y.clone(), y.clone(), 2),
        ];
        let declared = vec!["false".to_string(), "true".to_string()];
        let u = compare(&views, "y", None, &[], Some(&declared), 1).unwrap();
        assert_eq!(u.positive, "true");
        assert_eq!(u.features, ["x0", "x1"]);
        assert_eq!(u.test_source, "real split");
        assert_eq!(u.test_rows, 800);
        assert!(u.real.auc > 0.85 && u.real.accuracy > 0.85, "{u:?}");
        assert!((u.synthetic.auc - u.real.auc).abs() < 0.02, "{u:?}");
        // A synthetic table whose labels are noise: TSTR near chance.
        let views = vec![
            view("x0", 0, x0.clone(), x0, 3),
            view("x1", 1, x1.clone(), x1, 5),
            view("y", 2, y, noise, 2),
        ];
        let u = compare(&views, "y", None, &[], Some(&declared), 1).unwrap();
        assert!(u.synthetic.auc < 0.65, "{u:?}");
        assert!(u.real.auc > 0.85, "{u:?}");
        // Features chosen: x1 alone predicts nothing.
        let u = compare(&views, "y", None, &["x1".into()], Some(&declared), 1).unwrap();
        assert_eq!(u.features, ["x1"]);
        assert!(u.real.auc < 0.65, "{u:?}");
        // Errors name the fault.
        assert!(compare(&views, "nope", None, &[], None, 1).is_err());
        assert!(compare(&views, "x1", None, &[], None, 1).is_err());
        assert!(compare(&views, "y", Some("maybe"), &[], None, 1).is_err());
        assert!(compare(&views, "y", None, &["y".into()], Some(&declared), 1).is_err());
        assert!(compare(&views, "y", None, &["z".into()], Some(&declared), 1).is_err());
    }
}
