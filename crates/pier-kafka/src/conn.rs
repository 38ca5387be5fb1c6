//! One client connection: size-prefixed frames in, responses out, in order.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::REQUEST_MAX_BYTES;
use crate::apis;
use crate::broker::{Broker, Ctx};

/// Why a connection was closed on purpose.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("request frame of {0} bytes is outside 0..={max}", max = REQUEST_MAX_BYTES)]
    FrameSize(i64),
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("unsupported version {version} of {api:?}")]
    UnsupportedVersion { api: ApiKey, version: i16 },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Produce requests one connection may have submitted but not yet
/// answered. Their batches are queued for the writer in arrival order, so
/// several requests share one group commit while every partition keeps
/// the client's order; answers go out in request order.
pub const PIPELINE_MAX: usize = 256;

type Answer = std::pin::Pin<
    Box<dyn std::future::Future<Output = (Result<Option<Bytes>, ConnError>, bool)> + Send>,
>;

/// Serves one accepted TCP connection: TLS first on `SSL`/`SASL_SSL`
/// listeners, then SASL on `SASL_*` ones, then requests.
pub(crate) async fn run(
    socket: TcpStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
    listener: crate::server::ListenerSecurity,
) {
    let _ = socket.set_nodelay(true);
    let local = match socket.local_addr() {
        Ok(local) => local,
        Err(_) => return,
    };
    let id = broker.register(peer);
    let mut ctx = Ctx {
        broker: broker.clone(),
        local,
        peer,
        principal: crate::acl::ANONYMOUS.into(),
        connection: id,
        client_id: "".into(),
        peer_text: peer.to_string().into(),
    };
    match listener.tls {
        None => {
            let mut socket = socket;
            if listener.protocol.uses_sasl() && !sasl(&mut socket, &mut ctx, id).await {
                broker.unregister(id);
                return;
            }
            let (read, write) = socket.into_split();
            serve_frames(read, write, ctx, id, shutdown).await;
        }
        Some(acceptor) => {
            let Some(mut tls) = crate::tls::accept(&acceptor, socket, peer).await else {
                broker.unregister(id);
                return;
            };
            if listener.protocol.uses_sasl() && !sasl(&mut tls, &mut ctx, id).await {
                broker.unregister(id);
                return;
            }
            let (read, write) = tokio::io::split(tls);
            serve_frames(read, write, ctx, id, shutdown).await;
        }
    }
    broker.unregister(id);
}

/// Logs the client in; from then on its requests are the user's.
async fn sasl<S>(stream: &mut S, ctx: &mut Ctx, id: u64) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match crate::auth::authenticate(stream, ctx).await {
        Some(user) => {
            ctx.principal = user.as_str().into();
            ctx.broker.note_user(id, user);
            true
        }
        None => {
            // Kafka's connection.failed.authentication.delay.ms: a client
            // that reads the error answer lazily (kafka-python) would see
            // only the close if it came at once; it also slows guessing.
            tokio::time::sleep(crate::auth::FAILED_AUTH_CLOSE_DELAY).await;
            false
        }
    }
}

/// The request loop of an open (and, where required, authenticated)
/// connection.
async fn serve_frames<R, W>(
    read: R,
    write: W,
    mut ctx: Ctx,
    id: u64,
    mut shutdown: watch::Receiver<bool>,
) where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Unpin,
{
    let (broker, peer) = (ctx.broker.clone(), ctx.peer);
    // Answers are buffered and flushed when no more are ready.
    let mut write = tokio::io::BufWriter::with_capacity(64 * 1024, write);
    // Frames are read by their own task so waiting for one is cancel-safe.
    let (frames_tx, mut frames) = tokio::sync::mpsc::channel(PIPELINE_MAX);
    let reader = tokio::spawn(async move {
        // Room for many pipelined requests per read system call.
        let mut read = BufReader::with_capacity(64 * 1024, read);
        loop {
            let frame = read_frame(&mut read).await;
            let end = !matches!(frame, Ok(Some(_)));
            if frames_tx.send(frame).await.is_err() || end {
                return;
            }
        }
    });
    let network = broker.config.network.clone();
    let mut first = true;
    let mut client_id: Option<String> = None;
    let mut inflight: FuturesOrdered<Answer> = FuturesOrdered::new();
    loop {
        let frame = tokio::select! {
            biased;
            Some((result, lose)) = inflight.next(), if !inflight.is_empty() => {
                // Write every answer that is ready, then flush once: one
                // group commit often completes many requests.
                let mut open =
                    answer(&network, client_id.as_deref(), &mut write, peer, result, lose).await;
                while open {
                    match inflight.next().now_or_never() {
                        Some(Some((result, lose))) => {
                            open = answer(&network, client_id.as_deref(), &mut write, peer, result, lose)
                                .await;
                        }
                        _ => break,
                    }
                }
                if !open || write.flush().await.is_err() {
                    break;
                }
                continue;
            }
            frame = frames.recv(), if inflight.len() < PIPELINE_MAX => frame,
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {
                // Answer what was already submitted, then close.
                if answer_all(&mut inflight, &network, client_id.as_deref(), &mut write, peer).await {
                    let _ = write.flush().await;
                }
                break;
            }
        };
        let decoded = match frame {
            Some(Ok(Some(frame))) => decode_request(frame),
            Some(Ok(None)) | None => break,
            Some(Err(e)) => Err(e),
        };
        let produce = match &decoded {
            Ok(Decoded::Request { header, api, .. }) => {
                if client_id.as_deref() != header.client_id.as_deref() {
                    ctx.client_id = header.client_id.as_deref().unwrap_or_default().into();
                }
                client_id = header.client_id.as_deref().map(str::to_owned);
                *api == ApiKey::Produce
            }
            _ => false,
        };
        let verdict = network.verdict(client_id.as_deref(), first, produce);
        first = false;
        if verdict.close_before {
            tracing::info!(%peer, "network fault: connection reset");
            break;
        }
        if verdict.drop_request {
            continue;
        }
        let lose = verdict.close_after_produce;
        match decoded {
            Ok(Decoded::Request {
                header,
                api: ApiKey::Produce,
                version,
                request,
            }) => {
                let RequestKind::Produce(request) = *request else {
                    unreachable!("a produce header has a produce body")
                };
                ctx.broker.note_request(id, header.client_id.as_deref());
                let submitted = if verdict.fail_produce {
                    apis::produce::refuse_all(&ctx, request, version)
                } else {
                    apis::produce::submit_all(&ctx, request, version).await
                };
                let correlation_id = header.correlation_id;
                inflight.push_back(Box::pin(async move {
                    let response = apis::produce::finish(submitted).await;
                    let encoded = response
                        .map(|r| {
                            encode(
                                correlation_id,
                                ApiKey::Produce,
                                version,
                                &ResponseKind::Produce(r),
                            )
                        })
                        .transpose();
                    (encoded, lose)
                }));
            }
            other => {
                // Anything else waits for the produce requests before it,
                // so effects and answers keep the client's order; they are
                // flushed before a request that may wait (a long poll).
                if !answer_all(
                    &mut inflight,
                    &network,
                    client_id.as_deref(),
                    &mut write,
                    peer,
                )
                .await
                    || write.flush().await.is_err()
                {
                    break;
                }
                let result = match other {
                    Ok(d) => handle_decoded(&ctx, id, d).await,
                    Err(e) => Err(e),
                };
                if !answer(
                    &network,
                    client_id.as_deref(),
                    &mut write,
                    peer,
                    result,
                    lose,
                )
                .await
                    || write.flush().await.is_err()
                {
                    break;
                }
            }
        }
    }
    reader.abort();
}

/// Answers every submitted request, in order, waiting for each; `false`
/// closes the connection.
async fn answer_all(
    inflight: &mut FuturesOrdered<Answer>,
    network: &crate::toxics::NetworkFaults,
    client_id: Option<&str>,
    write: &mut (impl tokio::io::AsyncWriteExt + Unpin),
    peer: SocketAddr,
) -> bool {
    while let Some((result, lose)) = inflight.next().await {
        if !answer(network, client_id, write, peer, result, lose).await {
            return false;
        }
    }
    true
}

/// Writes one answer as the network faults allow; `false` closes the
/// connection.
async fn answer(
    network: &crate::toxics::NetworkFaults,
    client_id: Option<&str>,
    write: &mut (impl tokio::io::AsyncWriteExt + Unpin),
    peer: SocketAddr,
    result: Result<Option<Bytes>, ConnError>,
    lose: bool,
) -> bool {
    if lose {
        tracing::info!(%peer, "network fault: produce handled, acknowledgement lost");
        return false;
    }
    match result {
        Ok(Some(response)) => match network.write(client_id, write, &response).await {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "write failed");
                false
            }
        },
        Ok(None) => true,
        Err(ConnError::FrameSize(size)) if size >> 24 == 0x16 => {
            // 0x16 0x03: a TLS ClientHello read as a frame size.
            tracing::warn!(%peer, "a TLS client on a plaintext listener; connection closed");
            false
        }
        Err(e) => {
            tracing::info!(%peer, error = %e, "closing connection");
            false
        }
    }
}

/// `Ok(None)` at a clean end of stream.
pub(crate) async fn read_frame(
    read: &mut (impl AsyncReadExt + Unpin),
) -> Result<Option<Bytes>, ConnError> {
    read_frame_limited(read, REQUEST_MAX_BYTES).await
}

/// A frame of at most `max_bytes` (the size is checked before allocating).
pub(crate) async fn read_frame_limited(
    read: &mut (impl AsyncReadExt + Unpin),
    max_bytes: usize,
) -> Result<Option<Bytes>, ConnError> {
    let size = match read.read_i32().await {
        Ok(size) => size,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Ok(size) = usize::try_from(size) else {
        return Err(ConnError::FrameSize(i64::from(size)));
    };
    if !(4..=max_bytes).contains(&size) {
        return Err(ConnError::FrameSize(size as i64));
    }
    let mut buf = BytesMut::zeroed(size);
    read.read_exact(&mut buf).await?;
    Ok(Some(buf.freeze()))
}

/// What a frame decodes to.
#[derive(Debug)]
pub enum Decoded {
    Request {
        header: RequestHeader,
        api: ApiKey,
        version: i16,
        request: Box<RequestKind>,
    },
    /// An ApiVersions request in a version we do not speak: answer v0.
    UnsupportedApiVersions { correlation_id: i32 },
}

/// Decodes one request frame (without its length prefix). Never panics,
/// whatever the bytes: this is the fuzz target's entry point.
pub fn decode_request(mut frame: Bytes) -> Result<Decoded, ConnError> {
    if frame.len() < 8 {
        return Err(ConnError::FrameSize(frame.len() as i64));
    }
    let api_key_raw = (&frame[0..2]).get_i16();
    let version = (&frame[2..4]).get_i16();
    let api = ApiKey::try_from(api_key_raw).map_err(|()| ConnError::UnknownApi(api_key_raw))?;
    let supported = apis::supported(api);
    if !supported.is_some_and(|(min, max)| (min..=max).contains(&version)) {
        if api == ApiKey::ApiVersions {
            let correlation_id = (&frame[4..8]).get_i32();
            return Ok(Decoded::UnsupportedApiVersions { correlation_id });
        }
        return Err(ConnError::UnsupportedVersion { api, version });
    }
    let malformed = |reason: String| ConnError::Malformed {
        api,
        version,
        reason,
    };
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))
        .map_err(|e| malformed(format!("header: {e:#}")))?;
    let request =
        RequestKind::decode(api, &mut frame, version).map_err(|e| malformed(format!("{e:#}")))?;
    Ok(Decoded::Request {
        header,
        api,
        version,
        request: Box::new(request),
    })
}

/// Dispatches and encodes one decoded request. `Ok(None)`: no response
/// (produce with acks=0).
async fn handle_decoded(ctx: &Ctx, id: u64, decoded: Decoded) -> Result<Option<Bytes>, ConnError> {
    let (header, api, version, request) = match decoded {
        Decoded::UnsupportedApiVersions { correlation_id } => {
            // Kafka answers an unknown ApiVersions version with a v0 body
            // listing what it supports, so the client can pick again.
            let response = apis::api_versions::unsupported();
            return Ok(Some(encode(
                correlation_id,
                ApiKey::ApiVersions,
                0,
                &response,
            )?));
        }
        Decoded::Request {
            header,
            api,
            version,
            request,
        } => (header, api, version, *request),
    };
    ctx.broker.note_request(id, header.client_id.as_deref());
    let client_id = header.client_id.as_deref().unwrap_or_default();
    let Some(response) = apis::handle(ctx, request, version, client_id).await else {
        return Ok(None);
    };
    Ok(Some(encode(
        header.correlation_id,
        api,
        version,
        &response,
    )?))
}

pub(crate) fn encode(
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    response: &ResponseKind,
) -> Result<Bytes, ConnError> {
    // The size prefix is patched in once the body is encoded: one buffer,
    // sized up front for a fetch answer's records (megabytes, which would
    // otherwise be copied each time the buffer doubles).
    let records: usize = match response {
        ResponseKind::Fetch(f) => f
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .filter_map(|p| p.records.as_ref().map(|r| r.len()))
            .sum(),
        _ => 0,
    };
    let mut out = BytesMut::with_capacity(4 + 1024 + records);
    out.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = if api == ApiKey::ApiVersions {
        0 // always v0, whatever the request version
    } else {
        api.response_header_version(version)
    };
    let failed = |e: anyhow::Error| ConnError::Malformed {
        api,
        version,
        reason: format!("cannot encode response: {e:#}"),
    };
    header.encode(&mut out, header_version).map_err(failed)?;
    response.encode(&mut out, version).map_err(failed)?;
    let size = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&size.to_be_bytes());
    Ok(out.freeze())
}
