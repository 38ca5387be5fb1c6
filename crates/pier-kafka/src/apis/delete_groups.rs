//! DeleteGroups: only groups without members; their offsets go too. Pier
//! has no DELETE operation: deleting needs READ on the group (else
//! GROUP_AUTHORIZATION_FAILED for it).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use kafka_protocol::messages::delete_groups_response::{
    DeletableGroupResult, DeleteGroupsResponse,
};
use pier_core::AdminCommand;

use super::groups;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(ctx: &Ctx, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(request.groups_names.len());
    for id in request.groups_names {
        let name = id.0.to_string();
        let known = ctx.broker.groups.describe(&name).is_some()
            || ctx.broker.consumer_groups.describe(&name).is_some()
            || ctx.broker.store.groups_with_offsets().contains(&name);
        let code = if !ctx.authorize(Resource::Group, &name, Operation::Read) {
            ResponseError::GroupAuthorizationFailed.code()
        } else if !known {
            ResponseError::GroupIdNotFound.code()
        } else if let Err(e) = ctx.broker.groups.delete(&name) {
            groups::code(&e)
        } else if !ctx.broker.consumer_groups.delete(&name) {
            ResponseError::NonEmptyGroup.code()
        } else if ctx
            .broker
            .store
            .admin(AdminCommand::DeleteGroupOffsets { group: name })
            .await
            .is_err()
        {
            ResponseError::KafkaStorageError.code()
        } else {
            0
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(code),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}
