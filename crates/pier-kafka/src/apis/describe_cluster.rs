//! DescribeCluster: one broker, which is also the controller. Not checked
//! against the ACL rules (Kafka asks for DESCRIBE on the cluster; Pier has
//! no cluster resource), like ApiVersions and the SASL handshake.

use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::describe_cluster_request::DescribeClusterRequest;
use kafka_protocol::messages::describe_cluster_response::{
    DescribeClusterBroker, DescribeClusterResponse,
};

use super::str_bytes;
use crate::broker::Ctx;
use crate::{CLUSTER_ID, NODE_ID};

pub(crate) fn handle(ctx: &Ctx, request: DescribeClusterRequest) -> DescribeClusterResponse {
    let broker = DescribeClusterBroker::default()
        .with_broker_id(BrokerId(NODE_ID))
        .with_host(str_bytes(&ctx.advertised_host()))
        .with_port(ctx.advertised_port());
    DescribeClusterResponse::default()
        .with_cluster_id(str_bytes(CLUSTER_ID))
        .with_controller_id(BrokerId(NODE_ID))
        .with_brokers(vec![broker])
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            super::authorized_ops::CLUSTER
        } else {
            i32::MIN
        })
}
