//! InitProducerId for idempotent producers. Transactions are not supported:
//! a transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
//! Not checked against the ACL rules: Kafka asks for IDEMPOTENT_WRITE on
//! the cluster, and Pier has no cluster resource (a producer still needs
//! WRITE on each topic it produces to).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;

use super::admin_error;
use crate::broker::Ctx;

pub(crate) async fn handle(ctx: &Ctx, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let failed = |code: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(code.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if request.transactional_id.is_some() {
        return failed(ResponseError::TransactionalIdAuthorizationFailed);
    }
    match ctx.broker.store.allocate_producer_id().await {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => failed(admin_error(&e).0),
    }
}
