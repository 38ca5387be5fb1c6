//! Shared helpers for the consumer-group APIs.

use kafka_protocol::ResponseError;
use pier_core::groups::GroupError;

pub(crate) fn code(e: &GroupError) -> i16 {
    let error = match e {
        GroupError::InvalidGroupId => ResponseError::InvalidGroupId,
        GroupError::MemberIdRequired(_) => ResponseError::MemberIdRequired,
        GroupError::UnknownMemberId(_) => ResponseError::UnknownMemberId,
        GroupError::IllegalGeneration { .. } => ResponseError::IllegalGeneration,
        GroupError::RebalanceInProgress => ResponseError::RebalanceInProgress,
        GroupError::InconsistentGroupProtocol => ResponseError::InconsistentGroupProtocol,
        GroupError::InvalidSessionTimeout(_) => ResponseError::InvalidSessionTimeout,
        GroupError::NonEmptyGroup(_) => ResponseError::NonEmptyGroup,
        GroupError::GroupIdNotFound(_) => ResponseError::GroupIdNotFound,
        GroupError::GroupFull => ResponseError::GroupMaxSizeReached,
    };
    error.code()
}
