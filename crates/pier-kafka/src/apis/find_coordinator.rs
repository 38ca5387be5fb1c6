//! FindCoordinator: we coordinate every group ourselves.

use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};

use super::str_bytes;
use crate::NODE_ID;
use crate::broker::Ctx;

pub(crate) fn handle(
    ctx: &Ctx,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let host = str_bytes(&ctx.advertised_host());
    let port = ctx.advertised_port();
    if version < 4 {
        return FindCoordinatorResponse::default()
            .with_node_id(BrokerId(NODE_ID))
            .with_host(host)
            .with_port(port);
    }
    let coordinators = request
        .coordinator_keys
        .into_iter()
        .map(|key| {
            Coordinator::default()
                .with_key(key)
                .with_node_id(BrokerId(NODE_ID))
                .with_host(host.clone())
                .with_port(port)
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}
