//! `/api/v1/queues…`: queue groups with per-record acknowledgements.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pier_workbench::{
    AckRequest, AckResponse, LeaseInfo, Left, QueueGroupSummary, QueueMessage, QueueSettings,
    ReceiveRequest, ReplayRequest, Replayed, Workbench,
};

use crate::Problem;
use crate::problem::body;

macro_rules! json_body {
    ($b:expr) => {
        match body($b) {
            Ok(v) => v,
            Err(problem) => return problem.into_response(),
        }
    };
}

fn answer<T: serde::Serialize>(r: Result<T, pier_workbench::WorkbenchError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Every queue group with its counts.
#[utoipa::path(get, path = "/api/v1/queues", tag = "queues",
    responses((status = 200, description = "All queue groups", body = Vec<QueueGroupSummary>)))]
pub(crate) async fn list(State(wb): State<Workbench>) -> Json<Vec<QueueGroupSummary>> {
    Json(wb.queue_groups())
}

/// One queue group: settings, consumers, in flight, waiting, backlog,
/// dead letters and counters.
#[utoipa::path(get, path = "/api/v1/queues/{group}", tag = "queues",
    params(("group" = String, Path, description = "Queue group")),
    responses(
        (status = 200, description = "The group", body = QueueGroupSummary),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(State(wb): State<Workbench>, Path(group): Path<String>) -> Response {
    answer(wb.queue_group(&group))
}

/// Creates a queue group over a topic, or changes its settings.
#[utoipa::path(put, path = "/api/v1/queues/{group}", tag = "queues",
    params(("group" = String, Path, description = "Queue group")),
    request_body = QueueSettings,
    responses(
        (status = 200, description = "The group now", body = QueueGroupSummary),
        (status = 400, description = "Invalid settings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The group consumes another topic", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn put(
    State(wb): State<Workbench>,
    Path(group): Path<String>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let settings: QueueSettings = json_body!(b);
    answer(wb.configure_queue(&group, settings).await)
}

/// Deletes a queue group (its topic and dead letters stay).
#[utoipa::path(delete, path = "/api/v1/queues/{group}", tag = "queues",
    params(("group" = String, Path, description = "Queue group")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete(State(wb): State<Workbench>, Path(group): Path<String>) -> Response {
    match wb.delete_queue(&group).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Leases records to a consumer. Each comes with its delivery number and
/// lease deadline; acknowledge it before then or it is delivered again.
#[utoipa::path(post, path = "/api/v1/queues/{group}/receive", tag = "queues",
    params(("group" = String, Path, description = "Queue group")),
    request_body = ReceiveRequest,
    responses(
        (status = 200, description = "Leased records (maybe none)", body = Vec<QueueMessage>),
        (status = 400, description = "Invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group or topic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The group consumes another topic", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn receive(
    State(wb): State<Workbench>,
    Path(group): Path<String>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: ReceiveRequest = json_body!(b);
    answer(wb.receive(&group, req).await)
}

/// Accepts, releases, rejects or extends leased records, each on its own:
/// the answer says which were refused (those changed nothing).
#[utoipa::path(post, path = "/api/v1/queues/{group}/ack", tag = "queues",
    params(("group" = String, Path, description = "Queue group")),
    request_body = AckRequest,
    responses(
        (status = 200, description = "One result per item", body = AckResponse),
        (status = 400, description = "Invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn ack(
    State(wb): State<Workbench>,
    Path(group): Path<String>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: AckRequest = json_body!(b);
    answer(wb.acknowledge(&group, req).await)
}

/// Records leased right now.
#[utoipa::path(get, path = "/api/v1/queues/{group}/leases", tag = "queues",
    params(("group" = String, Path, description = "Queue group")),
    responses(
        (status = 200, description = "Leases", body = Vec<LeaseInfo>),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn leases(State(wb): State<Workbench>, Path(group): Path<String>) -> Response {
    answer(wb.queue_leases(&group))
}

/// A consumer leaves: what it holds is delivered to others (after backoff).
#[utoipa::path(delete, path = "/api/v1/queues/{group}/consumers/{consumer}", tag = "queues",
    params(("group" = String, Path, description = "Queue group"), ("consumer" = String, Path, description = "Consumer name")),
    responses(
        (status = 200, description = "Left", body = Left),
        (status = 404, description = "No such group or consumer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn leave(
    State(wb): State<Workbench>,
    Path((group, consumer)): Path<(String, String)>,
) -> Response {
    answer(wb.leave_queue(&group, &consumer).await)
}

/// Appends dead letters back to the group's topic, original partition,
/// without the `pier-dlq-*` headers.
#[utoipa::path(post, path = "/api/v1/queues/{group}/replay", tag = "queues",
    params(("group" = String, Path, description = "Queue group")),
    request_body = ReplayRequest,
    responses(
        (status = 200, description = "Replayed", body = Replayed),
        (status = 400, description = "Invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn replay(
    State(wb): State<Workbench>,
    Path(group): Path<String>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: ReplayRequest = json_body!(b);
    answer(wb.replay_dead_letters(&group, req).await)
}
