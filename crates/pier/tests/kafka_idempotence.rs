//! An idempotent producer's retry, as the wire sees it: the same batch
//! (producer id, epoch, sequence) sent again after its ack was lost is
//! answered with the original offset and stored once; a gap in sequence
//! numbers is OUT_OF_ORDER_SEQUENCE_NUMBER.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::produce_response::ProduceResponse;
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord, ProducerStamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn call<Req: Encodable, Resp: Decodable>(
    s: &mut TcpStream,
    api: ApiKey,
    version: i16,
    req: &Req,
) -> Resp {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("retry-test")));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, api.request_header_version(version))
        .unwrap();
    req.encode(&mut body, version).unwrap();
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    s.write_all(&frame).await.unwrap();
    let size = s.read_i32().await.unwrap();
    let mut buf = vec![0; size as usize];
    s.read_exact(&mut buf).await.unwrap();
    let mut buf = Bytes::from(buf);
    ResponseHeader::decode(&mut buf, api.response_header_version(version)).unwrap();
    Resp::decode(&mut buf, version).unwrap()
}

fn batch_of(values: &[&str], stamp: ProducerStamp) -> Bytes {
    let records: Vec<NewRecord> = values
        .iter()
        .map(|v| NewRecord {
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            timestamp_ms: 1,
            ..NewRecord::default()
        })
        .collect();
    batch::build(&records, Compression::None, Some(stamp))
}

async fn produce(s: &mut TcpStream, records: Bytes) -> (i16, i64) {
    let partition = PartitionProduceData::default()
        .with_index(0)
        .with_records(Some(records));
    let topic = TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_static_str("idem")))
        .with_partition_data(vec![partition]);
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![topic]);
    let resp: ProduceResponse = call(s, ApiKey::Produce, 9, &req).await;
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[tokio::test]
async fn a_retried_batch_is_stored_once_and_gaps_are_refused() {
    let server = pier::Server::builder()
        .in_memory()
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let mut s = TcpStream::connect(server.kafka_addr()).await.unwrap();
    let init: InitProducerIdResponse = call(
        &mut s,
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(-1),
    )
    .await;
    assert_eq!(init.error_code, 0);
    let stamp = |seq| ProducerStamp {
        producer_id: init.producer_id.0,
        producer_epoch: init.producer_epoch,
        base_sequence: seq,
    };
    assert_eq!(
        produce(&mut s, batch_of(&["a", "b"], stamp(0))).await,
        (0, 0)
    );
    assert_eq!(produce(&mut s, batch_of(&["c"], stamp(2))).await, (0, 2));
    // The client never saw the ack for sequence 2 and sends it again.
    assert_eq!(
        produce(&mut s, batch_of(&["c"], stamp(2))).await,
        (0, 2),
        "answered with the original offset"
    );
    assert_eq!(
        server.store().offsets("idem", 0).unwrap(),
        (0, 3),
        "stored once"
    );
    let (code, _) = produce(&mut s, batch_of(&["e"], stamp(5))).await;
    assert_eq!(code, 45, "OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert_eq!(produce(&mut s, batch_of(&["d"], stamp(3))).await, (0, 3));
    let fresh: InitProducerIdResponse = call(
        &mut s,
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(-1),
    )
    .await;
    assert_ne!(
        fresh.producer_id, init.producer_id,
        "every producer gets its own id"
    );
    server.shutdown().await;
}
