//! What happens at an attendance: complaint, triage, arrival, department, outcome, timings.
//!
//! The model is a short causal chain, so the correlations privacy tools must keep are
//! present by construction:
//!
//! 1. diagnosis group from age band, sex and season (respiratory surge in winter, injuries
//!    in summer), then a chief complaint owned by that group (complaints `CC001`..`CC160`
//!    are Zipf-distributed overall);
//! 2. acuity (1 most urgent .. 5) from the group's severity, older age and winter;
//! 3. arrival by ambulance from age and acuity (about 24% overall, over half for 65+);
//! 4. department type from arrival mode, acuity, hour (urgent treatment centres are mostly
//!    closed at night) and complaint (eye problems go to type 2 departments);
//! 5. provider from the patient's home trust and the department type;
//! 6. admission from age, acuity, arrival mode, department type and winter (about 27% of
//!    type 1 attendances, over 60% for 65+ at type 1);
//! 7. times: initial assessment by acuity; total time right-skewed with a spike just under
//!    the 4-hour standard (230-239 minutes) and a 12-hour tail (about 10% of type 1
//!    attendances, mostly patients waiting for a bed);
//! 8. investigations and treatments by acuity, HRG from them, discharge destination and
//!    length of stay for admitted patients.

use rand::Rng;

use super::codes::{N_COMPLAINTS, dest};
use super::geography::{ProviderKind, WORLD};
use super::patient::Patient;
use super::sampling::{
    Weighted, below, chance, exponential, logistic, lognormal, normal, poisson, unit,
};

/// Age profiles: relative frequency of a diagnosis group in each age band.
mod profile {
    pub type Profile = [f64; 7];
    pub const INJURY_YOUNG: Profile = [0.5, 1.6, 1.4, 1.1, 0.8, 0.6, 0.7];
    pub const INJURY_FALL: Profile = [0.8, 1.3, 0.9, 0.8, 0.8, 1.3, 2.2];
    pub const CHILD: Profile = [1.5, 2.2, 0.8, 0.7, 0.6, 0.5, 0.5];
    pub const RESPIRATORY: Profile = [2.5, 1.5, 0.6, 0.6, 0.9, 1.5, 1.8];
    pub const CARDIO: Profile = [0.05, 0.1, 0.3, 0.6, 1.4, 2.2, 2.4];
    pub const GI: Profile = [0.8, 0.8, 1.0, 1.0, 1.1, 1.1, 1.0];
    pub const PSYCH: Profile = [0.0, 0.6, 1.8, 1.5, 0.9, 0.3, 0.2];
    pub const OBSTETRIC: Profile = [0.0, 0.2, 2.0, 2.2, 0.3, 0.05, 0.0];
    pub const INFECTION: Profile = [2.5, 1.8, 0.8, 0.7, 0.8, 1.2, 1.5];
    pub const NEURO: Profile = [0.4, 0.7, 0.9, 1.0, 1.1, 1.3, 1.4];
    pub const URO: Profile = [0.3, 0.4, 0.8, 0.9, 1.1, 1.5, 2.0];
    pub const ELDERLY: Profile = [0.2, 0.4, 0.6, 0.8, 1.2, 1.8, 2.0];
    pub const FLAT: Profile = [1.0; 7];
}

/// One diagnosis group's behaviour.
struct Group {
    /// Share of attendances (per cent, before age weighting).
    share: f64,
    profile: profile::Profile,
    /// Mean acuity on the 1..5 scale.
    severity: f64,
    /// Log-odds shift of admission.
    admit: f64,
    /// Log-odds shift of ambulance arrival.
    ambulance: f64,
    /// Female patients only.
    female_only: bool,
}

const fn g(
    share: f64,
    profile: profile::Profile,
    severity: f64,
    admit: f64,
    ambulance: f64,
) -> Group {
    Group {
        share,
        profile,
        severity,
        admit,
        ambulance,
        female_only: false,
    }
}

const fn female(mut group: Group) -> Group {
    group.female_only = true;
    group
}

/// Behaviour of each diagnosis group, aligned with [`super::codes::DIAGNOSIS_GROUPS`].
const GROUPS: [Group; 39] = {
    use profile::*;
    [
        g(4.5, INJURY_YOUNG, 3.9, -1.5, -0.5),      // 01 laceration
        g(5.0, INJURY_FALL, 4.0, -1.2, 0.0),        // 02 contusion
        g(2.0, FLAT, 4.1, -1.0, -1.0),              // 03 soft tissue inflammation
        g(4.5, INJURY_FALL, 3.3, -0.3, 0.5),        // 04 head injury
        g(9.0, INJURY_FALL, 3.5, 0.0, 0.2),         // 05 fracture / dislocation
        g(5.5, INJURY_YOUNG, 4.2, -2.5, -1.5),      // 06 sprain
        g(2.0, INJURY_YOUNG, 4.2, -2.0, -1.0),      // 07 muscle / tendon
        g(0.3, INJURY_YOUNG, 3.8, -1.0, -0.5),      // 08 nerve injury
        g(0.2, INJURY_YOUNG, 3.0, 0.5, 0.5),        // 09 vascular injury
        g(0.8, CHILD, 3.8, -1.0, -0.5),             // 10 burns and scalds
        g(0.1, INJURY_YOUNG, 3.5, -1.0, 0.0),       // 11 electric shock
        g(1.2, CHILD, 4.2, -2.0, -1.5),             // 12 foreign body
        g(1.0, INJURY_YOUNG, 4.3, -2.5, -1.5),      // 13 bites / stings
        g(1.5, PSYCH, 2.8, 0.5, 1.0),               // 14 poisoning
        g(0.03, CHILD, 2.0, 1.0, 1.5),              // 15 near drowning
        g(0.2, INJURY_YOUNG, 2.5, 1.5, 1.2),        // 16 visceral injury
        g(2.5, INFECTION, 3.6, -0.3, 0.0),          // 17 infectious disease
        g(2.0, FLAT, 4.0, -0.8, -1.0),              // 18 local infection
        g(0.5, ELDERLY, 2.0, 2.5, 1.5),             // 19 septicaemia
        g(4.0, CARDIO, 2.6, 0.8, 0.8),              // 20 cardiac
        g(1.2, CARDIO, 2.2, 1.5, 1.5),              // 21 cerebro-vascular
        g(0.8, CARDIO, 3.0, 0.5, 0.5),              // 22 other vascular
        g(0.4, FLAT, 3.2, 0.8, 0.0),                // 23 haematological
        g(3.0, NEURO, 3.0, 0.3, 0.8),               // 24 central nervous system
        g(7.0, RESPIRATORY, 3.0, 0.5, 0.5),         // 25 respiratory
        g(7.0, GI, 3.3, 0.3, 0.0),                  // 26 gastrointestinal
        g(2.5, URO, 3.5, 0.0, 0.0),                 // 27 urological
        female(g(1.0, OBSTETRIC, 3.2, 0.5, 0.0)),   // 28 obstetric
        female(g(1.0, OBSTETRIC, 3.6, -0.5, -0.5)), // 29 gynaecological
        g(1.0, ELDERLY, 3.0, 0.8, 0.5),             // 30 diabetes / endocrine
        g(1.5, FLAT, 4.4, -1.5, -1.5),              // 31 dermatological
        g(1.0, FLAT, 3.3, -0.5, 0.3),               // 32 allergy
        g(0.8, FLAT, 4.2, -1.5, -1.0),              // 33 facio-maxillary
        g(2.0, CHILD, 4.2, -1.5, -1.5),             // 34 ENT
        g(2.5, PSYCH, 3.2, 0.0, 0.5),               // 35 psychiatric
        g(2.0, FLAT, 4.2, -2.0, -2.0),              // 36 ophthalmological
        g(0.8, PSYCH, 3.8, -0.5, 0.3),              // 37 social problems
        g(16.0, FLAT, 3.6, 0.0, 0.0),               // 38 not classifiable
        g(7.0, FLAT, 4.0, -1.0, -0.3),              // 39 nothing abnormal detected
    ]
};

const G_RESPIRATORY: usize = 24;
const G_INFECTIOUS: usize = 16;
const G_SEPTICAEMIA: usize = 18;
const G_FRACTURE: usize = 4;
const G_PSYCHIATRIC: usize = 34;
const G_EYE: usize = 35;

/// Log-odds of ambulance arrival at acuity 3, by age band.
const AMBULANCE_BASE: [f64; 7] = [-2.2, -2.5, -1.65, -1.5, -0.9, 0.05, 0.6];
/// Log-odds of admission (type 1, walk-in, acuity 3), by age band.
const ADMIT_BASE: [f64; 7] = [-1.8, -2.85, -2.85, -2.65, -1.75, -0.3, -0.1];
/// Log-odds shift of admission by acuity 1..5.
const ADMIT_ACUITY: [f64; 5] = [2.2, 1.1, 0.2, -0.9, -2.0];
/// Probability of a same-day (0-night) stay when admitted, by age band.
const SAME_DAY: [f64; 7] = [0.4, 0.4, 0.3, 0.3, 0.25, 0.18, 0.15];
/// Median length of stay (days) of overnight admissions, by age band.
const STAY_MEDIAN: [f64; 7] = [1.5, 1.5, 2.0, 2.0, 3.0, 5.0, 7.0];
/// Median total time (minutes) of non-admitted type 1 attendances by acuity 1..5.
const TIME_MEDIAN: [f64; 5] = [170.0, 225.0, 205.0, 175.0, 135.0];
/// Mean time to initial assessment (minutes) by acuity 1..5.
const ASSESS_MEAN: [f64; 5] = [2.0, 8.0, 16.0, 22.0, 25.0];

/// Longest total time in department the dataset declares (three days).
pub const MAX_TIME_IN_DEPT: u32 = 4_320;
/// Longest time to initial assessment the dataset declares (one day).
pub const MAX_TIME_TO_ASSESSMENT: u32 = 1_440;
/// Largest number of investigations or treatments recorded.
pub const MAX_PROCEDURES: u32 = 15;
/// Longest length of stay the dataset declares (days).
pub const MAX_LENGTH_OF_STAY: u32 = 365;

/// The clinical content of one attendance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attendance {
    pub complaint: u8,
    pub group: u8,
    pub acuity: u8,
    /// Index into [`super::codes::ARRIVAL_MODES`].
    pub arrival_mode: u8,
    /// 0, 1, 2 for department types 01, 02, 03.
    pub department: u8,
    pub provider: u16,
    /// Index into [`super::codes::ATTENDANCE_CATEGORIES`].
    pub category: u8,
    pub assessment_min: u32,
    pub total_min: u32,
    pub investigations: u32,
    pub treatments: u32,
    /// Index into [`super::codes::HRGS`].
    pub hrg: u8,
    /// Index into [`super::codes::DISCHARGE_DESTINATIONS`].
    pub destination: u8,
    pub admitted: bool,
    pub length_of_stay: Option<u32>,
}

/// Tables of the clinical model, built once.
#[derive(Debug, Clone)]
pub(crate) struct ClinicalModel {
    /// Diagnosis group by `[age band][female]`.
    group_pick: Vec<[Weighted; 2]>,
    /// Complaints owned by each group, and their distribution.
    group_complaints: Vec<(Vec<u8>, Weighted)>,
    /// All complaints, Zipf.
    all_complaints: Weighted,
    winter_surge: Weighted,
    summer_surge: Weighted,
    destinations: Weighted,
    destinations_fracture: Weighted,
    destinations_utc: Weighted,
}

/// Zipf weight of the complaint of rank `r` (0-based).
fn complaint_weight(r: usize) -> f64 {
    1.0 / (r as f64 + 1.0).powf(0.9)
}

/// Assign complaints to groups so that each group's complaints carry about its share of
/// the total Zipf weight: complaints in rank order go to the group furthest below its share.
fn complaint_groups() -> [u8; N_COMPLAINTS] {
    let total_share: f64 = GROUPS.iter().map(|g| g.share).sum();
    let total_weight: f64 = (0..N_COMPLAINTS).map(complaint_weight).sum();
    let mut assigned = [0.0f64; GROUPS.len()];
    let mut owner = [0u8; N_COMPLAINTS];
    let mut count = [0usize; GROUPS.len()];
    for (r, slot) in owner.iter_mut().enumerate() {
        let w = complaint_weight(r);
        let (best, _) = GROUPS
            .iter()
            .enumerate()
            .map(|(i, g)| (i, g.share / total_share * total_weight - assigned[i]))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .expect("groups");
        *slot = best as u8;
        assigned[best] += w;
        count[best] += 1;
    }
    // Every group owns at least one complaint: take the rarest complaint of the group that
    // owns most.
    for gi in 0..GROUPS.len() {
        if count[gi] == 0 {
            let (richest, _) = count
                .iter()
                .enumerate()
                .max_by_key(|&(i, c)| (*c, std::cmp::Reverse(i)))
                .expect("groups");
            let r = (0..N_COMPLAINTS)
                .rev()
                .find(|&r| owner[r] as usize == richest)
                .expect("owned");
            owner[r] = gi as u8;
            count[richest] -= 1;
            count[gi] += 1;
        }
    }
    owner
}

impl ClinicalModel {
    pub(crate) fn new() -> Self {
        let group_pick = (0..7)
            .map(|band| {
                let table = |is_female: bool| {
                    Weighted::new(GROUPS.iter().map(|g| {
                        if g.female_only && !is_female {
                            0.0
                        } else {
                            g.share * g.profile[band]
                        }
                    }))
                };
                [table(false), table(true)]
            })
            .collect();
        let owner = complaint_groups();
        let group_complaints = (0..GROUPS.len())
            .map(|gi| {
                let list: Vec<u8> = (0..N_COMPLAINTS)
                    .filter(|&r| owner[r] as usize == gi)
                    .map(|r| r as u8)
                    .collect();
                let w = Weighted::new(list.iter().map(|&r| complaint_weight(r as usize)));
                (list, w)
            })
            .collect();
        let mut winter = [0.0; 39];
        winter[G_RESPIRATORY] = 0.65;
        winter[G_INFECTIOUS] = 0.25;
        winter[G_SEPTICAEMIA] = 0.10;
        let mut summer = [0.0; 39];
        for (gi, w) in [
            (0, 0.25),
            (1, 0.2),
            (4, 0.2),
            (5, 0.2),
            (12, 0.1),
            (9, 0.05),
        ] {
            summer[gi] = w;
        }
        // Weights of non-admitted destinations (index into DISCHARGE_DESTINATIONS; 0, 7
        // and 9 are decided elsewhere).
        let base = [0.0, 24.0, 44.0, 2.0, 5.0, 5.0, 2.0, 0.0, 7.0, 0.0, 1.5, 2.5];
        let mut fracture = base;
        fracture[dest::FRACTURE_CLINIC as usize] = 35.0;
        let mut utc = base;
        utc[dest::TRANSFERRED as usize] = 8.0;
        utc[dest::FRACTURE_CLINIC as usize] = 3.0;
        ClinicalModel {
            group_pick,
            group_complaints,
            all_complaints: Weighted::new((0..N_COMPLAINTS).map(complaint_weight)),
            winter_surge: Weighted::new(winter),
            summer_surge: Weighted::new(summer),
            destinations: Weighted::new(base),
            destinations_fracture: Weighted::new(fracture),
            destinations_utc: Weighted::new(utc),
        }
    }

    /// Generate the clinical content of one attendance.
    ///
    /// `band` is the age band index at arrival, `hour` the hour of arrival and `winter` the
    /// day's winter intensity (0..=1).
    pub(crate) fn attend<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        patient: &Patient,
        age: u8,
        band: usize,
        hour: u32,
        winter: f64,
    ) -> Attendance {
        let world = &*WORLD;
        let old = age >= 65;

        // 1. Diagnosis group and chief complaint.
        let is_female = patient.sex == 1;
        let mut group = self.group_pick[band][usize::from(is_female)].sample(rng);
        let surge = if band <= 1 || band >= 5 { 0.22 } else { 0.08 };
        if chance(rng, surge * winter) {
            group = self.winter_surge.sample(rng);
        } else if (1..=4).contains(&band) && chance(rng, 0.10 * (1.0 - winter)) {
            group = self.summer_surge.sample(rng);
        }
        let complaint = if chance(rng, 0.1) {
            self.all_complaints.sample(rng) as u8
        } else {
            let (list, w) = &self.group_complaints[group];
            list[w.sample(rng)]
        };
        let gi = &GROUPS[group];

        // 2. Acuity.
        let mut x = gi.severity + 0.75 * normal(rng);
        if old {
            x -= 0.3 + 0.35 * winter;
        }
        if age >= 85 {
            x -= 0.25;
        }
        if band == 1 {
            x += 0.15;
        }
        let acuity = x.round().clamp(1.0, 5.0) as u8;
        let a = usize::from(acuity - 1);

        // 3. Arrival mode.
        let arrival_mode = if chance(rng, 0.001) {
            2
        } else {
            let logit = AMBULANCE_BASE[band] + 0.55 * (3.0 - f64::from(acuity)) + gi.ambulance;
            if chance(rng, logistic(logit)) { 0 } else { 1 }
        };
        let ambulance = arrival_mode == 0;

        // 4. Department type.
        let department = if ambulance {
            if chance(rng, 0.98) { 0 } else { 2 }
        } else if group == G_EYE && chance(rng, 0.55) || chance(rng, 0.012) {
            1
        } else {
            let mut p3 = [0.0, 0.05, 0.36, 0.66, 0.8][a];
            if band == 1 {
                p3 += 0.05;
            }
            if !(8..22).contains(&hour) {
                p3 *= 0.4;
            }
            if chance(rng, p3) { 2 } else { 0 }
        };

        // 5. Provider.
        let trust = &world.trusts[patient.trust as usize];
        let provider = match department {
            0 => {
                if chance(rng, 0.9) {
                    trust.provider
                } else {
                    trust.neighbours[below(rng, 3) as usize]
                }
            }
            1 => trust.type2,
            _ => {
                if chance(rng, 0.55) {
                    trust.provider
                } else {
                    trust.nearest_utc
                }
            }
        };
        debug_assert!(match department {
            0 => matches!(
                world.providers[provider as usize].kind,
                ProviderKind::Acute { .. }
            ),
            _ => true,
        });

        // Attendance category.
        let follow_up_unplanned = 0.04 + [0.0, 0.02, 0.05, 0.10, 0.15][usize::from(patient.class)];
        let follow_up_planned = [0.02, 0.15, 0.03][usize::from(department)];
        let u = unit(rng);
        let category = if u < follow_up_unplanned {
            2
        } else if u < follow_up_unplanned + follow_up_planned {
            1
        } else {
            0
        };

        // 6. Admission, death, leaving early.
        let mut logit = ADMIT_BASE[band] + ADMIT_ACUITY[a] + gi.admit;
        if ambulance {
            logit += 0.7;
        }
        if old {
            logit += 0.3 * winter;
        }
        logit += [0.0, -3.0, -4.5][usize::from(department)];
        let admitted = chance(rng, logistic(logit));
        let mut destination = dest::ADMITTED;
        if !admitted {
            let mut p_die = if department == 0 {
                [0.04, 0.002, 0.0002, 0.00002, 0.0][a]
            } else {
                0.0
            };
            if age >= 75 {
                p_die *= 2.0;
            }
            let p_left = match department {
                0 => [0.0, 0.005, 0.02, 0.05, 0.08][a],
                1 => 0.01,
                _ => 0.03,
            };
            let u = unit(rng);
            destination = if u < p_die {
                dest::DIED
            } else if u < p_die + p_left {
                dest::LEFT_BEFORE_TREATMENT
            } else {
                let table = if department == 2 {
                    &self.destinations_utc
                } else if group == G_FRACTURE {
                    &self.destinations_fracture
                } else {
                    &self.destinations
                };
                table.sample(rng) as u8
            };
        }

        // 7. Times.
        let squeeze = |rng: &mut R, t: f64, q: f64| -> f64 {
            if t > 240.0 && t < 360.0 && chance(rng, q) {
                (239.0 - exponential(rng, 4.0).floor()).max(225.0)
            } else {
                t
            }
        };
        let under_12h = |rng: &mut R, median: f64, sigma: f64| -> f64 {
            for _ in 0..8 {
                let t = lognormal(rng, median, sigma);
                if t < 720.0 {
                    return t;
                }
            }
            median.min(719.0)
        };
        let total = match department {
            0 => {
                if destination == dest::DIED {
                    under_12h(rng, 90.0, 0.6)
                } else if destination == dest::LEFT_BEFORE_TREATMENT {
                    under_12h(rng, 130.0, 0.6)
                } else if admitted {
                    if chance(rng, 0.26 + 0.08 * winter) {
                        720.0 + exponential(rng, 420.0)
                    } else {
                        let t = under_12h(rng, 330.0, 0.45);
                        squeeze(rng, t, 0.15)
                    }
                } else {
                    let p12 = if group == G_PSYCHIATRIC { 0.08 } else { 0.02 };
                    if chance(rng, p12) {
                        720.0 + exponential(rng, 240.0)
                    } else {
                        let t = under_12h(rng, TIME_MEDIAN[a], 0.55);
                        squeeze(rng, t, 0.2)
                    }
                }
            }
            1 => {
                let t = lognormal(rng, 100.0, 0.55);
                squeeze(rng, t, 0.1)
            }
            _ => {
                let t = lognormal(rng, 75.0, 0.6);
                squeeze(rng, t, 0.1)
            }
        };
        let total_min = (total.floor() as u32).clamp(1, MAX_TIME_IN_DEPT);
        let mut assess_mean = ASSESS_MEAN[a] * (1.0 + 0.3 * winter);
        if department == 2 {
            assess_mean *= 1.2;
        }
        let assessment_min = (exponential(rng, assess_mean).floor() as u32)
            .min(total_min)
            .min(MAX_TIME_TO_ASSESSMENT);

        // 8. Investigations, treatments, HRG, length of stay.
        let (mut inv_mean, mut treat_mean) = match department {
            0 => ([6.0, 5.0, 3.5, 1.8, 0.8][a], [5.0, 4.0, 3.0, 2.2, 1.5][a]),
            1 => (1.0, 1.5),
            _ => (0.6, [3.0, 2.4, 1.8, 1.3, 0.9][a]),
        };
        if admitted {
            inv_mean += 1.5;
            treat_mean += 1.0;
        }
        let (investigations, treatments) = if destination == dest::LEFT_BEFORE_TREATMENT {
            (0, 0)
        } else {
            (
                poisson(rng, inv_mean).min(MAX_PROCEDURES),
                poisson(rng, treat_mean).min(MAX_PROCEDURES),
            )
        };
        let category_of = |n: u32, edges: [u32; 3]| edges.iter().filter(|&&e| n >= e).count() as u8;
        let score = 2 * category_of(investigations, [1, 3, 6])
            + category_of(treatments, [1, 3, 5])
            + u8::from(admitted);
        let hrg = 10 - score.min(10);

        let length_of_stay = admitted.then(|| {
            if chance(rng, SAME_DAY[band]) {
                0
            } else {
                (lognormal(rng, STAY_MEDIAN[band], 0.9).ceil() as u32).clamp(1, MAX_LENGTH_OF_STAY)
            }
        });

        Attendance {
            complaint,
            group: group as u8,
            acuity,
            arrival_mode,
            department,
            provider,
            category,
            assessment_min,
            total_min,
            investigations,
            treatments,
            hrg,
            destination,
            admitted,
            length_of_stay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_owns_a_complaint() {
        let owner = complaint_groups();
        for gi in 0..GROUPS.len() {
            assert!(owner.iter().any(|&o| o as usize == gi), "group {gi}");
        }
        let m = ClinicalModel::new();
        assert_eq!(m.group_complaints.len(), GROUPS.len());
    }

    #[test]
    fn obstetric_groups_are_female_only() {
        let m = ClinicalModel::new();
        for band in 0..7 {
            assert_eq!(m.group_pick[band][0].probability(27), 0.0);
            assert_eq!(m.group_pick[band][0].probability(28), 0.0);
        }
    }
}
