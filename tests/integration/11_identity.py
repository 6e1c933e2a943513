# SPDX-License-Identifier: MIT
"""Client identity behind CloudFront: the client address from each source (TCP peer, CloudFront-Viewer-Address,
last X-Forwarded-For hop) depending on whether the peer is trusted, and the origin-verify secret (two secrets
during rotation, 403 + error log otherwise). Observed through the access log's "client" field."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import eptest  # noqa: E402

SECRET1 = "first-secret-0123456789"
SECRET2 = "second-secret-0123456789"


def last_client(p, n):
    log = eptest.wait_until(lambda: len(p.access_log()) >= n and p.access_log(), what="%d log lines" % n)
    return log[n - 1]["client"]


def test_untrusted_peer_uses_tcp_address():
    extra = "client_identity:\n  trusted_proxies: [10.0.0.0/8]\n"
    with eptest.EchoOrigin() as o, eptest.Proxy(eptest.basic_config({"web": [o.port]}, extra=extra)) as p:
        eptest.request(p.port, "GET", "/", headers={"CloudFront-Viewer-Address": "203.0.113.9:443",
                                                    "X-Forwarded-For": "198.51.100.7"})
        assert last_client(p, 1) == "127.0.0.1"


def test_trusted_peer_sources():
    extra = "client_identity:\n  trusted_proxies: [\"127.0.0.0/8\", \"::1\"]\n"
    with eptest.EchoOrigin() as o, eptest.Proxy(eptest.basic_config({"web": [o.port]}, extra=extra)) as p:
        n = 0
        cases = [
            ({"CloudFront-Viewer-Address": "203.0.113.9:51234"}, "203.0.113.9"),
            ({"CloudFront-Viewer-Address": "[2001:db8::5]:443", "X-Forwarded-For": "198.51.100.7"}, "2001:db8::5"),
            ({"X-Forwarded-For": "1.1.1.1, 198.51.100.7"}, "198.51.100.7"),  # last hop only
            ({"X-Forwarded-For": "198.51.100.8 "}, "198.51.100.8"),
            ({"CloudFront-Viewer-Address": "garbage", "X-Forwarded-For": "198.51.100.9"}, "198.51.100.9"),
            ({"X-Forwarded-For": "not-an-ip"}, "127.0.0.1"),
            ({}, "127.0.0.1"),
        ]
        for headers, want in cases:
            st, _, _ = eptest.request(p.port, "GET", "/", headers=headers)
            assert st == 200
            n += 1
            got = last_client(p, n)
            assert got == want, (headers, got, want)


def test_trusted_proxies_file():
    with eptest.EchoOrigin() as o:
        extra = "client_identity:\n  trusted_proxies_file: cloudfront.txt\n"
        p = eptest.Proxy(eptest.basic_config({"web": [o.port]}, extra=extra), start=False)
        with open(p.path("cloudfront.txt"), "w") as f:
            f.write("# CloudFront ranges\n13.32.0.0/15\n127.0.0.1/32  # loopback for the test\n")
        with p:
            p.start()
            eptest.request(p.port, "GET", "/", headers={"CloudFront-Viewer-Address": "192.0.2.1:1"})
            assert last_client(p, 1) == "192.0.2.1"


def test_origin_verify():
    extra = ("client_identity:\n  origin_verify:\n    header: X-Origin-Verify\n    secrets: [%s, %s]\n" % (SECRET1, SECRET2))
    with eptest.EchoOrigin() as o, eptest.Proxy(eptest.basic_config({"web": [o.port]}, extra=extra)) as p:
        st, _, _ = eptest.request(p.port, "GET", "/")
        assert st == 403
        st, _, _ = eptest.request(p.port, "GET", "/", headers={"X-Origin-Verify": SECRET1[:-1]})
        assert st == 403
        st, _, _ = eptest.request(p.port, "GET", "/", headers={"X-Origin-Verify": SECRET1 + "x"})
        assert st == 403
        assert o.requests == 0
        assert eptest.request(p.port, "GET", "/", headers={"X-Origin-Verify": SECRET1})[0] == 200
        assert eptest.request(p.port, "GET", "/", headers={"X-Origin-Verify": SECRET2})[0] == 200
        assert o.requests == 2
        eptest.wait_until(lambda: "origin verify failed" in p.read("stderr.log"), what="error log entry")
        log = eptest.wait_until(lambda: len(p.access_log()) >= 5 and p.access_log(), what="access log")
        assert [e["status"] for e in log] == [403, 403, 403, 200, 200]


def test_bad_identity_config():
    rc, out, path = eptest.run_check("client_identity:\n  trusted_proxies: [10.0.0.0/33]\n")
    assert rc == 1 and "invalid CIDR '10.0.0.0/33'" in out and ":2:21:" in out, out
    rc, out, path = eptest.run_check("client_identity:\n  origin_verify:\n    header: X-V\n    secrets: [short]\n")
    assert rc == 1 and "16 to 255 characters" in out, out


if __name__ == "__main__":
    eptest.run([test_untrusted_peer_uses_tcp_address, test_trusted_peer_sources, test_trusted_proxies_file,
                test_origin_verify, test_bad_identity_config])
