"""resolve_url, the clients' retry behaviour, check_server, and the reads of redis-py's
internals that closing relies on, against real redis-servers."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
from redis.asyncio.cluster import ClusterNode, RedisCluster

from pykue import Queue
from pykue.config import Settings
from pykue.connection import (
    ServerInfo,
    _closes_connections,
    _connection_stream,
    _node_connections,
    _pool_connections,
    check_server,
    close_client,
    create_client,
    finish_closing,
    parse_version,
    resolve_url,
    streams_of,
)
from pykue.errors import ConnectionFailed
from tests.helpers import RedisServer, free_port
from tests.topology import LocalCluster

# Named in the messages of the tests of redis-py's internals: when one fails after an
# upgrade, the function it names must learn redis-py's new shape.
REDIS_PY = f"redis-py {redis.__version__}"


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    """A private server for this module; tests may reconfigure it but must restore it."""
    srv = RedisServer.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def private_server() -> Iterator[RedisServer]:
    """A server a test may kill and restart."""
    srv = RedisServer.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def client(server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    c = create_client(server.url)
    try:
        yield c
    finally:
        await c.aclose()


def dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}"


def pykue_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "pykue" and r.levelno == level]


async def test_explicit_url_wins_without_probing(server: RedisServer, data_dir: Path) -> None:
    settings = Settings(url="redis://127.0.0.1:1", probe_url=server.url, data_dir=data_dir)
    assert await resolve_url(settings) == "redis://127.0.0.1:1"


async def test_probe_is_used_when_it_answers(server: RedisServer, data_dir: Path) -> None:
    settings = Settings(probe_url=server.url, data_dir=data_dir)
    assert await resolve_url(settings) == server.url
    started = await asyncio.to_thread(data_dir.exists)
    assert not started, "the embedded server must not start when the probe answers"


async def test_dead_probe_falls_back_to_the_embedded_server(data_dir: Path) -> None:
    url = await resolve_url(Settings(probe_url=dead_url(), data_dir=data_dir))
    assert url.startswith("unix://")
    assert url.endswith(f"{data_dir}/redis.sock")
    client = create_client(url)
    try:
        assert await client.ping()
        assert await client.config_get("appendonly") == {"appendonly": "yes"}
    finally:
        await client.aclose()
    # A second resolution finds the running server instead of starting another.
    assert await resolve_url(Settings(probe_url=dead_url(), data_dir=data_dir)) == url


async def test_no_server_and_embedded_disabled_says_how_to_configure(data_dir: Path) -> None:
    settings = Settings(probe_url=dead_url(), embedded=False, data_dir=data_dir)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as caught:
        await resolve_url(settings)
    assert time.monotonic() - started < 2
    message = str(caught.value)
    for hint in ("REDIS_URL=redis://", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"):
        assert hint in message
    assert "PYKUE_EMBEDDED" in message
    assert "\n" not in message
    assert not await asyncio.to_thread(data_dir.exists)


async def test_probe_of_a_password_protected_server_is_reported(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The password is set after start: RedisServer.wait_ready pings without one.
    locked = RedisServer.start()
    try:
        with redis.Redis(port=locked.port) as admin:
            admin.config_set("requirepass", "s3cret")
        settings = Settings(probe_url=locked.url, embedded=False, data_dir=data_dir)
        with pytest.raises(ConnectionFailed):
            await resolve_url(settings)
    finally:
        locked.stop()
    (warning,) = pykue_records(caplog, logging.WARNING)
    assert "requires a password" in warning.getMessage()


async def test_client_returns_bytes(client: redis.asyncio.Redis) -> None:
    await client.set("pykue-test-connection-bytes", "é")
    try:
        assert await client.get("pykue-test-connection-bytes") == "é".encode()
    finally:
        await client.delete("pykue-test-connection-bytes")


async def test_client_reconnects_after_a_restart(private_server: RedisServer) -> None:
    client = create_client(private_server.url)
    try:
        assert await client.set("k", "before")
        private_server.kill()
        private_server.restart()
        assert await client.ping()
        assert await client.get("k") is None  # the killed server kept nothing
    finally:
        await client.aclose()


async def test_client_rides_out_a_short_outage(private_server: RedisServer) -> None:
    client = create_client(private_server.url)
    try:
        assert await client.ping()
        private_server.kill()
        restart = threading.Timer(0.3, private_server.restart)
        restart.start()
        try:
            # Issued while nothing listens: the retries must carry it past the restart.
            assert await client.set("k", "after")
        finally:
            restart.join()
        assert await client.get("k") == b"after"
    finally:
        await client.aclose()


async def test_a_dead_server_fails_in_bounded_time() -> None:
    client = create_client(dead_url())
    started = time.monotonic()
    try:
        with pytest.raises(redis.ConnectionError):
            await client.ping()
    finally:
        await client.aclose()
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    "url", ["http://user:s3cret@host:1", "redis://:s3cret@host:port", "redis+sentinel://:s3cret@h"]
)
def test_bad_url_is_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(ConnectionFailed) as caught:
        create_client(url)
    assert "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)


async def test_check_server_is_quiet_with_noeviction(
    client: redis.asyncio.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    info = await check_server(client)
    assert info == ServerInfo(version=info.version, maxmemory_policy="noeviction")
    assert info.version >= (6, 2)
    assert pykue_records(caplog, logging.WARNING) == []


async def test_check_server_warns_about_eviction(
    client: redis.asyncio.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        info = await check_server(client)
    finally:
        await client.config_set("maxmemory-policy", "noeviction")
    assert info.maxmemory_policy == "allkeys-lru"
    (warning,) = pykue_records(caplog, logging.WARNING)
    message = warning.getMessage()
    assert "allkeys-lru" in message
    assert "set maxmemory-policy noeviction" in message
    assert "loses jobs" in message


async def test_check_server_without_config_command(caplog: pytest.LogCaptureFixture) -> None:
    # Managed services disable CONFIG; the policy must then come from INFO memory.
    managed = RedisServer.start(
        extra=("--rename-command", "CONFIG", "", "--maxmemory-policy", "volatile-lru")
    )
    client = create_client(managed.url)
    try:
        info = await check_server(client)
    finally:
        await client.aclose()
        managed.stop()
    assert info.maxmemory_policy == "volatile-lru"
    assert len(pykue_records(caplog, logging.WARNING)) == 1


async def test_resolved_clients_see_each_others_writes(data_dir: Path) -> None:
    url = await resolve_url(Settings(probe_url=dead_url(), data_dir=data_dir))
    # the reader is redis-py's own synchronous client: pykue builds none
    writer, reader = create_client(url), redis.Redis.from_url(url)
    try:
        await writer.set("shared", "yes")
        assert await asyncio.to_thread(reader.get, "shared") == b"yes"
    finally:
        await writer.aclose()
        reader.close()


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("7.2.4", (7, 2, 4)),
        ("6.2.14", (6, 2, 14)),
        ("255.255.255", (255, 255, 255)),
        ("8.0-rc1", (8,)),
        ("", ()),
    ],
)
def test_parse_version(text: str, version: tuple[int, ...]) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize(
    ("url", "match"),
    [
        (
            "redis+cluster://h:1?sentinel_password=x",
            r"\['sentinel_password'\] need a redis\+sentinel",
        ),
        (
            "redis+cluster://h:1?ssl_ca_certs=/ca.pem",
            r"TLS options \['ssl_ca_certs'\] need a rediss",
        ),
        (
            "redis+sentinel://h:1/svc?ssl_certfile=/c",
            r"TLS options \['ssl_certfile'\] need a rediss",
        ),
    ],
)
def test_many_host_options_that_do_not_fit_the_url_are_refused(url: str, match: str) -> None:
    with pytest.raises(ConnectionFailed, match=match):
        create_client(url)


async def test_rediss_to_a_plain_server_fails_fast_and_says_why(server: RedisServer) -> None:
    """A TLS handshake sent to a plain server is never answered; redis-py's retries made
    that a 39 s wait ending in "Timeout connecting". (The bound is the test's own.)"""
    queue = Queue(url=f"rediss://127.0.0.1:{server.port}", prefix="tls-mismatch")
    try:
        with pytest.raises(ConnectionFailed, match="speaks plain Redis without TLS"):
            await asyncio.wait_for(queue.connect(), 15)
    finally:
        await queue.close()


async def test_timeouts_follow_the_lease(server: RedisServer) -> None:
    """A reply may take a third of the lease (so a call on a dead connection is resent on
    a fresh one while the lease holds); a blocking client adds its longest block (and a
    second at least); without a lease, up to SOCKET_TIMEOUT."""
    clients = {
        "leased": create_client(server.url, lease=1.5),
        "blocking": create_client(server.url, lease=1.5, blocking=True),
        "default": create_client(server.url),
    }
    try:
        options = {}
        for name, client in clients.items():
            assert isinstance(client, redis.asyncio.Redis)
            assert await client.ping()
            options[name] = client.connection_pool.connection_kwargs
        assert options["leased"]["socket_timeout"] == pytest.approx(0.5)
        assert options["leased"]["health_check_interval"] == pytest.approx(1.5)
        assert options["blocking"]["socket_timeout"] == pytest.approx(16.0)
        assert options["default"]["socket_timeout"] == pytest.approx(30.0)  # no lease
        assert options["leased"]["socket_connect_timeout"] <= 5.0
    finally:
        for client in clients.values():
            await client.aclose()


async def test_pool_connections_idle_and_in_use_are_found(server: RedisServer) -> None:
    client = create_client(server.url)
    assert isinstance(client, redis.asyncio.Redis)
    pool = client.connection_pool
    try:
        idle = await pool.get_connection()
        busy = await pool.get_connection()
        await pool.release(idle)
        found = _pool_connections(pool)
        assert idle in found, (
            f"{REDIS_PY}: an idle connection is no longer in "
            "ConnectionPool._available_connections (update connection._pool_connections)"
        )
        assert busy in found, (
            f"{REDIS_PY}: a connection in use is no longer in "
            "ConnectionPool._in_use_connections (update connection._pool_connections)"
        )
        streams = [_connection_stream(connection) for connection in (idle, busy)]
        assert all(isinstance(stream, asyncio.StreamWriter) for stream in streams), (
            f"{REDIS_PY}: a connected connection has no asyncio.StreamWriter in "
            "AbstractConnection._writer (update connection._connection_stream)"
        )
        assert set(streams_of(client)) == set(streams)
        await pool.release(busy)
    finally:
        await client.aclose()
    assert all(_connection_stream(connection) is None for connection in (idle, busy))


async def test_cluster_node_connections_are_found(server: RedisServer) -> None:
    # A ClusterNode speaks to any server: its connections are plain redis-py ones.
    node = ClusterNode("127.0.0.1", server.port)
    try:
        connection = node.acquire_connection()
        await connection.connect()
        assert connection in _node_connections(node), (
            f"{REDIS_PY}: a cluster node's connection is no longer in "
            "ClusterNode._connections (update connection._node_connections)"
        )
        assert isinstance(_connection_stream(connection), asyncio.StreamWriter), (
            f"{REDIS_PY}: a connected cluster connection has no asyncio.StreamWriter in "
            "AbstractConnection._writer (update connection._connection_stream)"
        )
    finally:
        await node.disconnect()


@pytest.fixture(scope="module")
def one_node_cluster() -> Iterator[LocalCluster]:
    with LocalCluster.start(masters=1, replicas_per_master=0) as built:
        yield built


async def test_streams_of_a_cluster_client_are_closed_by_close_client(
    one_node_cluster: LocalCluster,
) -> None:
    client = create_client(one_node_cluster.url)
    assert isinstance(client, RedisCluster)
    try:
        assert await client.ping()
        streams = streams_of(client)
    finally:
        await close_client(client)
    assert streams, (
        f"{REDIS_PY}: no stream found for a cluster client that answered a PING "
        "(see connection._node_connections and _connection_stream)"
    )
    await finish_closing(streams)
    assert all(stream.transport.is_closing() for stream in streams)


async def test_redis_py_disconnect_tasks_are_recognised(server: RedisServer) -> None:
    """close_client waits for the tasks in which a cluster client disconnects the
    connections of a node that left, or that it marked for reconnection; here a node's
    own, started the way redis-py 8.1's NodesManager.set_nodes and ClusterNode.release do."""
    node = ClusterNode("127.0.0.1", server.port)
    quiet = asyncio.Event()
    ours = asyncio.create_task(quiet.wait())  # a task that disconnects nothing
    try:
        released = node.acquire_connection()
        await released.connect()
        idle = node.acquire_connection()
        await idle.connect()
        node.release(idle)
        released.mark_for_reconnect()
        node.release(released)  # redis-py disconnects it in a task of its own
        freeing = asyncio.create_task(node.disconnect_free_connections())
        recognised = [task for task in asyncio.all_tasks() if _closes_connections(task)]
        names = {getattr(task.get_coro(), "__qualname__", "") for task in recognised}
        assert "ClusterNode._disconnect_and_release" in names, (
            f"{REDIS_PY}: no task recognised as the disconnection of a released connection "
            f"(found {sorted(names)}; update connection._closes_connections)"
        )
        assert freeing in recognised, (
            f"{REDIS_PY}: ClusterNode.disconnect_free_connections() is not recognised as a "
            "disconnection (update connection._closes_connections)"
        )
        assert ours not in recognised
        await asyncio.wait(recognised)
        assert not released.is_connected
        assert not idle.is_connected
    finally:
        quiet.set()
        await ours
        await node.disconnect()
