//! The OpenAPI 3 document of the whole API, generated from the handlers'
//! annotations and the very routing table the daemon serves
//! ([`super::routes`]), so the two cannot drift. Served at
//! `/api/v1/openapi.json`; `lokid openapi` prints it.

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use loki_shared::api::{ErrorBody, ErrorResponse};
use utoipa::openapi::path::{Operation, Parameter, ParameterIn, PathItem};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};

use crate::security::{CREDENTIAL_OPTIONAL, PUBLIC};

const DESCRIPTION: &str = "\
The LOKI compliance console API. Every error answers \
`{\"error\": {\"code\", \"message\", \"request_id\"}}` with the status it names.

Authentication: `Authorization: Bearer <access token or API key>`, or the \
`loki_session` cookie with `X-CSRF-Token` on state-changing requests.

Request signing (API keys; mandatory when the key or its organization \
requires it): `X-Loki-Key-Id`, `X-Loki-Timestamp` (unix seconds, ±300 s), \
`X-Loki-Nonce` (8-128 of `A-Za-z0-9-_.~`, once) and `X-Loki-Signature` = \
hex HMAC-SHA256 with the key's signing secret over \
`METHOD\\nPATH_AND_QUERY\\nTIMESTAMP\\nNONCE\\nhex(SHA-256(body))`.

Rate limits: answers carry `RateLimit-Limit`, `RateLimit-Remaining` and \
`RateLimit-Reset`; a 429 also `Retry-After`.";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "LOKI API", description = DESCRIPTION, license(name = "Apache-2.0")),
    components(schemas(ErrorResponse, ErrorBody))
)]
pub struct ApiDoc;

/// What every operation shares: path parameters, the error response,
/// the security requirements.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let params = path_parameters(path);
            // Credential-optional routes are documented as public; a sent
            // credential is still checked.
            let public =
                PUBLIC.contains(&path.as_str()) || CREDENTIAL_OPTIONAL.contains(&path.as_str());
            for op in operations(item) {
                // Handler names repeat across modules (`list`, `get`): prefix the tag.
                if let (Some(id), Some(tag)) =
                    (&op.operation_id, op.tags.as_ref().and_then(|t| t.first()))
                {
                    let tag = tag.replace('-', "_");
                    if !id.starts_with(&tag) {
                        op.operation_id = Some(format!("{tag}_{id}"));
                    }
                }
                op.parameters
                    .get_or_insert_with(Vec::new)
                    .extend(params.iter().cloned().map(Into::into));
                op.responses
                    .responses
                    .insert("default".into(), error_response().into());
                if !public {
                    op.security = Some(vec![
                        SecurityRequirement::new("bearer", Vec::<String>::new()),
                        SecurityRequirement::new("session_cookie", Vec::<String>::new()),
                    ]);
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// `{org_id}`, `{id}`, … are UUIDs; `{role}` and `{name}` are role names.
fn path_parameters(path: &str) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let uuid = !matches!(name, "role" | "name");
            let mut schema = ObjectBuilder::new().schema_type(Type::String);
            if uuid {
                schema = schema.format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
            }
            let mut p = Parameter::new(name);
            p.parameter_in = ParameterIn::Path;
            p.required = Required::True;
            p.schema = Some(schema.into());
            p
        })
        .collect()
}

fn error_response() -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(
            "An error: `error.code` says which (4xx for the caller's input, 5xx for the server)",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                .build(),
        )
        .build()
}

/// The document, built once from the routing table.
pub fn document() -> OpenApi {
    let (_, mut doc) = super::routes(0).split_for_parts();
    let mut base = ApiDoc::openapi();
    base.paths = std::mem::take(&mut doc.paths);
    let components = base.components.get_or_insert_with(Default::default);
    if let Some(c) = doc.components {
        components.schemas.extend(c.schemas);
    }
    base.info.version = env!("CARGO_PKG_VERSION").to_owned();
    Conventions.modify(&mut base);
    base
}

static JSON: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
});

#[utoipa::path(get, path = "/openapi.json", tag = "meta", summary = "This document (OpenAPI 3)",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], JSON.as_str())
}
