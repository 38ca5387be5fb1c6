//! JoinGroup: v4+ new members first get MEMBER_ID_REQUIRED; the answer
//! waits until the rebalance completes. Needs READ on the group (else
//! GROUP_AUTHORIZATION_FAILED).

use kafka_protocol::messages::join_group_request::JoinGroupRequest;
use kafka_protocol::messages::join_group_response::{JoinGroupResponse, JoinGroupResponseMember};
use pier_core::groups::{GroupError, JoinRequest};

use super::{groups, str_bytes};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(
    ctx: &Ctx,
    request: JoinGroupRequest,
    version: i16,
    client_id: &str,
) -> JoinGroupResponse {
    if !ctx.authorize(Resource::Group, request.group_id.as_str(), Operation::Read) {
        let code = kafka_protocol::ResponseError::GroupAuthorizationFailed.code();
        return failed(code, request.member_id.to_string(), version);
    }
    // A classic member cannot join a consumer-protocol group with members
    // (Kafka converts between the two; Pier does not, `docs/kafka.md`).
    if ctx
        .broker
        .consumer_groups
        .is_active(request.group_id.as_str())
    {
        let code = kafka_protocol::ResponseError::InconsistentGroupProtocol.code();
        return failed(code, request.member_id.to_string(), version);
    }
    let rebalance_timeout_ms = if version == 0 {
        request.session_timeout_ms
    } else {
        request.rebalance_timeout_ms
    };
    let join = JoinRequest {
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(ToString::to_string),
        client_id: client_id.to_owned(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: request.session_timeout_ms,
        rebalance_timeout_ms,
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
    };
    match ctx.broker.groups.join(join).await {
        Ok(joined) => {
            let members = joined
                .members
                .into_iter()
                .map(|m| {
                    let member = JoinGroupResponseMember::default()
                        .with_member_id(str_bytes(&m.member_id))
                        .with_metadata(m.metadata);
                    if version >= 5 {
                        member.with_group_instance_id(m.group_instance_id.as_deref().map(str_bytes))
                    } else {
                        member
                    }
                })
                .collect();
            let response = JoinGroupResponse::default()
                .with_generation_id(joined.generation_id)
                .with_protocol_name(Some(str_bytes(&joined.protocol_name)))
                .with_leader(str_bytes(&joined.leader))
                .with_member_id(str_bytes(&joined.member_id))
                .with_members(members);
            if version >= 7 {
                response.with_protocol_type(Some(str_bytes(&joined.protocol_type)))
            } else {
                response
            }
        }
        Err(e) => {
            let member_id = match &e {
                GroupError::MemberIdRequired(id) => id.clone(),
                _ => request.member_id.to_string(),
            };
            failed(groups::code(&e), member_id, version)
        }
    }
}

fn failed(code: i16, member_id: String, version: i16) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(code)
        .with_generation_id(-1)
        .with_protocol_name(if version >= 7 {
            None
        } else {
            Some(str_bytes(""))
        })
        .with_member_id(str_bytes(&member_id))
}
