//! ApiVersions: exactly the APIs and versions we implement.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::ResponseKind;
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};

use super::SUPPORTED;

pub(crate) fn handle() -> ApiVersionsResponse {
    let api_keys = SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            ApiVersion::default()
                .with_api_key(*key as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect();
    ApiVersionsResponse::default().with_api_keys(api_keys)
}

/// The v0 answer to a version we do not speak.
pub(crate) fn unsupported() -> ResponseKind {
    ResponseKind::ApiVersions(handle().with_error_code(ResponseError::UnsupportedVersion.code()))
}
