"""SASL and TLS listeners with kafka-python and confluent-kafka.

A round trip produces 20 records with distinct values over one listener and
reads them back over the same listener with a consumer group that commits;
the values read must be exactly the values sent (compared as multisets, so a
lost or a duplicated record fails). The failure cases check that the client
reports the specific error within a few seconds and that the broker then
still serves a correctly configured client: each has that client as its
control, so a broker that refused everything would fail them too.
"""

import contextlib
import logging
import re
import ssl
import uuid
from collections import Counter

import pytest

from adapters import (CLIENTS, CONFLUENT, KAFKA_PYTHON, consume_until, consumer,
                      producer, unique, wait_for)
from conftest import SASL_USER, running, secure_server

USER, PASSWORD = SASL_USER
RECORDS = 20
# How long a client may take to report a refused connection.
REFUSAL_TIMEOUT_S = 10
# Bounds on the failing clients: kafka-python gives up on metadata after
# MAX_BLOCK_MS (it never raises the authentication error itself).
MAX_BLOCK_MS = 2000
# Longer than REFUSAL_TIMEOUT_S: a refused record is purged, never timed out.
MESSAGE_TIMEOUT_MS = 15000

ROUND_TRIPS = [
    ("SASL_PLAINTEXT", "PLAIN"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
    ("SSL", None),
    ("SASL_SSL", "PLAIN"),
    ("SASL_SSL", "SCRAM-SHA-512"),
]


def security(client, protocol, ca_file=None, mechanism=None, user=USER, password=PASSWORD):
    """Client settings for `protocol` in the spelling of `client`."""
    tls = protocol in ("SSL", "SASL_SSL")
    sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
    if client == KAFKA_PYTHON:
        cfg = {"security_protocol": protocol}
        if tls:
            cfg["ssl_cafile"] = str(ca_file)
        if sasl:
            cfg.update(sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password)
        return cfg
    cfg = {"security.protocol": protocol}
    if tls:
        cfg["ssl.ca.location"] = str(ca_file)
    if sasl:
        cfg.update({"sasl.mechanisms": mechanism, "sasl.username": user, "sasl.password": password})
    return cfg


def listener_of(pier, protocol):
    return pier.bootstrap if protocol == "PLAINTEXT" else pier.listeners[protocol.lower()]


def assert_same_values(sent, got, what):
    missing = Counter(sent) - Counter(got)
    extra = Counter(got) - Counter(sent)
    assert not missing and not extra, "%s: %d of %d records missing %s, %d unexpected or duplicated %s" % (
        what, sum(missing.values()), len(sent), sorted(missing)[:5],
        sum(extra.values()), sorted(extra)[:5])


def advertised(client, p):
    """The broker addresses in the producer's metadata, as "HOST:PORT"."""
    if client == CONFLUENT:
        return {"%s:%d" % (b.host, b.port) for b in p.p.list_topics(timeout=10).brokers.values()}
    # kafka-python has no public call for it; its cluster metadata is refreshed by send().
    return {"%s:%d" % (b.host, b.port) for b in p.p._metadata.brokers()}


def round_trip(client, bootstrap, cfg, what):
    """Produces RECORDS distinct values to a new topic over `bootstrap`,
    consumes them with a new group over the same listener and commits."""
    topic, group = unique("sec"), unique("sec-g")
    values = [("%s %s #%d" % (what, uuid.uuid4().hex[:8], i)).encode() for i in range(RECORDS)]
    p = producer(client, bootstrap, extra=cfg)
    try:
        for v in values:
            p.send(topic, v)
        acked = p.flush(timeout=15)
        # Every broker the client learns of must be this listener, not the
        # plaintext one or another protocol's.
        assert advertised(client, p) == {bootstrap}, "%s: metadata advertises %s to a client of %s" % (
            what, advertised(client, p), bootstrap)
    finally:
        p.close()
    assert sorted(d.offset for d in acked) == list(range(RECORDS)), "%s: acknowledged offsets" % what
    c = consumer(client, bootstrap, group=group, topics=[topic], extra=cfg)
    try:
        records = consume_until(c, RECORDS, timeout=20, settle=0.5)
        c.commit()
        assert c.committed(topic, 0) == RECORDS, "%s: committed offset" % what
    finally:
        c.close()
    assert_same_values(values, [r.value for r in records], what)


# ---------------------------------------------------------------------------
# Refused clients


class _ConnectionErrors(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.errors = []

    def emit(self, record):
        args = record.args if isinstance(record.args, tuple) else ()
        self.errors.extend(a for a in args if isinstance(a, BaseException))


@contextlib.contextmanager
def kafka_python_connection_errors():
    """The exceptions kafka-python's connections close with. It logs them
    (logger kafka.conn) and retries; send() and poll() never raise them."""
    handler = _ConnectionErrors()
    log = logging.getLogger("kafka.conn")
    log.addHandler(handler)
    try:
        yield handler.errors
    finally:
        log.removeHandler(handler)


def kafka_python_refused(bootstrap, cfg, client_id):
    """Produces one record with kafka-python; returns (the exception the
    client raised, the errors its connections closed with). Fails the test if
    the record was stored."""
    from kafka import KafkaProducer

    with kafka_python_connection_errors() as errors:
        try:
            p = KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id,
                              max_block_ms=MAX_BLOCK_MS, api_version_auto_timeout_ms=MAX_BLOCK_MS,
                              request_timeout_ms=5000, **cfg)
        except Exception as e:
            return e, list(errors)
        try:
            md = p.send(unique("refused"), b"must not be stored").get(timeout=REFUSAL_TIMEOUT_S)
        except Exception as e:
            return e, list(errors)
        finally:
            p.close(timeout=5)
    raise AssertionError("kafka-python client %s stored a record at %s: the broker accepted it" % (client_id, md))


def confluent_refused(bootstrap, cfg, client_id, codes):
    """Produces one record with confluent-kafka; waits until error_cb reports
    one of `codes` and the delivery fails. Returns the reported errors."""
    from confluent_kafka import Producer

    errors, deliveries = [], []
    p = Producer(dict({"bootstrap.servers": bootstrap, "client.id": client_id,
                       "message.timeout.ms": MESSAGE_TIMEOUT_MS, "error_cb": errors.append}, **cfg))
    p.produce(unique("refused"), b"must not be stored", on_delivery=lambda err, msg: deliveries.append(err))

    def reported():
        p.poll(0.1)
        if deliveries and deliveries[0] is None:
            raise AssertionError("confluent-kafka client %s stored a record: the broker accepted it" % client_id)
        return any(e.code() in codes for e in errors)

    wait_for(reported, REFUSAL_TIMEOUT_S, lambda: "error %s in confluent-kafka's error_cb (got %s)" % (
        codes, [e.str() for e in errors[:3]]))
    p.purge()  # instead of waiting out message.timeout.ms
    assert p.flush(REFUSAL_TIMEOUT_S) == 0, "the refused record is still queued"
    assert len(deliveries) == 1 and deliveries[0] is not None, deliveries
    return errors


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def pier_warnings(pier, *needles):
    lines = []
    for path in pier.logs:
        text = ANSI_ESCAPE.sub("", path.read_text("utf-8", "replace"))
        lines += [line for line in text.splitlines() if " WARN " in line and all(n in line for n in needles)]
    return lines


def assert_pier_warned(pier, *needles):
    wait_for(lambda: pier_warnings(pier, *needles), 5,
             lambda: "a WARN line in pier's stderr with %s\n%s" % (needles, pier.stderr_tail(20)))


# ---------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("protocol,mechanism", ROUND_TRIPS,
                         ids=["%s-%s" % (p, m) if m else p for p, m in ROUND_TRIPS])
@pytest.mark.parametrize("client", CLIENTS)
def test_round_trip(secure_pier, client, protocol, mechanism):
    bootstrap = listener_of(secure_pier, protocol)
    cfg = security(client, protocol, secure_pier.ca_file, mechanism)
    round_trip(client, bootstrap, cfg, "%s over %s %s" % (client, protocol, mechanism or ""))


BAD_CREDENTIALS = [
    ("SASL_PLAINTEXT", "PLAIN"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
    ("SASL_SSL", "SCRAM-SHA-512"),
]


@pytest.mark.parametrize("protocol,mechanism", BAD_CREDENTIALS,
                         ids=["%s-%s" % pm for pm in BAD_CREDENTIALS])
@pytest.mark.parametrize("client", CLIENTS)
def test_wrong_password_and_unknown_user_fail_with_authentication_error(secure_pier, client, protocol,
                                                                         mechanism):
    """A wrong password and a user Pier does not know fail the same way; the
    control, the same settings with the right password, then works."""
    from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError

    bootstrap = listener_of(secure_pier, protocol)
    for user, password in [(USER, PASSWORD + "-wrong"), ("mallory", PASSWORD)]:
        case = "%s as %s/%s over %s %s" % (client, user, password, protocol, mechanism)
        client_id = unique("pier-test-badauth")
        cfg = security(client, protocol, secure_pier.ca_file, mechanism, user=user, password=password)
        if client == KAFKA_PYTHON:
            raised, errors = kafka_python_refused(bootstrap, cfg, client_id)
            assert isinstance(raised, KafkaTimeoutError), "%s: raised %r" % (case, raised)
            auth = [e for e in errors if isinstance(e, SaslAuthenticationFailedError)]
            assert auth, "%s: no SaslAuthenticationFailedError, connections closed with %r" % (case, errors[:5])
            message = str(auth[0])
        else:
            from confluent_kafka import KafkaError

            errors = confluent_refused(bootstrap, cfg, client_id, {KafkaError._AUTHENTICATION})
            message = next(e.str() for e in errors if e.code() == KafkaError._AUTHENTICATION)
        assert "invalid credentials" in message and mechanism in message, "%s: %s" % (case, message)
        assert_pier_warned(secure_pier, 'client_id="%s"' % client_id, "authentication failed")
    round_trip(client, bootstrap, security(client, protocol, secure_pier.ca_file, mechanism),
               "%s with the right password after the refusals" % client)


@pytest.mark.parametrize("client", CLIENTS)
def test_unsupported_mechanism_is_refused(secure_pier, client):
    """OAUTHBEARER is not one of Pier's mechanisms: the handshake fails with
    UNSUPPORTED_SASL_MECHANISM, naming the ones Pier has.

    kafka-python reads the SaslHandshake response without blocking and drops
    bytes that arrive together with the connection's end; Kafka keeps a
    connection that failed authentication open for
    connection.failed.authentication.delay.ms (100 ms) after its answer, so
    the answer is read first. A broker that closes at once makes kafka-python
    see only "socket disconnected" on most attempts."""
    bootstrap = secure_pier.listeners["sasl_plaintext"]
    client_id = unique("pier-test-oauth")
    if client == KAFKA_PYTHON:
        from kafka.errors import KafkaTimeoutError, UnsupportedSaslMechanismError
        from kafka.sasl.oauth import AbstractTokenProvider

        class Token(AbstractTokenProvider):
            def token(self):
                return "not-a-real-token"

        raised, errors = kafka_python_refused(bootstrap, {"security_protocol": "SASL_PLAINTEXT",
                                                          "sasl_mechanism": "OAUTHBEARER",
                                                          "sasl_oauth_token_provider": Token()}, client_id)
        assert isinstance(raised, KafkaTimeoutError), repr(raised)
        assert any(isinstance(e, UnsupportedSaslMechanismError) for e in errors), errors[:5]
    else:
        from confluent_kafka import KafkaError

        errors = confluent_refused(bootstrap, {"security.protocol": "SASL_PLAINTEXT",
                                               "sasl.mechanisms": "OAUTHBEARER",
                                               "enable.sasl.oauthbearer.unsecure.jwt": True,
                                               "sasl.oauthbearer.config": "principal=" + USER},
                                   client_id, {KafkaError._AUTHENTICATION})
        message = next(e.str() for e in errors if e.code() == KafkaError._AUTHENTICATION)
        assert "Unsupported SASL mechanism" in message, message
        offered = message.split("supported mechanisms: ", 1)[1].split(" ", 1)[0]
        assert set(offered.split(",")) == {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, message
    assert_pier_warned(secure_pier, 'client_id="%s"' % client_id)


@pytest.mark.parametrize("listener", ["ssl", "sasl_plaintext"])
@pytest.mark.parametrize("client", CLIENTS)
def test_plaintext_client_is_refused_and_broker_keeps_serving(secure_pier, client, listener):
    """A client that speaks neither TLS (on the SSL port) nor SASL (on the
    SASL_PLAINTEXT port) gets a transport error, stores nothing, and the
    broker keeps serving: right after, clients of the plaintext listener and
    of the refused one round-trip records."""
    bootstrap = secure_pier.listeners[listener]
    client_id = unique("pier-test-plaintext")
    if client == KAFKA_PYTHON:
        from kafka.errors import (KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable,
                                  SaslAuthenticationFailedError)

        raised, errors = kafka_python_refused(bootstrap, {}, client_id)
        # On the TLS port it never completes ApiVersions (NoBrokersAvailable
        # from the constructor); on the SASL port Pier answers ApiVersions and
        # closes on the first other request (so Metadata times out).
        assert isinstance(raised, NoBrokersAvailable if listener == "ssl" else KafkaTimeoutError), repr(raised)
        # (Retries cut short by max_block_ms also close with RequestTimedOutError.)
        assert any(isinstance(e, KafkaConnectionError) for e in errors), errors[:5]
        assert not any(isinstance(e, SaslAuthenticationFailedError) for e in errors), errors[:5]
    else:
        from confluent_kafka import KafkaError

        confluent_refused(bootstrap, {}, client_id, {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN})
    if listener == "ssl":
        assert_pier_warned(secure_pier, "TLS handshake failed")
    else:
        assert_pier_warned(secure_pier, 'client_id="%s"' % client_id)
    round_trip(client, secure_pier.bootstrap, {}, "%s over PLAINTEXT after the refusals" % client)
    protocol = listener.upper()
    round_trip(client, bootstrap, security(client, protocol, secure_pier.ca_file, "SCRAM-SHA-256"),
               "%s over %s after the refusals" % (client, protocol))


@pytest.mark.parametrize("client", CLIENTS)
def test_tls_client_on_plaintext_port_is_refused_and_broker_keeps_serving(secure_pier, client):
    """A TLS ClientHello read as a Kafka frame is a ~370 MB length: Pier must
    close the connection, not wait for or allocate the frame."""
    cfg = security(client, "SSL", secure_pier.ca_file)
    client_id = unique("pier-test-tls-on-plain")
    if client == KAFKA_PYTHON:
        from kafka.errors import KafkaConnectionError, NoBrokersAvailable

        raised, errors = kafka_python_refused(secure_pier.bootstrap, cfg, client_id)
        assert isinstance(raised, (NoBrokersAvailable, ssl.SSLError, KafkaConnectionError)), repr(raised)
    else:
        from confluent_kafka import KafkaError

        confluent_refused(secure_pier.bootstrap, cfg, client_id,
                          {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN})
    round_trip(client, secure_pier.bootstrap, {}, "%s over PLAINTEXT after the refusals" % client)


@pytest.mark.parametrize("client", CLIENTS)
def test_expired_server_certificate_is_refused(request, tmp_path, client):
    """A broker whose certificate expired yesterday: the TLS client refuses it
    (certificate verify failed) though it trusts the CA; the broker's
    plaintext listener (the control) works."""
    with running(request, secure_server(tmp_path, "expired", expired_cert=True)) as pier:
        bootstrap = pier.listeners["ssl"]
        cfg = security(client, "SSL", pier.ca_file)
        client_id = unique("pier-test-expired")
        if client == KAFKA_PYTHON:
            raised, _ = kafka_python_refused(bootstrap, cfg, client_id)
            assert isinstance(raised, ssl.SSLCertVerificationError), repr(raised)
            assert raised.verify_message == "certificate has expired", raised
        else:
            from confluent_kafka import KafkaError

            errors = confluent_refused(bootstrap, cfg, client_id, {KafkaError._SSL})
            message = next(e.str() for e in errors if e.code() == KafkaError._SSL)
            assert "certificate verify failed" in message, message
        assert_pier_warned(pier, "TLS handshake failed")
        round_trip(client, pier.bootstrap, {}, "%s over PLAINTEXT of the expired-certificate broker" % client)
