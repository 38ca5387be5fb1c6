//! The HTTP API: JSON under `/api/v1`, `/healthz`, `/metrics`,
//! `/openapi.json` and a `/docs` page. Handlers only translate between HTTP
//! and the workbench facade; every error is an `application/problem+json`
//! body with a stable `type`.

mod acls;
mod docs;
mod events;
mod faults;
mod groups;
mod guard;
mod labs;
mod ledger;
mod problem;
mod queues;
mod security;
mod simulate;
mod topics;
mod ui;

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use guard::{Access, TOKEN_BYTES_MAX, TOKEN_BYTES_MIN};
use pier_workbench::{BrokerInfo, ClientSummary, STATS_CAPACITY, StatsSample, Workbench};
pub use problem::Problem;
use utoipa::OpenApi;

/// Largest request body accepted.
pub const BODY_MAX_BYTES: usize = 1024 * 1024;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Pier",
        description = "Pier's HTTP API: topics, test messages, consumer groups, live statistics and events. Errors are RFC 9457 problem details with a stable `type`."
    ),
    paths(
        health,
        metrics,
        broker,
        clients,
        stats,
        topics::list_topics,
        topics::create_topic,
        topics::get_topic,
        topics::update_topic,
        topics::delete_topic,
        topics::browse,
        topics::produce,
        groups::list_groups,
        groups::get_group,
        groups::delete_group,
        groups::commit_offsets,
        queues::list,
        queues::get,
        queues::put,
        queues::delete,
        queues::receive,
        queues::ack,
        queues::leases,
        queues::leave,
        queues::replay,
        simulate::list,
        simulate::producer,
        simulate::consumers,
        simulate::stop,
        faults::kinds,
        faults::list,
        faults::timeline,
        faults::start,
        faults::heal,
        faults::durability,
        faults::set_durability,
        events::events,
        security::info,
        security::ca,
        security::list,
        security::put,
        security::delete,
        acls::list,
        acls::add,
        acls::delete,
        ledger::status,
        ledger::switch,
        ledger::verdict,
        ledger::journey,
        labs::list,
        labs::runs,
        labs::start,
        labs::get,
        labs::stop,
    ),
    components(schemas(Problem, pier_workbench::LiveEvent, pier_workbench::Expectation))
)]
pub struct ApiDoc;

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn router(workbench: Workbench) -> Router {
    let spec = openapi().to_pretty_json().unwrap_or_default();
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], spec) }),
        )
        .route("/docs", get(docs::page))
        .route("/api/v1/broker", get(broker))
        .route("/api/v1/clients", get(clients))
        .route("/api/v1/stats", get(stats))
        .route(
            "/api/v1/topics",
            get(topics::list_topics).post(topics::create_topic),
        )
        .route(
            "/api/v1/topics/{name}",
            get(topics::get_topic)
                .patch(topics::update_topic)
                .delete(topics::delete_topic),
        )
        .route(
            "/api/v1/topics/{name}/messages",
            get(topics::browse).post(topics::produce),
        )
        .route("/api/v1/groups", get(groups::list_groups))
        .route(
            "/api/v1/groups/{group}",
            get(groups::get_group).delete(groups::delete_group),
        )
        .route(
            "/api/v1/groups/{group}/offsets",
            post(groups::commit_offsets),
        )
        .route("/api/v1/queues", get(queues::list))
        .route(
            "/api/v1/queues/{group}",
            get(queues::get).put(queues::put).delete(queues::delete),
        )
        .route("/api/v1/queues/{group}/receive", post(queues::receive))
        .route("/api/v1/queues/{group}/ack", post(queues::ack))
        .route("/api/v1/queues/{group}/leases", get(queues::leases))
        .route(
            "/api/v1/queues/{group}/consumers/{consumer}",
            axum::routing::delete(queues::leave),
        )
        .route("/api/v1/queues/{group}/replay", post(queues::replay))
        .route("/api/v1/simulations", get(simulate::list))
        .route("/api/v1/simulations/producers", post(simulate::producer))
        .route("/api/v1/simulations/consumers", post(simulate::consumers))
        .route(
            "/api/v1/simulations/{id}",
            axum::routing::delete(simulate::stop),
        )
        .route("/api/v1/faults", get(faults::list).post(faults::start))
        .route("/api/v1/faults/kinds", get(faults::kinds))
        .route("/api/v1/faults/timeline", get(faults::timeline))
        .route("/api/v1/faults/{id}", axum::routing::delete(faults::heal))
        .route(
            "/api/v1/durability",
            get(faults::durability).put(faults::set_durability),
        )
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/ledger", get(ledger::status).put(ledger::switch))
        .route("/api/v1/ledger/verdict", get(ledger::verdict))
        .route(
            "/api/v1/ledger/journey/{topic}/{partition}/{offset}",
            get(ledger::journey),
        )
        .route("/api/v1/labs", get(labs::list))
        .route("/api/v1/labs/runs", get(labs::runs).post(labs::start))
        .route("/api/v1/labs/runs/{id}", get(labs::get))
        .route("/api/v1/labs/runs/{id}/stop", post(labs::stop))
        .route("/api/v1/security", get(security::info))
        .route("/api/v1/security/ca.pem", get(security::ca))
        .route("/api/v1/users", get(security::list))
        .route(
            "/api/v1/acls",
            get(acls::list).post(acls::add).delete(acls::delete),
        )
        .route(
            "/api/v1/users/{name}",
            axum::routing::put(security::put).delete(security::delete),
        )
        .route("/", get(ui::index))
        .fallback(ui::asset_or_404)
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .with_state(workbench)
}

/// [`router`] behind the access rules of a listener ([`Access`]): what a
/// socket gets. The desktop window's in-process calls skip it (they come
/// from the app itself, not from a network peer).
pub fn guarded(workbench: Workbench, access: Access) -> Router {
    router(workbench).layer(axum::middleware::from_fn_with_state(access, guard::check))
}

/// Liveness: `ok` while the server runs.
#[utoipa::path(get, path = "/healthz", tag = "broker",
    responses((status = 200, description = "The server is up", body = String, content_type = "text/plain")))]
async fn health() -> &'static str {
    "ok\n"
}

/// Prometheus text exposition (format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "broker",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
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

/// Version, addresses, uptime and totals.
#[utoipa::path(get, path = "/api/v1/broker", tag = "broker",
    responses((status = 200, description = "Broker status", body = BrokerInfo)))]
async fn broker(State(wb): State<Workbench>) -> Json<BrokerInfo> {
    Json(wb.info())
}

/// Open Kafka connections.
#[utoipa::path(get, path = "/api/v1/clients", tag = "broker",
    responses((status = 200, description = "Connected Kafka clients", body = Vec<ClientSummary>)))]
async fn clients(State(wb): State<Workbench>) -> Json<Vec<ClientSummary>> {
    Json(wb.clients())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    /// How many of the newest one-second samples (1–600, default 60).
    #[param(minimum = 1, maximum = 600)]
    last: Option<u32>,
}

/// Recent statistics samples, oldest first (one a second, ten minutes kept).
#[utoipa::path(get, path = "/api/v1/stats", tag = "broker", params(StatsQuery),
    responses(
        (status = 200, description = "Samples", body = Vec<StatsSample>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn stats(
    State(wb): State<Workbench>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(rejection) => return Problem::bad_query(&rejection).into_response(),
    };
    let last = q.last.unwrap_or(60);
    if !(1..=STATS_CAPACITY as u32).contains(&last) {
        return Problem::invalid(format!("last must be 1..={STATS_CAPACITY}, got {last}"))
            .into_response();
    }
    Json(wb.stats(last as usize)).into_response()
}
