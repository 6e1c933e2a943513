# SPDX-License-Identifier: MIT
"""Detection regression guard for the rule sets conf/edgeproxy.yaml ships (engine setup + OWASP CRS 3.3.4 + our
edge policy): the default `crs` (paranoia level 1) and `crs-strict` (paranoia level 3), each in front of a
loopback origin, scored over HTTP with the shared corpus scorer (../shared/bench/detect/score.py, dev half).
Fails when TPR drops below, or FPR rises above, the figures recorded in waf_score_expected.json. Skips when
the shared corpus or the CRS files are not installed."""
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import eptest  # noqa: E402

SRC = eptest.SOURCE_DIR
HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.abspath(os.path.join(SRC, "..", "shared"))
SCORER = os.path.join(SHARED, "bench", "detect", "score.py")
CORPUS = os.path.join(SHARED, "bench", "detect", "data", "dev.jsonl")
CRS = (["/etc/modsecurity/crs/crs-setup.conf", "/etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"]
       + sorted(glob.glob("/usr/share/modsecurity-crs/rules/*.conf"))
       + ["/etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf"])
RULE_FILES = ([os.path.join(SRC, "conf/rules/edge-setup.conf")] + CRS
              + [os.path.join(SRC, "conf/rules/edge-policy.conf")])


def load_expected():
    with open(os.path.join(HERE, "waf_score_expected.json"), encoding="utf-8") as fh:
        setups = json.load(fh)
    for name, setup in setups.items():
        setup["name"] = name
    return setups


def waf_config(origin_port, expected):
    lines = ["waf:", "  default_ruleset: crs", "  rulesets:", "    crs:", "      mode: on",
             "      paranoia_level: %d" % expected["paranoia_level"],
             "      inbound_threshold: %d" % expected["inbound_threshold"], "      files:"]
    lines += ["        - %s" % f for f in RULE_FILES]
    return eptest.basic_config({"web": [origin_port]}, extra="\n".join(lines) + "\n")


def score(port, out_json):
    cmd = [sys.executable, SCORER, "--base", "http://127.0.0.1:%d" % port, "--corpus", CORPUS,
           "--json", out_json, "--quiet", "--workers", "2", "--max-seconds", "240"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    with open(out_json, encoding="utf-8") as fh:
        return json.load(fh), res.stdout


def overall(summary):
    """(TPR, FPR) in percent from the scorer's summary JSON."""
    o = summary["overall"]
    return o["tpr"], o["fpr"]


def check_setup(expected):
    # compiling the full CRS takes a few seconds on a loaded machine (and longer under ASan)
    with eptest.EchoOrigin("web") as o, eptest.Proxy(waf_config(o.port, expected), wait=False) as p, \
            tempfile.TemporaryDirectory() as tmp:
        p.wait_ready(timeout=120.0)
        summary, text = score(p.port, os.path.join(tmp, "score.json"))
        tpr, fpr = overall(summary)
        print("WAF score %s (PL%d, threshold %d): TPR %.1f%% FPR %.1f%% (guard: TPR >= %.1f, FPR <= %.1f)"
              % (expected["name"], expected["paranoia_level"], expected["inbound_threshold"], tpr, fpr,
                 expected["tpr_min"], expected["fpr_max"]))
        assert summary["overall"]["errors"] == 0 and summary["overall"]["not_run"] == 0, text
        assert tpr >= expected["tpr_min"], (tpr, expected["tpr_min"], text)
        assert fpr <= expected["fpr_max"], (fpr, expected["fpr_max"], text)
        # blocked requests never reach the origin
        sent = summary["overall"]["attacks"] + summary["overall"]["benign"]
        blocked = summary["overall"]["attacks_blocked"] + summary["overall"]["benign_blocked"]
        assert o.requests <= sent - blocked, (o.requests, sent, blocked)


def test_default_ruleset_meets_recorded_figures():
    check_setup(load_expected()["crs"])


def test_strict_ruleset_meets_recorded_figures():
    check_setup(load_expected()["crs-strict"])


if __name__ == "__main__":
    missing = [f for f in (SCORER, CORPUS, CRS[0]) if not os.path.exists(f)]
    if missing:
        print("SKIP: not installed: %s" % ", ".join(missing))
        sys.exit(0)
    eptest.run([test_default_ruleset_meets_recorded_figures, test_strict_ruleset_meets_recorded_figures])
