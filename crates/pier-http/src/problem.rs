//! RFC 9457 problem details.

use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pier_workbench::{ErrorKind, WorkbenchError};
use serde::Serialize;

/// An RFC 9457 problem: every error this API returns.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema, ts_rs::TS)]
pub struct Problem {
    /// Stable identifier, e.g. `https://pier.dev/problems/not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub(crate) fn new(
        status: StatusCode,
        slug: &str,
        title: &str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: format!("https://pier.dev/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-input",
            "Invalid input",
            detail,
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this endpoint does not accept that method; see /openapi.json",
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// A body that is not valid JSON, has the wrong shape, or is too big.
    pub fn bad_body(rejection: &JsonRejection) -> Self {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(
                status,
                "body-too-large",
                "Request body too large",
                format!("the limit is {} bytes", crate::BODY_MAX_BYTES),
            );
        }
        if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            return Self::new(
                status,
                "unsupported-media-type",
                "Body must be JSON",
                rejection.body_text(),
            );
        }
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "Invalid request body",
            rejection.body_text(),
        )
    }
}

impl Problem {
    /// Query parameters that do not parse.
    pub fn bad_query(rejection: &axum::extract::rejection::QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query parameters",
            rejection.body_text(),
        )
    }
}

/// A JSON request body as `T`. Only a JSON object is accepted: serde would
/// otherwise also read a struct from an array of its fields.
pub(crate) fn body<T: serde::de::DeserializeOwned>(
    body: Result<axum::Json<serde_json::Value>, JsonRejection>,
) -> Result<T, Problem> {
    let axum::Json(value) = body.map_err(|r| Problem::bad_body(&r))?;
    if !value.is_object() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "Invalid request body",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "Invalid request body",
            format!("Failed to deserialize the JSON body into the target type: {e}"),
        )
    })
}

impl From<WorkbenchError> for Problem {
    fn from(e: WorkbenchError) -> Self {
        let (status, slug, title) = match e.kind {
            ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "invalid-input", "Invalid input"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ErrorKind::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Store unavailable",
            ),
        };
        Self::new(status, slug, title, e.message)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}
