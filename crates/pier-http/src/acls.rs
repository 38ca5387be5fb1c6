//! ACL rules for Kafka clients (enforced with `pier serve --authorization`).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pier_workbench::{AclRule, Workbench};

use crate::problem::{Problem, body};

/// The allow rules, in the order they were added.
#[utoipa::path(get, path = "/api/v1/acls", tag = "security", operation_id = "list_acls",
    responses((status = 200, description = "Rules", body = Vec<AclRule>)))]
pub(crate) async fn list(State(wb): State<Workbench>) -> Json<Vec<AclRule>> {
    Json(wb.acls())
}

/// Adds an allow rule; answers with the rule as stored (`User:` dropped,
/// operations sorted). Adding a rule that is already there changes nothing.
#[utoipa::path(post, path = "/api/v1/acls", tag = "security", operation_id = "add_acl",
    request_body = AclRule,
    responses(
        (status = 201, description = "Added", body = AclRule),
        (status = 200, description = "The rule was already there", body = AclRule),
        (status = 400, description = "Invalid rule, or too many rules", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The rules file cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn add(
    State(wb): State<Workbench>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let rule: AclRule = match body(b) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    match wb.add_acl(rule) {
        Ok((stored, true)) => (StatusCode::CREATED, Json(stored)).into_response(),
        Ok((stored, false)) => Json(stored).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Removes the rule given as the body (the same fields as when it was
/// added; operations in any order).
#[utoipa::path(delete, path = "/api/v1/acls", tag = "security", operation_id = "delete_acl",
    request_body = AclRule,
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Invalid rule", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The rules file cannot be written", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete(
    State(wb): State<Workbench>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let rule: AclRule = match body(b) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    match wb.delete_acl(rule) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
