//! Synthetic NHS numbers in the reserved test range.
//!
//! An NHS number is ten digits; the tenth is a modulus-11 check digit over the first nine
//! (weights 10 down to 2; check = 11 − sum mod 11, where 11 becomes 0 and 10 means the
//! nine digits are never issued). Numbers `999 000 0000` to `999 999 9999` are reserved for
//! testing and are never issued to a patient, so every number made here starts `999`.
//!
//! That range holds only 909,091 valid numbers, of which the generator uses
//! [`TEST_RANGE_SIZE`] (900,000). Patients are mapped onto them by a seeded permutation, so
//! datasets with up to 900,000 patients (about 1.4 million attendances) give every patient
//! a distinct number; in larger datasets numbers are reused by unrelated patients (use
//! `local_patient_id`, which is unique at every scale, as the patient key).

/// The fixed first three digits of every generated NHS number.
pub const TEST_PREFIX: u32 = 999;

/// The modulus-11 check digit of nine leading digits, or `None` when the nine digits can
/// never form a valid number (the check would be 10).
pub fn check_digit(first_nine: &[u8; 9]) -> Option<u8> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10u32).rev())
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// Whether `text` is a ten-digit NHS number with a correct check digit.
pub fn is_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut first = [0u8; 9];
    for (d, b) in first.iter_mut().zip(bytes) {
        *d = b - b'0';
    }
    check_digit(&first) == Some(bytes[9] - b'0')
}

/// Whether `text` is a valid NHS number in the reserved test range (`999...`).
pub fn is_test_number(text: &str) -> bool {
    is_valid(text) && text.starts_with("999")
}

/// Number of test-range NHS numbers the generator uses.
///
/// Numbers are laid out in 100,000 blocks of ten candidates `999 bbbbb d` (for each
/// five-digit block `b`, the ninth digit `d` runs 0..=9); at most one candidate of a block
/// fails the check digit, so every block has at least nine valid numbers and the `k`-th
/// number is the `(k mod 9)`-th valid candidate of block `k / 9`. That covers 900,000 of
/// the 909,091 valid test numbers and needs no table.
pub const TEST_RANGE_SIZE: u64 = 900_000;

/// The `k`-th generated test-range NHS number (`k` taken modulo [`TEST_RANGE_SIZE`]) as ten
/// ASCII digits; distinct `k` below [`TEST_RANGE_SIZE`] give distinct numbers.
pub fn nth_test_number(k: u64) -> [u8; 10] {
    let k = k % TEST_RANGE_SIZE;
    let mut block = (k / 9) as u32;
    let mut skip = (k % 9) as u32;
    let mut digits = [9u8; 9];
    for slot in digits[3..8].iter_mut().rev() {
        *slot = (block % 10) as u8;
        block /= 10;
    }
    // Weighted sum of the first eight digits (weights 10 down to 3).
    let partial: u32 = digits[..8]
        .iter()
        .zip((3..=10u32).rev())
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    for ninth in 0..10u8 {
        let check = match 11 - (partial + 2 * u32::from(ninth)) % 11 {
            11 => 0,
            10 => continue,
            c => c as u8,
        };
        if skip > 0 {
            skip -= 1;
            continue;
        }
        digits[8] = ninth;
        let mut out = [0u8; 10];
        for (o, d) in out.iter_mut().zip(digits) {
            *o = b'0' + d;
        }
        out[9] = b'0' + check;
        return out;
    }
    unreachable!("every block has at least nine valid numbers")
}

/// A permutation of `0..n` of the form `k ↦ (a·k + b) mod n`, with `a` coprime to `n`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AffinePermutation {
    a: u64,
    b: u64,
    n: u64,
}

impl AffinePermutation {
    /// A permutation of `0..n` picked by two random words.
    pub(crate) fn new(n: u64, r1: u64, r2: u64) -> Self {
        assert!(n > 0);
        let mut a = (r1 % n).max(1);
        while gcd(a, n) != 1 {
            a = a % n + 1;
        }
        AffinePermutation { a, b: r2 % n, n }
    }

    /// The image of `k` (taken modulo `n`).
    #[inline]
    pub(crate) fn apply(&self, k: u64) -> u64 {
        let k = k % self.n;
        match (k.checked_mul(self.a)).and_then(|x| x.checked_add(self.b)) {
            Some(x) => x % self.n,
            None => {
                ((u128::from(k) * u128::from(self.a) + u128::from(self.b)) % u128::from(self.n))
                    as u64
            }
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_examples() {
        // The published worked example; the Data Dictionary's format example
        // 987 654 4321 only shows the layout and fails the check.
        assert!(is_valid("9434765919"));
        assert!(!is_valid("9876544321"));
        assert!(!is_valid("9434765918"));
        assert!(!is_valid("943476591"));
        assert!(!is_valid("94347659x9"));
        assert!(!is_test_number("9434765919"));
    }

    #[test]
    fn test_range_numbers_are_valid_and_distinct() {
        let n = TEST_RANGE_SIZE;
        let mut seen = std::collections::HashSet::new();
        for k in 0..n {
            let d = nth_test_number(k);
            let s = std::str::from_utf8(&d).unwrap();
            assert!(is_test_number(s), "{s}");
            assert!(seen.insert(d));
        }
        assert_eq!(nth_test_number(0), nth_test_number(n));
    }

    #[test]
    fn affine_permutation_is_a_bijection() {
        let n = 1_000u64;
        let p = AffinePermutation::new(n, 123_456_789, 42);
        let mut hit = vec![false; n as usize];
        for k in 0..n {
            hit[p.apply(k) as usize] = true;
        }
        assert!(hit.iter().all(|&h| h));
    }
}
