//! Settings of one generated A&E dataset.

use chrono::NaiveDate;
use pets::data::DataError;

/// Longest period a dataset may cover (about ten years), so that ages stay within the
/// declared 0..=110 and arrival times within the declared datetime domain.
pub const MAX_DAYS: u32 = 3_660;

/// Settings of a generated A&E dataset.
///
/// The same configuration always produces the same rows, whatever `batch_rows` and however
/// many threads run: `rows`, `seed`, `start_date` and `days` determine the data, and
/// `batch_rows` only how it is cut into record batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AeConfig {
    /// Number of attendances (rows). England has about 26-27 million a year.
    pub rows: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// First day of the period covered.
    pub start_date: NaiveDate,
    /// Number of days covered (1..=[`MAX_DAYS`]).
    pub days: u32,
    /// Rows per record batch (the last batch may be shorter).
    pub batch_rows: usize,
}

impl Default for AeConfig {
    /// 100,000 rows, seed 0, the 2024-25 financial year (365 days from 2024-04-01), batches
    /// of 65,536 rows.
    fn default() -> Self {
        AeConfig {
            rows: 100_000,
            seed: 0,
            start_date: NaiveDate::from_ymd_opt(2024, 4, 1).expect("valid date"),
            days: 365,
            batch_rows: 65_536,
        }
    }
}

impl AeConfig {
    /// The default configuration with `rows` rows and the given seed.
    pub fn new(rows: u64, seed: u64) -> Self {
        AeConfig {
            rows,
            seed,
            ..AeConfig::default()
        }
    }

    /// Builder: set the number of rows per batch.
    pub fn with_batch_rows(mut self, batch_rows: usize) -> Self {
        self.batch_rows = batch_rows;
        self
    }

    /// Builder: set the period.
    pub fn with_period(mut self, start_date: NaiveDate, days: u32) -> Self {
        self.start_date = start_date;
        self.days = days;
        self
    }

    /// Last day of the period.
    pub fn end_date(&self) -> NaiveDate {
        self.start_date + chrono::Days::new(u64::from(self.days.max(1) - 1))
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.days == 0 || self.days > MAX_DAYS {
            return Err(DataError::InvalidArgument {
                name: "days",
                reason: format!("must be between 1 and {MAX_DAYS}, got {}", self.days),
            });
        }
        if self.batch_rows == 0 {
            return Err(DataError::InvalidArgument {
                name: "batch_rows",
                reason: "must be at least 1".into(),
            });
        }
        if !(1900..=9000).contains(&chrono::Datelike::year(&self.start_date)) {
            return Err(DataError::InvalidArgument {
                name: "start_date",
                reason: format!(
                    "year must be between 1900 and 9000, got {}",
                    self.start_date
                ),
            });
        }
        Ok(())
    }

    /// Oldest age a patient may have on `start_date`, so that nobody passes the declared
    /// maximum age during the period (one year of margin for leap-day birthdays).
    pub(crate) fn max_base_age(&self) -> u8 {
        let years = self.days.div_ceil(365) as u8;
        super::codes::MAX_AGE - 1 - years
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_period_is_the_2024_25_year() {
        let c = AeConfig::default();
        assert_eq!(c.end_date(), NaiveDate::from_ymd_opt(2025, 3, 31).unwrap());
        assert!(c.validate().is_ok());
        assert_eq!(c.max_base_age(), 108);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(AeConfig::default().with_batch_rows(0).validate().is_err());
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        assert!(AeConfig::default().with_period(d, 0).validate().is_err());
        assert!(
            AeConfig::default()
                .with_period(d, MAX_DAYS + 1)
                .validate()
                .is_err()
        );
        assert!(
            AeConfig::default()
                .with_period(d, MAX_DAYS)
                .validate()
                .is_ok()
        );
    }
}
