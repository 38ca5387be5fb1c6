//! FindCoordinator: we coordinate every group ourselves. Finding a group's
//! coordinator needs DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED);
//! transactional ids are not checked (Pier refuses transactions anyway).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::NODE_ID;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

/// `key_type` of a consumer or share group (1 is a transactional id).
const GROUP: i8 = 0;

pub(crate) fn handle(
    ctx: &Ctx,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let host = str_bytes(&ctx.advertised_host());
    let port = ctx.advertised_port();
    let allowed = |key: &StrBytes| {
        request.key_type != GROUP
            || ctx.authorize(Resource::Group, key.as_str(), Operation::Describe)
    };
    let refused = ResponseError::GroupAuthorizationFailed.code();
    if version < 4 {
        if !allowed(&request.key) {
            return FindCoordinatorResponse::default()
                .with_error_code(refused)
                .with_node_id(BrokerId(-1))
                .with_host(str_bytes(""))
                .with_port(-1);
        }
        return FindCoordinatorResponse::default()
            .with_node_id(BrokerId(NODE_ID))
            .with_host(host)
            .with_port(port);
    }
    let coordinators = request
        .coordinator_keys
        .iter()
        .map(|key| {
            let found = Coordinator::default().with_key(key.clone());
            if allowed(key) {
                found
                    .with_node_id(BrokerId(NODE_ID))
                    .with_host(host.clone())
                    .with_port(port)
            } else {
                found
                    .with_error_code(refused)
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
            }
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}
