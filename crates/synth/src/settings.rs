//! The fit settings the front doors expose, mapped in one place onto MST's, PrivBayes' and
//! AIM's options.
//!
//! `pets synth fit` and `pets.synth.{MST,PrivBayes,AIM}.fit` take the same knobs (inference
//! iterations, score threshold, budget shares, size limits, AIM's workload and rounds; AIM's
//! tree share from the CLI only, as its model-size cap). Each door fills a [`FitSettings`] from its arguments and calls [`FitJob::settings`]; which
//! method option each knob sets, and which method keeps its own default, is decided here
//! only, so the doors cannot drift apart. `None` everywhere means the methods' defaults.

use crate::inference::EstimationOptions;
use crate::job::FitJob;

/// Fit settings shared by every front door. Every field is optional: `None` keeps the
/// method's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitSettings {
    /// Mirror-descent iterations of the inference, exactly (no work budget). Without it MST
    /// and PrivBayes use MST's work budget and AIM its larger final one.
    pub iters: Option<usize>,
    /// Inference tolerance (all methods).
    pub tolerance: Option<f64>,
    /// Largest clique the inference accepts, in cells (all methods).
    pub max_clique_cells: Option<u64>,
    /// MST's noise penalty on pair scores.
    pub noise_penalty: Option<bool>,
    /// MST's thresholded release of sparse pairs (default on).
    pub sparse_pairs: Option<bool>,
    /// Soft threshold of MST's pair and PrivBayes' family scores, in multiples of sigma.
    pub score_threshold: Option<f64>,
    /// Share of rho for selection: MST's pair selection, PrivBayes' structure.
    pub selection_share: Option<f64>,
    /// Split budgets equally between marginals (the papers') instead of by size (all
    /// methods; AIM's 1-way step).
    pub equal_shares: Option<bool>,
    /// Merge rare values from the noisy 1-ways (MST and PrivBayes).
    pub compress: Option<bool>,
    /// MST's cap on a measured pair's cells.
    pub max_pair_cells: Option<u64>,
    /// Columns with more values stay out of pairs, families and AIM's candidates.
    pub max_pair_values: Option<u32>,
    /// PrivBayes' degree (parents per attribute).
    pub degree: Option<usize>,
    /// PrivBayes' cap on a family's cells.
    pub max_family_cells: Option<u64>,
    /// PrivBayes' family score: the R score (default) or the mutual information.
    pub privbayes_score: Option<crate::privbayes::FamilyScore>,
    /// AIM's workload (empty: every 3-way marginal).
    pub workload: Vec<Vec<String>>,
    /// AIM's rounds (default `16 d`).
    pub rounds: Option<usize>,
    /// AIM's cap on the model's cells.
    pub max_model_cells: Option<u64>,
    /// AIM's share of rho spent first on MST's tree (`0`: the paper's start).
    pub tree_share: Option<f64>,
}

impl FitSettings {
    /// The inference settings in `base` with these overrides: an exact iteration count
    /// replaces the work budget.
    fn estimation(&self, mut base: EstimationOptions) -> EstimationOptions {
        if let Some(i) = self.iters {
            base.max_iters = i;
            base.work_budget = None;
        }
        put(&mut base.tolerance, self.tolerance);
        put(&mut base.max_clique_cells, self.max_clique_cells);
        base
    }
}

/// `slot = value` when a value is given; the method's default otherwise.
fn put<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

impl FitJob {
    /// Apply the front doors' settings to every method's options (the one mapping; see
    /// the module docs). PrivBayes takes MST's inference settings; AIM keeps its own final
    /// inference unless `iters` is given. Checked with the rest by [`FitJob::validate`].
    pub fn settings(mut self, s: &FitSettings) -> FitJob {
        let size_weighted = s.equal_shares.map(|equal| !equal);

        let mst = self.options_mut();
        mst.estimation = s.estimation(mst.estimation);
        put(&mut mst.noise_penalty, s.noise_penalty);
        put(&mut mst.sparse_pairs, s.sparse_pairs);
        put(&mut mst.score_threshold, s.score_threshold);
        put(&mut mst.selection_share, s.selection_share);
        put(&mut mst.size_weighted_shares, size_weighted);
        put(&mut mst.compress, s.compress);
        put(&mut mst.max_pair_cells, s.max_pair_cells);
        put(&mut mst.max_pair_values, s.max_pair_values);
        let mst_estimation = mst.estimation;

        let pb = self.privbayes_options_mut();
        pb.estimation = mst_estimation;
        put(&mut pb.score_threshold, s.score_threshold);
        put(&mut pb.structure_share, s.selection_share);
        put(&mut pb.size_weighted_shares, size_weighted);
        put(&mut pb.compress, s.compress);
        put(&mut pb.degree, s.degree);
        put(&mut pb.max_family_cells, s.max_family_cells);
        put(&mut pb.score, s.privbayes_score);
        put(&mut pb.max_pair_values, s.max_pair_values);

        let aim = self.aim_options_mut();
        aim.estimation = s.estimation(aim.estimation);
        put(&mut aim.size_weighted_shares, size_weighted);
        aim.workload = s.workload.clone();
        aim.rounds = s.rounds;
        put(&mut aim.max_model_cells, s.max_model_cells);
        put(&mut aim.tree_share, s.tree_share);
        put(&mut aim.max_pair_values, s.max_pair_values);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aim::AIM_FINAL_WORK_BUDGET;
    use crate::job::FitJob;
    use pets::data::TableSource;

    fn job() -> FitJob {
        FitJob::new(TableSource::file("unused.parquet"), 1.0, 1e-9)
    }

    #[test]
    fn no_settings_keep_every_methods_defaults_but_privbayes_takes_msts_inference() {
        let plain = job();
        let mut set = job().settings(&FitSettings::default());
        assert_eq!(set.options_mut(), plain.clone().options_mut());
        assert_eq!(set.aim_options_mut(), plain.clone().aim_options_mut());
        let mst_estimation = plain.clone().options_mut().estimation;
        assert_eq!(set.privbayes_options_mut().estimation, mst_estimation);
        assert_eq!(
            set.aim_options_mut().estimation.work_budget,
            Some(AIM_FINAL_WORK_BUDGET),
            "AIM keeps its own final inference"
        );
    }

    #[test]
    fn each_setting_reaches_every_method_that_has_it() {
        let s = FitSettings {
            iters: Some(7),
            tolerance: Some(1e-3),
            max_clique_cells: Some(1 << 10),
            noise_penalty: Some(true),
            sparse_pairs: Some(false),
            score_threshold: Some(2.0),
            selection_share: Some(0.2),
            equal_shares: Some(true),
            compress: Some(false),
            max_pair_cells: Some(1 << 12),
            max_pair_values: Some(99),
            degree: Some(3),
            max_family_cells: Some(1 << 14),
            privbayes_score: Some(crate::privbayes::FamilyScore::Mi),
            workload: vec![vec!["a".into(), "b".into()]],
            rounds: Some(5),
            max_model_cells: Some(1 << 16),
            tree_share: Some(0.25),
        };
        let mut j = job().settings(&s);
        let mst = j.options_mut().clone();
        assert_eq!(mst.estimation.max_iters, 7);
        assert_eq!(mst.estimation.work_budget, None);
        assert_eq!(mst.estimation.tolerance, 1e-3);
        assert_eq!(mst.estimation.max_clique_cells, 1 << 10);
        assert!(mst.noise_penalty && !mst.size_weighted_shares && !mst.compress);
        assert!(!mst.sparse_pairs);
        assert_eq!(mst.score_threshold, 2.0);
        assert_eq!(mst.selection_share, 0.2);
        assert_eq!((mst.max_pair_cells, mst.max_pair_values), (1 << 12, 99));
        let pb = j.privbayes_options_mut().clone();
        assert_eq!(pb.estimation, mst.estimation);
        assert_eq!((pb.score_threshold, pb.structure_share), (2.0, 0.2));
        assert!(!pb.size_weighted_shares && !pb.compress);
        assert_eq!(
            (pb.degree, pb.max_family_cells, pb.max_pair_values),
            (3, 1 << 14, 99)
        );
        assert_eq!(pb.score, crate::privbayes::FamilyScore::Mi);
        let aim = j.aim_options_mut().clone();
        assert_eq!(aim.estimation.max_iters, 7);
        assert_eq!(aim.estimation.work_budget, None);
        assert_eq!(aim.estimation.tolerance, 1e-3);
        assert_eq!(aim.estimation.max_clique_cells, 1 << 10);
        assert!(!aim.size_weighted_shares);
        assert_eq!(aim.workload, s.workload);
        assert_eq!(aim.rounds, Some(5));
        assert_eq!((aim.max_model_cells, aim.max_pair_values), (1 << 16, 99));
        assert_eq!(aim.tree_share, 0.25);
    }
}
