//! The Statement of Applicability: every control of the framework's scope,
//! whether this report evidences it (and with what conclusion), and for
//! those it cannot, why: an auditor sees what the report does not cover
//! instead of inferring it from what is missing.

use serde::{Deserialize, Serialize};

use super::{Section, Status};
use crate::controls::Framework;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicability {
    pub control_id: String,
    pub title: String,
    /// "Evidenced", "Evidenced in part" or "Not evidenced by LOKI".
    pub coverage: String,
    /// The section's status when evidenced.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<Status>,
    /// Where the evidence is, or why LOKI cannot give it.
    pub note: String,
}

const ORGANIZATIONAL: &str = "Organizational control (governance, people, policy): evidenced by documents and inquiry, not by system events.";
const OUTSIDE: &str = "Outside the system LOKI records (infrastructure, facilities or the software development process).";

/// (control, title, how it is covered when no section reports on it).
/// A note starting with "In part:" marks partial evidence.
fn catalogue(f: Framework) -> &'static [(&'static str, &'static str, &'static str)] {
    match f {
        Framework::Soc2 => &[
            ("CC1.1", "Integrity and ethical values", ORGANIZATIONAL),
            ("CC1.2", "Board oversight", ORGANIZATIONAL),
            ("CC1.3", "Structures, reporting lines, authorities", "In part: the role matrix (CC6.1) shows system authorities; organizational structure is not recorded."),
            ("CC1.4", "Competence", ORGANIZATIONAL),
            ("CC1.5", "Accountability", "In part: every change names its actor in the audit trail (CC6.3, CC8.1)."),
            ("CC2.1", "Quality information", "In part: the audit trail's integrity (cover page) shows the information is complete and unaltered."),
            ("CC2.2", "Internal communication", ORGANIZATIONAL),
            ("CC2.3", "External communication", ORGANIZATIONAL),
            ("CC3.1", "Objectives", ORGANIZATIONAL),
            ("CC3.2", "Risk identification", ORGANIZATIONAL),
            ("CC3.3", "Fraud risk", ORGANIZATIONAL),
            ("CC3.4", "Changes affecting controls", ORGANIZATIONAL),
            ("CC4.1", "Ongoing and separate evaluations", "In part: verifications of the audit trail are recorded (CC7.2)."),
            ("CC4.2", "Communicating deficiencies", ORGANIZATIONAL),
            ("CC5.1", "Control activities", ORGANIZATIONAL),
            ("CC5.2", "Technology general controls", "In part: access, boundary and change controls are in CC6 and CC8.1."),
            ("CC5.3", "Policies and procedures", "In part: evidence documents filed against controls are listed by LOKI; their content is not assessed."),
            ("CC6.1", "Logical access security", ""),
            ("CC6.2", "Provisioning and deprovisioning", ""),
            ("CC6.3", "Role, grant and access changes", ""),
            ("CC6.4", "Physical access", OUTSIDE),
            ("CC6.5", "Disposal of assets", OUTSIDE),
            ("CC6.6", "Threats from outside the boundary", ""),
            ("CC6.7", "Transmission and movement of data", "Not evidenced: TLS termination is part of the deployment (reverse proxy), not recorded by LOKI."),
            ("CC6.8", "Malicious software", OUTSIDE),
            ("CC7.1", "Vulnerability and configuration monitoring", "In part: configuration changes are in CC8.1; vulnerability scanning is outside LOKI."),
            ("CC7.2", "Detection of anomalies", ""),
            ("CC7.3", "Evaluation of security events", "In part: the anomalies of CC7.2 are listed for evaluation; the evaluation itself is not recorded."),
            ("CC7.4", "Incident response", "In part: automatic responses (sessions revoked on refresh-token reuse, lockouts) are in CC7.2; the incident process is organizational."),
            ("CC7.5", "Recovery from incidents", OUTSIDE),
            ("CC8.1", "Change management (configuration)", ""),
            ("CC9.1", "Business disruption risk", ORGANIZATIONAL),
            ("CC9.2", "Vendor and partner risk", ORGANIZATIONAL),
            ("A1.1", "Capacity management", OUTSIDE),
            ("A1.2", "Environmental protection, backup and recovery", OUTSIDE),
            ("A1.3", "Recovery testing", OUTSIDE),
            ("C1.1", "Confidential information is protected", "In part: access to evidence documents is restricted by permissions and grants (CC6.3)."),
            ("C1.2", "Disposal of confidential information", "Not evidenced: document deletions are recorded as events but not reported."),
            ("PI1.1", "Processing integrity objectives", OUTSIDE),
            ("P1.1", "Privacy notice", ORGANIZATIONAL),
        ],
        Framework::Iso27001 => &[
            ("A.5.1", "Policies for information security", ORGANIZATIONAL),
            ("A.5.2", "Roles and responsibilities", "In part: system roles and their holders are in A.5.15."),
            ("A.5.3", "Segregation of duties", ""),
            ("A.5.4", "Management responsibilities", ORGANIZATIONAL),
            ("A.5.9", "Inventory of information and assets", OUTSIDE),
            ("A.5.10", "Acceptable use of information", ORGANIZATIONAL),
            ("A.5.15", "Access control", ""),
            ("A.5.16", "Identity management", ""),
            ("A.5.17", "Authentication information", ""),
            ("A.5.18", "Access rights", ""),
            ("A.5.23", "Cloud services", OUTSIDE),
            ("A.5.24", "Incident management planning and preparation", "In part: what LOKI detects (A.5.25) and contains automatically (A.5.26) is the technical part of the preparation; the plan, roles and procedures are organizational."),
            ("A.5.25", "Assessment of security events", ""),
            ("A.5.26", "Response to incidents", ""),
            ("A.5.28", "Collection of evidence", "In part: the audit bundle itself, verified on the cover, is collected evidence."),
            ("A.5.30", "ICT readiness for business continuity", OUTSIDE),
            ("A.5.34", "Privacy and protection of PII", "In part: see the GDPR report (Art. 15, 30, 33)."),
            ("A.6.1", "Screening", ORGANIZATIONAL),
            ("A.6.3", "Awareness and training", ORGANIZATIONAL),
            ("A.6.5", "Responsibilities after termination", "In part: removal of access at termination is in A.5.16 (terminations table); the contractual duties are organizational."),
            ("A.7.4", "Physical security monitoring", OUTSIDE),
            ("A.8.1", "User endpoint devices", OUTSIDE),
            ("A.8.2", "Privileged access rights", ""),
            ("A.8.3", "Information access restriction", ""),
            ("A.8.4", "Access to source code", OUTSIDE),
            ("A.8.5", "Secure authentication", ""),
            ("A.8.7", "Protection against malware", OUTSIDE),
            ("A.8.8", "Technical vulnerabilities", OUTSIDE),
            ("A.8.9", "Configuration management", ""),
            ("A.8.12", "Data leakage prevention", OUTSIDE),
            ("A.8.13", "Backup", OUTSIDE),
            ("A.8.15", "Logging", ""),
            ("A.8.16", "Monitoring activities", ""),
            ("A.8.20", "Network security", ""),
            ("A.8.24", "Use of cryptography", "In part: signed checkpoints and Argon2id password hashing are stated on the cover and in A.8.15; key management is operational."),
            ("A.8.25", "Secure development life cycle", OUTSIDE),
            ("A.8.28", "Secure coding", OUTSIDE),
            ("A.8.32", "Change management", ""),
        ],
        Framework::Gdpr => &[
            ("Art.5", "Principles (lawfulness, minimisation, integrity)", "In part: integrity and accountability through the verified audit trail; lawfulness and minimisation are the controller's assessment."),
            ("Art.6", "Lawfulness of processing", ORGANIZATIONAL),
            ("Art.15", "Right of access", ""),
            ("Art.16", "Right to rectification", "Not evidenced: profile corrections are recorded as events but not reported separately."),
            ("Art.20", "Right to data portability", "In part: the Art. 15 report's JSON rendering is a structured, machine-readable copy."),
            ("Art.17", "Right to erasure", "Not evidenced: erasure requests are handled by operators; the audit trail keeps pseudonymous ids by design."),
            ("Art.28", "Processor", ORGANIZATIONAL),
            ("Art.25", "Data protection by design and by default", "In part: retention and security settings are in the record of processing (Art. 30)."),
            ("Art.30", "Record of processing activities", ""),
            ("Art.32", "Security of processing", "In part: see the SOC 2 and ISO 27001 reports for the technical measures."),
            ("Art.33", "Notification of a breach", ""),
            ("Art.34", "Communication to the data subject", "Not evidenced: communication to subjects happens outside LOKI; record it as controller input."),
            ("Art.35", "Data protection impact assessment", ORGANIZATIONAL),
        ],
    }
}

pub fn statement(f: Framework, sections: &[Section]) -> Vec<Applicability> {
    catalogue(f)
        .iter()
        .map(
            |(id, title, why)| match sections.iter().find(|s| s.control_id == *id) {
                Some(s) => Applicability {
                    control_id: (*id).to_owned(),
                    title: s.title.clone(),
                    coverage: "Evidenced".into(),
                    status: Some(s.status),
                    note: format!("Section {id} of this report."),
                },
                None => Applicability {
                    control_id: (*id).to_owned(),
                    title: (*title).to_owned(),
                    coverage: if why.starts_with("In part:") {
                        "Evidenced in part"
                    } else {
                        "Not evidenced by LOKI"
                    }
                    .into(),
                    status: None,
                    note: if why.is_empty() {
                        "No section in this report.".into()
                    } else {
                        (*why).to_owned()
                    },
                },
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every control of the framework's scope is stated, once; nothing the
    /// scope lists is silently left out.
    #[test]
    fn the_statement_covers_every_control_of_each_framework() {
        for f in Framework::ALL {
            let stated: Vec<&str> = catalogue(f).iter().map(|c| c.0).collect();
            let mut sorted = stated.clone();
            sorted.sort_unstable();
            let mut expected = f.controls().to_vec();
            expected.sort_unstable();
            assert_eq!(sorted, expected, "{f:?}");
            // A control without a reason is one the report has a section
            // for: its id is among the sections' (checked against real
            // reports in tests/tests/report_golden.rs and reports.rs).
            assert!(catalogue(f).iter().any(|c| c.2.is_empty()));
        }
    }
}
