"""The Cluster and Sentinel test topologies form, route, replicate and fail over for real."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from tests import topology
from tests.helpers import RedisServer
from tests.topology import (
    READY_TIMEOUT,
    SLOTS,
    LocalCluster,
    LocalSentinel,
    ask,
    client,
    wait_until,
)

# Polling for replication: a write reaches a replica in milliseconds, but CI can be slow.
REPLICATION_TIMEOUT = 10.0


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster.start() as started:
        yield started


@pytest.fixture
def cluster_client(cluster: LocalCluster) -> Iterator[RedisCluster]:
    nodes = [ClusterNode(host, port) for host, port in cluster.startup_nodes]
    c = RedisCluster(startup_nodes=nodes, decode_responses=True, socket_timeout=2.0)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def sentinel_set() -> Iterator[LocalSentinel]:
    with LocalSentinel.start() as started:
        yield started


@pytest.fixture
def sentinel(sentinel_set: LocalSentinel) -> Iterator[Sentinel]:
    s = Sentinel(sentinel_set.sentinel_addresses, socket_timeout=2.0)
    try:
        yield s
    finally:
        for c in s.sentinels:
            c.close()


@pytest.fixture
def sentinel_master(sentinel: Sentinel, sentinel_set: LocalSentinel) -> Iterator[redis.Redis]:
    master = sentinel.master_for(sentinel_set.service, decode_responses=True, socket_timeout=2.0)
    try:
        yield master
    finally:
        master.close()


def wait_for_value(port: int, key: str, value: str, cluster_replica: bool = False) -> None:
    """Poll a node until ``key`` holds ``value`` there (replication is asynchronous)."""
    with redis.Redis(port=port, decode_responses=True, single_connection_client=True) as c:
        if cluster_replica:
            c.execute_command("READONLY")  # else a cluster replica redirects reads (MOVED)
        wait_until(lambda: c.get(key) == value, f"{key}={value} on {port}", REPLICATION_TIMEOUT)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cluster_forms(cluster: LocalCluster, cluster_client: RedisCluster) -> None:
    assert len(cluster.ports) == 6
    masters = cluster.master_ports
    assert len(masters) == 3
    assert cluster.url == "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in masters)
    for port in cluster.ports:
        info = ask(port, "CLUSTER", "INFO")
        assert "cluster_state:ok" in info
        assert f"cluster_slots_assigned:{SLOTS}" in info
        assert "cluster_known_nodes:6" in info
        assert "cluster_size:3" in info

    # Every slot is served by exactly one of the three masters, and each has a share.
    owners = [cluster.master_for_slot(slot) for slot in range(0, SLOTS, 97)]
    owners.append(cluster.master_for_slot(SLOTS - 1))
    assert set(owners) == set(masters)
    served = {port: 0 for port in masters}
    for start, end, primary, *_ in ask(masters[0], "CLUSTER", "SLOTS"):
        served[int(primary[1])] += end - start + 1
    assert sum(served.values()) == SLOTS
    assert all(count > 5000 for count in served.values())

    for master in masters:
        replica = cluster.replica_of(master)
        master_info = ask(master, "INFO", "replication")
        assert master_info["role"] == "master"
        assert master_info["connected_slaves"] == 1
        assert master_info["slave0"]["port"] == replica
        assert master_info["slave0"]["state"] == "online"
        replica_info = ask(replica, "INFO", "replication")
        assert replica_info["role"] == "slave"
        assert replica_info["master_port"] == master
        assert replica_info["master_link_status"] == "up"

    for key in ("pykue:a", "pykue:b", "pykue:c", "{pykue}:jobs"):
        assert cluster_client.set(key, f"v-{key}")
        owner = cluster.master_for_key(key)
        assert owner == cluster.master_for_slot(cluster_client.keyslot(key))
        with client(owner) as direct:
            assert direct.get(key) == f"v-{key}"
        wait_for_value(cluster.replica_of(owner), key, f"v-{key}", cluster_replica=True)


def test_cluster_failover(cluster: LocalCluster, cluster_client: RedisCluster) -> None:
    key = "pykue:failover"
    assert cluster_client.set(key, "before")
    owner = cluster.master_for_key(key)
    replica = cluster.replica_of(owner)
    # Let the write reach the replica first, or the failover could legitimately lose it.
    wait_for_value(replica, key, "before", cluster_replica=True)

    cluster.kill(owner)
    new_master = cluster.wait_for_failover(owner)

    assert new_master == replica
    assert cluster.master_for_key(key) == new_master
    assert owner not in cluster.master_ports
    assert new_master in cluster.master_ports
    assert f"127.0.0.1:{new_master}" in cluster.url
    assert ask(new_master, "INFO", "replication")["role"] == "master"
    # The client made before the failover finds the new owner by itself.
    assert cluster_client.get(key) == "before"
    assert cluster_client.set(key, "after")
    assert cluster_client.get(key) == "after"
    with client(new_master) as direct:
        assert direct.get(key) == "after"


def test_sentinel_set_forms(
    sentinel_set: LocalSentinel, sentinel: Sentinel, sentinel_master: redis.Redis
) -> None:
    master, replica = sentinel_set.master_port, sentinel_set.replica_port
    ports = sentinel_set.sentinel_ports
    assert len(ports) == 3
    assert sentinel_set.url == (
        "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in ports) + "/pykue-main"
    )
    for port in ports:
        with client(port) as c:
            assert c.sentinel_get_master_addr_by_name("pykue-main") == ("127.0.0.1", master)
            assert len(c.sentinel_sentinels("pykue-main")) == 2
    assert sentinel_set.current_master() == master
    assert sentinel.discover_master("pykue-main") == ("127.0.0.1", master)
    assert sentinel.discover_slaves("pykue-main") == [("127.0.0.1", replica)]
    assert ask(master, "INFO", "replication")["connected_slaves"] == 1
    assert ask(replica, "INFO", "replication")["master_link_status"] == "up"

    assert sentinel_master.set("pykue:sentinel", "hello")
    with client(master) as direct:
        assert direct.get("pykue:sentinel") == "hello"
    wait_for_value(replica, "pykue:sentinel", "hello")


def test_sentinel_failover(sentinel_set: LocalSentinel, sentinel_master: redis.Redis) -> None:
    old_master, replica = sentinel_set.master_port, sentinel_set.replica_port
    assert sentinel_master.set("pykue:failover", "before")
    wait_for_value(replica, "pykue:failover", "before")

    sentinel_set.kill_master()
    new_master = sentinel_set.wait_for_failover()

    assert new_master == replica != old_master
    assert sentinel_set.master_port == new_master
    assert sentinel_set.current_master() == new_master
    assert ask(new_master, "INFO", "replication")["role"] == "master"
    # The client made before the failover asks the sentinels again and finds the new master.
    assert sentinel_master.get("pykue:failover") == "before"
    assert sentinel_master.set("pykue:failover", "after")
    with client(new_master) as direct:
        assert direct.get("pykue:failover") == "after"


@pytest.mark.parametrize(
    ("deployment", "failing_step", "servers"),
    [(LocalCluster, "cluster_state:ok", 6), (LocalSentinel, "every sentinel", 5)],
)
def test_failed_start_leaves_no_process(
    monkeypatch: pytest.MonkeyPatch,
    deployment: type[LocalCluster | LocalSentinel],
    failing_step: str,
    servers: int,
) -> None:
    """A start() that fails late, with every server already up, ends them all."""
    launched: list[RedisServer] = []
    real_launch, real_wait = topology._launch, topology.wait_until

    def recording_launch(*args: Any, **kwargs: Any) -> RedisServer:
        server = real_launch(*args, **kwargs)
        launched.append(server)
        return server

    def failing_wait(check: Callable[[], Any], what: str, timeout: float = READY_TIMEOUT) -> Any:
        if failing_step in what:
            raise TimeoutError(f"injected failure at: {what}")
        return real_wait(check, what, timeout)

    monkeypatch.setattr(topology, "_launch", recording_launch)
    monkeypatch.setattr(topology, "wait_until", failing_wait)
    with pytest.raises(TimeoutError, match="injected failure"):
        deployment.start()

    assert len(launched) == servers
    for server in launched:
        assert server.proc.returncode is not None
        assert not pid_alive(server.proc.pid)
        assert not Path(server.workdir).exists()
