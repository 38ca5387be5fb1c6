//! `/api/v1/labs…`: guided labs. A run starts in the background; its
//! narrative and, at the end, its report are read from the run.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pier_workbench::{LabRun, LabStart, LabSummary, Workbench};

use crate::Problem;
use crate::problem::body;

/// The built-in labs, each with its lab file.
#[utoipa::path(get, path = "/api/v1/labs", tag = "labs",
    responses(
        (status = 200, description = "Built-in labs", body = Vec<LabSummary>),
        (status = 503, description = "Labs are not available", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(State(wb): State<Workbench>) -> Response {
    match wb.labs() {
        Ok(l) => Json(l).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Runs of labs, newest first.
#[utoipa::path(get, path = "/api/v1/labs/runs", tag = "labs",
    responses((status = 200, description = "Lab runs", body = Vec<LabRun>)))]
pub(crate) async fn runs(State(wb): State<Workbench>) -> Json<Vec<LabRun>> {
    Json(wb.lab_runs())
}

/// Starts a lab: a built-in one by `name`, or a lab `file` (TOML text),
/// checked before anything runs. One lab runs at a time. A lab that
/// starts programs (`[[variant.app]]`) is refused: run it with
/// `pier lab run FILE`.
#[utoipa::path(post, path = "/api/v1/labs/runs", tag = "labs",
    request_body = LabStart,
    responses(
        (status = 202, description = "Started; poll the run", body = LabRun),
        (status = 400, description = "A bad lab file (file:line:column: reason), or neither name nor file", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such built-in lab", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A lab is running, or the lab needs --page-cache-model", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Labs are not available", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start(
    State(wb): State<Workbench>,
    b: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: LabStart = match body(b) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    match wb.start_lab(req) {
        Ok(r) => (StatusCode::ACCEPTED, Json(r)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

fn run_id(id: &str) -> Result<u64, Problem> {
    id.parse::<u64>()
        .map_err(|_| Problem::invalid(format!("{id:?} is not a lab run id")))
}

/// One run: its state, narrative so far and, once ended, its report.
#[utoipa::path(get, path = "/api/v1/labs/runs/{id}", tag = "labs",
    params(("id" = u64, Path, description = "Lab run id")),
    responses(
        (status = 200, description = "The run", body = LabRun),
        (status = 400, description = "Not a run id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(State(wb): State<Workbench>, Path(id): Path<String>) -> Response {
    let id = match run_id(&id) {
        Ok(id) => id,
        Err(p) => return p.into_response(),
    };
    match wb.lab_run(id) {
        Ok(r) => Json(r).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Stops a running lab and its clients (the run stays, `stopped`).
#[utoipa::path(post, path = "/api/v1/labs/runs/{id}/stop", tag = "labs",
    params(("id" = u64, Path, description = "Lab run id")),
    responses(
        (status = 200, description = "Stopped", body = LabRun),
        (status = 400, description = "Not a run id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has ended", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn stop(State(wb): State<Workbench>, Path(id): Path<String>) -> Response {
    let id = match run_id(&id) {
        Ok(id) => id,
        Err(p) => return p.into_response(),
    };
    match wb.stop_lab(id) {
        Ok(r) => Json(r).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
