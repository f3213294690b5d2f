//! `/api/v1/orgs/{org_id}/documents`: evidence documents.
//!
//! Uploads send the content as the raw body with its `Content-Type`; the
//! metadata travels in the query string (`name`, `description`,
//! `frameworks`, `controls` — lists comma-separated).

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as JsonResponse;
use loki_shared::api::{
    DocumentInfo, DocumentListResponse, DocumentVersionListResponse, UpdateDocumentRequest,
};
use loki_shared::Permission;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Json, Path, Query, RawBody};
use crate::app::AppState;
use crate::auth::Principal;
use crate::documents::{self, Upload};
use crate::error::{AppError, AppResult};
use crate::rbac::OrgAccess;
use crate::store::DocumentFilter;

fn split(list: Option<&str>) -> Vec<String> {
    list.map(|l| {
        l.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    frameworks: Option<String>,
    #[serde(default)]
    controls: Option<String>,
}

#[utoipa::path(post, path = "/orgs/{org_id}/documents", tag = "documents", summary = "Upload evidence (the body is the file)", request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file; its Content-Type header names the type"), params(UploadParams), responses((status = 201, description = "OK", body = DocumentInfo)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Query(p): Query<UploadParams>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> AppResult<(StatusCode, JsonResponse<DocumentInfo>)> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::DocCreate)
        .await?;
    let upload = Upload {
        name: p.name,
        description: p.description.unwrap_or_default(),
        frameworks: split(p.frameworks.as_deref()),
        controls: split(p.controls.as_deref()),
        content_type: content_type(&headers),
        bytes: body.to_vec(),
    };
    Ok((
        StatusCode::CREATED,
        JsonResponse(state.documents.create(&access, &principal, upload).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    #[serde(default)]
    framework: Option<String>,
    #[serde(default)]
    control: Option<String>,
    /// Substring of the name, case-insensitive.
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/orgs/{org_id}/documents", tag = "documents", summary = "Evidence documents", params(ListParams), responses((status = 200, description = "OK", body = DocumentListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Query(p): Query<ListParams>,
) -> AppResult<JsonResponse<DocumentListResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::DocRead)
        .await?;
    let limit = crate::validate::page_limit(p.limit, 50, 200)?;
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<Uuid>().map_err(|_| {
                AppError::bad_request("invalid_cursor", "the cursor is not one this server issued")
            })
        })
        .transpose()?;
    if p.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(AppError::validation("q", "must be at most 200 characters"));
    }
    let filter = DocumentFilter {
        framework: p.framework,
        control: p.control,
        name: p.q,
        before,
        limit,
    };
    let (documents, next_cursor) = state.documents.list(access.tenant(), filter).await?;
    Ok(JsonResponse(DocumentListResponse {
        documents,
        next_cursor,
    }))
}

/// Admits the caller to one document: an organization-wide permission, or a
/// grant on this document.
async fn on_document(
    state: &AppState,
    principal: &Principal,
    org_id: Uuid,
    id: Uuid,
    perm: Permission,
) -> AppResult<OrgAccess> {
    let access = state.admission.open(principal, org_id).await?;
    access
        .check(&state.auditor, principal, perm, Some(("document", id)))
        .await?;
    Ok(access)
}

#[utoipa::path(get, path = "/orgs/{org_id}/documents/{id}", tag = "documents", summary = "A document's metadata", responses((status = 200, description = "OK", body = DocumentInfo)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<DocumentInfo>> {
    let access = on_document(&state, &principal, org_id, id, Permission::DocRead).await?;
    Ok(JsonResponse(documents::info(
        &state.documents.get(access.tenant(), id).await?,
    )))
}

#[utoipa::path(get, path = "/orgs/{org_id}/documents/{id}/versions", tag = "documents", summary = "Versions of a document", responses((status = 200, description = "OK", body = DocumentVersionListResponse)))]
pub async fn versions(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<DocumentVersionListResponse>> {
    let access = on_document(&state, &principal, org_id, id, Permission::DocRead).await?;
    let versions = state.documents.versions(access.tenant(), id).await?;
    Ok(JsonResponse(DocumentVersionListResponse {
        versions: versions.iter().map(documents::version_info).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    #[serde(default)]
    version: Option<i64>,
}

/// A file name safe for `Content-Disposition`.
fn safe_filename(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if s.is_empty() {
        "document".into()
    } else {
        s
    }
}

#[utoipa::path(get, path = "/orgs/{org_id}/documents/{id}/content", tag = "documents", summary = "Download the content (an attachment)", params(DownloadParams), responses((status = 200, description = "The content", content_type = "application/octet-stream", body = Vec<u8>)))]
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
    Query(p): Query<DownloadParams>,
) -> AppResult<Response> {
    let access = on_document(&state, &principal, org_id, id, Permission::DocDownload).await?;
    let (doc, version, bytes) = state
        .documents
        .download(&principal, access.tenant(), id, p.version)
        .await?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&version.content_type).map_err(|e| AppError::Internal(e.into()))?,
    );
    let disposition = format!("attachment; filename=\"{}\"", safe_filename(&doc.name));
    h.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| AppError::Internal(e.into()))?,
    );
    h.insert(
        ETAG,
        HeaderValue::from_str(&format!("\"{}\"", version.sha256))
            .map_err(|e| AppError::Internal(e.into()))?,
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(resp)
}

#[utoipa::path(patch, path = "/orgs/{org_id}/documents/{id}", tag = "documents", summary = "Change a document's metadata", request_body = UpdateDocumentRequest, responses((status = 200, description = "OK", body = DocumentInfo)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
    Json(req): Json<UpdateDocumentRequest>,
) -> AppResult<JsonResponse<DocumentInfo>> {
    let access = on_document(&state, &principal, org_id, id, Permission::DocUpdate).await?;
    Ok(JsonResponse(
        state.documents.update(&access, &principal, id, req).await?,
    ))
}

#[utoipa::path(put, path = "/orgs/{org_id}/documents/{id}/content", tag = "documents", summary = "Upload a new version", request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file; its Content-Type header names the type"), responses((status = 200, description = "OK", body = DocumentInfo)))]
pub async fn replace(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> AppResult<JsonResponse<DocumentInfo>> {
    let access = on_document(&state, &principal, org_id, id, Permission::DocUpdate).await?;
    let ct = content_type(&headers);
    Ok(JsonResponse(
        state
            .documents
            .replace(&access, &principal, id, ct.as_deref(), body.to_vec())
            .await?,
    ))
}

#[utoipa::path(delete, path = "/orgs/{org_id}/documents/{id}", tag = "documents", summary = "Delete a document", responses((status = 204, description = "Done")))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    let access = on_document(&state, &principal, org_id, id, Permission::DocDelete).await?;
    state.documents.delete(&access, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
