"""Starts a fresh Pier broker per test.

`pier` fixture: a running broker with its own temporary data directory.
    pier.bootstrap          "127.0.0.1:PORT"
    pier.restart(kill=...)  stop (SIGKILL if kill else SIGTERM) and start again
                            on the same data directory and the same port
`secure_pier` fixture: the same, with a certificate (`pier tls init`), the
user SASL_USER and SASL_PLAINTEXT, SSL and SASL_SSL listeners besides the
plaintext one.
    secure_pier.listeners   {"sasl_plaintext": "127.0.0.1:PORT", "ssl": ..., "sasl_ssl": ...}
    secure_pier.ca_file     the CA certificate clients must trust
The broker is always stopped after the test, even when the test fails; the
broker's stderr is printed for a failed test.

The binary comes from $PIER_BIN (default target/debug/pier in the repo root).
"""

import contextlib
import ctypes
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
# Listeners besides the plaintext one follow the data directory as
# `name=HOST:PORT` (e.g. `sasl_plaintext=127.0.0.1:PORT ssl=...`).
READY_RE = re.compile(r"^pier ready kafka=(?P<host>[^\s]+):(?P<port>\d+) http=(?P<http>[^\s]+) "
                      r"data=(?P<data>.+?)(?P<listeners>(?: [a-z_]+=[^\s]+)*)$")
SASL_USER = ("alice", "wonderland")
SECURE_PROTOCOLS = ("SASL_PLAINTEXT", "SSL", "SASL_SSL")
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pier_bin():
    raw = os.environ.get("PIER_BIN", "target/debug/pier")
    p = Path(raw)
    if not p.is_absolute():
        here = Path.cwd() / p
        p = here if here.exists() else REPO_ROOT / p
    return p


def _die_with_parent():
    """In the child before exec: get SIGKILL if the test process dies, so a
    crashed or killed test run never leaves a broker behind."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class PierServer:
    def __init__(self, binary, data_dir, log_dir, extra_args=()):
        self.binary = Path(binary)
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.extra_args = list(extra_args)
        self.host = "127.0.0.1"
        self.port = 0
        self.http_port = 0
        self.http = None
        self.listeners = {}  # extra listeners from the ready line: name -> "HOST:PORT"
        self.proc = None
        self.starts = 0
        self.logs = []
        self._stopping = False

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def ca_file(self):
        """The CA that `pier tls init` made: what TLS clients must trust."""
        return self.data_dir / "tls" / "ca.pem"

    def start(self):
        if not self.binary.exists():
            raise AssertionError(
                "Pier binary not found at %s (set PIER_BIN or build it first)" % self.binary)
        # On a restart the old port may briefly be unavailable: retry a few times.
        attempts = 10 if self.port else 1
        last = None
        for attempt in range(attempts):
            try:
                self._start_once()
                return
            except _StartFailed as e:
                last = e
                time.sleep(0.5)
        raise AssertionError(str(last))

    def _start_once(self):
        self.starts += 1
        log_path = self.log_dir / ("pier-%d.stderr.log" % self.starts)
        self.logs.append(log_path)
        args = [str(self.binary), "serve", "--data-dir", str(self.data_dir),
                "--kafka", "127.0.0.1:%d" % self.port,
                "--http", "127.0.0.1:%d" % self.http_port] + self.extra_args
        with open(log_path, "wb") as err:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=err, preexec_fn=_die_with_parent, cwd=str(self.log_dir))
        lines = queue.Queue()

        def pump():  # keep reading stdout so the broker never blocks on it
            for raw in proc.stdout:
                lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            line = lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            proc.kill()
            proc.wait()
            raise _StartFailed("pier printed no ready line within %ss: %s\n%s"
                               % (READY_TIMEOUT, " ".join(args), self.stderr_tail()))
        if line is None:
            rc = proc.wait()
            raise _StartFailed("pier exited (rc=%s) before printing its ready line: %s\n%s"
                               % (rc, " ".join(args), self.stderr_tail()))
        m = READY_RE.match(line)
        if not m:
            proc.kill()
            proc.wait()
            raise AssertionError("unexpected first stdout line from pier: %r "
                                 "(want 'pier ready kafka=HOST:PORT http=HOST:PORT data=DIR')" % line)
        port = int(m.group("port"))
        assert port != 0, line
        if self.port:
            assert port == self.port, "restarted on port %d, asked for %d" % (port, self.port)
        assert Path(m.group("data")).resolve() == self.data_dir.resolve(), \
            "ready line names data dir %r, expected %s" % (m.group("data"), self.data_dir)
        self.host, self.port, self.proc = m.group("host"), port, proc
        self.http = m.group("http")
        self.http_port = int(self.http.rsplit(":", 1)[1])
        # Extra listeners asked for with port 0 get a new port on each start.
        self.listeners = dict(kv.split("=", 1) for kv in m.group("listeners").split())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill=False):
        """Stops the broker; returns its exit code. Graceful (SIGTERM) unless kill."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is not None:
            raise AssertionError("pier had already exited (rc=%s) before being stopped\n%s"
                                 % (proc.returncode, self.stderr_tail()))
        if kill:
            proc.send_signal(signal.SIGKILL)
            return proc.wait()
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("pier did not exit within %ss of SIGTERM\n%s"
                                 % (STOP_TIMEOUT, self.stderr_tail()))

    def restart(self, kill=True):
        """Stops (SIGKILL if kill, else SIGTERM) and starts again on the same
        data directory and port. A graceful stop must exit with status 0."""
        rc = self.stop(kill=kill)
        if not kill:
            assert rc == 0, "pier exited with %s after SIGTERM (want 0)\n%s" % (rc, self.stderr_tail())
        self.start()

    def stderr_tail(self, lines=60):
        out = []
        for p in self.logs[-2:]:
            try:
                text = p.read_text("utf-8", "replace").splitlines()
            except OSError:
                continue
            out.append("---- %s (last %d lines) ----" % (p.name, lines))
            out.extend(text[-lines:])
        return "\n".join(out)


class _StartFailed(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def tls_init(data_dir, expired=False):
    """`pier tls init`: a CA and a server certificate in data_dir/tls/.
    expired: a server certificate that expired yesterday (hidden flag)."""
    args = [str(pier_bin()), "tls", "init", "--data-dir", str(data_dir)]
    if expired:
        args.append("--expired")
    r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("%s failed (rc=%s):\n%s%s" % (" ".join(args), r.returncode,
                                                        r.stdout.decode(errors="replace"),
                                                        r.stderr.decode(errors="replace")))


def secure_server(tmp_path, name="data", expired_cert=False):
    """A PierServer (not started) with a fresh certificate, the SASL user
    SASL_USER and one listener of each SECURE_PROTOCOLS on a free port."""
    data = tmp_path / name
    logs = tmp_path / (name + "-logs")
    logs.mkdir()
    tls_init(data, expired=expired_cert)
    args = ["--sasl-user", "%s:%s" % SASL_USER]
    for protocol in SECURE_PROTOCOLS:
        args += ["--kafka-listener", "%s://127.0.0.1:0" % protocol]
    return PierServer(pier_bin(), data, logs, extra_args=args)


@contextlib.contextmanager
def running(request, server):
    """Starts server; afterwards stops it (SIGTERM, which must exit 0), and
    prints its stderr if the test failed or the broker misbehaved."""
    server.start()
    try:
        yield server
    finally:
        failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
        crashed = server.proc is not None and server.proc.poll() is not None
        rc = None
        try:
            if server.proc is not None and not crashed:
                rc = server.stop(kill=False)
        finally:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait()
        if failed or crashed or (rc not in (None, 0)):
            print("\n" + server.stderr_tail(200))
        if crashed:
            raise AssertionError("pier exited on its own during the test (rc=%s)"
                                 % server.proc.returncode)
        if rc not in (None, 0):
            raise AssertionError("pier exited with %s after SIGTERM (want 0)" % rc)


@pytest.fixture
def pier(request, tmp_path):
    data = tmp_path / "data"
    logs = tmp_path / "logs"
    logs.mkdir()
    with running(request, PierServer(pier_bin(), data, logs)) as server:
        yield server


@pytest.fixture
def cutting_pier(request, tmp_path):
    """A broker whose power can be cut: unsynced writes are held in a model
    of the page cache (`pier serve --page-cache-model`)."""
    data = tmp_path / "data"
    logs = tmp_path / "logs"
    logs.mkdir()
    server = PierServer(pier_bin(), data, logs, extra_args=["--page-cache-model"])
    with running(request, server) as server:
        yield server


@pytest.fixture
def secure_pier(request, tmp_path):
    with running(request, secure_server(tmp_path)) as server:
        yield server


class ReferenceKafka:
    """Apache Kafka 4.4 from its jars (`tests/reference/kafka`), KRaft, on
    loopback: the same scenarios run against it and against Pier."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        script = os.path.join(REPO_ROOT, "tests", "reference", "kafka")
        out = subprocess.run([script, "start", self.workdir], check=True,
                             capture_output=True, text=True, timeout=180).stdout
        self.bootstrap = re.search(r"bootstrap=(\S+)", out).group(1)
        self.script = script

    def stop(self):
        subprocess.run([self.script, "stop", self.workdir], check=False, timeout=60)


@pytest.fixture(scope="session")
def reference_kafka(tmp_path_factory):
    k = ReferenceKafka(tmp_path_factory.mktemp("reference-kafka"))
    yield k
    k.stop()


@pytest.fixture(params=["pier", "kafka"])
def broker(request):
    """Pier, then the reference Kafka: for scenarios that must behave the
    same on both (they use only `.bootstrap`)."""
    if request.param == "pier":
        yield request.getfixturevalue("pier")
    else:
        yield request.getfixturevalue("reference_kafka")
