//! Fixed code lists of the A&E dataset: the public domains of its categorical columns.
//!
//! The lists follow NHS England's HES A&E / ECDS conventions where one exists (sex, ethnic
//! category, department type, arrival mode, attendance category, diagnosis group, discharge
//! destination, HRG). Chief complaints are synthetic codes `CC001`..`CC160`, numbered in
//! order of national frequency. Geographic codes (districts, LSOAs, providers) are in
//! [`super::geography`] because they are built, not listed.

/// Age bands, as in SynAE (`Age_Band`), with an extra `0-1` band for infants under one year.
/// Age 0 is `0-1`; ages 1 to 17 are `1-17`.
pub const AGE_BANDS: [&str; 7] = ["0-1", "1-17", "18-24", "25-44", "45-64", "65-84", "85+"];

/// Lowest age of each band in [`AGE_BANDS`].
pub const AGE_BAND_LOWER: [u8; 7] = [0, 1, 18, 25, 45, 65, 85];

/// Largest age the dataset declares.
pub const MAX_AGE: u8 = 110;

/// Index into [`AGE_BANDS`] of an age in years.
pub fn age_band_index(age: u8) -> usize {
    AGE_BAND_LOWER
        .iter()
        .rposition(|&lower| age >= lower)
        .unwrap_or(0)
}

/// NHS Data Dictionary "person stated gender" codes: `1` male, `2` female, `9` indeterminate,
/// `X` not known.
pub const SEX_CODES: [&str; 4] = ["1", "2", "9", "X"];

/// NHS ethnic category codes (Data Dictionary "ethnic category"): `A`-`H`, `J`-`N`, `P`, `R`,
/// `S`, `Z` (not stated) and `99` (not known).
pub const ETHNIC_CATEGORIES: [&str; 18] = [
    "A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "Z", "99",
];

/// A&E department types: `01` consultant-led 24-hour emergency department, `02`
/// single-specialty (e.g. eye) department, `03` urgent treatment centre / minor injury unit.
pub const DEPARTMENT_TYPES: [&str; 3] = ["01", "02", "03"];

/// Arrival modes (HES `AEARRIVALMODE`): `1` brought in by ambulance (incl. helicopter), `2`
/// other, `9` not known.
pub const ARRIVAL_MODES: [&str; 3] = ["1", "2", "9"];

/// Attendance categories: `1` first attendance, `2` planned follow-up, `3` unplanned
/// follow-up.
pub const ATTENDANCE_CATEGORIES: [&str; 3] = ["1", "2", "3"];

/// Number of chief-complaint codes.
pub const N_COMPLAINTS: usize = 160;

/// Chief-complaint code of a complaint index (`0` is `CC001`, the commonest).
pub fn complaint_code(index: usize) -> &'static str {
    &COMPLAINT_CODES[index]
}

/// All chief-complaint codes, commonest first.
pub fn complaint_codes() -> &'static [String] {
    &COMPLAINT_CODES[..]
}

static COMPLAINT_CODES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| (1..=N_COMPLAINTS).map(|i| format!("CC{i:03}")).collect());

/// HES A&E diagnosis groups (the two-digit "diagnosis: condition" codes), with labels.
pub const DIAGNOSIS_GROUPS: [(&str, &str); 39] = [
    ("01", "Laceration"),
    ("02", "Contusion/abrasion"),
    ("03", "Soft tissue inflammation"),
    ("04", "Head injury"),
    ("05", "Dislocation/fracture/joint injury/amputation"),
    ("06", "Sprain/ligament injury"),
    ("07", "Muscle/tendon injury"),
    ("08", "Nerve injury"),
    ("09", "Vascular injury"),
    ("10", "Burns and scalds"),
    ("11", "Electric shock"),
    ("12", "Foreign body"),
    ("13", "Bites/stings"),
    ("14", "Poisoning (inc overdose)"),
    ("15", "Near drowning"),
    ("16", "Visceral injury"),
    ("17", "Infectious disease"),
    ("18", "Local infection"),
    ("19", "Septicaemia"),
    ("20", "Cardiac conditions"),
    ("21", "Cerebro-vascular conditions"),
    ("22", "Other vascular conditions"),
    ("23", "Haematological conditions"),
    ("24", "Central nervous system conditions (exc stroke)"),
    ("25", "Respiratory conditions"),
    ("26", "Gastrointestinal conditions"),
    ("27", "Urological conditions (inc cystitis)"),
    ("28", "Obstetric conditions"),
    ("29", "Gynaecological conditions"),
    ("30", "Diabetes and other endocrinological conditions"),
    ("31", "Dermatological conditions"),
    ("32", "Allergy (inc anaphylaxis)"),
    ("33", "Facio-maxillary conditions"),
    ("34", "ENT conditions"),
    ("35", "Psychiatric conditions"),
    ("36", "Ophthalmological conditions"),
    (
        "37",
        "Social problems (inc chronic alcoholism and homelessness)",
    ),
    ("38", "Diagnosis not classifiable"),
    ("39", "Nothing abnormal detected"),
];

/// A&E healthcare resource groups, most resource-intensive (`VB01Z`) to least (`VB11Z`).
pub const HRGS: [&str; 11] = [
    "VB01Z", "VB02Z", "VB03Z", "VB04Z", "VB05Z", "VB06Z", "VB07Z", "VB08Z", "VB09Z", "VB10Z",
    "VB11Z",
];

/// Discharge destinations (HES `AEATTENDDISP`), with labels. `01` means admitted.
pub const DISCHARGE_DESTINATIONS: [(&str, &str); 12] = [
    ("01", "Admitted to hospital bed / became a lodged patient"),
    ("02", "Discharged - follow-up treatment by GP"),
    ("03", "Discharged - no follow-up required"),
    ("04", "Referred to A&E clinic"),
    ("05", "Referred to fracture clinic"),
    ("06", "Referred to other outpatient clinic"),
    ("07", "Transferred to other health care provider"),
    ("10", "Died in department"),
    ("11", "Referred to other health care professional"),
    ("12", "Left department before being treated"),
    ("13", "Left department having refused treatment"),
    ("14", "Other"),
];

/// Index in [`DISCHARGE_DESTINATIONS`] of the destinations the generator treats specially.
pub(crate) mod dest {
    pub const ADMITTED: u8 = 0;
    pub const FRACTURE_CLINIC: u8 = 4;
    pub const TRANSFERRED: u8 = 6;
    pub const DIED: u8 = 7;
    pub const LEFT_BEFORE_TREATMENT: u8 = 9;
}

/// Letters used in the two final characters of a postcode's inward code (C, I, K, M, O and V
/// are never used there).
pub(crate) const POSTCODE_UNIT_LETTERS: &[u8; 20] = b"ABDEFGHJLNPQRSTUWXYZ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bands_cover_every_age() {
        assert_eq!(AGE_BANDS[age_band_index(0)], "0-1");
        assert_eq!(AGE_BANDS[age_band_index(1)], "1-17");
        assert_eq!(AGE_BANDS[age_band_index(17)], "1-17");
        assert_eq!(AGE_BANDS[age_band_index(18)], "18-24");
        assert_eq!(AGE_BANDS[age_band_index(64)], "45-64");
        assert_eq!(AGE_BANDS[age_band_index(65)], "65-84");
        assert_eq!(AGE_BANDS[age_band_index(110)], "85+");
    }

    #[test]
    fn complaint_codes_are_numbered() {
        assert_eq!(complaint_code(0), "CC001");
        assert_eq!(complaint_code(159), "CC160");
        assert_eq!(complaint_codes().len(), N_COMPLAINTS);
    }
}
