//! SAML 2.0 service provider, on `samael` with xmlsec: the AuthnRequest
//! (HTTP-Redirect binding) and the checks of the Response that comes back
//! (HTTP-POST binding). samael verifies the signature against the IdP's
//! certificate from its metadata and keeps only what the signature covers;
//! around it we refuse what samael would let through or name vaguely:
//! metadata without a signing certificate (samael would skip the check),
//! SHA-1, unsigned responses, and any document holding other than exactly
//! one assertion (signature wrapping).

use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::{Error as SpError, ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;
use serde_json::{Map, Value};

use super::oidc::{Refusal, Verified};

const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// Signatures accepted: the SHA-2 family only.
const ALGORITHMS: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Who we are to the IdP, and what it published.
pub struct Sp<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    pub idp_metadata: &'a str,
}

fn refusal(reason: &'static str, detail: impl std::fmt::Display) -> Refusal {
    Refusal {
        reason,
        detail: detail.to_string(),
    }
}

fn provider(sp: &Sp<'_>) -> Result<ServiceProvider, Refusal> {
    let idp: EntityDescriptor = sp
        .idp_metadata
        .parse()
        .map_err(|e| refusal("provider_invalid", format!("the IdP metadata: {e}")))?;
    let provider = ServiceProviderBuilder::default()
        .entity_id(sp.entity_id.to_owned())
        .metadata_url(sp.entity_id.to_owned())
        .acs_url(sp.acs_url.to_owned())
        .idp_metadata(idp)
        .allowed_signature_algorithms(ALGORITHMS.to_vec())
        .build()
        .map_err(|e| refusal("provider_invalid", e))?;
    // Without a signing certificate samael would accept anything unsigned.
    match provider.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => Ok(provider),
        _ => Err(refusal(
            "provider_invalid",
            "the IdP metadata has no usable signing certificate",
        )),
    }
}

/// Our metadata, for the IdP's administrator.
pub fn sp_metadata(entity_id: &str, acs_url: &str) -> Result<String, String> {
    let sp = ServiceProviderBuilder::default()
        .entity_id(entity_id.to_owned())
        .metadata_url(entity_id.to_owned())
        .acs_url(acs_url.to_owned())
        .build()
        .map_err(|e| e.to_string())?;
    let meta = sp.metadata().map_err(|e| e.to_string())?;
    meta.to_string().map_err(|e| format!("{e:?}"))
}

/// The URL that starts the sign-in at the IdP, and the request's id (the
/// response must answer it).
pub fn authorize(
    sp: &Sp<'_>,
    relay_state: &str,
    request_id: String,
) -> Result<(String, String), Refusal> {
    let p = provider(sp)?;
    let sso = p.sso_binding_location(REDIRECT_BINDING).ok_or_else(|| {
        refusal(
            "provider_invalid",
            "the IdP has no HTTP-Redirect sign-on endpoint",
        )
    })?;
    let mut request = p
        .make_authentication_request(&sso)
        .map_err(|e| refusal("provider_invalid", e))?;
    // Ours, not samael's 32-bit counter: the id binds the answer.
    request.id = request_id;
    let url = request
        .redirect(relay_state)
        .map_err(|e| refusal("provider_invalid", e))?
        .ok_or_else(|| refusal("provider_invalid", "no destination"))?;
    Ok((url.to_string(), request.id))
}

/// Exactly one assertion, of the SAML namespace, anywhere in the document;
/// no DTD. A second one (before, around or inside the signed one) is a
/// signature-wrapping attempt, refused before any signature is looked at.
fn structure(xml: &str) -> Result<(), Refusal> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| refusal("response_invalid", format!("not XML: {e}")))?;
    let assertions = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().namespace() == Some(ASSERTION_NS))
        .filter(|n| matches!(n.tag_name().name(), "Assertion" | "EncryptedAssertion"))
        .count();
    match assertions {
        1 => {}
        0 => {
            return Err(refusal(
                "response_invalid",
                "the response holds no assertion",
            ))
        }
        n => {
            return Err(refusal(
                "signature_wrapping",
                format!("the response holds {n} assertions; exactly one is accepted"),
            ))
        }
    }
    let signed = doc
        .descendants()
        .any(|n| n.is_element() && n.tag_name().name() == "SignatureValue");
    if !signed {
        return Err(refusal(
            "unsigned",
            "neither the response nor its assertion is signed",
        ));
    }
    // What the signature may make xmlsec do: digest this document's own
    // elements with the usual transforms, nothing else. xmlsec would
    // otherwise dereference any URI a reference names (files, the network,
    // an endless stream) before it checks the signature value.
    const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    const TRANSFORMS: [&str; 6] = [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
        "http://www.w3.org/2006/12/xml-c14n11",
    ];
    let ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.is_element())
        .filter_map(|n| n.attribute("ID"))
        .collect();
    for n in doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().namespace() == Some(DSIG))
    {
        match n.tag_name().name() {
            "Object" | "Manifest" | "RetrievalMethod" => {
                return Err(refusal(
                    "signature_invalid",
                    format!("a signature may not carry ds:{}", n.tag_name().name()),
                ));
            }
            "Reference" => {
                let uri = n.attribute("URI").unwrap_or("");
                let local =
                    uri.is_empty() || uri.strip_prefix('#').is_some_and(|id| ids.contains(&id));
                if !local {
                    return Err(refusal(
                        "signature_invalid",
                        "a signature reference points outside the response",
                    ));
                }
            }
            "Transform"
                if !n
                    .attribute("Algorithm")
                    .is_some_and(|a| TRANSFORMS.contains(&a)) =>
            {
                return Err(refusal(
                    "signature_invalid",
                    "a signature uses a transform that is not accepted",
                ));
            }
            _ => {}
        }
    }
    let weak = doc.descendants().filter(|n| n.is_element()).any(|n| {
        matches!(n.tag_name().name(), "SignatureMethod" | "DigestMethod")
            && n.attribute("Algorithm").is_some_and(|a| {
                a.ends_with("#rsa-sha1")
                    || a.ends_with("#sha1")
                    || a.ends_with("#dsa-sha1")
                    || a.ends_with("#ecdsa-sha1")
            })
    });
    if weak {
        return Err(refusal(
            "weak_signature_algorithm",
            "signed with SHA-1, which is not accepted",
        ));
    }
    Ok(())
}

fn classify(e: &SpError) -> &'static str {
    match e {
        SpError::AssertionExpired { .. }
        | SpError::ResponseExpired { .. }
        | SpError::AssertionConditionExpired { .. }
        | SpError::AssertionSubjectConfirmationExpired { .. } => "assertion_expired",
        SpError::AssertionConditionExpiredBefore { .. }
        | SpError::AssertionSubjectConfirmationExpiredBefore { .. } => "assertion_not_yet_valid",
        SpError::AssertionConditionAudienceRestrictionFailed { .. } => "wrong_audience",
        SpError::AssertionRecipientMismatch { .. } | SpError::DestinationValidationError { .. } => {
            "wrong_recipient"
        }
        SpError::AssertionInResponseToInvalid { .. }
        | SpError::ResponseInResponseToInvalid { .. } => "wrong_in_response_to",
        SpError::AssertionIssuerMismatch { .. } | SpError::ResponseIssuerMismatch { .. } => {
            "wrong_issuer"
        }
        SpError::FailedToValidateSignature => "bad_signature",
        SpError::ResponseBadStatusCode { .. } => "provider_error",
        _ => "response_invalid",
    }
}

/// Verifies a base64 `SAMLResponse` answering `request_id`; the identity
/// and the assertion's id (for the replay check).
pub fn verify(
    sp: &Sp<'_>,
    response_b64: &str,
    request_id: &str,
) -> Result<(Verified, String), Refusal> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(response_b64.trim())
        .map_err(|_| refusal("response_invalid", "SAMLResponse is not base64"))?;
    let xml = String::from_utf8(bytes)
        .map_err(|_| refusal("response_invalid", "SAMLResponse is not UTF-8"))?;
    structure(&xml)?;
    let p = provider(sp)?;
    let assertion = p
        .parse_xml_response(&xml, Some(&[request_id]))
        .map_err(|e| refusal(classify(&e), e))?;
    let who = identity(&assertion);
    if who.subject.is_empty() {
        return Err(refusal(
            "response_invalid",
            "the assertion names no subject (NameID)",
        ));
    }
    Ok((who, assertion.id.clone()))
}

fn identity(a: &Assertion) -> Verified {
    let mut claims = Map::new();
    for statement in a.attribute_statements.iter().flatten() {
        for attr in &statement.attributes {
            let Some(name) = attr.name.clone().or_else(|| attr.friendly_name.clone()) else {
                continue;
            };
            let values: Vec<Value> = attr
                .values
                .iter()
                .filter_map(|v| v.value.clone().map(Value::String))
                .collect();
            claims.insert(name, Value::Array(values));
        }
    }
    let first = |names: &[&str]| {
        names.iter().find_map(|n| {
            claims
                .get(*n)
                .and_then(|v| v.as_array())
                .and_then(|v| v.first())
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
    };
    let name_id = a.subject.as_ref().and_then(|s| s.name_id.as_ref());
    let email = name_id
        .filter(|n| n.format.as_deref() == Some(EMAIL_FORMAT))
        .map(|n| n.value.clone())
        .or_else(|| {
            first(&[
                "email",
                "mail",
                "urn:oid:0.9.2342.19200300.100.1.3",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            ])
        });
    Verified {
        subject: name_id.map(|n| n.value.clone()).unwrap_or_default(),
        email,
        // The organization's IdP asserts the address (SAML has no
        // verified flag); `allowed_domains` bounds what it may assert.
        email_verified: true,
        name: first(&[
            "name",
            "displayName",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        ]),
        mfa: false,
        claims,
    }
}
