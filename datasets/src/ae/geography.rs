//! The synthetic geography: postcode districts, LSOAs with IMD deciles, and A&E providers.
//!
//! The geography is public structure, not data: it is the same for every seed (built from a
//! fixed internal seed), so that the schema can declare every district, LSOA and provider as
//! a public domain. It is synthetic but plausible:
//!
//! - about [`N_DISTRICTS`] postcode districts named after real English postcode areas
//!   (`LS1`, `B23`, ...), placed on a synthetic map (area centres scattered over a
//!   450 × 600 km box, districts clustered around them);
//! - each district holds several LSOAs, coded `E01000001` upwards, each in exactly one
//!   district (about 36,000 in all; England has about 33,800);
//! - every LSOA has an IMD decile; deciles are national ranks of a spatially correlated
//!   deprivation score, so each decile holds a tenth of the LSOAs;
//! - [`N_PROVIDERS`] providers: acute trusts (codes `R..`, type 1 and 3 departments, some
//!   also type 2), urgent-treatment-centre operators (codes `N..`, type 3 only) and
//!   specialist hospitals (type 2 only). Acute trusts have Zipf-distributed volumes and a
//!   catchment of their nearest districts, weighted Zipf-like by distance rank.

use std::collections::HashSet;
use std::sync::LazyLock;

use rand::Rng;

use super::sampling::{Weighted, below, derive_key, normal, stream, unit};

/// Target number of postcode districts.
pub const N_DISTRICTS: usize = 2_800;

/// Number of providers (all kinds).
pub const N_PROVIDERS: usize = 220;

/// Number of acute trusts (type 1 emergency departments).
pub const N_ACUTE: usize = 142;

/// Number of urgent-treatment-centre operators (type 3 only).
pub const N_UTC: usize = 66;

/// Number of specialist (type 2 only) providers.
pub const N_SPECIALIST: usize = N_PROVIDERS - N_ACUTE - N_UTC;

/// Districts in an acute trust's catchment.
const CATCHMENT: usize = 50;

/// Fixed seed of the geography (independent of the user's seed).
const WORLD_SEED: u64 = 0x5045_5453_574f_524c;

/// English postcode areas used to name districts.
const AREAS: &[&str] = &[
    "AL", "B", "BA", "BB", "BD", "BH", "BL", "BN", "BR", "BS", "CA", "CB", "CH", "CM", "CO", "CR",
    "CT", "CV", "CW", "DA", "DE", "DH", "DL", "DN", "DT", "DY", "E", "EC", "EN", "EX", "FY", "GL",
    "GU", "HA", "HD", "HG", "HP", "HR", "HU", "HX", "IG", "IP", "KT", "L", "LA", "LE", "LN", "LS",
    "LU", "M", "ME", "MK", "N", "NE", "NG", "NN", "NR", "NW", "OL", "OX", "PE", "PL", "PO", "PR",
    "RG", "RH", "RM", "S", "SE", "SG", "SK", "SL", "SM", "SN", "SO", "SP", "SR", "SS", "ST", "SW",
    "SY", "TA", "TF", "TN", "TQ", "TR", "TS", "TW", "UB", "W", "WA", "WC", "WD", "WF", "WN", "WR",
    "WS", "WV", "YO",
];

/// What departments a provider runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderKind {
    /// Type 1 and type 3 departments; `type2` when it also runs a type 2 department.
    Acute {
        /// Whether it also has a single-specialty (type 2) department.
        type2: bool,
    },
    /// Type 3 only.
    UrgentTreatmentCentre,
    /// Type 2 only.
    Specialist,
}

/// One postcode district.
#[derive(Debug, Clone)]
pub(crate) struct District {
    /// Its label, e.g. `LS12`.
    pub label: String,
    /// Map position (km).
    pub x: f64,
    pub y: f64,
    /// First LSOA (index into [`World::lsoa_codes`]).
    pub lsoa_start: u32,
    /// Number of LSOAs.
    pub lsoa_len: u32,
    /// Expected attendances relative to other districts (population × deprivation).
    pub attendance_weight: f64,
    /// Ethnic-diversity multiplier for minority categories.
    pub diversity: f64,
    /// Deprivation effect (standard-normal scale).
    deprivation: f64,
}

/// One provider.
#[derive(Debug, Clone)]
pub(crate) struct Provider {
    /// Organisation code.
    pub code: String,
    /// What it runs.
    pub kind: ProviderKind,
    /// District it stands in.
    pub district: u32,
}

/// Per-acute-trust attendance structure.
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    /// Provider index.
    pub provider: u16,
    /// Districts of the catchment, nearest first.
    pub catchment: Vec<u32>,
    /// Distribution over `catchment`.
    pub catchment_weights: Weighted,
    /// The three nearest other acute trusts (provider indices).
    pub neighbours: [u16; 3],
    /// Provider of type 3 care for its patients who do not use its own UTC.
    pub nearest_utc: u16,
    /// Provider of type 2 care (itself when it has a type 2 department).
    pub type2: u16,
}

/// The whole synthetic geography.
#[derive(Debug)]
pub(crate) struct World {
    /// Districts, in label order within each area.
    pub districts: Vec<District>,
    /// LSOA codes, grouped by district.
    pub lsoa_codes: Vec<String>,
    /// IMD decile (1 most deprived .. 10) of each LSOA.
    pub lsoa_decile: Vec<u8>,
    /// Index of each LSOA within its district.
    pub lsoa_local: Vec<u16>,
    /// Within-district distribution of patients over LSOAs, one per district.
    pub lsoa_weights: Vec<Weighted>,
    /// All providers.
    pub providers: Vec<Provider>,
    /// Acute trusts.
    pub trusts: Vec<Trust>,
    /// Distribution of patients' home trust (index into `trusts`), Zipf by volume.
    pub trust_weights: Weighted,
}

/// Relative A&E attendance rate of residents of an IMD decile, falling linearly from
/// decile 1 (most deprived) to decile 10. The slope is set so that, after the uneven
/// coverage of catchments, decile 1 ends up with about twice the attendances of decile 10.
pub(crate) fn decile_rate(decile: u8) -> f64 {
    2.3 - 1.3 * f64::from(decile - 1) / 9.0
}

/// The geography, built on first use.
pub(crate) static WORLD: LazyLock<World> = LazyLock::new(World::build);

impl World {
    fn build() -> World {
        let mut rng = stream(&derive_key(WORLD_SEED, 0), 0);

        // Areas: centre, size (districts), deprivation tendency.
        let raw_sizes: Vec<f64> = AREAS
            .iter()
            .map(|_| (0.55 * normal(&mut rng)).exp())
            .collect();
        let total: f64 = raw_sizes.iter().sum();
        let mut sizes: Vec<usize> = raw_sizes
            .iter()
            .map(|s| ((s / total * N_DISTRICTS as f64).round() as usize).max(4))
            .collect();
        // Adjust the largest areas so that the total is exactly N_DISTRICTS.
        while sizes.iter().sum::<usize>() != N_DISTRICTS {
            let (i, _) = sizes
                .iter()
                .enumerate()
                .max_by_key(|&(_, s)| *s)
                .expect("areas");
            if sizes.iter().sum::<usize>() > N_DISTRICTS {
                sizes[i] -= 1;
            } else {
                let (j, _) = sizes
                    .iter()
                    .enumerate()
                    .min_by_key(|&(_, s)| *s)
                    .expect("areas");
                sizes[j] += 1;
            }
        }

        let mut districts = Vec::with_capacity(N_DISTRICTS);
        for (area, &n) in AREAS.iter().zip(&sizes) {
            let cx = 20.0 + 410.0 * unit(&mut rng);
            let cy = 20.0 + 560.0 * unit(&mut rng);
            let spread = 2.0 + 1.3 * (n as f64).sqrt();
            let area_dep = normal(&mut rng);
            for k in 1..=n {
                // Low-numbered districts sit near the centre (town centres), as in reality.
                let r =
                    spread * (0.3 + (k as f64 / n as f64).sqrt()) * (0.6 + 0.4 * unit(&mut rng));
                let theta = std::f64::consts::TAU * unit(&mut rng);
                let centrality = 1.0 - (k as f64 / n as f64);
                let deprivation = 0.6 * area_dep + 0.5 * centrality + 0.6 * normal(&mut rng);
                let diversity =
                    (0.55 * deprivation + 0.3 * normal(&mut rng) + 0.4 * centrality).exp();
                districts.push(District {
                    label: format!("{area}{k}"),
                    x: cx + r * theta.cos(),
                    y: cy + r * theta.sin(),
                    lsoa_start: 0,
                    lsoa_len: 0,
                    attendance_weight: 0.0,
                    diversity,
                    deprivation,
                });
            }
        }

        // LSOAs: 4..=24 per district, mean about 12.
        let mut lsoa_scores = Vec::new();
        let mut lsoa_pop = Vec::new();
        let mut lsoa_local = Vec::new();
        for d in districts.iter_mut() {
            let n = (12.0 * (0.4 * normal(&mut rng)).exp())
                .round()
                .clamp(4.0, 24.0) as u32;
            d.lsoa_start = lsoa_scores.len() as u32;
            d.lsoa_len = n;
            for k in 0..n {
                lsoa_scores.push(0.8 * d.deprivation + 0.6 * normal(&mut rng));
                lsoa_pop.push(0.8 + 0.4 * unit(&mut rng));
                lsoa_local.push(k as u16);
            }
        }
        let n_lsoa = lsoa_scores.len();
        // Deciles by national rank: the highest score is the most deprived (decile 1).
        let mut order: Vec<usize> = (0..n_lsoa).collect();
        order.sort_by(|&a, &b| lsoa_scores[b].total_cmp(&lsoa_scores[a]));
        let mut lsoa_decile = vec![0u8; n_lsoa];
        for (rank, &i) in order.iter().enumerate() {
            lsoa_decile[i] = (rank * 10 / n_lsoa) as u8 + 1;
        }
        let lsoa_codes = (0..n_lsoa).map(|i| format!("E01{:06}", i + 1)).collect();
        let mut lsoa_weights = Vec::with_capacity(districts.len());
        for d in districts.iter_mut() {
            let range = d.lsoa_start as usize..(d.lsoa_start + d.lsoa_len) as usize;
            let w: Vec<f64> = range
                .map(|i| lsoa_pop[i] * decile_rate(lsoa_decile[i]))
                .collect();
            d.attendance_weight = w.iter().sum();
            lsoa_weights.push(Weighted::new(w));
        }

        // Scale diversity so that its attendance-weighted mean is 1 (national shares hold).
        let total_weight: f64 = districts.iter().map(|d| d.attendance_weight).sum();
        let mean_diversity: f64 = districts
            .iter()
            .map(|d| d.diversity * d.attendance_weight)
            .sum::<f64>()
            / total_weight;
        for d in districts.iter_mut() {
            d.diversity /= mean_diversity;
        }

        // Providers: distinct home districts, chosen in proportion to population.
        let district_pick = Weighted::new(districts.iter().map(|d| d.attendance_weight));
        let mut used_districts = HashSet::new();
        let mut used_codes = HashSet::new();
        let mut providers = Vec::with_capacity(N_PROVIDERS);
        for i in 0..N_PROVIDERS {
            let kind = if i < N_ACUTE {
                ProviderKind::Acute {
                    type2: unit(&mut rng) < 0.25,
                }
            } else if i < N_ACUTE + N_UTC {
                ProviderKind::UrgentTreatmentCentre
            } else {
                ProviderKind::Specialist
            };
            let district = loop {
                let d = district_pick.sample(&mut rng) as u32;
                if used_districts.insert(d) {
                    break d;
                }
            };
            let code = loop {
                let code = provider_code(&mut rng, kind);
                if used_codes.insert(code.clone()) {
                    break code;
                }
            };
            providers.push(Provider {
                code,
                kind,
                district,
            });
        }

        let dist2 = |a: u32, b: u32| {
            let (da, db) = (&districts[a as usize], &districts[b as usize]);
            (da.x - db.x).powi(2) + (da.y - db.y).powi(2)
        };
        let nearest_of = |from: u32, pred: &dyn Fn(&Provider) -> bool, skip: usize| -> Vec<u16> {
            let mut cands: Vec<(f64, u16)> = providers
                .iter()
                .enumerate()
                .filter(|(_, p)| pred(p))
                .map(|(j, p)| (dist2(from, p.district), j as u16))
                .collect();
            cands.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            cands.into_iter().skip(skip).map(|(_, j)| j).collect()
        };

        let mut trusts = Vec::with_capacity(N_ACUTE);
        for (i, p) in providers.iter().enumerate().take(N_ACUTE) {
            let mut by_distance: Vec<(f64, u32)> = (0..districts.len() as u32)
                .map(|d| (dist2(p.district, d), d))
                .collect();
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let catchment: Vec<u32> = by_distance
                .iter()
                .take(CATCHMENT)
                .map(|&(_, d)| d)
                .collect();
            let catchment_weights =
                Weighted::new(catchment.iter().enumerate().map(|(rank, &d)| {
                    districts[d as usize].attendance_weight / (rank as f64 + 1.0).powf(1.1)
                }));
            let acute = |q: &Provider| matches!(q.kind, ProviderKind::Acute { .. });
            let others = nearest_of(p.district, &acute, 1);
            let neighbours = [others[0], others[1], others[2]];
            let nearest_utc = nearest_of(
                p.district,
                &|q| q.kind == ProviderKind::UrgentTreatmentCentre,
                0,
            )[0];
            let type2 = if p.kind == (ProviderKind::Acute { type2: true }) {
                i as u16
            } else {
                nearest_of(
                    p.district,
                    &|q| {
                        matches!(
                            q.kind,
                            ProviderKind::Specialist | ProviderKind::Acute { type2: true }
                        )
                    },
                    0,
                )[0]
            };
            trusts.push(Trust {
                provider: i as u16,
                catchment,
                catchment_weights,
                neighbours,
                nearest_utc,
                type2,
            });
        }
        // Zipf volumes over acute trusts (index order is already random with respect to
        // place, because home districts were drawn at random).
        let trust_weights = Weighted::new((0..N_ACUTE).map(|r| 1.0 / (r as f64 + 1.0).powf(0.7)));

        World {
            districts,
            lsoa_codes,
            lsoa_decile,
            lsoa_local,
            lsoa_weights,
            providers,
            trusts,
            trust_weights,
        }
    }

    /// Provider codes, sorted (the public domain of `provider_code`).
    pub(crate) fn provider_codes_sorted(&self) -> Vec<String> {
        let mut v: Vec<String> = self.providers.iter().map(|p| p.code.clone()).collect();
        v.sort();
        v
    }
}

fn provider_code<R: Rng + ?Sized>(rng: &mut R, kind: ProviderKind) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXY";
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXY0123456789";
    let pick = |rng: &mut R, set: &[u8]| set[below(rng, set.len() as u32) as usize] as char;
    let first = match kind {
        ProviderKind::UrgentTreatmentCentre => 'N',
        _ => 'R',
    };
    let second = pick(rng, LETTERS);
    let third = match kind {
        ProviderKind::UrgentTreatmentCentre => pick(rng, LETTERS),
        _ => pick(rng, ALNUM),
    };
    format!("{first}{second}{third}")
}

/// Public listing of the geography, for schemas and tests.
pub mod domain {
    use super::WORLD;

    /// Every postcode district label, in generation order (area by area, numbered).
    pub fn postcode_districts() -> Vec<String> {
        WORLD.districts.iter().map(|d| d.label.clone()).collect()
    }

    /// Every LSOA code, in code order.
    pub fn lsoas() -> Vec<String> {
        WORLD.lsoa_codes.clone()
    }

    /// The district label of each LSOA, aligned with [`lsoas`].
    pub fn lsoa_districts() -> Vec<String> {
        let mut out = Vec::with_capacity(WORLD.lsoa_codes.len());
        for d in &WORLD.districts {
            for _ in 0..d.lsoa_len {
                out.push(d.label.clone());
            }
        }
        out
    }

    /// The IMD decile of each LSOA, aligned with [`lsoas`].
    pub fn lsoa_deciles() -> Vec<u8> {
        WORLD.lsoa_decile.clone()
    }

    /// Every provider code, sorted.
    pub fn provider_codes() -> Vec<String> {
        WORLD.provider_codes_sorted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geography_has_the_declared_shape() {
        let w = &*WORLD;
        assert_eq!(w.districts.len(), N_DISTRICTS);
        let labels: HashSet<&str> = w.districts.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(labels.len(), N_DISTRICTS, "district labels are unique");
        let n_lsoa = w.lsoa_codes.len();
        assert!((28_000..40_000).contains(&n_lsoa), "{n_lsoa} LSOAs");
        let last = w.districts.last().unwrap();
        assert_eq!((last.lsoa_start + last.lsoa_len) as usize, n_lsoa);
        for decile in 1..=10u8 {
            let share =
                w.lsoa_decile.iter().filter(|&&d| d == decile).count() as f64 / n_lsoa as f64;
            assert!((share - 0.1).abs() < 0.002, "decile {decile}: {share}");
        }
        assert_eq!(w.providers.len(), N_PROVIDERS);
        let codes: HashSet<&str> = w.providers.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes.len(), N_PROVIDERS);
        assert_eq!(w.trusts.len(), N_ACUTE);
        for t in &w.trusts {
            assert!(!t.neighbours.contains(&t.provider));
            assert_eq!(
                w.providers[t.nearest_utc as usize].kind,
                ProviderKind::UrgentTreatmentCentre
            );
            assert!(matches!(
                w.providers[t.type2 as usize].kind,
                ProviderKind::Specialist | ProviderKind::Acute { type2: true }
            ));
        }
    }

    #[test]
    fn geography_is_fixed() {
        // A few values pinned so that an accidental change of the world (which would change
        // the shipped schema) is noticed here first.
        let w = &*WORLD;
        let again = World::build();
        assert_eq!(w.lsoa_codes, again.lsoa_codes);
        assert_eq!(w.lsoa_decile, again.lsoa_decile);
        assert_eq!(w.provider_codes_sorted(), again.provider_codes_sorted());
    }
}
