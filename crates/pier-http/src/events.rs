//! `GET /api/v1/events`: the workbench's live events as Server-Sent Events.
//! Each stream polls its own [`EventCursor`], so a slow reader only delays
//! itself (see `pier_workbench::events`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use pier_workbench::{EventCursor, LiveEvent, Workbench};

/// How often a stream looks for changes.
pub const EVENTS_POLL: Duration = Duration::from_millis(250);

/// Live events: `records`, `topic-created`, `topic-deleted`, `group`,
/// `member-joined`, `member-left`, `rebalance` and `stats` (once a
/// second). Each SSE event is named by its `kind`; its data is the JSON
/// event.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    responses((status = 200, description = "An endless event stream", body = LiveEvent, content_type = "text/event-stream")))]
pub(crate) async fn events(
    State(wb): State<Workbench>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold(
        (wb, EventCursor::new(), Vec::<LiveEvent>::new(), true),
        |(wb, mut cursor, mut ready, mut first)| async move {
            loop {
                if let Some(e) = ready.pop() {
                    let event = Event::default()
                        .event(e.kind())
                        .data(serde_json::to_string(&e).unwrap_or_default());
                    return Some((Ok(event), (wb, cursor, ready, first)));
                }
                if !first {
                    tokio::time::sleep(EVENTS_POLL).await;
                }
                first = false;
                ready = cursor.poll(&wb);
                ready.reverse();
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
