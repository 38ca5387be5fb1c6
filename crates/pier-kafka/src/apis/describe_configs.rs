//! DescribeConfigs for topics (their Kafka-named settings) and the broker.
//! A topic's need DESCRIBE on it (else TOPIC_AUTHORIZATION_FAILED); the
//! broker's are not checked (Pier has no cluster resource).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsRequest;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
};
use pier_core::TopicConfig;

use super::str_bytes;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// `config_source`: 1 = set on the topic, 5 = a default.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DEFAULT: i8 = 5;

pub(crate) fn handle(
    ctx: &Ctx,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let base = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let wanted = |key: &str| {
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == key))
            };
            match r.resource_type {
                TOPIC
                    if !ctx.authorize(
                        Resource::Topic,
                        r.resource_name.as_str(),
                        Operation::Describe,
                    ) =>
                {
                    base.with_error_code(ResponseError::TopicAuthorizationFailed.code())
                }
                TOPIC => match ctx.broker.store.describe_topic(r.resource_name.as_str()) {
                    None => base.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                    Some(d) => {
                        let defaults = TopicConfig::default();
                        let mut configs: Vec<_> = TopicConfig::KEYS
                            .iter()
                            .filter(|k| wanted(k))
                            .map(|k| {
                                let value = d.meta.config.get(k).unwrap_or_default();
                                let source = if Some(&value) == defaults.get(k).as_ref() {
                                    SOURCE_DEFAULT
                                } else {
                                    SOURCE_TOPIC
                                };
                                entry(k, &value, source)
                            })
                            .collect();
                        if wanted("cleanup.policy") {
                            configs.push(entry("cleanup.policy", "delete", SOURCE_DEFAULT));
                        }
                        base.with_configs(configs)
                    }
                },
                BROKER => {
                    let settings = [
                        (
                            "auto.create.topics.enable",
                            ctx.broker.config.auto_create_topics.to_string(),
                        ),
                        (
                            "num.partitions",
                            ctx.broker.config.num_partitions.to_string(),
                        ),
                        ("default.replication.factor", "1".to_owned()),
                    ];
                    let configs = settings
                        .iter()
                        .filter(|(k, _)| wanted(k))
                        .map(|(k, v)| entry(k, v, SOURCE_DEFAULT))
                        .collect();
                    base.with_configs(configs)
                }
                _ => base
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(str_bytes(
                        "only topic and broker configs can be described",
                    ))),
            }
        })
        .collect::<Vec<DescribeConfigsResult>>();
    let mut results = results;
    if version == 0 {
        for c in results.iter_mut().flat_map(|r| r.configs.iter_mut()) {
            c.config_source = -1;
        }
    }
    DescribeConfigsResponse::default().with_results(results)
}

fn entry(name: &str, value: &str, source: i8) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(str_bytes(name))
        .with_value(Some(str_bytes(value)))
        .with_config_source(source)
}
