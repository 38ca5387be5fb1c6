//! `/api/v1/ledger…`: the delivery ledger's verdicts and record journeys.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use pier_workbench::{Journey, LedgerStatus, VerdictRequest, VerdictResponse, Workbench};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::Problem;

/// Whether the ledger records, since when, and record counts per anomaly.
#[utoipa::path(get, path = "/api/v1/ledger", tag = "ledger",
    responses((status = 200, description = "The ledger", body = LedgerStatus)))]
pub(crate) async fn status(State(wb): State<Workbench>) -> Json<LedgerStatus> {
    Json(wb.ledger_status())
}

/// Turns recording on or off (what was recorded stays).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LedgerSwitch {
    enabled: bool,
}

#[utoipa::path(put, path = "/api/v1/ledger", tag = "ledger",
    request_body = LedgerSwitch,
    responses(
        (status = 200, description = "The ledger now", body = LedgerStatus),
        (status = 400, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn switch(
    State(wb): State<Workbench>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    match crate::problem::body::<LedgerSwitch>(body) {
        Ok(s) => Json(wb.set_ledger_enabled(s.enabled)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The verdict for a topic (and a group on it) over a window: records lost
/// after acknowledgement, stored twice, delivered more than once,
/// committed without delivery, out of order, dead-lettered, stuck and
/// unconsumed, each with the records concerned; the guarantee the group
/// met; with `expect`, whether that was enough.
#[utoipa::path(get, path = "/api/v1/ledger/verdict", tag = "ledger", params(VerdictRequest),
    responses(
        (status = 200, description = "The verdict", body = VerdictResponse),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verdict(
    State(wb): State<Workbench>,
    query: Result<Query<VerdictRequest>, QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(rejection) => return Problem::bad_query(&rejection).into_response(),
    };
    match wb.verdict(&q) {
        Ok(v) => Json(v).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Everything the ledger saw happen to one record, in time order.
#[utoipa::path(get, path = "/api/v1/ledger/journey/{topic}/{partition}/{offset}", tag = "ledger",
    params(
        ("topic" = String, Path, description = "Topic"),
        ("partition" = u32, Path, description = "Partition"),
        ("offset" = u64, Path, description = "Offset", maximum = 9223372036854775807_u64),
    ),
    responses(
        (status = 200, description = "The journey", body = Journey),
        (status = 400, description = "Bad path", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic or partition", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn journey(
    State(wb): State<Workbench>,
    path: Result<Path<(String, u32, u64)>, axum::extract::rejection::PathRejection>,
) -> Response {
    let Path((topic, partition, offset)) = match path {
        Ok(p) => p,
        Err(e) => return Problem::invalid(e.body_text()).into_response(),
    };
    // Kafka offsets are signed 64-bit numbers.
    if i64::try_from(offset).is_err() {
        return Problem::invalid(format!("offset must be at most {}, got {offset}", i64::MAX))
            .into_response();
    }
    match wb.journey(&topic, partition, offset) {
        Ok(j) => Json(j).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
