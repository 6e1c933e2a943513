# SPDX-License-Identifier: MIT
"""Shared helpers for edgeproxy integration tests (python3 stdlib only).

- EchoOrigin: a loopback HTTP/1.1 origin (threads) answering JSON that echoes what it received.
- Proxy: writes a config into a temp dir, starts the edgeproxy binary on free ports (--listen/--admin-listen),
  waits until it answers, sends signals, and stops ONLY the process it started, by pid, with bounded waits.
- request()/get_json()/admin(): small http.client wrappers.

Typical use:
    import eptest
    with eptest.EchoOrigin("a") as o, eptest.Proxy(eptest.basic_config({"web": [o.port]})) as p:
        st, hdrs, body = eptest.request(p.port, "GET", "/x")
"""
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOURCE_DIR = os.environ.get("EP_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
ADMIN_TOKEN = "integration-admin-token-0123456789"

_started = []  # Popen objects this module started (and only those are ever signalled)


def binary():
    """Path of the edgeproxy binary: $EDGEPROXY, else build/edgeproxy in the source tree."""
    b = os.environ.get("EDGEPROXY")
    if b:
        return os.path.abspath(b)
    for cand in ("build/edgeproxy", "build-core/edgeproxy"):
        p = os.path.join(SOURCE_DIR, cand)
        if os.path.exists(p):
            return p
    raise RuntimeError("edgeproxy binary not found: set EDGEPROXY")


def sanitized():
    """True when the edgeproxy binary is an ASan build: its allocator quarantines freed memory, so RSS says
    nothing about leaks there (LeakSanitizer checks those at exit instead)."""
    try:
        out = subprocess.run(["ldd", binary()], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libasan" in out


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value (returned) or the timeout passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


# --------------------------------------------------------------------------- origins

class EchoOrigin:
    """HTTP/1.1 keep-alive origin on 127.0.0.1 answering every request with JSON:
    {"backend", "method", "path", "host", "x_forwarded_for", "x_forwarded_proto", "x_request_id", "headers", "body"}.
    delay: seconds to sleep before answering (slow origin). status: response status.
    .requests counts requests, .connections counts accepted TCP connections.
    A request can shape its own response (for response-side tests): "X-Origin-Add-Header: Name: value" adds
    that header, "X-Origin-Pad: N" appends N bytes of padding to the JSON body ("pad" field), and
    "X-Origin-Chunked: 1" sends the body chunked instead of with Content-Length."""

    def __init__(self, name="origin", delay=0.0, status=200, port=0, extra_headers=None):
        self.name, self.delay, self.status = name, delay, status
        self.extra_headers = extra_headers or {}
        self.requests = 0
        self.connections = 0
        self.seen = []  # last requests (dicts), bounded
        self._lock = threading.Lock()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in separate writes: without this, Nagle + the proxy's delayed ACK
            # stall every response by ~40 ms
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with origin._lock:
                    origin.connections += 1

            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                info = {
                    "backend": origin.name,
                    "method": self.command,
                    "path": self.path,
                    "host": self.headers.get("Host"),
                    "x_forwarded_for": self.headers.get("X-Forwarded-For"),
                    "x_forwarded_proto": self.headers.get("X-Forwarded-Proto"),
                    "x_request_id": self.headers.get("X-Request-Id"),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("latin-1"),
                }
                with origin._lock:
                    origin.requests += 1
                    origin.seen.append(info)
                    del origin.seen[:-200]
                if origin.delay:
                    time.sleep(origin.delay)
                pad = min(int(self.headers.get("X-Origin-Pad") or 0), 1 << 24)
                if pad:
                    info["pad"] = "p" * pad
                out = json.dumps(info).encode()
                chunked = self.headers.get("X-Origin-Chunked") == "1"
                self.send_response(origin.status)
                self.send_header("Content-Type", "application/json")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(out)))
                for k, v in origin.extra_headers.items():
                    self.send_header(k, v)
                for added in self.headers.get_all("X-Origin-Add-Header") or []:
                    name, _, value = added.partition(":")
                    self.send_header(name.strip(), value.strip())
                self.end_headers()
                if self.command != "HEAD":
                    if chunked:
                        for i in range(0, len(out), 16384):
                            part = out[i:i + 16384]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _answer

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                # the proxy may close an upstream connection mid-body (a response it replaced): not an error
                if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    return
                super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.address = "127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def last(self):
        with self._lock:
            return self.seen[-1] if self.seen else None

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


class SilentOrigin:
    """Accepts TCP connections and never answers (for upstream timeouts)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.conns = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self):
        self._stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# --------------------------------------------------------------------------- config + proxy

def basic_config(upstreams, default=None, extra="", threads=2, access_log="access.log"):
    """YAML for a proxy with the given upstreams ({name: [port or "host:port", ...]}); `default` names the
    default upstream (first one when None). `extra` is appended verbatim (top-level YAML)."""
    lines = ["threads: %d" % threads, "upstreams:"]
    for name, servers in upstreams.items():
        addrs = [s if isinstance(s, str) else "127.0.0.1:%d" % s for s in servers]
        lines.append("  %s:" % name)
        lines.append("    servers: [%s]" % ", ".join(addrs))
    lines.append("default_upstream: %s" % (default or next(iter(upstreams))))
    lines.append("access_log: %s" % access_log)
    lines.append("shutdown:\n  deadline: 10s")
    lines.append("admin:\n  tokens:\n    - name: test\n      token: %s" % ADMIN_TOKEN)
    return "\n".join(lines) + "\n" + extra


class Proxy:
    """Runs edgeproxy with `config_text` written to <tmp>/edgeproxy.yaml (relative paths in it resolve there).
    port/admin_port are chosen free and passed with --listen/--admin-listen. Output goes to <tmp>/stdout.log and
    <tmp>/stderr.log."""

    def __init__(self, config_text, args=(), start=True, listen_host="127.0.0.1", wait=True, tls=False, env=None):
        self.dir = tempfile.mkdtemp(prefix="eptest-")
        self.config_path = os.path.join(self.dir, "edgeproxy.yaml")
        self.write_config(config_text)
        self.port = free_port()
        self.admin_port = free_port()
        self.host = listen_host
        self.tls = tls
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        if start:
            self.start(wait=wait)

    def write_config(self, text):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)  # atomic: a reload never sees half a file

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, wait=True):
        cmd = [binary(), "-c", self.config_path, "--listen", "%s:%d" % (self.host, self.port),
               "--admin-listen", "127.0.0.1:%d" % self.admin_port] + self.args
        self.stdout = open(self.path("stdout.log"), "wb")
        self.stderr = open(self.path("stderr.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.stdout, stderr=self.stderr, cwd=self.dir, env=self.env)
        _started.append(self.proc)
        if wait:
            self.wait_ready()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, timeout=15.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("edgeproxy exited with %s:\n%s" % (self.proc.returncode, self.read("stderr.log")))
            try:
                st, _, _ = admin(self, "GET", "/status", timeout=1)
                return st == 200
            except OSError:
                return False
        wait_until(ready, timeout, what="edgeproxy to answer")

    def send_signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Sends sig and waits (bounded); kills with SIGKILL if it does not exit. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.stdout.close()
        self.stderr.close()
        return self.proc.returncode

    def read(self, name):
        try:
            with open(self.path(name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def access_log(self, name="access.log"):
        """Parsed JSON lines of the access log (a file in the temp dir, or stdout.log when the log is "-")."""
        out = []
        for line in self.read(name).splitlines():
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def generation(self):
        st, _, body = admin(self, "GET", "/status")
        assert st == 200, body
        return json.loads(body)["generation"]

    def reload(self, via="signal", timeout=10.0):
        """Reloads (SIGHUP or POST /reload) and waits until the generation id moved. Returns the new id."""
        before = self.generation()
        if via == "signal":
            self.send_signal(signal.SIGHUP)
        else:
            st, _, body = admin(self, "POST", "/reload")
            assert st == 200, body
        return wait_until(lambda: self.generation() > before and self.generation(), timeout, what="reload")

    def sanitizer_report(self):
        """The AddressSanitizer/LeakSanitizer/UBSan report in stderr.log, or "" (always "" without -DEP_SANITIZE)."""
        err = self.read("stderr.log")
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            i = err.find(marker)
            if i >= 0:
                return err[max(0, i - 200):i + 4000]
        return ""

    def close(self):
        self.stop()
        report = self.sanitizer_report()
        shutil.rmtree(self.dir, ignore_errors=True)
        if report:
            raise AssertionError("sanitizer report from edgeproxy:\n" + report)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def run_check(config_text):
    """Runs `edgeproxy -t` on the config; returns (exit code, output)."""
    d = tempfile.mkdtemp(prefix="eptest-t-")
    try:
        p = os.path.join(d, "edgeproxy.yaml")
        with open(p, "w") as f:
            f.write(config_text)
        r = subprocess.run([binary(), "-t", "-c", p], capture_output=True, timeout=60, cwd=d)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace"), p
    finally:
        shutil.rmtree(d, ignore_errors=True)


@atexit.register
def _cleanup():
    for p in _started:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass


# --------------------------------------------------------------------------- http

def request(port, method="GET", path="/", headers=None, body=None, host="127.0.0.1", timeout=10.0, conn=None):
    """One request; returns (status, {lower-case header: value}, body bytes). Pass conn (http.client) to reuse."""
    own = conn is None
    c = conn or http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if own:
            c.close()


def get_json(port, path="/", headers=None, **kw):
    st, h, body = request(port, "GET", path, headers=headers, **kw)
    return st, h, (json.loads(body) if body[:1] == b"{" else body)


def admin(proxy, method, path, body=None, token=ADMIN_TOKEN, timeout=10.0):
    """Admin API call with the bearer token; returns (status, headers, body bytes)."""
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    return request(proxy.admin_port, method, path, headers=h, body=body, timeout=timeout)


# --------------------------------------------------------------------------- tiny test runner

def run(tests):
    """Runs test functions in order, prints PASS/FAIL, exits 1 on any failure (ctest reads the exit code)."""
    failed = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
            print("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - report and continue with the next test
            failed += 1
            import traceback
            traceback.print_exc()
            print("FAIL %s: %s" % (t.__name__, e), flush=True)
    print("%d/%d passed" % (len(tests) - failed, len(tests)))
    sys.exit(1 if failed else 0)
