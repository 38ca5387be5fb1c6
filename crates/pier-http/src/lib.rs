//! The HTTP API: JSON under `/api/v1`, `/healthz`, `/metrics`. Handlers
//! only translate between HTTP and the workbench facade; every error is an
//! `application/problem+json` body with a stable `type`.

mod events;
mod problem;

use axum::extract::Query;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pier_workbench::{NewTopic, ProduceRequest, Workbench};
pub use problem::Problem;

/// Largest request body accepted.
pub const BODY_MAX_BYTES: usize = 1024 * 1024;

pub fn router(workbench: Workbench) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/topics", get(list_topics).post(create_topic))
        .route("/api/v1/topics/{name}", get(get_topic).delete(delete_topic))
        .route("/api/v1/topics/{name}/messages", get(browse).post(produce))
        .route("/api/v1/events", get(events::events))
        .route(
            "/api/v1/groups",
            get(|State(wb): State<Workbench>| async move { Json(wb.groups()) }),
        )
        .route(
            "/api/v1/clients",
            get(|State(wb): State<Workbench>| async move { Json(wb.clients()) }),
        )
        .fallback(|| async { Problem::not_found("no such endpoint") })
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .with_state(workbench)
}

async fn metrics(State(wb): State<Workbench>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        wb.metrics_text(),
    )
        .into_response()
}

async fn list_topics(State(wb): State<Workbench>) -> Response {
    Json(wb.topics()).into_response()
}

async fn get_topic(State(wb): State<Workbench>, Path(name): Path<String>) -> Response {
    match wb.topic(&name) {
        Ok(t) => Json(t).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

async fn create_topic(
    State(wb): State<Workbench>,
    body: Result<Json<NewTopic>, JsonRejection>,
) -> Response {
    let Json(new) = match body {
        Ok(body) => body,
        Err(rejection) => return Problem::bad_body(&rejection).into_response(),
    };
    match wb.create_topic(new).await {
        Ok(t) => (StatusCode::CREATED, Json(t)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn produce(
    State(wb): State<Workbench>,
    Path(name): Path<String>,
    body: Result<Json<ProduceRequest>, JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(body) => body,
        Err(rejection) => return Problem::bad_body(&rejection).into_response(),
    };
    match wb.produce(&name, req, now_ms()).await {
        Ok(done) => (StatusCode::CREATED, Json(done)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(Debug, serde::Deserialize)]
struct BrowseQuery {
    #[serde(default)]
    partition: u32,
    #[serde(default)]
    offset: u64,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

async fn browse(
    State(wb): State<Workbench>,
    Path(name): Path<String>,
    query: Result<Query<BrowseQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(rejection) => return Problem::bad_query(&rejection).into_response(),
    };
    match wb.browse(&name, q.partition, q.offset, q.limit) {
        Ok(messages) => Json(messages).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

async fn delete_topic(State(wb): State<Workbench>, Path(name): Path<String>) -> Response {
    match wb.delete_topic(&name).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
