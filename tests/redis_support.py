"""The one place tests decide whether the real Redis is there.

Locally a missing Redis skips the module with the reason; under CI (which starts Redis) it fails
(see :mod:`tests.deps`), so a broken pipeline cannot pass by skipping.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.deps import missing

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_answers(url: str = REDIS_URL) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def require_redis() -> None:
    """Call at module level in a test module that needs Redis."""
    if not redis_answers():
        missing(f"Redis does not answer PING at {REDIS_URL}; start it to run these tests")


def fresh_key_prefix(label: str) -> Iterator[str]:
    """Body of a fixture: a key prefix no other test uses, whose keys (whatever the key layout
    puts around it) are deleted when the test is done."""
    prefix = f"lmsa-{label}-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# ---- a local Redis Cluster -------------------------------------------------------------------

CLUSTER_NODES = 3
CLUSTER_START_TIMEOUT = 30.0


@dataclass
class LocalCluster:
    """Three ``redis-server --cluster-enabled yes`` masters on loopback, slots spread by
    ``redis-cli --cluster create``; ``url`` is what ``LMSA_REDIS_URL`` takes."""

    ports: list[int]
    processes: list[subprocess.Popen[bytes]]
    workdir: Path

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def node(self, port: int) -> redis.Redis:
        """A plain client on one node (for reading where keys landed)."""
        return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2, socket_timeout=5)

    def client(self) -> redis.RedisCluster:
        return redis.RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=5)

    def kill(self, port: int) -> None:
        """SIGKILL one master, as a crash would."""
        process = self.processes[self.ports.index(port)]
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _cluster_ports(count: int) -> list[int]:
    """Free loopback ports whose cluster-bus twins (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 30000)
        if port in ports or not all(_port_free(p) for p in (port, port + 10000)):
            continue
        ports.append(port)
    return ports


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ok(ports: list[int]) -> bool:
    for port in ports:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        try:
            info = client.cluster("info")
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()
        if info.get("cluster_state") != "ok" or int(info.get("cluster_known_nodes", 0)) < len(
            ports
        ):
            return False
    return True


@contextmanager
def local_cluster(workdir: Path, nodes: int = CLUSTER_NODES) -> Iterator[LocalCluster]:
    """Start a cluster of ``nodes`` masters (no replicas, nothing persisted), yield it, stop
    it. Locally a machine without ``redis-server``/``redis-cli`` skips; under CI it fails."""
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed; it runs the local Redis Cluster")
    workdir.mkdir(parents=True, exist_ok=True)
    ports = _cluster_ports(nodes)
    cluster = LocalCluster(ports, [], workdir)
    try:
        for port in ports:
            options = {
                "port": str(port),
                "bind": "127.0.0.1",
                "cluster-enabled": "yes",
                "cluster-config-file": str(workdir / f"nodes-{port}.conf"),
                "cluster-node-timeout": "2000",
                "dir": str(workdir),
                "save": "",
                "appendonly": "no",
                "daemonize": "no",
                "logfile": str(workdir / f"redis-{port}.log"),
            }
            argv = [part for name, value in options.items() for part in (f"--{name}", value)]
            cluster.processes.append(
                subprocess.Popen(
                    ["redis-server", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        deadline = time.monotonic() + CLUSTER_START_TIMEOUT
        while not all(redis_answers(f"redis://127.0.0.1:{port}/0") for port in ports):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on {ports}")
            time.sleep(0.05)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=CLUSTER_START_TIMEOUT,
        )
        while not _cluster_ok(ports):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster on {ports} did not reach cluster_state:ok")
            time.sleep(0.1)
        yield cluster
    finally:
        cluster.stop()


def purge_cluster_prefix(url: str, prefix: str) -> None:
    """Delete every key containing ``prefix`` on every master of the cluster at ``url``."""
    from lmsa.redis_clients import sync_client

    client = sync_client(url)
    try:
        for key in list(client.scan_iter(match=f"*{prefix}*", count=1000)):
            client.delete(key)
    finally:
        client.close()
