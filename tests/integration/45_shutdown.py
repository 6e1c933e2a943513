# SPDX-License-Identifier: MIT
"""Graceful shutdown: on SIGTERM edgeproxy stops accepting, lets requests in flight finish (slow origin) and
exits 0; a request still running at the deadline does not keep the process alive."""
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import eptest  # noqa: E402


def test_inflight_requests_finish():
    with eptest.EchoOrigin("slow", delay=1.5) as o, eptest.Proxy(eptest.basic_config({"web": [o.port]})) as p:
        results = []

        def one(i):
            try:
                results.append(eptest.request(p.port, "GET", "/slow%d" % i, timeout=15)[0])
            except Exception as e:  # noqa: BLE001
                results.append(repr(e))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        # all six must be at the origin (counted before its delay) before SIGTERM; health probes do not count
        eptest.wait_until(
            lambda: sum(1 for r in list(o.seen) if r.get("path", "").startswith("/slow")) >= 6, timeout=10, what="requests at origin"
        )
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # no longer accepting
        s = socket.socket()
        s.settimeout(2)
        refused = s.connect_ex(("127.0.0.1", p.port)) != 0
        s.close()
        for t in threads:
            t.join(15)
        rc = p.proc.wait(15)
        assert results == [200] * 6, results
        assert rc == 0, rc
        assert refused, "listener still accepting after SIGTERM"
        assert time.monotonic() - t0 < 8
        assert "drained" in p.read("stderr.log")


def test_deadline():
    extra = "timeouts:\n  upstream_first_byte: 30s\n"
    cfg = eptest.basic_config({"web": [1]}, extra=extra).replace("deadline: 10s", "deadline: 1s")
    with eptest.SilentOrigin() as s:
        cfg = cfg.replace("127.0.0.1:1]", s.address + "]")
        with eptest.Proxy(cfg) as p:
            c = socket.create_connection(("127.0.0.1", p.port))
            c.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
            eptest.wait_until(lambda: len(s.conns) >= 1, what="request at origin")
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            rc = p.proc.wait(10)
            took = time.monotonic() - t0
            c.close()
            assert rc == 0 and 0.8 < took < 5, (rc, took)
            assert "deadline reached" in p.read("stderr.log")


if __name__ == "__main__":
    eptest.run([test_inflight_requests_finish, test_deadline])
