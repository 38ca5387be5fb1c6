//! `/api/v1/faults…` and `/api/v1/durability`: break things on purpose.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pier_workbench::{
    Durability, DurabilityUpdate, Fault, FaultRequest, FaultSpec, FaultStarted, TimelineEntry,
    Workbench,
};

use crate::Problem;
use crate::problem::body;

/// Every fault kind: what it does, what it teaches, its parameters.
#[utoipa::path(get, path = "/api/v1/faults/kinds", tag = "faults",
    responses((status = 200, description = "The catalog", body = Vec<FaultSpec>)))]
pub(crate) async fn kinds(State(wb): State<Workbench>) -> Json<Vec<FaultSpec>> {
    Json(wb.fault_kinds())
}

/// Faults active now.
#[utoipa::path(get, path = "/api/v1/faults", tag = "faults",
    responses((status = 200, description = "Active faults", body = Vec<Fault>)))]
pub(crate) async fn list(State(wb): State<Workbench>) -> Json<Vec<Fault>> {
    Json(wb.faults())
}

/// Everything started, healed and recovered, oldest first (the newest
/// 1,000 entries; kept across restarts).
#[utoipa::path(get, path = "/api/v1/faults/timeline", tag = "faults",
    responses((status = 200, description = "The timeline", body = Vec<TimelineEntry>)))]
pub(crate) async fn timeline(State(wb): State<Workbench>) -> Json<Vec<TimelineEntry>> {
    Json(wb.fault_timeline())
}

/// Starts a fault. A crash or power loss answers once the broker is back,
/// with what recovery found.
#[utoipa::path(post, path = "/api/v1/faults", tag = "faults",
    request_body = FaultRequest,
    responses(
        (status = 201, description = "Started", body = FaultStarted),
        (status = 400, description = "Unknown kind, unknown or out-of-range parameter", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A fault of that kind is already active", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The broker could not restart", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start(
    State(wb): State<Workbench>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: FaultRequest = match body(b) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    match wb.start_fault(req).await {
        Ok(s) => (StatusCode::CREATED, Json(s)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Heals an active fault. If the fault had stopped the broker (a failed
/// fsync, a full disk), it restarts and recovers.
#[utoipa::path(delete, path = "/api/v1/faults/{id}", tag = "faults",
    params(("id" = u64, Path, description = "Fault id")),
    responses(
        (status = 200, description = "Healed", body = TimelineEntry),
        (status = 400, description = "Not a fault id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such active fault", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn heal(State(wb): State<Workbench>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return Problem::invalid(format!("{id:?} is not a fault id")).into_response();
    };
    match wb.heal_fault(id).await {
        Ok(entry) => Json(entry).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Whether acknowledgements wait for fsync.
#[utoipa::path(get, path = "/api/v1/durability", tag = "faults",
    responses((status = 200, description = "The durability switch", body = Durability)))]
pub(crate) async fn durability(State(wb): State<Workbench>) -> Json<Durability> {
    Json(wb.durability())
}

/// Turns fsync before acknowledging on or off.
#[utoipa::path(put, path = "/api/v1/durability", tag = "faults",
    request_body = DurabilityUpdate,
    responses(
        (status = 200, description = "Switched", body = Durability),
        (status = 400, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn set_durability(
    State(wb): State<Workbench>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: DurabilityUpdate = match body(b) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    Json(wb.set_durability(req.fsync)).into_response()
}
