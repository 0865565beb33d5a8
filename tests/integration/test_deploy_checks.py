"""The deployment checked by its own tools: ``promtool`` (Prometheus config, alert rules and
their unit tests in deploy/alerts_test.yml), ``amtool`` (Alertmanager config), ``haproxy -c``
and Compose's parser, plus the pieces lmsa adds: the alert-log receiver and the /ready gauges
the Redis alert reads.

The tools come from Debian packages that ``.ci/run`` installs. Under ``CI`` a missing tool
fails the test; elsewhere the test skips and names the install command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lmsa.observability.metrics import REGISTRY
from tests.integration.helpers import compose_config, server_env, start_server
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALL = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager haproxy"


def tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found:
        return found
    message = f"{name} not installed: {INSTALL} (.ci/run does this)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(
    *argv: str, cwd: Path = DEPLOY, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


# ---- Prometheus ---------------------------------------------------------------------------


def test_promtool_accepts_the_prometheus_config_and_its_rules() -> None:
    proc = run(tool("promtool"), "check", "config", "prometheus.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 rule files found" in proc.stdout + proc.stderr


def test_promtool_accepts_the_alert_rules() -> None:
    proc = run(tool("promtool"), "check", "rules", "alerts.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_fires_and_resolves_in_promtool_unit_tests() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())
    fired = {
        case["alertname"]
        for t in tests["tests"]
        for case in t["alert_rule_test"]
        if case.get("exp_alerts")
    }
    assert alerts == fired, f"alerts without a firing test: {alerts - fired}"
    for alert in alerts:  # and each test also expects it silent again (resolved or not yet)
        assert any(
            c["alertname"] == alert and not c.get("exp_alerts")
            for t in tests["tests"]
            for c in t["alert_rule_test"]
        ), alert
    proc = run(tool("promtool"), "test", "rules", "alerts_test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_unit_tests_catch_a_moved_threshold(tmp_path: Path) -> None:
    """Raising the error-ratio threshold above the 10% the tests feed must break them, so the
    tests really exercise the thresholds block (and a tuner updates both files)."""
    text = (DEPLOY / "alerts.yml").read_text()
    moved = re.sub(
        r"(record: lmsa:alert_threshold:error_ratio\n\s+expr: )vector\(0\.05\)",
        r"\1vector(0.2)",
        text,
    )
    assert moved != text
    (tmp_path / "alerts.yml").write_text(moved)
    shutil.copy(DEPLOY / "alerts_test.yml", tmp_path / "alerts_test.yml")
    proc = run(tool("promtool"), "test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert proc.returncode != 0
    assert "LmsaTurnErrorRatioHigh" in proc.stdout + proc.stderr


def _defined_metric_samples() -> set[str]:
    names: set[str] = set()
    for metric in REGISTRY.collect():
        base = metric.name
        names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_count", f"{base}_sum"}
    return names


def test_alerts_query_only_metrics_lmsa_defines_and_thresholds_live_in_one_group() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    groups = {g["name"]: g["rules"] for g in rules["groups"]}
    thresholds = {r["record"] for r in groups["lmsa-alert-thresholds"]}
    used: set[str] = set()
    for rule in groups["lmsa-alerts"]:
        expr = rule["expr"]
        used |= set(re.findall(r"\b(lmsa_[a-z0-9_]+)", expr))
        # no literal threshold in an alert: numbers only as 0/1 states, the quantile, or the
        # guard against dividing by zero (label matchers and [windows] left aside)
        bare = re.sub(r"\[[^\]]*\]", "", re.sub(r'"[^"]*"', "", expr))
        for number in re.findall(r"\b\d+(?:\.\d+)?(?:e-?\d+)?\b", bare):
            assert number in ("0", "1", "0.95", "1e-9"), (rule["alert"], number)
        for name in re.findall(r"lmsa:alert_threshold:\w+", expr):
            assert name in thresholds, name
    assert used and used <= _defined_metric_samples(), used - _defined_metric_samples()


def test_dashboard_shows_firing_alerts() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "lmsa.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert any("ALERTS{" in e for e in exprs)
    assert any("ALERTS{" in a["expr"] for a in dashboard["annotations"]["list"])


# ---- Alertmanager -------------------------------------------------------------------------


def test_amtool_accepts_the_alertmanager_config() -> None:
    proc = run(tool("amtool"), "check-config", "alertmanager.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    receiver = next(r for r in config["receivers"] if r["name"] == config["route"]["receiver"])
    assert receiver["webhook_configs"][0]["url"] == "http://alert-log:9095/alerts"


def test_alert_log_receiver_writes_one_line_per_alert(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-u", str(DEPLOY / "alert-log" / "receiver.py")],
        env={"ALERT_LOG_PORT": str(port), "PATH": os.environ.get("PATH", "")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        assert json.loads(proc.stderr.readline()) == {"listening": port}
        payload: dict[str, Any] = {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "LmsaNoHealthyReplica", "severity": "page"},
                    "annotations": {"summary": "No assistant replica passes /ready"},
                    "startsAt": "2026-01-01T00:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                },
                {
                    "status": "resolved",
                    "labels": {"alertname": "LmsaQueueWaitHigh", "severity": "warn"},
                    "annotations": {},
                },
            ],
        }
        answer = httpx.post(f"http://127.0.0.1:{port}/alerts", json=payload, timeout=10)
        assert answer.status_code == 200
        lines = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert httpx.post(f"http://127.0.0.1:{port}/alerts", json={}, timeout=10).status_code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert [(line["alertname"], line["status"]) for line in lines] == [
        ("LmsaNoHealthyReplica", "firing"),
        ("LmsaQueueWaitHigh", "resolved"),
    ]
    assert lines[0]["summary"] == "No assistant replica passes /ready"


# ---- HAProxy and Compose ------------------------------------------------------------------


def test_haproxy_accepts_its_config() -> None:
    # The lookup of "assistant" fails off Docker; one 1-second try instead of resolv.conf's 5.
    proc = run(
        tool("haproxy"), "-c", "-f", "haproxy.cfg", env={"RES_OPTIONS": "timeout:1 attempts:1"}
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    # Off Docker the replicas' name does not resolve (init-addr none keeps them parked); any
    # other warning is a real one.
    warnings = [
        line
        for line in output.splitlines()
        if "[WARNING]" in line and "could not resolve address 'assistant'" not in line
    ]
    assert not warnings, warnings
    assert "http-request use-service prometheus-exporter" in (DEPLOY / "haproxy.cfg").read_text()


def test_compose_runs_alertmanager_with_the_checked_files() -> None:
    services = compose_config(ROOT)["services"]
    mounts = {
        (name, Path(v["source"]).relative_to(ROOT).as_posix(), v["target"])
        for name, service in services.items()
        for v in service.get("volumes", [])
        if v["type"] == "bind"
    }
    assert ("prometheus", "deploy/alerts.yml", "/etc/prometheus/alerts.yml") in mounts
    assert (
        "alertmanager",
        "deploy/alertmanager.yml",
        "/etc/alertmanager/alertmanager.yml",
    ) in mounts
    assert ("alert-log", "deploy/alert-log/receiver.py", "/receiver.py") in mounts
    assert [p["published"] for p in services["alertmanager"]["ports"]] == ["9093"]


# ---- what lmsa exports for the alerts ----------------------------------------------------


def test_ready_exports_each_check_for_the_redis_alert(stub: LMStudioStub, tmp_path: Path) -> None:
    running = start_server(server_env(stub, tmp_path), tmp_path)
    try:
        assert httpx.get(f"{running.url}/ready", timeout=30).status_code == 200
        healthy = httpx.get(f"{running.url}/metrics", timeout=30).text
        stub.set_scenario({"loaded": False})
        assert httpx.get(f"{running.url}/ready", timeout=30).status_code == 503
        failing = httpx.get(f"{running.url}/metrics", timeout=30).text
    finally:
        running.stop()
    assert 'lmsa_ready_check_ok{check="checkpointer"} 1.0' in healthy
    assert 'lmsa_ready_check_ok{check="llm"} 1.0' in healthy
    assert 'lmsa_ready_check_ok{check="llm"} 0.0' in failing
    assert 'lmsa_ready_check_ok{check="checkpointer"} 1.0' in failing
