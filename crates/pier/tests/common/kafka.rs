//! Raw Kafka requests for the tests that speak the protocol byte by byte
//! (bad input, SASL, ACLs).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};

/// One size-prefixed request frame.
pub fn frame(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &'static str,
    body: &impl Encodable,
) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(client_id)));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    let mut out = BytesMut::with_capacity(4 + buf.len());
    out.put_i32(buf.len() as i32);
    out.extend_from_slice(&buf);
    out.freeze()
}
