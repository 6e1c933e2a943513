# SPDX-License-Identifier: MIT
"""Canary splitting with real origins: weight changes through the admin API take effect without a restart,
401/400/404/405 answers, sticky users, tester overrides, audit lines, weights that survive a restart and a
reload (unless the config changed them), automatic rollback when the canary origin starts failing, a step
schedule that advances and stops on a failed check, per-variant metrics, and `edgeproxy ctl`."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import eptest  # noqa: E402


def config(stable, canary, weight="10", service_extra="", top_extra=""):
    return eptest.basic_config({"multi-stable": [stable.port], "multi-canary": [canary.port]}, extra="""
state_dir: state
canary:
  services:
    app:
      hosts: ["*.demo.test", "127.0.0.1"]
      path_prefix: /
      stable: multi-stable
      canary: multi-canary
      weight: %s
      override: {header: X-Canary, token: tester-secret-123}
%s
%s""" % (weight, service_extra, top_extra))


def variants(p, n, headers=None, path="/"):
    """Sends n requests on one keep-alive connection; returns the backends' names in order."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
    out = []
    try:
        for _ in range(n):
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            out.append(json.loads(body)["backend"] if r.status == 200 else r.status)
    finally:
        c.close()
    return out


def canary_state(p, service="app"):
    st, _, body = eptest.admin(p, "GET", "/canary/" + service)
    assert st == 200, (st, body)
    return json.loads(body)


def audit_lines(p):
    return [json.loads(line) for line in p.read("state/canary-audit.log").splitlines() if line.strip()]


def within(hits, n, p):
    """binomial, 5 standard deviations"""
    sigma = (n * p * (1 - p)) ** 0.5
    return abs(hits - n * p) <= 5 * sigma + 1


def test_weight_api_takes_effect():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, eptest.Proxy(config(s, c)) as p:
        got = variants(p, 200)
        assert within(got.count("multi-canary"), 200, 0.10), got.count("multi-canary")
        st, _, body = eptest.admin(p, "PUT", "/canary/app", {"weight": 50, "reason": "half"})
        assert st == 200 and json.loads(body)["weight"] == 50, body
        got = variants(p, 200)
        assert within(got.count("multi-canary"), 200, 0.5), got.count("multi-canary")
        eptest.admin(p, "PUT", "/canary/app", {"weight": 0, "reason": "off"})
        assert set(variants(p, 50)) == {"multi-stable"}
        eptest.admin(p, "PUT", "/canary/app", {"weight": 100, "reason": "all"})
        assert set(variants(p, 50)) == {"multi-canary"}
        st, _, body = eptest.admin(p, "PUT", "/canary/app", {"weight": 5.55, "reason": "fine steps"})
        assert st == 200 and canary_state(p)["weight_bp"] == 555, body
        # the access log names service and variant
        entries = [e for e in p.access_log() if e.get("service") == "app"]
        assert entries and {e["variant"] for e in entries} == {"stable", "canary"}, entries[-3:]
        # metrics per variant
        m = eptest.admin(p, "GET", "/metrics")[2].decode()
        assert 'edgeproxy_canary_weight_percent{service="app"} 5.55' in m, m
        line = [x for x in m.splitlines()
                if x.startswith('edgeproxy_canary_requests_total{service="app",variant="canary",placement="none"}')]
        assert line and int(line[0].split()[-1]) > 50, line
        assert 'edgeproxy_canary_latency_seconds_bucket{service="app",variant="stable",le="+Inf"}' in m
        assert 'edgeproxy_canary_responses_total{service="app",variant="canary",placement="none",class="2xx"}' in m


def test_api_errors():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, eptest.Proxy(config(s, c)) as p:
        assert eptest.admin(p, "PUT", "/canary/app", {"weight": 5}, token=None)[0] == 401
        assert eptest.admin(p, "PUT", "/canary/app", {"weight": 5}, token="not-the-token-0123456789")[0] == 401
        cases = [('{"weight": ', "invalid JSON"), ({"weight": 101}, "out of range"), ({"weight": -1}, "out of range"),
                 ({"weight": 5.555}, "out of range"), ({"reason": "x"}, "missing \"weight\""),
                 ({"weight": "lots"}, "not a percentage"), ({"weight": 5, "colour": 1}, "unknown field"),
                 ("[1]", "must be a JSON object"), ("", "missing JSON body"), ({"weight": True}, "must be a number")]
        for body, needle in cases:
            st, _, ans = eptest.admin(p, "PUT", "/canary/app", body)
            assert st == 400 and needle in json.loads(ans)["error"], (body, st, ans)
        assert eptest.admin(p, "PUT", "/canary/nope", {"weight": 5})[0] == 404
        assert eptest.admin(p, "GET", "/canary/nope")[0] == 404
        assert eptest.admin(p, "POST", "/canary/nope/rollback")[0] == 404
        assert eptest.admin(p, "POST", "/canary/app/explode")[0] == 404
        assert eptest.admin(p, "DELETE", "/canary/app")[0] == 405
        assert eptest.admin(p, "GET", "/canary/app/rollback")[0] == 405
        # none of that changed anything or wrote an audit line
        assert canary_state(p)["weight"] == 10
        assert audit_lines(p) == []


def test_sticky_and_override():
    extra = "      sticky: {cookie: uid}"
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.Proxy(config(s, c, weight="50", service_extra=extra)) as p:
        seen = {}
        for u in range(40):
            got = set(variants(p, 5, headers={"Cookie": "a=1; uid=user%d" % u}))
            assert len(got) == 1, (u, got)  # a user stays on one variant
            seen[u] = got.pop()
        assert set(seen.values()) == {"multi-stable", "multi-canary"}
        # monotonic: users on the canary at 50% stay on it at 75%
        eptest.admin(p, "PUT", "/canary/app", {"weight": 75, "reason": "more"})
        for u, v in seen.items():
            if v == "multi-canary":
                assert variants(p, 1, headers={"Cookie": "uid=user%d" % u}) == ["multi-canary"], u
        # override: with the token testers reach the canary at 0%; without it the header is ignored
        eptest.admin(p, "PUT", "/canary/app", {"weight": 0, "reason": "closed"})
        assert set(variants(p, 10, headers={"X-Canary": "always"})) == {"multi-stable"}
        assert set(variants(p, 10, headers={"X-Canary": "always", "X-Canary-Token": "wrong"})) == {"multi-stable"}
        assert set(variants(p, 10, headers={"X-Canary": "always", "X-Canary-Token": "tester-secret-123"})) == \
            {"multi-canary"}
        eptest.admin(p, "PUT", "/canary/app", {"weight": 100, "reason": "open"})
        assert set(variants(p, 10, headers={"X-Canary": "never", "X-Canary-Token": "tester-secret-123"})) == \
            {"multi-stable"}
        m = eptest.admin(p, "GET", "/metrics")[2].decode()
        assert 'edgeproxy_canary_overrides_total{service="app",variant="canary"} 10' in m


def test_audit_and_restart_and_reload():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, eptest.Proxy(config(s, c)) as p:
        st, _, _ = eptest.admin(p, "PUT", "/canary/app", {"weight": 33.33, "reason": "ticket OPS-42"})
        assert st == 200
        eptest.admin(p, "POST", "/canary/app/rollback", {"reason": "bad numbers"})
        eptest.admin(p, "PUT", "/canary/app", {"weight": "12.5", "reason": "again"})
        lines = audit_lines(p)
        assert [(x["action"], x["old_weight"], x["new_weight"]) for x in lines] == \
            [("set", 10, 33.33), ("rollback", 33.33, 0), ("set", 0, 12.5)], lines
        assert lines[0]["token"] == "test" and lines[0]["client"] == "127.0.0.1", lines[0]
        assert lines[0]["reason"] == "ticket OPS-42"
        assert lines[1]["reason"] == "bad numbers" and lines[0]["time"].endswith("Z")
        state = json.loads(p.read("state/canary-state.json"))
        assert state["services"]["app"]["weight_bp"] == 1250, state
        # restart: the runtime weight comes back
        p.stop()
        p.start()
        assert canary_state(p)["weight"] == 12.5
        # a reload with the same config keeps it
        p.reload("signal")
        assert canary_state(p)["weight"] == 12.5
        # a reload that changes this service's configured weight wins, and is audited
        p.write_config(config(s, c, weight="20"))
        p.reload("admin")
        assert canary_state(p)["weight"] == 20
        assert audit_lines(p)[-1]["action"] == "config"
        # stopped with a changed config: the config wins at start too
        p.stop()
        p.write_config(config(s, c, weight="30"))
        p.start()
        assert canary_state(p)["weight"] == 30
        # a half-written temp file next to the state never corrupts it
        with open(p.path("state/canary-state.json.tmp"), "w") as f:
            f.write('{"services": {"app": {"weight_')
        p.stop()
        p.start()
        assert canary_state(p)["weight"] == 30


def test_auto_rollback():
    extra = "      rollback: {window: 4s, min_requests: 10, error_margin: 0.1}"
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.Proxy(config(s, c, weight="50", service_extra=extra)) as p:
        variants(p, 60)
        time.sleep(1.5)
        assert canary_state(p)["weight"] == 50  # healthy canary: nothing happens
        c.status = 503  # the canary origin starts failing
        got = variants(p, 80)
        assert 503 in got
        eptest.wait_until(lambda: canary_state(p)["weight"] == 0, timeout=10, what="automatic rollback")
        assert set(variants(p, 20)) == {"multi-stable"}
        line = audit_lines(p)[-1]
        assert line["action"] == "auto-rollback" and line["new_weight"] == 0 and "5xx ratio" in line["figures"], line
        assert "auto-rollback" in p.read("stderr.log")
        m = eptest.admin(p, "GET", "/metrics")[2].decode()
        assert 'edgeproxy_canary_rollbacks_total{service="app"} 1' in m


class Traffic:
    def __init__(self, p):
        self.p, self.stop_flag = p, False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_flag:
            try:
                variants(self.p, 20)
            except Exception:  # noqa: BLE001 - the proxy may be busy; keep going
                pass
            time.sleep(0.02)

    def stop(self):
        self.stop_flag = True
        self.t.join(15)


def test_schedule_advances_and_stops():
    extra = ("      rollback: {window: 3s, min_requests: 5, error_margin: 0.1}\n"
             "      schedule: {steps: [10, 50, 100], interval: 2s}")
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.Proxy(config(s, c, weight="0", service_extra=extra)) as p:
        assert canary_state(p)["schedule"]["state"] == "running"
        traffic = Traffic(p)
        try:
            eptest.wait_until(lambda: canary_state(p)["weight"] == 10, timeout=15, what="first step")
            eptest.wait_until(lambda: canary_state(p)["weight"] == 50, timeout=15, what="second step")
            c.status = 500  # fails before the last step
            eptest.wait_until(lambda: canary_state(p)["weight"] == 0, timeout=15, what="rollback during the schedule")
            st = canary_state(p)
            assert st["schedule"]["state"] == "stopped", st
            time.sleep(3)
            assert canary_state(p)["weight"] == 0  # stopped: no further steps
        finally:
            traffic.stop()
        actions = [(x["action"], x["new_weight"]) for x in audit_lines(p)]
        assert actions[:3] == [("schedule", 10), ("schedule", 50), ("auto-rollback", 0)], actions


def test_ctl():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, eptest.Proxy(config(s, c)) as p:
        base = [eptest.binary(), "ctl", "--admin", "http://127.0.0.1:%d" % p.admin_port, "--token", eptest.ADMIN_TOKEN]

        def ctl(*args):
            return subprocess.run(base + list(args), capture_output=True, timeout=30, text=True)
        r = ctl("canary", "list")
        assert r.returncode == 0 and "app" in r.stdout and "10%" in r.stdout and "multi-canary" in r.stdout, r
        r = ctl("canary", "set", "app", "12.5", "--reason", "ctl test")
        assert r.returncode == 0 and "12.5%" in r.stdout, r
        assert canary_state(p)["weight"] == 12.5
        assert audit_lines(p)[-1]["reason"] == "ctl test"
        r = ctl("canary", "set", "app", "101", "--reason", "x")
        assert r.returncode == 2, r
        r = ctl("canary", "set", "app", "5")
        assert r.returncode == 2 and "--reason" in r.stderr, r
        r = ctl("canary", "set", "nope", "5", "--reason", "x")
        assert r.returncode == 1 and "unknown service" in r.stderr, r
        r = ctl("canary", "promote", "app")
        assert r.returncode == 0 and "100%" in r.stdout, r
        r = ctl("canary", "rollback", "app", "--reason", "done")
        assert r.returncode == 0 and "rolled back" in r.stdout and "0%" in r.stdout, r
        r = ctl("reload")
        assert r.returncode == 0 and "reloaded" in r.stdout, r
        r = subprocess.run([eptest.binary(), "ctl", "--admin", "http://127.0.0.1:%d" % eptest.free_port(), "--token", "x",
                            "canary", "list"], capture_output=True, timeout=30, text=True)
        assert r.returncode == 1 and "cannot connect" in r.stderr, r
        r = subprocess.run([eptest.binary(), "ctl", "canary", "list"], capture_output=True, timeout=30, text=True,
                           env={k: v for k, v in os.environ.items() if k != "EDGEPROXY_ADMIN_TOKEN"})
        assert r.returncode == 2 and "token" in r.stderr, r


def test_tenant_pinned_and_own_service():
    """Tenant settings: a pinned tenant never reaches the canary; a single tenant with its own service splits
    between its own stable and canary backends; other single tenants are not part of the shared service."""
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.EchoOrigin("acme-single") as a, eptest.EchoOrigin("acme-canary") as ac, \
            eptest.EchoOrigin("hooli-single") as h:
        cfg = eptest.basic_config({"multi-stable": [s.port], "multi-canary": [c.port], "acme-single": [a.port],
                                   "acme-canary": [ac.port], "hooli-single": [h.port]}, extra="""
tenants:
  map: tenants.yaml
  shared_upstream: multi-stable
  hosts: ["*.demo.test"]
canary:
  services:
    app:
      stable: multi-stable
      canary: multi-canary
      weight: 100
    acme-app:
      hosts: [never.example]
      stable: acme-single
      canary: acme-canary
      weight: 100
""")
        p = eptest.Proxy(cfg, start=False)
        with p:
            with open(p.path("tenants.yaml"), "w") as f:
                f.write("globex: multi\n"
                        "initech: {placement: multi, pinned: stable}\n"
                        "acme: {placement: single, upstream: acme-single, service: acme-app}\n"
                        "hooli: {placement: single, upstream: hooli-single}\n")
            p.start()
            assert set(variants(p, 5, headers={"Host": "globex.demo.test"})) == {"multi-canary"}
            assert set(variants(p, 5, headers={"Host": "initech.demo.test"})) == {"multi-stable"}
            assert set(variants(p, 5, headers={"Host": "acme.demo.test"})) == {"acme-canary"}
            assert set(variants(p, 5, headers={"Host": "hooli.demo.test"})) == {"hooli-single"}
            eptest.admin(p, "PUT", "/canary/acme-app", {"weight": 0, "reason": "acme back to stable"})
            assert set(variants(p, 5, headers={"Host": "acme.demo.test"})) == {"acme-single"}
            m = eptest.admin(p, "GET", "/metrics")[2].decode()
            assert 'edgeproxy_canary_requests_total{service="acme-app",variant="canary",placement="single"} 5' in m, m
            assert 'edgeproxy_canary_requests_total{service="app",variant="stable",placement="multi"} 5' in m, m
            entries = [e for e in p.access_log() if e.get("tenant") == "hooli"]
            assert entries and entries[-1]["service"] is None, entries[-1:]


if __name__ == "__main__":
    eptest.run([test_weight_api_takes_effect, test_api_errors, test_sticky_and_override, test_audit_and_restart_and_reload,
                test_auto_rollback, test_schedule_advances_and_stops, test_ctl, test_tenant_pinned_and_own_service])
