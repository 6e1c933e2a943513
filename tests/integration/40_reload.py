# SPDX-License-Identifier: MIT
"""Reload: SIGHUP and POST /reload swap the generation under load with zero failed requests; a broken config
is rejected (errors logged / returned) and the old generation keeps serving; 100 reloads under load leave RSS
flat and every old generation freed."""
import http.client
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import eptest  # noqa: E402


class Load:
    """N client threads doing keep-alive GETs until stopped; records every failure and which backends answered."""

    def __init__(self, port, threads=4):
        self.port, self.stop_flag = port, False
        self.ok, self.failures, self.backends = 0, [], []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop_flag:
            try:
                c.request("GET", "/load")
                r = c.getresponse()
                body = r.read()
                with self.lock:
                    if r.status == 200:
                        self.ok += 1
                        self.backends.append(json.loads(body)["backend"])
                        del self.backends[:-1000]
                    else:
                        self.failures.append(r.status)
                if r.getheader("connection", "").lower() == "close":
                    c.close()
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            except Exception as e:  # noqa: BLE001 - a failed request is what we count
                with self.lock:
                    self.failures.append(repr(e))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.close()

    def stop(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(15)


def test_reload_changes_upstream_under_load():
    with eptest.EchoOrigin("a") as a, eptest.EchoOrigin("b") as b:
        with eptest.Proxy(eptest.basic_config({"web": [a.port]})) as p:
            load = Load(p.port)
            eptest.wait_until(lambda: load.ok > 50, what="load")
            p.write_config(eptest.basic_config({"web": [b.port]}))
            gen = p.reload("signal")
            assert gen == 2
            count = load.ok
            eptest.wait_until(lambda: load.ok > count + 50, what="load after reload")
            time.sleep(0.2)
            load.stop()
            assert load.failures == [], load.failures[:5]
            assert load.backends[-1] == "b" and "b" in load.backends[-40:], load.backends[-5:]
            # via the admin API as well
            p.write_config(eptest.basic_config({"web": [a.port]}))
            assert p.reload("admin") == 3
            assert eptest.get_json(p.port, "/")[2]["backend"] == "a"
            assert "reloaded" in p.read("stderr.log")


def test_inflight_request_finishes_on_its_generation():
    with eptest.EchoOrigin("slow-a", delay=1.5) as a, eptest.EchoOrigin("b") as b:
        with eptest.Proxy(eptest.basic_config({"web": [a.port]})) as p:
            out = []
            t = threading.Thread(target=lambda: out.append(eptest.get_json(p.port, "/slow", timeout=10)))
            t.start()
            eptest.wait_until(lambda: a.connections >= 1, what="slow request at origin a")
            p.write_config(eptest.basic_config({"web": [b.port]}))
            assert p.reload() == 2
            assert eptest.get_json(p.port, "/new")[2]["backend"] == "b"
            status = json.loads(eptest.admin(p, "GET", "/status")[2])
            assert status["generations_alive"] == 2, status  # generation 1 is pinned by the slow request
            t.join(10)
            assert out[0][0] == 200 and out[0][2]["backend"] == "slow-a", out
            eptest.wait_until(lambda: json.loads(eptest.admin(p, "GET", "/status")[2])["generations_alive"] == 1,
                              what="generation 1 freed")
            log = eptest.wait_until(lambda: len(p.access_log()) >= 2 and p.access_log(), what="log")
            by_path = {e["path"]: e["generation"] for e in log}
            assert by_path == {"/slow": 1, "/new": 2}, by_path


def test_broken_config_keeps_old():
    with eptest.EchoOrigin("a") as a:
        good = eptest.basic_config({"web": [a.port]})
        with eptest.Proxy(good) as p:
            p.write_config(good + "threads: 2\n")  # duplicate key
            p.send_signal(signal.SIGHUP)
            eptest.wait_until(lambda: "reload of" in p.read("stderr.log"), what="rejection logged")
            assert "duplicate key 'threads'" in p.read("stderr.log")
            assert p.generation() == 1
            assert eptest.get_json(p.port, "/")[2]["backend"] == "a"
            p.write_config(good + "bogus_section: 1\n")
            st, _, body = eptest.admin(p, "POST", "/reload")
            ans = json.loads(body)
            assert st == 422 and ans["reloaded"] is False, (st, body)
            assert any("unknown top-level key 'bogus_section'" in e for e in ans["errors"]), ans
            assert p.generation() == 1
            assert eptest.get_json(p.port, "/")[0] == 200


def test_many_reloads_rss_flat():
    with eptest.EchoOrigin("a") as a, eptest.EchoOrigin("b") as b:
        cfgs = [eptest.basic_config({"web": [a.port]}), eptest.basic_config({"web": [b.port]})]
        # under AddressSanitizer freed memory sits in a quarantine and RSS would grow: measure without it
        with eptest.Proxy(cfgs[0], env={"ASAN_OPTIONS": "quarantine_size_mb=0"}) as p:
            load = Load(p.port, threads=3)
            eptest.wait_until(lambda: load.ok > 50, what="load")
            rss = []
            for i in range(100):
                p.write_config(cfgs[(i + 1) % 2])
                p.reload("signal" if i % 2 == 0 else "admin")
                before = load.ok
                eptest.wait_until(lambda: load.ok >= before + 10, what="requests between reloads")
                if i == 19:
                    rss.append(p.rss_kb())
            rss.append(p.rss_kb())
            load.stop()
            assert load.failures == [], load.failures[:5]
            assert p.generation() == 101
            # old generations are freed once their last request ended
            eptest.wait_until(lambda: json.loads(eptest.admin(p, "GET", "/status")[2])["generations_alive"] == 1,
                              what="old generations freed")
            growth = rss[1] - rss[0]
            print("RSS after 20 reloads %d KiB, after 100 reloads %d KiB, %d requests" % (rss[0], rss[1], load.ok))
            assert growth < 4096, rss


def test_sigusr1_reopens_logs():
    with eptest.EchoOrigin("a") as a:
        cfg = eptest.basic_config({"web": [a.port]}) + "error_log: error.log\n"
        with eptest.Proxy(cfg) as p:
            eptest.request(p.port, "GET", "/before")
            eptest.wait_until(lambda: len(p.access_log()) == 1, what="first line")
            os.rename(p.path("access.log"), p.path("access.log.1"))
            os.rename(p.path("error.log"), p.path("error.log.1"))
            eptest.request(p.port, "GET", "/rotated-but-not-reopened")
            # the logger runs when the request is disposed, which can be after the client has its answer: let
            # that line land in the renamed file before asking for the reopen
            eptest.wait_until(lambda: len(p.access_log("access.log.1")) == 2, what="second line in the old file")
            p.send_signal(signal.SIGUSR1)
            eptest.wait_until(lambda: os.path.exists(p.path("access.log")) and os.path.exists(p.path("error.log")),
                              what="log files reopened")
            eptest.request(p.port, "GET", "/after")
            eptest.wait_until(lambda: len(p.access_log()) == 1, what="line in the new file")
            assert p.access_log()[0]["path"] == "/after"
            old = [e["path"] for e in p.access_log("access.log.1")]
            assert old == ["/before", "/rotated-but-not-reopened"], old
            assert "log files reopened" in p.read("error.log")
            assert "serving on" in p.read("error.log.1")


def test_restart_only_settings_warn():
    with eptest.EchoOrigin("a") as a:
        cfg = eptest.basic_config({"web": [a.port]})
        with eptest.Proxy(cfg) as p:
            p.write_config(cfg.replace("threads: 2", "threads: 3") + "limits:\n  max_body_size: 5m\n")
            assert p.reload() == 2
            err = eptest.wait_until(lambda: "limits.max_body_size" in p.read("stderr.log") and p.read("stderr.log"),
                                    what="warnings")
            assert "warning: threads changed; it takes effect at the next restart" in err
            # the running limit stays the start-up ceiling (1m)
            import socket
            with socket.create_connection(("127.0.0.1", p.port), timeout=10) as c:
                c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n")
                assert c.recv(100).startswith(b"HTTP/1.1 413 ")


if __name__ == "__main__":
    eptest.run([test_reload_changes_upstream_under_load, test_inflight_request_finishes_on_its_generation,
                test_broken_config_keeps_old, test_many_reloads_rss_flat,
                test_sigusr1_reopens_logs, test_restart_only_settings_warn])
