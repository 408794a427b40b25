//! When people attend: day of the year, day of the week, hour of the day.
//!
//! - Day of week: Monday is the busiest day (16% of the week), the rest 13.6-14.5%.
//! - Season: volume peaks in early summer (+/-6% around the mean, peak mid-July); acuity
//!   and admissions peak in winter (see [`Calendar::winter`], peak late January).
//! - Hour: a trough 04:00-07:00 and a late-morning peak 10:00-12:00 for adults, a stronger
//!   morning peak for the old, and an early-evening peak (17:00-20:00) for children.

use chrono::{Datelike, NaiveDate};

use super::sampling::Weighted;

/// Share of attendances on each day of the week, Monday first.
const WEEKDAY_SHARE: [f64; 7] = [16.0, 14.5, 14.0, 13.8, 14.0, 13.6, 14.1];

/// Relative arrivals by hour for adults 18-64.
const HOURS_ADULT: [f64; 24] = [
    3.0, 2.4, 2.0, 1.7, 1.45, 1.35, 1.6, 2.3, 3.9, 5.4, 6.4, 6.6, 6.3, 6.0, 5.8, 5.6, 5.5, 5.5,
    5.3, 5.0, 4.6, 4.1, 3.6, 3.3,
];
/// Relative arrivals by hour for children under 18.
const HOURS_CHILD: [f64; 24] = [
    1.8, 1.2, 0.9, 0.7, 0.55, 0.5, 0.6, 1.0, 2.4, 3.6, 4.2, 4.4, 4.5, 4.6, 4.8, 5.2, 6.0, 6.8, 7.2,
    7.3, 6.4, 4.9, 3.4, 2.4,
];
/// Relative arrivals by hour for people aged 65 and over.
const HOURS_OLD: [f64; 24] = [
    2.2, 1.9, 1.7, 1.5, 1.35, 1.3, 1.5, 2.3, 4.5, 6.5, 7.6, 7.6, 7.1, 6.6, 6.2, 5.8, 5.4, 5.0, 4.6,
    4.0, 3.4, 2.9, 2.6, 2.3,
];

/// Day-level tables for one generated period.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    /// First day.
    pub start: NaiveDate,
    /// Days since 1970-01-01 of `start`.
    pub start_epoch_day: i64,
    day_pick: Weighted,
    winter: Vec<f32>,
    hours: [Weighted; 3],
}

impl Calendar {
    /// Tables for `days` days from `start`.
    pub(crate) fn new(start: NaiveDate, days: u32) -> Self {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        let dates: Vec<NaiveDate> = (0..days)
            .map(|d| start + chrono::Days::new(u64::from(d)))
            .collect();
        let day_pick = Weighted::new(dates.iter().map(|date| {
            let weekday = date.weekday().num_days_from_monday() as usize;
            let phase = season_phase(*date, 196.0);
            WEEKDAY_SHARE[weekday] * (1.0 + 0.06 * phase.cos())
        }));
        let winter = dates
            .iter()
            .map(|date| (0.5 * (1.0 + season_phase(*date, 25.0).cos())) as f32)
            .collect();
        Calendar {
            start,
            start_epoch_day: (start - epoch).num_days(),
            day_pick,
            winter,
            hours: [
                Weighted::new(HOURS_CHILD),
                Weighted::new(HOURS_ADULT),
                Weighted::new(HOURS_OLD),
            ],
        }
    }

    /// Day offset (from `start`) at uniform position `u`.
    #[inline]
    pub(crate) fn day_at(&self, u: f64) -> u32 {
        self.day_pick.at(u) as u32
    }

    /// Winter intensity of a day, 0 (mid-summer) to 1 (late January).
    #[inline]
    pub(crate) fn winter(&self, day: u32) -> f64 {
        f64::from(self.winter[day as usize])
    }

    /// Hour of arrival at uniform position `u` for someone of the given age.
    #[inline]
    pub(crate) fn hour_at(&self, age: u8, u: f64) -> u32 {
        let group = match age {
            0..=17 => 0,
            18..=64 => 1,
            _ => 2,
        };
        self.hours[group].at(u) as u32
    }
}

/// Angle (radians) of a date in the seasonal cycle, 0 on day-of-year `peak`.
fn season_phase(date: NaiveDate, peak: f64) -> f64 {
    std::f64::consts::TAU * (f64::from(date.ordinal()) - peak) / 365.25
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monday_is_busiest_and_summer_beats_winter() {
        let start = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
        let cal = Calendar::new(start, 365);
        let mut by_weekday = [0.0; 7];
        let mut july = 0.0;
        let mut january = 0.0;
        for d in 0..365u32 {
            let p = cal.day_pick.probability(d as usize);
            let date = start + chrono::Days::new(u64::from(d));
            by_weekday[date.weekday().num_days_from_monday() as usize] += p;
            match date.month() {
                7 => july += p,
                1 => january += p,
                _ => {}
            }
        }
        assert!((by_weekday[0] - 0.16).abs() < 0.005, "{by_weekday:?}");
        assert!(july > january * 1.05);
        assert!(cal.winter(300) > 0.9, "late January is deep winter");
        assert!(cal.winter(100) < 0.1, "July is summer");
    }

    #[test]
    fn hours_have_a_night_trough() {
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(), 1);
        for (group, _) in cal.hours.iter().enumerate() {
            let h = &cal.hours[group];
            let night = (4..7).map(|i| h.probability(i)).sum::<f64>();
            let late_morning = (10..12).map(|i| h.probability(i)).sum::<f64>();
            assert!(night < late_morning / 2.0);
        }
    }
}
