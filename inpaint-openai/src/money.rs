//! [`Usd`]: amounts of money, kept in whole micro-dollars so that sums are exact.

use std::fmt;

/// An amount in US dollars, stored as micro-dollars (1 USD = 1 000 000).
///
/// ```
/// use inpaint_openai::Usd;
///
/// let price = Usd::from_dollars(0.167).unwrap();
/// assert_eq!(price.micros(), 167_000);
/// assert_eq!(price.to_string(), "$0.167");
/// assert_eq!(Usd::from_micros(2_000_000).to_string(), "$2.00");
/// assert!(Usd::from_dollars(-1.0).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Usd(u64);

impl Usd {
    /// Nothing.
    pub const ZERO: Usd = Usd(0);

    /// From micro-dollars.
    pub const fn from_micros(micros: u64) -> Self {
        Usd(micros)
    }

    /// From dollars, rounded to the nearest micro-dollar; `None` if negative or not finite.
    pub fn from_dollars(dollars: f64) -> Option<Self> {
        let micros = (dollars * 1e6).round();
        (dollars.is_finite() && dollars >= 0.0 && micros <= u64::MAX as f64)
            .then_some(Usd(micros as u64))
    }

    /// In micro-dollars.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// The sum, saturating (no real bill reaches it).
    pub const fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Usd {
    /// `$1.50`, `$0.0022`: at least two decimals, more only where they are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = format!("{:06}", self.0 % 1_000_000);
        let decimals = cents.trim_end_matches('0');
        let decimals = if decimals.len() < 2 {
            &cents[..2]
        } else {
            decimals
        };
        write!(f, "${}.{decimals}", self.0 / 1_000_000)
    }
}
