# SPDX-License-Identifier: MIT
"""Tenant routing with real origins: multi vs single placement by host (wildcard and exact), trusted header and
path prefix (stripped), unknown tenants (421 body, then a default tenant after a reload), the tenant map swapped
by a reload (a broken map is rejected with FILE:LINE:COL and the old one keeps serving), preview hosts routed to
an upstream made from the capture, GET /tenants/{id} and `edgeproxy ctl tenant where`, access log fields."""
import base64
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import eptest  # noqa: E402

MAP = """# tenant map for 20_tenants
globex: multi
initech: {placement: multi, upstream: multi-stable}
acme: {placement: single, upstream: acme-single, ruleset: strict, detection_only: true}
"""


def config(stable, canary, acme, extra_tenants="", sources="[host, header, path]"):
    return eptest.basic_config({"multi-stable": [stable.port], "multi-canary": [canary.port], "acme-single": [acme.port]},
                               extra="""
tenants:
  map: tenants.yaml
  sources: %s
  shared_upstream: multi-stable
  hosts:
    - "*.demo.test"
    - {host: www.acme.example, tenant: acme}
  header: X-Tenant-Id
  path_prefix: /t/
  strip_path: true
  unknown_status: 421
  preview:
    - {host: "pr-{n}.preview.test", upstream: "127.0.0.1:{n}"}
%s
canary:
  services:
    app:
      stable: multi-stable
      canary: multi-canary
      weight: 0
waf:
  rulesets:
    open:
      mode: off
    strict:
      mode: off
""" % (sources, extra_tenants))


def start(s, c, a, extra=""):
    p = eptest.Proxy(config(s, c, a, extra), start=False)
    with open(p.path("tenants.yaml"), "w") as f:
        f.write(MAP)
    return p.start()


def backend(p, path="/", host=None, headers=None):
    h = dict(headers or {})
    if host:
        h["Host"] = host
    st, _, body = eptest.get_json(p.port, path, headers=h)
    assert st == 200, (st, body)
    return body


def test_placements():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.EchoOrigin("acme-single") as a, start(s, c, a) as p:
        assert backend(p, "/x", host="globex.demo.test")["backend"] == "multi-stable"
        assert backend(p, "/x", host="INITECH.demo.test:8080")["backend"] == "multi-stable"
        assert backend(p, "/x", host="acme.demo.test")["backend"] == "acme-single"
        assert backend(p, "/x", host="www.acme.example")["backend"] == "acme-single"
        # trusted header (the host names no tenant)
        assert backend(p, "/x", headers={"X-Tenant-Id": "acme"})["backend"] == "acme-single"
        assert backend(p, "/x", headers={"X-Tenant-Id": "globex"})["backend"] == "multi-stable"
        # path prefix, stripped before going upstream (query kept)
        b = backend(p, "/t/acme/orders/7?full=1")
        assert b["backend"] == "acme-single" and b["path"] == "/orders/7?full=1", b
        b = backend(p, "/t/acme")
        assert b["backend"] == "acme-single" and b["path"] == "/", b
        # host wins over header (configured order)
        assert backend(p, "/", host="globex.demo.test", headers={"X-Tenant-Id": "acme"})["backend"] == "multi-stable"
        # access log: tenant, placement, service, variant
        def logged():
            return [e for e in p.access_log() if e.get("tenant") == "acme"]
        eptest.wait_until(logged, what="access log lines")
        e = logged()[-1]
        assert e["placement"] == "single", e
        multi = [x for x in p.access_log() if x.get("tenant") == "globex"]
        assert multi and multi[-1]["placement"] == "multi" and multi[-1]["service"] == "app" \
            and multi[-1]["variant"] == "stable", multi[-1:]
        st, _, m = eptest.admin(p, "GET", "/metrics")
        assert st == 200
        m = m.decode()
        assert 'edgeproxy_tenant_placement_requests_total{placement="single"}' in m, m[:500]
        assert 'edgeproxy_canary_requests_total{service="app",variant="stable",placement="multi"}' in m


def test_unknown_tenant_and_default():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.EchoOrigin("acme-single") as a, start(s, c, a) as p:
        st, h, body = eptest.request(p.port, "GET", "/", headers={"Host": "nobody.demo.test"})
        assert st == 421, (st, body)
        ans = json.loads(body)
        assert ans["error"] == "unknown tenant" and ans["tenant"] == "nobody", ans
        assert h["content-type"] == "application/json"
        st, _, body = eptest.request(p.port, "GET", "/")
        assert st == 421 and b"no tenant" in body, body
        # an invalid header value never names a tenant
        st, _, body = eptest.request(p.port, "GET", "/", headers={"X-Tenant-Id": "../etc"})
        assert st == 421
        # reload with a default tenant: unknown tenants now go to globex's pool
        p.write_config(config(s, c, a, "  default_tenant: globex"))
        p.reload("admin")
        b = backend(p, "/", host="nobody.demo.test")
        assert b["backend"] == "multi-stable"
        st, _, body = eptest.admin(p, "GET", "/tenants/nobody")
        ans = json.loads(body)
        assert st == 404 and ans["requests_go_to"]["tenant"] == "globex", (st, ans)


def test_map_reload_is_atomic_and_checked():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.EchoOrigin("acme-single") as a, start(s, c, a) as p:
        assert eptest.request(p.port, "GET", "/", headers={"Host": "hooli.demo.test"})[0] == 421
        # a broken map: the reload is refused with the exact position, the old map keeps serving
        with open(p.path("tenants.yaml"), "w") as f:
            f.write(MAP + "hooli: {placement: single}\n")
        st, _, body = eptest.admin(p, "POST", "/reload")
        ans = json.loads(body)
        assert st != 200 and ans["reloaded"] is False, (st, body)
        assert any("tenants.yaml:5:" in e and "needs its own 'upstream'" in e for e in ans["errors"]), ans
        assert backend(p, "/", host="acme.demo.test")["backend"] == "acme-single"
        # fixed: hooli appears, acme moves to the shared pool
        with open(p.path("tenants.yaml"), "w") as f:
            f.write(MAP.replace("acme: {placement: single, upstream: acme-single, ruleset: strict, detection_only: true}",
                                "acme: multi") + "hooli: {placement: single, upstream: acme-single}\n")
        p.reload("signal")
        assert backend(p, "/", host="hooli.demo.test")["backend"] == "acme-single"
        assert backend(p, "/", host="acme.demo.test")["backend"] == "multi-stable"
        # unknown upstream named in the map
        with open(p.path("tenants.yaml"), "w") as f:
            f.write(MAP + "umbrella: {placement: single, upstream: nowhere}\n")
        st, _, body = eptest.admin(p, "POST", "/reload")
        assert st != 200 and b"unknown upstream 'nowhere'" in body, body


BAD_RULESET_LINE = "umbrella: {placement: multi, ruleset: stritc}"


def test_unknown_ruleset_rejected_by_check_and_reload():
    """A tenant map naming a WAF rule set the config does not define: `edgeproxy -t` fails with the map's
    FILE:LINE:COL of the name, and a reload with it is refused while the old map keeps serving."""
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.EchoOrigin("acme-single") as a, start(s, c, a) as p:
        map_path = p.path("tenants.yaml")
        col = BAD_RULESET_LINE.index("stritc") + 1
        want = "%s:5:%d: tenant 'umbrella': unknown WAF rule set 'stritc'" % (map_path, col)
        with open(map_path, "w") as f:
            f.write(MAP + BAD_RULESET_LINE + "\n")
        r = subprocess.run([eptest.binary(), "-t", "-c", p.config_path], capture_output=True, text=True, timeout=60,
                           cwd=p.dir)
        assert r.returncode != 0 and want in r.stdout + r.stderr, (r.returncode, r.stdout, r.stderr)
        gen = p.generation()
        st, _, body = eptest.admin(p, "POST", "/reload")
        ans = json.loads(body)
        assert st != 200 and ans["reloaded"] is False and any(want in e for e in ans["errors"]), (st, ans)
        assert p.generation() == gen
        # the old map keeps serving: umbrella is still unknown, acme still single
        assert eptest.request(p.port, "GET", "/", headers={"Host": "umbrella.demo.test"})[0] == 421
        assert backend(p, "/", host="acme.demo.test")["backend"] == "acme-single"
        # SIGHUP is refused the same way
        p.send_signal(signal.SIGHUP)
        eptest.wait_until(lambda: "stritc" in p.read("stderr.log"), what="the reload error in the log")
        assert p.generation() == gen
        # a known name loads
        with open(map_path, "w") as f:
            f.write(MAP + BAD_RULESET_LINE.replace("stritc", "strict") + "\n")
        r = subprocess.run([eptest.binary(), "-t", "-c", p.config_path], capture_output=True, text=True, timeout=60,
                           cwd=p.dir)
        assert r.returncode == 0, (r.stdout, r.stderr)
        p.reload("admin")
        assert backend(p, "/", host="umbrella.demo.test")["backend"] == "multi-stable"
        st, _, body = eptest.admin(p, "GET", "/tenants/umbrella")
        assert st == 200 and json.loads(body)["ruleset"] == "strict", body
    # without a waf section no rule set exists at all
    import tempfile
    with tempfile.TemporaryDirectory(prefix="eptest-map-") as d:
        other_map = os.path.join(d, "other.yaml")
        with open(other_map, "w") as f:
            f.write("initech: {placement: multi, ruleset: nowaf}\n")
        rc, out, _ = eptest.run_check(eptest.basic_config({"web": [1]}, extra=(
            "tenants:\n  map: %s\n  header: X-Tenant\n  shared_upstream: web\n" % other_map)))
    assert rc != 0 and "%s:1:38: tenant 'initech': unknown WAF rule set 'nowaf'" % other_map in out, out


def test_preview_environments():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.EchoOrigin("acme-single") as a, eptest.EchoOrigin("preview") as pv, start(s, c, a) as p:
        b = backend(p, "/feature", host="pr-%d.preview.test" % pv.port)
        assert b["backend"] == "preview" and b["path"] == "/feature", b
        # again (per-thread cache) and a different capture that has no origin: a gateway error, not a crash
        assert backend(p, "/", host="pr-%d.preview.test" % pv.port)["backend"] == "preview"
        st, _, _ = eptest.request(p.port, "GET", "/", headers={"Host": "pr-%d.preview.test" % eptest.free_port()})
        assert st in (502, 503), st
        # captures are digits only by default: a non-numeric one is an unknown host, not an upstream
        st, _, _ = eptest.request(p.port, "GET", "/", headers={"Host": "pr-abc.preview.test"})
        assert st == 421, st


def test_admin_where():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.EchoOrigin("acme-single") as a, start(s, c, a) as p:
        st, _, body = eptest.admin(p, "GET", "/tenants/acme")
        t = json.loads(body)
        assert st == 200 and t["placement"] == "single" and t["upstream"] == "acme-single", t
        assert t["servers"] == [a.address] and t["ruleset"] == "strict" and t["detection_only"] is True, t
        assert "tenants.yaml line 4" in t["why"], t
        st, _, body = eptest.admin(p, "GET", "/tenants/globex")
        t = json.loads(body)
        assert t["upstream"] == "multi-stable" and "shared upstream" in t["why"], t
        assert eptest.admin(p, "GET", "/tenants/nope")[0] == 404
        assert eptest.admin(p, "GET", "/tenants/acme", token=None)[0] == 401
        assert eptest.admin(p, "GET", "/tenants/acme", token="wrong-token-0123456789")[0] == 401
        st, _, body = eptest.admin(p, "GET", "/tenants")
        assert st == 200 and json.loads(body)["tenants"] == 3
        # the ops tool
        env = dict(os.environ, EDGEPROXY_ADMIN_TOKEN=eptest.ADMIN_TOKEN)
        admin_url = "http://127.0.0.1:%d" % p.admin_port
        r = subprocess.run([eptest.binary(), "ctl", "--admin", admin_url, "tenant", "where", "acme"], env=env,
                           capture_output=True, timeout=30, text=True)
        assert r.returncode == 0, r
        assert "single placement -> upstream acme-single (%s)" % a.address in r.stdout, r.stdout
        r = subprocess.run([eptest.binary(), "ctl", "--admin", admin_url, "tenant", "where", "nope"], env=env,
                           capture_output=True, timeout=30, text=True)
        assert r.returncode == 1 and "unknown tenant" in r.stderr, r
        r = subprocess.run([eptest.binary(), "ctl", "--admin", admin_url, "--token", "bad-token-0123456789", "tenant",
                            "where", "acme"], capture_output=True, timeout=30, text=True)
        assert r.returncode == 1 and "401" in r.stderr, r


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt_material(d):
    """An RSA key made with the openssl CLI, its JWKS, and a signer for RS256 tokens."""
    key = os.path.join(d, "signing.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True, timeout=60)
    mod = subprocess.run(["openssl", "rsa", "-in", key, "-noout", "-modulus"], check=True, capture_output=True,
                         text=True, timeout=30).stdout.strip().split("=", 1)[1]
    jwks = {"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "n": b64url(bytes.fromhex(mod)), "e": "AQAB"}]}
    with open(os.path.join(d, "jwks.json"), "w") as f:
        json.dump(jwks, f)

    def sign(claims, header=None):
        si = b64url(json.dumps(header or {"alg": "RS256", "kid": "k1"}).encode()) + "." + b64url(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=si.encode(), check=True,
                             capture_output=True, timeout=30).stdout
        return si + "." + b64url(sig)
    return sign


def test_jwt_source():
    with eptest.EchoOrigin("multi-stable") as s, eptest.EchoOrigin("multi-canary") as c, \
            eptest.EchoOrigin("acme-single") as a:
        extra = "  jwt: {jwks: jwks.json, claim: tenant, issuer: https://id.test, audience: edgeproxy}"
        p = eptest.Proxy(config(s, c, a, extra, sources="[jwt, host]"), start=False)
        with p:
            with open(p.path("tenants.yaml"), "w") as f:
                f.write(MAP)
            sign = jwt_material(p.dir)
            p.start()
            now = int(time.time())
            good = sign({"iss": "https://id.test", "aud": "edgeproxy", "tenant": "acme", "exp": now + 600})
            # a verified claim wins over the host (jwt is listed first); repeats come from the cache
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
            for _ in range(10):
                st, _, body = eptest.request(p.port, "GET", "/", conn=conn,
                                             headers={"Host": "globex.demo.test", "Authorization": "Bearer " + good})
                assert st == 200 and json.loads(body)["backend"] == "acme-single", (st, body)
            conn.close()
            m = eptest.admin(p, "GET", "/metrics")[2].decode()
            hits = int(m.split('edgeproxy_tenant_jwt_total{result="cache_hit"} ')[1].split()[0])
            verified = int(m.split('edgeproxy_tenant_jwt_total{result="verified"} ')[1].split()[0])
            assert verified >= 1 and hits + verified == 10 and hits >= 8, m
            # refused tokens never select a tenant: the host decides (globex), or nothing does (421)
            bad = [sign({"iss": "https://id.test", "aud": "edgeproxy", "tenant": "acme", "exp": now - 3600}),
                   sign({"iss": "https://evil.test", "aud": "edgeproxy", "tenant": "acme", "exp": now + 600}),
                   sign({"iss": "https://id.test", "aud": "other", "tenant": "acme", "exp": now + 600}),
                   sign({"iss": "https://id.test", "aud": "edgeproxy", "tenant": "acme", "exp": now + 600},
                        header={"alg": "RS512", "kid": "k1"}),
                   b64url(b'{"alg":"none"}') + "." + b64url(json.dumps({"tenant": "acme", "exp": now + 600}).encode()) + ".",
                   good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")]
            for tok in bad:
                st, _, body = eptest.request(p.port, "GET", "/", headers={"Host": "globex.demo.test",
                                                                        "Authorization": "Bearer " + tok})
                assert st == 200 and json.loads(body)["backend"] == "multi-stable", (tok, st, body)
                st, _, body = eptest.request(p.port, "GET", "/", headers={"Authorization": "Bearer " + tok})
                assert st == 421, (tok, st, body)
            m = eptest.admin(p, "GET", "/metrics")[2].decode()
            assert int(m.split('edgeproxy_tenant_jwt_total{result="refused"} ')[1].split()[0]) == 2 * len(bad), m


if __name__ == "__main__":
    eptest.run([test_placements, test_unknown_tenant_and_default, test_map_reload_is_atomic_and_checked,
                test_unknown_ruleset_rejected_by_check_and_reload,
                test_preview_environments, test_admin_where, test_jwt_source])
