//! SASL on the Kafka port, byte by byte: bad SCRAM messages and requests
//! before authentication get Kafka's errors and a closed connection, and
//! the broker keeps serving everyone else. Users added through the HTTP
//! API can log in; deleted ones cannot. (Real clients over every listener
//! kind are in tests/clients.)

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::messages::sasl_authenticate_request::SaslAuthenticateRequest;
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_request::SaslHandshakeRequest;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use pier::pier_kafka::SecurityProtocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const AUTH_FAILED: i16 = 58;
const UNSUPPORTED_MECHANISM: i16 = 33;
const ILLEGAL_STATE: i16 = 34;

async fn start() -> pier::Server {
    pier::Server::builder()
        .in_memory()
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .kafka_listener("SASL_PLAINTEXT://127.0.0.1:0".parse().unwrap())
        .sasl_user("alice", "wonderland")
        .start()
        .await
        .unwrap()
}

fn sasl_addr(server: &pier::Server) -> std::net::SocketAddr {
    server
        .kafka_listeners()
        .into_iter()
        .find(|(p, _)| *p == SecurityProtocol::SaslPlaintext)
        .unwrap()
        .1
}

struct Conn {
    stream: TcpStream,
    next_id: i32,
}

impl Conn {
    async fn open(server: &pier::Server) -> Self {
        Self {
            stream: TcpStream::connect(sasl_addr(server)).await.unwrap(),
            next_id: 1,
        }
    }

    /// Sends one request; `None` if the server closed instead of answering.
    async fn call<R: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        body: &impl Encodable,
    ) -> Option<R> {
        let id = self.next_id;
        self.next_id += 1;
        let out = common::kafka::frame(api, version, id, "sasl-test", body);
        self.stream.write_all(&out).await.ok()?;
        let mut frame = self.read().await?;
        let header =
            ResponseHeader::decode(&mut frame, api.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, id);
        Some(R::decode(&mut frame, version).unwrap())
    }

    async fn read(&mut self) -> Option<Bytes> {
        let read = async {
            let size = self.stream.read_i32().await.ok()?;
            let mut buf = vec![0; size as usize];
            self.stream.read_exact(&mut buf).await.ok()?;
            Some(Bytes::from(buf))
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("answered or closed in time")
    }

    async fn closed(&mut self) -> bool {
        self.read().await.is_none()
    }

    async fn handshake(&mut self, mechanism: &'static str) -> SaslHandshakeResponse {
        let req =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
        self.call(ApiKey::SaslHandshake, 1, &req).await.unwrap()
    }

    async fn authenticate(&mut self, bytes: &[u8]) -> Option<SaslAuthenticateResponse> {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(bytes));
        self.call(ApiKey::SaslAuthenticate, 2, &req).await
    }

    async fn metadata(&mut self) -> Option<MetadataResponse> {
        self.call(ApiKey::Metadata, 12, &MetadataRequest::default())
            .await
    }
}

/// A PLAIN login, then a Metadata request: the broker serves this client.
async fn plain_login_works(server: &pier::Server, user: &str, password: &str) -> bool {
    let mut c = Conn::open(server).await;
    assert_eq!(c.handshake("PLAIN").await.error_code, 0);
    let token = format!("\0{user}\0{password}");
    let answer = c.authenticate(token.as_bytes()).await.unwrap();
    if answer.error_code != 0 {
        assert_eq!(answer.error_code, AUTH_FAILED);
        assert!(c.closed().await, "a failed login closes the connection");
        return false;
    }
    c.metadata().await.is_some()
}

/// Sends `client_first`, then builds the final message from the server's
/// nonce with `make_final`; returns the answer to the final message.
async fn scram(
    server: &pier::Server,
    make_final: impl Fn(&str) -> String,
) -> SaslAuthenticateResponse {
    let mut c = Conn::open(server).await;
    assert_eq!(c.handshake("SCRAM-SHA-256").await.error_code, 0);
    let first = c
        .authenticate(b"n,,n=alice,r=clientnonce123")
        .await
        .unwrap();
    assert_eq!(first.error_code, 0);
    let server_first = String::from_utf8(first.auth_bytes.to_vec()).unwrap();
    let nonce = server_first
        .split(',')
        .find_map(|a| a.strip_prefix("r="))
        .unwrap()
        .to_owned();
    assert!(nonce.starts_with("clientnonce123") && nonce.len() > 20);
    let answer = c.authenticate(make_final(&nonce).as_bytes()).await.unwrap();
    if answer.error_code != 0 {
        assert!(c.closed().await, "a failed exchange closes the connection");
    }
    answer
}

#[tokio::test]
async fn bad_scram_messages_get_an_error_and_others_are_still_served() {
    let server = start().await;
    let zero_proof = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    type MakeFinal = Box<dyn Fn(&str) -> String>;
    let cases: [(&str, MakeFinal); 4] = [
        (
            "wrong nonce",
            Box::new(move |_| format!("c=biws,r=clientnonce123forged,p={zero_proof}")),
        ),
        (
            "bad proof",
            Box::new(move |n| format!("c=biws,r={n},p={zero_proof}")),
        ),
        ("truncated", Box::new(|n| format!("c=biws,r={n}"))),
        ("garbage", Box::new(|_| "\u{1}\u{2}not scram".to_owned())),
    ];
    for (what, make_final) in cases {
        let answer = scram(&server, make_final).await;
        assert_eq!(answer.error_code, AUTH_FAILED, "{what}");
        let message = answer
            .error_message
            .map(|m| m.to_string())
            .unwrap_or_default();
        // Each is refused for its own reason (the zero proof alone would
        // refuse the forged nonce too).
        let reason = match what {
            "wrong nonce" => "nonce",
            "bad proof" => "invalid credentials",
            _ => "malformed",
        };
        assert!(message.contains(reason), "{what}: {message}");
        assert!(
            plain_login_works(&server, "alice", "wonderland").await,
            "served after {what}"
        );
    }
    // A truncated first message too.
    let mut c = Conn::open(&server).await;
    c.handshake("SCRAM-SHA-512").await;
    let answer = c.authenticate(b"n,,n=alice").await.unwrap();
    assert_eq!(answer.error_code, AUTH_FAILED);
    assert!(plain_login_works(&server, "alice", "wonderland").await);
}

#[tokio::test]
async fn wrong_password_unknown_mechanism_and_early_requests_are_refused() {
    let server = start().await;
    assert!(!plain_login_works(&server, "alice", "looking-glass").await);
    assert!(!plain_login_works(&server, "mallory", "wonderland").await);

    let mut c = Conn::open(&server).await;
    let answer = c.handshake("GSSAPI").await;
    assert_eq!(answer.error_code, UNSUPPORTED_MECHANISM);
    let offered: Vec<&str> = answer.mechanisms.iter().map(|m| &**m).collect();
    assert_eq!(offered, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    assert!(c.closed().await);

    let mut c = Conn::open(&server).await;
    assert!(
        c.metadata().await.is_none(),
        "no requests before authentication"
    );

    let mut c = Conn::open(&server).await;
    let answer = c.authenticate(b"\0alice\0wonderland").await.unwrap();
    assert_eq!(
        answer.error_code, ILLEGAL_STATE,
        "authenticate before handshake"
    );

    // After login, another handshake is out of place; the connection stays.
    let mut c = Conn::open(&server).await;
    c.handshake("PLAIN").await;
    assert_eq!(
        c.authenticate(b"\0alice\0wonderland")
            .await
            .unwrap()
            .error_code,
        0
    );
    assert_eq!(c.handshake("PLAIN").await.error_code, ILLEGAL_STATE);
    assert!(c.metadata().await.is_some());
    // The plaintext listener needs no login: Metadata is answered at once.
    let mut plain = Conn {
        stream: TcpStream::connect(server.kafka_addr()).await.unwrap(),
        next_id: 1,
    };
    assert!(plain.metadata().await.is_some());
}

// ureq blocks: the server needs threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_managed_over_http_can_log_in_until_deleted() {
    let server = start().await;
    let http = server.http_addr().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://{http}/api/v1/users/bob");
    assert!(!plain_login_works(&server, "bob", "builder").await);
    let put = agent
        .put(&url)
        .send_json(serde_json::json!({ "password": "builder" }))
        .unwrap();
    assert_eq!(put.status(), 204);
    assert!(plain_login_works(&server, "bob", "builder").await);
    let listed: Vec<String> = agent
        .get(&format!("http://{http}/api/v1/users"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(listed, ["alice", "bob"]);
    let security: serde_json::Value = agent
        .get(&format!("http://{http}/api/v1/security"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let protocols: Vec<&str> = security["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols, ["PLAINTEXT", "SASL_PLAINTEXT"]);
    assert!(
        !security.to_string().contains("builder"),
        "never a password"
    );
    assert_eq!(agent.delete(&url).call().unwrap().status(), 204);
    assert!(!plain_login_works(&server, "bob", "builder").await);
    assert_eq!(agent.delete(&url).call().unwrap().status(), 404);
}

mod common;

#[test]
fn the_cli_adds_lists_and_deletes_users() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let server = common::ServeProcess::spawn(&[
        "--in-memory",
        "--kafka",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--kafka-listener",
        "SASL_PLAINTEXT://127.0.0.1:0",
    ]);
    let http = server.addr("http");
    let pier = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(args)
            .args(["--server", &http])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let added = pier(&["user", "add", "carol"], "s3cret\n");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let empty = pier(&["user", "add", "dave"], "");
    assert!(!empty.status.success(), "no password, no user");
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no password"));
    let list = pier(&["user", "list", "--json"], "");
    let names: Vec<String> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(names, ["carol"]);
    assert!(pier(&["user", "delete", "carol"], "").status.success());
    let gone = pier(&["user", "delete", "carol"], "");
    assert!(!gone.status.success());
    let list = pier(&["user", "list", "--json"], "");
    let names: Vec<String> = serde_json::from_slice(&list.stdout).unwrap();
    assert!(names.is_empty());
}
