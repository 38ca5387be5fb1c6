//! SASL authentication of one connection on a `SASL_*` listener, before
//! any other request, as Kafka does it: ApiVersions is answered, then
//! SaslHandshake picks a mechanism and SaslAuthenticate carries the
//! exchange (or, after a v0 handshake, raw size-prefixed tokens). Anything
//! else before success, a failed exchange or an unknown mechanism closes
//! the connection after the error answer, with a log line naming the
//! client.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::apis::{self, str_bytes};
use crate::broker::Ctx;
use crate::conn::{self, Decoded};
use crate::sasl::{Exchange, Mechanism, Step};

/// How long a connection whose authentication failed stays open after the
/// error answer (Kafka's `connection.failed.authentication.delay.ms`).
pub const FAILED_AUTH_CLOSE_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Requests one connection may send before it has authenticated.
pub const AUTH_REQUESTS_MAX: usize = 16;

/// Where one connection's exchange stands.
struct Pending {
    exchange: Exchange,
    /// SaslHandshake v0: the tokens come raw, not in SaslAuthenticate.
    raw: bool,
}

/// Largest frame read before authentication (Kafka's
/// `sasl.server.max.receive.size`): an anonymous peer must not make the
/// broker allocate a 100 MiB request.
pub const AUTH_FRAME_MAX_BYTES: usize = 512 * 1024;

/// A connection must authenticate within this time.
pub const AUTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Password checks (PBKDF2, thousands of hash rounds) running at once, off
/// the async threads, so failed logins cannot stall produce and fetch.
static VERIFY_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Runs the exchange; `Some(user)` once authenticated, `None` when the
/// connection must close.
pub(crate) async fn authenticate<S>(stream: &mut S, ctx: &Ctx) -> Option<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(AUTH_TIMEOUT, exchange_phase(stream, ctx)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            refused(ctx, "", "no authentication within 10 s");
            None
        }
    }
}

async fn exchange_phase<S>(stream: &mut S, ctx: &Ctx) -> Option<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut pending: Option<Pending> = None;
    let mut client_id = String::new();
    for _ in 0..AUTH_REQUESTS_MAX {
        let frame = match conn::read_frame_limited(stream, AUTH_FRAME_MAX_BYTES).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(peer = %ctx.peer, error = %e, "closing a connection before authentication");
                return None;
            }
        };
        if let Some(p) = pending.as_mut().filter(|p| p.raw) {
            return raw_token(stream, ctx, &client_id, &mut p.exchange, &frame).await;
        }
        let (header, api, version, request) = match conn::decode_request(frame) {
            Ok(Decoded::Request {
                header,
                api,
                version,
                request,
            }) => (header, api, version, *request),
            Ok(Decoded::UnsupportedApiVersions { correlation_id }) => {
                let answer = apis::api_versions::unsupported();
                send(stream, correlation_id, ApiKey::ApiVersions, 0, &answer).await?;
                continue;
            }
            Err(e) => {
                tracing::warn!(peer = %ctx.peer, error = %e, "closing a connection before authentication");
                return None;
            }
        };
        client_id = header.client_id.as_deref().unwrap_or_default().to_owned();
        let cid = header.correlation_id;
        match request {
            RequestKind::ApiVersions(_) => {
                let answer = ResponseKind::ApiVersions(apis::api_versions::handle());
                send(stream, cid, ApiKey::ApiVersions, version, &answer).await?;
            }
            RequestKind::SaslHandshake(r) => {
                let (answer, chosen) = handshake(&r.mechanism);
                let answer = ResponseKind::SaslHandshake(answer);
                send(stream, cid, ApiKey::SaslHandshake, version, &answer).await?;
                let Some(mechanism) = chosen else {
                    refused(
                        ctx,
                        &client_id,
                        &format!("unsupported SASL mechanism {:?}", &*r.mechanism),
                    );
                    return None;
                };
                pending = Some(Pending {
                    exchange: Exchange::new(mechanism),
                    raw: version == 0,
                });
            }
            RequestKind::SaslAuthenticate(r) => {
                let Some(p) = pending.as_mut() else {
                    let answer = auth_error(
                        ResponseError::IllegalSaslState,
                        "SaslAuthenticate before SaslHandshake",
                    );
                    send(stream, cid, ApiKey::SaslAuthenticate, version, &answer).await?;
                    refused(ctx, &client_id, "SaslAuthenticate before SaslHandshake");
                    return None;
                };
                let step = p
                    .exchange
                    .step(&r.auth_bytes, ctx.broker.config.users.as_ref());
                let mechanism = p.exchange.mechanism();
                let (answer, outcome) = match step {
                    Ok(Step::Challenge(bytes)) => (auth_ok(bytes), Outcome::Continue),
                    Ok(Step::Done { user, reply }) => (auth_ok(reply), Outcome::Done(user)),
                    Err(e) => (
                        auth_error(ResponseError::SaslAuthenticationFailed, &e.to_string()),
                        Outcome::Failed(format!("{mechanism}: {e}")),
                    ),
                };
                send(stream, cid, ApiKey::SaslAuthenticate, version, &answer).await?;
                match outcome {
                    Outcome::Continue => {}
                    Outcome::Done(user) => return Some(authenticated(ctx, &client_id, user)),
                    Outcome::Failed(why) => {
                        refused(ctx, &client_id, &why);
                        return None;
                    }
                }
            }
            _ => {
                refused(
                    ctx,
                    &client_id,
                    &format!("{api:?} request before authentication"),
                );
                return None;
            }
        }
    }
    refused(ctx, &client_id, "too many requests without authenticating");
    None
}

enum Outcome {
    Continue,
    Done(String),
    Failed(String),
}

/// The rest of an exchange after a v0 handshake: raw tokens both ways.
async fn raw_token<S>(
    stream: &mut S,
    ctx: &Ctx,
    client_id: &str,
    exchange: &mut Exchange,
    first: &Bytes,
) -> Option<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut token = first.clone();
    loop {
        let step = step_off_thread(exchange, token.clone(), ctx).await;
        let mechanism = exchange.mechanism();
        let (reply, user) = match step {
            Ok(Step::Challenge(bytes)) => (bytes, None),
            Ok(Step::Done { user, reply }) => (reply, Some(user)),
            Err(e) => {
                // v0 has no error field: Kafka closes the connection.
                refused(ctx, client_id, &format!("{mechanism}: {e}"));
                return None;
            }
        };
        let mut out = BytesMut::with_capacity(4 + reply.len());
        out.put_i32(reply.len() as i32);
        out.put_slice(&reply);
        if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
            return None;
        }
        if let Some(user) = user {
            return Some(authenticated(ctx, client_id, user));
        }
        token = match conn::read_frame(stream).await {
            Ok(Some(frame)) => frame,
            _ => return None,
        };
    }
}

fn handshake(asked: &str) -> (SaslHandshakeResponse, Option<Mechanism>) {
    let enabled = Mechanism::ALL.iter().map(|m| str_bytes(m.name())).collect();
    let chosen = Mechanism::from_name(asked);
    let code = if chosen.is_some() {
        0
    } else {
        ResponseError::UnsupportedSaslMechanism.code()
    };
    let answer = SaslHandshakeResponse::default()
        .with_error_code(code)
        .with_mechanisms(enabled);
    (answer, chosen)
}

fn auth_ok(bytes: Vec<u8>) -> ResponseKind {
    ResponseKind::SaslAuthenticate(
        SaslAuthenticateResponse::default().with_auth_bytes(bytes.into()),
    )
}

fn auth_error(code: ResponseError, message: &str) -> ResponseKind {
    ResponseKind::SaslAuthenticate(
        SaslAuthenticateResponse::default()
            .with_error_code(code.code())
            .with_error_message(Some(str_bytes(message))),
    )
}

/// SaslHandshake or SaslAuthenticate after authentication, or on a
/// listener without SASL: Kafka's `ILLEGAL_SASL_STATE`.
pub(crate) fn illegal_state(request: &RequestKind) -> Option<ResponseKind> {
    match request {
        RequestKind::SaslHandshake(_) => Some(ResponseKind::SaslHandshake(
            SaslHandshakeResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code()),
        )),
        RequestKind::SaslAuthenticate(_) => Some(auth_error(
            ResponseError::IllegalSaslState,
            "this connection needs no (more) SASL authentication",
        )),
        _ => None,
    }
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    answer: &ResponseKind,
) -> Option<()> {
    let bytes = conn::encode(correlation_id, api, version, answer).ok()?;
    stream.write_all(&bytes).await.ok()?;
    stream.flush().await.ok()
}

fn authenticated(ctx: &Ctx, client_id: &str, user: String) -> String {
    tracing::info!(peer = %ctx.peer, client_id, user, "SASL authentication succeeded");
    user
}

fn refused(ctx: &Ctx, client_id: &str, why: &str) {
    tracing::warn!(peer = %ctx.peer, client_id, reason = why, "SASL authentication failed; connection closed");
}

/// One step of the exchange on a blocking thread (a step may run PBKDF2).
async fn step_off_thread(
    exchange: &mut Exchange,
    message: Bytes,
    ctx: &Ctx,
) -> Result<Step, crate::sasl::SaslError> {
    let _permit = VERIFY_PERMITS.acquire().await;
    let users = ctx.broker.config.users.clone();
    let mut owned = std::mem::replace(exchange, Exchange::new(exchange.mechanism()));
    let joined = tokio::task::spawn_blocking(move || {
        let result = owned.step(&message, users.as_ref());
        (owned, result)
    })
    .await;
    match joined {
        Ok((owned, result)) => {
            *exchange = owned;
            result
        }
        Err(_) => Err(crate::sasl::SaslError::ExchangeEnded),
    }
}
