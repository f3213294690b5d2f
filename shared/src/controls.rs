//! Compliance frameworks and the control ids evidence can be tagged with.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    Soc2,
    Iso27001,
    Gdpr,
}

impl Framework {
    pub const ALL: [Framework; 3] = [Framework::Soc2, Framework::Iso27001, Framework::Gdpr];

    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Soc2 => "soc2",
            Framework::Iso27001 => "iso27001",
            Framework::Gdpr => "gdpr",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Control ids of the framework (the ones LOKI reports on, plus the
    /// rest of their family so evidence can be filed precisely).
    pub fn controls(self) -> &'static [&'static str] {
        match self {
            Framework::Soc2 => &[
                "CC1.1", "CC1.2", "CC1.3", "CC1.4", "CC1.5", "CC2.1", "CC2.2", "CC2.3", "CC3.1",
                "CC3.2", "CC3.3", "CC3.4", "CC4.1", "CC4.2", "CC5.1", "CC5.2", "CC5.3", "CC6.1",
                "CC6.2", "CC6.3", "CC6.4", "CC6.5", "CC6.6", "CC6.7", "CC6.8", "CC7.1", "CC7.2",
                "CC7.3", "CC7.4", "CC7.5", "CC8.1", "CC9.1", "CC9.2", "A1.1", "A1.2", "A1.3",
                "C1.1", "C1.2", "PI1.1", "P1.1",
            ],
            Framework::Iso27001 => &[
                "A.5.1", "A.5.2", "A.5.3", "A.5.4", "A.5.9", "A.5.10", "A.5.15", "A.5.16",
                "A.5.17", "A.5.18", "A.5.23", "A.5.24", "A.5.25", "A.5.26", "A.5.28", "A.5.30",
                "A.5.34", "A.6.1", "A.6.3", "A.6.5", "A.7.4", "A.8.1", "A.8.2", "A.8.3", "A.8.4",
                "A.8.5", "A.8.7", "A.8.8", "A.8.9", "A.8.12", "A.8.13", "A.8.15", "A.8.16",
                "A.8.20", "A.8.24", "A.8.25", "A.8.28", "A.8.32",
            ],
            Framework::Gdpr => &[
                "Art.5", "Art.6", "Art.15", "Art.16", "Art.17", "Art.20", "Art.25", "Art.28",
                "Art.30", "Art.32", "Art.33", "Art.34", "Art.35",
            ],
        }
    }

    /// The framework a control id belongs to.
    pub fn of_control(id: &str) -> Option<Framework> {
        Self::ALL.into_iter().find(|f| f.controls().contains(&id))
    }
}
