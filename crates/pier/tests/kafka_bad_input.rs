//! Bad input on the Kafka port: the offending connection gets an error or
//! is closed; the server, other connections and stored data carry on.

mod common;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::produce_response::ProduceResponse;
use kafka_protocol::messages::{ApiKey, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(server: &pier::Server) -> TcpStream {
    TcpStream::connect(server.kafka_addr()).await.unwrap()
}

fn frame(api: ApiKey, version: i16, correlation_id: i32, body: &impl Encodable) -> Bytes {
    common::kafka::frame(api, version, correlation_id, "bad-input-test", body)
}

/// Reads one response frame; `None` if the server closed the connection.
async fn read_response(stream: &mut TcpStream) -> Option<Bytes> {
    let read = async {
        let size = stream.read_i32().await.ok()?;
        let mut buf = vec![0; size as usize];
        stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("server answered or closed in time")
}

async fn api_versions_ok(server: &pier::Server) {
    let mut s = connect(server).await;
    s.write_all(&frame(
        ApiKey::ApiVersions,
        3,
        7,
        &ApiVersionsRequest::default(),
    ))
    .await
    .unwrap();
    let mut body = read_response(&mut s)
        .await
        .expect("a healthy connection is answered");
    let header = ResponseHeader::decode(&mut body, 0).unwrap();
    assert_eq!(header.correlation_id, 7);
    let response = ApiVersionsResponse::decode(&mut body, 3).unwrap();
    assert_eq!(response.error_code, 0);
    assert!(
        response
            .api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Produce as i16)
    );
}

fn produce(topic: &str, records: Bytes) -> ProduceRequest {
    let partition = PartitionProduceData::default()
        .with_index(0)
        .with_records(Some(records));
    let topic = TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
        .with_partition_data(vec![partition]);
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![topic])
}

fn one_record(value: &str) -> Bytes {
    let record = NewRecord {
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        timestamp_ms: 1,
        ..NewRecord::default()
    };
    batch::build(&[record], Compression::None, None)
}

async fn produce_code(server: &pier::Server, records: Bytes) -> i16 {
    let mut s = connect(server).await;
    s.write_all(&frame(ApiKey::Produce, 9, 1, &produce("t", records)))
        .await
        .unwrap();
    let mut body = read_response(&mut s).await.expect("produce is answered");
    ResponseHeader::decode(&mut body, ApiKey::Produce.response_header_version(9)).unwrap();
    let response = ProduceResponse::decode(&mut body, 9).unwrap();
    response.responses[0].partition_responses[0].error_code
}

async fn start() -> pier::Server {
    pier::Server::builder()
        .in_memory()
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn garbage_closes_only_the_offending_connection() {
    let server = start().await;
    assert_eq!(produce_code(&server, one_record("kept")).await, 0);
    let bystander = connect(&server).await;

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "random bytes",
            (0..64u8)
                .map(|i| i.wrapping_mul(37).wrapping_add(11))
                .collect(),
        ),
        ("huge length prefix", 0x7fff_ffffi32.to_be_bytes().to_vec()),
        ("negative length prefix", (-5i32).to_be_bytes().to_vec()),
        ("unknown API key", {
            let mut f = 12i32.to_be_bytes().to_vec();
            f.extend_from_slice(&[0x7f, 0x00, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0, 0]);
            f
        }),
        ("unsupported Produce version", {
            let mut f = frame(ApiKey::Produce, 9, 1, &produce("t", one_record("x"))).to_vec();
            f[6..8].copy_from_slice(&99i16.to_be_bytes());
            f
        }),
        // Found by the fuzzer: DeleteGroups v0 declaring ~650 million group
        // ids in 14 bytes once made the decoder allocate ~20 GB and abort.
        ("huge array count", {
            let body = [
                0x00, 0x2a, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x26, 0xff, 0x00, 0x05,
            ];
            let mut f = (body.len() as i32).to_be_bytes().to_vec();
            f.extend_from_slice(&body);
            f
        }),
        ("truncated body", {
            let full = frame(ApiKey::Produce, 9, 1, &produce("t", one_record("x")));
            let mut f = ((full.len() - 4 - 10) as i32).to_be_bytes().to_vec();
            f.extend_from_slice(&full[4..full.len() - 10]);
            f
        }),
    ];
    for (name, bytes) in cases {
        let mut s = connect(&server).await;
        s.write_all(&bytes).await.unwrap();
        let _ = s.shutdown().await;
        assert!(
            read_response(&mut s).await.is_none(),
            "{name}: the connection must be closed"
        );
    }
    // A frame cut off mid-way (client disconnects) must not hurt either.
    let mut s = connect(&server).await;
    s.write_all(&100i32.to_be_bytes()).await.unwrap();
    s.write_all(b"partial").await.unwrap();
    drop(s);

    api_versions_ok(&server).await;
    drop(bystander);
    let read = server.store().read("t", 0, 0, 1 << 20).unwrap();
    assert_eq!(read.high_watermark, 1, "nothing stored was harmed");
    server.shutdown().await;
}

#[tokio::test]
async fn unsupported_api_versions_version_gets_a_v0_answer() {
    let server = start().await;
    let mut s = connect(&server).await;
    s.write_all(&frame(
        ApiKey::ApiVersions,
        3,
        5,
        &ApiVersionsRequest::default(),
    ))
    .await
    .unwrap();
    read_response(&mut s).await.unwrap();
    // Version 42 does not exist: Kafka answers with v0 and UNSUPPORTED_VERSION.
    let mut f = BytesMut::new();
    let body_len = 2 + 2 + 4 + 2;
    f.put_i32(body_len);
    f.put_i16(ApiKey::ApiVersions as i16);
    f.put_i16(42);
    f.put_i32(9);
    f.put_i16(-1);
    s.write_all(&f).await.unwrap();
    let mut body = read_response(&mut s).await.expect("answered, not closed");
    assert_eq!(
        ResponseHeader::decode(&mut body, 0).unwrap().correlation_id,
        9
    );
    let response = ApiVersionsResponse::decode(&mut body, 0).unwrap();
    assert_eq!(response.error_code, 35, "UNSUPPORTED_VERSION");
    assert!(!response.api_keys.is_empty(), "lists what we support");
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_crc_is_corrupt_message_and_stores_nothing() {
    let server = start().await;
    assert_eq!(produce_code(&server, one_record("good")).await, 0);
    let mut bad = one_record("bad").to_vec();
    *bad.last_mut().unwrap() ^= 0x01;
    assert_eq!(
        produce_code(&server, Bytes::from(bad)).await,
        2,
        "CORRUPT_MESSAGE"
    );
    let mut truncated = one_record("short").to_vec();
    truncated.truncate(30);
    assert_eq!(
        produce_code(&server, Bytes::from(truncated)).await,
        2,
        "CORRUPT_MESSAGE"
    );
    assert_eq!(server.store().offsets("t", 0).unwrap(), (0, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn starts_in_milliseconds() {
    let started = std::time::Instant::now();
    let server = start().await;
    let _conn = connect(&server).await;
    let took = started.elapsed();
    // Reported, not asserted: timing belongs in benchmarks (docs/benchmarks.md).
    eprintln!("in-memory server accepted its first connection after {took:?}");
    server.shutdown().await;
}
