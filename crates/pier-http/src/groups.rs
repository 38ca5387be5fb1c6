//! `/api/v1/groups…`: consumer groups, their members and lag.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pier_workbench::{CommitOffsets, GroupSummary, Workbench};

use crate::Problem;

/// Every consumer group: live ones and ones with committed offsets.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups",
    responses((status = 200, description = "All groups", body = Vec<GroupSummary>)))]
pub(crate) async fn list_groups(State(wb): State<Workbench>) -> Json<Vec<GroupSummary>> {
    Json(wb.groups())
}

/// One group with members, assignments and lag.
#[utoipa::path(get, path = "/api/v1/groups/{group}", tag = "groups",
    params(("group" = String, Path, description = "Group id")),
    responses(
        (status = 200, description = "The group", body = GroupSummary),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_group(State(wb): State<Workbench>, Path(group): Path<String>) -> Response {
    match wb.group(&group) {
        Ok(g) => Json(g).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Forgets a group and its committed offsets.
#[utoipa::path(delete, path = "/api/v1/groups/{group}", tag = "groups",
    params(("group" = String, Path, description = "Group id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Members are connected", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete_group(
    State(wb): State<Workbench>,
    Path(group): Path<String>,
) -> Response {
    match wb.delete_group(&group).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Commits offsets for a group with no Kafka members connected (as
/// `pier consume --group` does).
#[utoipa::path(post, path = "/api/v1/groups/{group}/offsets", tag = "groups",
    params(("group" = String, Path, description = "Group id")),
    request_body = CommitOffsets,
    responses(
        (status = 200, description = "Committed; the group now", body = GroupSummary),
        (status = 400, description = "Invalid offsets", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic or partition", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Kafka members are connected", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn commit_offsets(
    State(wb): State<Workbench>,
    Path(group): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let commit: CommitOffsets = match crate::problem::body(body) {
        Ok(v) => v,
        Err(problem) => return problem.into_response(),
    };
    match wb.commit_offsets(&group, commit).await {
        Ok(g) => Json(g).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
