# SPDX-License-Identifier: MIT
"""Proxying basics against real loopback origins: headers (Host kept, X-Forwarded-For/-Proto, X-Request-Id),
keep-alive reuse, routes, 431/413/404/502/503/504, round robin, passive health and the retry on connect failure."""
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import eptest  # noqa: E402


def test_headers_and_request_id():
    with eptest.EchoOrigin("a") as o, eptest.Proxy(eptest.basic_config({"web": [o.port]})) as p:
        st, h, body = eptest.get_json(p.port, "/some/path?q=1", headers={"Host": "shop.example.com"})
        assert st == 200, (st, body)
        assert body["backend"] == "a"
        assert body["path"] == "/some/path?q=1"
        assert body["host"] == "shop.example.com", body["host"]
        assert body["x_forwarded_for"] == "127.0.0.1", body["x_forwarded_for"]
        assert body["x_forwarded_proto"] == "http"
        rid = body["x_request_id"]
        assert rid and len(rid) == 32 and h["x-request-id"] == rid, (rid, h)
        # untrusted incoming id is replaced, and a client XFF is kept with the peer appended
        st, h, body = eptest.get_json(p.port, "/", headers={"X-Request-Id": "client-id", "X-Forwarded-For": "9.9.9.9"})
        assert body["x_request_id"] != "client-id" and h["x-request-id"] == body["x_request_id"]
        assert body["x_forwarded_for"] == "9.9.9.9, 127.0.0.1", body["x_forwarded_for"]
        # every request gets a different id
        ids = {eptest.get_json(p.port, "/")[2]["x_request_id"] for _ in range(20)}
        assert len(ids) == 20
        log = eptest.wait_until(lambda: len(p.access_log()) >= 22 and p.access_log(), what="access log")
        assert log[0]["request_id"] == rid and log[0]["status"] == 200 and log[0]["upstream"] == "web"
        assert log[0]["server"] == o.address and log[0]["host"] == "shop.example.com"


def test_trusted_request_id():
    extra = "request_id:\n  header: X-Correlation-Id\n  trust_incoming: true\n"
    with eptest.EchoOrigin("a") as o, eptest.Proxy(eptest.basic_config({"web": [o.port]}, extra=extra)) as p:
        st, h, body = eptest.get_json(p.port, "/", headers={"X-Correlation-Id": "abc-123"})
        assert body["headers"]["x-correlation-id"] == "abc-123" and h["x-correlation-id"] == "abc-123"
        # an id with spaces is not trusted
        st, h, body = eptest.get_json(p.port, "/", headers={"X-Correlation-Id": "a b"})
        assert h["x-correlation-id"] != "a b" and len(h["x-correlation-id"]) == 32


def test_keepalive_reuse():
    with eptest.EchoOrigin("a") as o, eptest.Proxy(eptest.basic_config({"web": [o.port]})) as p:
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        for i in range(30):
            st, h, body = eptest.request(p.port, "GET", "/k%d" % i, conn=c)
            assert st == 200
        c.close()
        # 30 sequential requests on one client connection reuse pooled upstream connections
        assert o.requests == 30 and o.connections <= 3, (o.requests, o.connections)


def test_routes_and_strip_prefix():
    extra = ("routes:\n"
             "  - host: api.example.com\n    path_prefix: /v1\n    upstream: api\n    strip_prefix: true\n"
             "  - host: \"*.static.example.com\"\n    upstream: api\n")
    with eptest.EchoOrigin("web") as w, eptest.EchoOrigin("api") as a:
        cfg = eptest.basic_config({"web": [w.port], "api": [a.port]}, default="web", extra=extra)
        with eptest.Proxy(cfg) as p:
            assert eptest.get_json(p.port, "/v1/users?x=1", headers={"Host": "api.example.com"})[2]["path"] == "/users?x=1"
            assert eptest.get_json(p.port, "/v1", headers={"Host": "api.example.com"})[2]["path"] == "/"
            assert eptest.get_json(p.port, "/v2", headers={"Host": "api.example.com"})[2]["backend"] == "web"
            assert eptest.get_json(p.port, "/", headers={"Host": "img.static.example.com"})[2]["backend"] == "api"
            assert eptest.get_json(p.port, "/", headers={"Host": "other.example.com"})[2]["backend"] == "web"


def test_limits():
    extra = "limits:\n  max_header_size: 2k\n  max_header_count: 20\n  max_body_size: 1k\n"
    with eptest.EchoOrigin("a") as o, eptest.Proxy(eptest.basic_config({"web": [o.port]}, extra=extra)) as p:
        st, _, _ = eptest.request(p.port, "GET", "/", headers={"X-Big": "x" * 3000})
        assert st == 431, st
        st, _, _ = eptest.request(p.port, "GET", "/", headers={"X-H%d" % i: "v" for i in range(25)})
        assert st == 431, st
        st, _, _ = eptest.request(p.port, "POST", "/", body=b"y" * 2048)
        assert st == 413, st
        st, _, body = eptest.request(p.port, "POST", "/", body=b"y" * 1000)
        assert st == 200 and json.loads(body)["body"] == "y" * 1000
        assert o.requests == 1  # nothing over a limit reached the origin


def test_502_when_unreachable():
    dead = eptest.free_port()
    with eptest.Proxy(eptest.basic_config({"web": [dead]})) as p:
        st, _, _ = eptest.request(p.port, "GET", "/")
        assert st == 502, st


def test_504_on_upstream_timeout():
    extra = "timeouts:\n  upstream_first_byte: 1s\n"
    with eptest.SilentOrigin() as s, eptest.Proxy(eptest.basic_config({"web": [s.address]}, extra=extra)) as p:
        st, _, _ = eptest.request(p.port, "GET", "/")
        assert st == 504, st


def test_round_robin_health_and_retry():
    dead = eptest.free_port()
    extra_up = ""
    with eptest.EchoOrigin("a") as a, eptest.EchoOrigin("b") as b:
        cfg = eptest.basic_config({"web": [a.port, b.port]})
        with eptest.Proxy(cfg) as p:
            seen = [eptest.get_json(p.port, "/")[2]["backend"] for _ in range(10)]
            assert seen.count("a") == 5 and seen.count("b") == 5, seen
        # one server refuses: GETs are retried on the other one, and it is skipped after 2 failures
        cfg = eptest.basic_config({"web": [a.port, dead]}) + extra_up
        cfg = cfg.replace("    servers: [127.0.0.1:%d, 127.0.0.1:%d]" % (a.port, dead),
                          "    servers: [127.0.0.1:%d, 127.0.0.1:%d]\n    health:\n      fail_threshold: 2\n      skip: 30s"
                          % (a.port, dead))
        with eptest.Proxy(cfg) as p:
            for _ in range(10):
                st, _, body = eptest.get_json(p.port, "/")
                assert st == 200 and body["backend"] == "a", (st, body)
            st, _, body = eptest.admin(p, "GET", "/status")
            servers = json.loads(body)["upstreams"][0]["servers"]
            down = [s for s in servers if s["address"].endswith(":%d" % dead)][0]
            assert down["healthy"] is False, servers
            log = eptest.wait_until(lambda: len(p.access_log()) >= 10 and p.access_log(), what="log")
            assert sum(1 for e in log if e["retried"]) == 2, [e["retried"] for e in log]
            # POST is not idempotent: not retried, but the skipped server is not chosen either
            st, _, _ = eptest.request(p.port, "POST", "/", body=b"x")
            assert st == 200


def test_503_when_at_capacity():
    cfg = None
    with eptest.EchoOrigin("slow", delay=1.5) as o:
        cfg = eptest.basic_config({"web": [o.port]}).replace(
            "    servers: [127.0.0.1:%d]" % o.port, "    servers: [127.0.0.1:%d]\n    max_connections: 1" % o.port)
        with eptest.Proxy(cfg) as p:
            import threading
            results = []
            t = threading.Thread(target=lambda: results.append(eptest.request(p.port, "GET", "/")[0]))
            t.start()
            eptest.wait_until(lambda: o.connections >= 1, what="first request at origin")
            st, _, _ = eptest.request(p.port, "GET", "/")
            t.join(10)
            assert st == 503 and results == [200], (st, results)


def test_no_route_404():
    extra = "routes:\n  - host: only.example.com\n    upstream: web\n"
    cfg = eptest.basic_config({"web": [1]}, extra=extra).replace("default_upstream: web\n", "")
    with eptest.Proxy(cfg) as p:
        st, _, _ = eptest.request(p.port, "GET", "/", headers={"Host": "x.example.com"})
        assert st == 404


def test_admin_api():
    with eptest.EchoOrigin("a") as o:
        cfg = eptest.basic_config({"web": [o.port]}) + "  tokens_file: tokens.txt\n"
        p = eptest.Proxy(cfg, start=False)
        with open(p.path("tokens.txt"), "w") as f:
            f.write("# name token\nci ci-token-from-file-0123456789\n")
        with p:
            p.start()
            assert eptest.admin(p, "GET", "/status", token=None)[0] == 401
            assert eptest.admin(p, "GET", "/status", token="wrong-token-0123456789")[0] == 401
            assert eptest.admin(p, "GET", "/status", token=eptest.ADMIN_TOKEN[:-1])[0] == 401
            assert eptest.admin(p, "GET", "/status", token="ci-token-from-file-0123456789")[0] == 200
            for _ in range(3):
                eptest.request(p.port, "GET", "/")
            # responses are counted when the request is logged, just after the client has its answer
            def metrics():
                st, h, body = eptest.admin(p, "GET", "/metrics")
                text = body.decode()
                done = ('edgeproxy_responses_total{class="2xx"} 3' in text and
                        'edgeproxy_upstream_requests_total{upstream="web",server="%s"} 3' % o.address in text)
                return (st, h, text) if done else None
            st, h, text = eptest.wait_until(metrics, timeout=10, what="response counters")
            assert st == 200 and h["content-type"].startswith("text/plain"), (st, h)
            assert "edgeproxy_requests_total 3" in text, text
            assert 'edgeproxy_responses_total{class="2xx"} 3' in text
            assert 'edgeproxy_upstream_requests_total{upstream="web",server="%s"} 3' % o.address in text
            st, _, body = eptest.admin(p, "GET", "/status")
            status = json.loads(body)
            assert status["generation"] == 1 and status["workers"] == 2 and status["upstreams"][0]["name"] == "web"
            assert eptest.admin(p, "GET", "/nothing-here")[0] == 404
            assert eptest.admin(p, "GET", "/reload")[0] == 404  # reload is POST only


def test_command_line_and_reference_configs():
    import subprocess
    for name in ("edgeproxy.yaml", "demo.yaml"):
        r = subprocess.run([eptest.binary(), "-t", "-c", os.path.join(eptest.SOURCE_DIR, "conf", name)],
                           capture_output=True, timeout=60)
        assert r.returncode == 0 and b"configuration OK" in r.stdout, (name, r.stdout, r.stderr)
    r = subprocess.run([eptest.binary(), "--version"], capture_output=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith(b"edgeproxy "), r.stdout
    r = subprocess.run([eptest.binary(), "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0 and b"--demo" in r.stdout and b"--listen" in r.stdout
    r = subprocess.run([eptest.binary(), "--bogus"], capture_output=True, timeout=10)
    assert r.returncode == 2
    rc, out, path = eptest.run_check("threads: x\nnope: 1\n")
    assert rc == 1 and (path + ":1:10: 'threads' must be an integer") in out and (path + ":2:1: unknown top-level key 'nope'") in out, out


if __name__ == "__main__":
    eptest.run([test_headers_and_request_id, test_trusted_request_id, test_keepalive_reuse, test_routes_and_strip_prefix,
                test_limits, test_502_when_unreachable, test_504_on_upstream_timeout, test_round_robin_health_and_retry,
                test_503_when_at_capacity, test_no_route_404, test_admin_api, test_command_line_and_reference_configs])
