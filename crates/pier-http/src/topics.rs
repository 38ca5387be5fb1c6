//! `/api/v1/topics…`: topics, producing and browsing messages.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pier_workbench::{
    BrowsePage, BrowseQuery, NewTopic, ProduceRequest, Produced, TopicSummary, TopicUpdate,
    Workbench,
};

use crate::Problem;

/// Every topic with its partitions, sizes and settings.
#[utoipa::path(get, path = "/api/v1/topics", tag = "topics",
    responses((status = 200, description = "All topics", body = Vec<TopicSummary>)))]
pub(crate) async fn list_topics(State(wb): State<Workbench>) -> Json<Vec<TopicSummary>> {
    Json(wb.topics())
}

/// Creates a topic.
#[utoipa::path(post, path = "/api/v1/topics", tag = "topics", request_body = NewTopic,
    responses(
        (status = 201, description = "Created", body = TopicSummary),
        (status = 400, description = "Invalid name, partition count or setting", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A topic of that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_topic(
    State(wb): State<Workbench>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let new: NewTopic = match crate::problem::body(body) {
        Ok(v) => v,
        Err(problem) => return problem.into_response(),
    };
    match wb.create_topic(new).await {
        Ok(t) => (StatusCode::CREATED, Json(t)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// One topic.
#[utoipa::path(get, path = "/api/v1/topics/{name}", tag = "topics",
    params(("name" = String, Path, description = "Topic name")),
    responses(
        (status = 200, description = "The topic", body = TopicSummary),
        (status = 404, description = "No such topic", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_topic(State(wb): State<Workbench>, Path(name): Path<String>) -> Response {
    match wb.topic(&name) {
        Ok(t) => Json(t).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Changes a topic's settings (`null` restores a default) or adds
/// partitions. Nothing changes if any part is invalid.
#[utoipa::path(patch, path = "/api/v1/topics/{name}", tag = "topics",
    params(("name" = String, Path, description = "Topic name")),
    request_body = TopicUpdate,
    responses(
        (status = 200, description = "The changed topic", body = TopicSummary),
        (status = 400, description = "Unknown or invalid setting, or fewer partitions", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update_topic(
    State(wb): State<Workbench>,
    Path(name): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let update: TopicUpdate = match crate::problem::body(body) {
        Ok(v) => v,
        Err(problem) => return problem.into_response(),
    };
    match wb.update_topic(&name, update).await {
        Ok(t) => Json(t).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Deletes a topic and its messages.
#[utoipa::path(delete, path = "/api/v1/topics/{name}", tag = "topics",
    params(("name" = String, Path, description = "Topic name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a valid topic name", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete_topic(
    State(wb): State<Workbench>,
    Path(name): Path<String>,
) -> Response {
    match wb.delete_topic(&name).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Produces test messages: one, or `count` from templates, optionally at
/// `rate` per second. Nothing is written if any part is invalid.
#[utoipa::path(post, path = "/api/v1/topics/{name}/messages", tag = "messages",
    params(("name" = String, Path, description = "Topic name")),
    request_body = ProduceRequest,
    responses(
        (status = 201, description = "Written and fsynced", body = Produced),
        (status = 400, description = "Invalid count, rate, partition or template", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store refuses writes", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn produce(
    State(wb): State<Workbench>,
    Path(name): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let req: ProduceRequest = match crate::problem::body(body) {
        Ok(v) => v,
        Err(problem) => return problem.into_response(),
    };
    match wb.produce(&name, req).await {
        Ok(done) => (StatusCode::CREATED, Json(done)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// A page of one partition's messages, oldest or newest first, optionally
/// filtered by key, value or header text.
#[utoipa::path(get, path = "/api/v1/topics/{name}/messages", tag = "messages",
    params(("name" = String, Path, description = "Topic name"), BrowseQuery),
    responses(
        (status = 200, description = "Messages and where to continue", body = BrowsePage),
        (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such topic or partition", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn browse(
    State(wb): State<Workbench>,
    Path(name): Path<String>,
    query: Result<Query<BrowseQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(rejection) => return Problem::bad_query(&rejection).into_response(),
    };
    match wb.browse(&name, &q).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
