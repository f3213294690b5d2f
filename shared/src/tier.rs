//! Subscription tiers and the limits each one enforces.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A subscription tier. New organizations start on [`Tier::Free`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Free,
    Starter,
    Professional,
    Enterprise,
}

/// The limits of a tier. `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierLimits {
    pub max_members: Option<u32>,
    pub max_storage_bytes: Option<u64>,
    pub api_access: bool,
    pub requests_per_hour: u32,
}

const GB: u64 = 1_000_000_000;

impl Tier {
    pub const ALL: [Tier; 4] = [
        Tier::Free,
        Tier::Starter,
        Tier::Professional,
        Tier::Enterprise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Starter => "starter",
            Tier::Professional => "professional",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn limits(self) -> TierLimits {
        match self {
            Tier::Free => TierLimits {
                max_members: Some(10),
                max_storage_bytes: Some(10 * GB),
                api_access: false,
                requests_per_hour: 100,
            },
            Tier::Starter => TierLimits {
                max_members: Some(50),
                max_storage_bytes: Some(100 * GB),
                api_access: true,
                requests_per_hour: 1_000,
            },
            Tier::Professional => TierLimits {
                max_members: Some(200),
                max_storage_bytes: Some(500 * GB),
                api_access: true,
                requests_per_hour: 10_000,
            },
            Tier::Enterprise => TierLimits {
                max_members: None,
                max_storage_bytes: None,
                api_access: true,
                requests_per_hour: 100_000,
            },
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the four tiers.
#[derive(Debug, thiserror::Error)]
#[error("unknown tier `{0}` (expected free, starter, professional or enterprise)")]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTier(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Tier::ALL {
            assert_eq!(t.as_str().parse::<Tier>().ok(), Some(t));
        }
        assert!("gold".parse::<Tier>().is_err());
    }

    #[test]
    fn limits_match_the_design_table() {
        assert_eq!(Tier::Free.limits().max_members, Some(10));
        assert!(!Tier::Free.limits().api_access);
        assert_eq!(Tier::Starter.limits().requests_per_hour, 1_000);
        assert_eq!(Tier::Professional.limits().max_members, Some(200));
        assert_eq!(Tier::Enterprise.limits().max_members, None);
        assert_eq!(Tier::Enterprise.limits().max_storage_bytes, None);
    }
}
