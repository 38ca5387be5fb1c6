//! `/api/v1/simulations…`: simulated producers and consumer groups.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pier_workbench::{NewSimConsumers, NewSimProducer, Simulation, Workbench};

use crate::Problem;
use crate::problem::body;

/// Running simulations with their counts.
#[utoipa::path(get, path = "/api/v1/simulations", tag = "simulations",
    responses((status = 200, description = "Running simulations", body = Vec<Simulation>)))]
pub(crate) async fn list(State(wb): State<Workbench>) -> Json<Vec<Simulation>> {
    Json(wb.simulations())
}

/// Starts a producer sending `rate` messages per second until stopped.
#[utoipa::path(post, path = "/api/v1/simulations/producers", tag = "simulations",
    request_body = NewSimProducer,
    responses(
        (status = 201, description = "Started", body = Simulation),
        (status = 400, description = "Invalid settings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too many simulations", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn producer(
    State(wb): State<Workbench>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: NewSimProducer = match body(b) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    match wb.start_producer(req) {
        Ok(s) => (StatusCode::CREATED, Json(s)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Starts a group of simulated consumers over a queue group.
#[utoipa::path(post, path = "/api/v1/simulations/consumers", tag = "simulations",
    request_body = NewSimConsumers,
    responses(
        (status = 201, description = "Started", body = Simulation),
        (status = 400, description = "Invalid settings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too many simulations, or the group consumes another topic", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn consumers(
    State(wb): State<Workbench>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: NewSimConsumers = match body(b) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    match wb.start_consumers(req).await {
        Ok(s) => (StatusCode::CREATED, Json(s)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Stops a simulation (its consumers leave their group).
#[utoipa::path(delete, path = "/api/v1/simulations/{id}", tag = "simulations",
    params(("id" = u64, Path, description = "Simulation id")),
    responses(
        (status = 204, description = "Stopped"),
        (status = 400, description = "Not a simulation id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such simulation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn stop(State(wb): State<Workbench>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return Problem::invalid(format!("{id:?} is not a simulation id")).into_response();
    };
    match wb.stop_simulation(id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
