//! Kafka security: listeners, SASL users, the local CA.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pier_workbench::{SecurityInfo, UserPassword, Workbench};

use crate::problem::{Problem, body};

/// Kafka listeners, SASL mechanisms and users, and the CA certificate.
#[utoipa::path(get, path = "/api/v1/security", tag = "security",
    responses((status = 200, description = "Listeners, users and CA", body = SecurityInfo)))]
pub(crate) async fn info(State(wb): State<Workbench>) -> Json<SecurityInfo> {
    Json(wb.security())
}

/// The CA certificate clients of `SSL` / `SASL_SSL` listeners trust.
#[utoipa::path(get, path = "/api/v1/security/ca.pem", tag = "security",
    responses(
        (status = 200, description = "PEM certificate", body = String, content_type = "application/x-pem-file"),
        (status = 404, description = "No TLS listener, or no CA made by `pier tls init`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn ca(State(wb): State<Workbench>) -> Response {
    match wb.security().ca_pem {
        Some(pem) => (
            [
                (header::CONTENT_TYPE, "application/x-pem-file"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"pier-ca.pem\"",
                ),
            ],
            pem,
        )
            .into_response(),
        None => Problem::not_found(
            "no CA: start Pier with an SSL or SASL_SSL listener after `pier tls init`",
        )
        .into_response(),
    }
}

/// SASL user names.
#[utoipa::path(get, path = "/api/v1/users", tag = "security",
    responses((status = 200, description = "User names", body = Vec<String>)))]
pub(crate) async fn list(State(wb): State<Workbench>) -> Json<Vec<String>> {
    Json(wb.users())
}

/// Adds a SASL user, or sets their password (stored salted for
/// SCRAM-SHA-256 and SCRAM-SHA-512; PLAIN checks against them).
#[utoipa::path(put, path = "/api/v1/users/{name}", tag = "security",
    params(("name" = String, Path, description = "User name")),
    request_body = UserPassword,
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "Invalid name or password", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The users file cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn put(
    State(wb): State<Workbench>,
    Path(name): Path<String>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: UserPassword = match body(b) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    match wb.set_user(&name, &req.password) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Removes a SASL user (their open connections stay until they close).
#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "security",
    params(("name" = String, Path, description = "User name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete(State(wb): State<Workbench>, Path(name): Path<String>) -> Response {
    match wb.delete_user(&name) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
