"""Redis clients for pykue: which server to use, how to connect, and whether it is fit.

``resolve_url`` picks the server (see ``config``), ``create_client`` builds a
client that retries with backoff through short outages, and ``check_server``
refuses servers older than 6.2 and warns when the eviction policy could drop
queue keys. ``streams_of``, ``finish_closing`` and ``close_client`` let a
program that ends right after closing its clients leave no socket open.

redis-py offers no public way to list a client's connections, a connection's
stream, or the tasks in which it disconnects connections; each of those reads
of its internals is owned by one function below (``_pool_connections``,
``_node_connections``, ``_connection_stream``, ``_closes_connections``), which
finds nothing rather than fails if redis-py changes, and which
tests/test_connection.py checks against the installed redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import AuthenticationError, RedisClusterException

from .aio import cancel_all
from .config import (
    CLUSTER_SCHEMES,
    SENTINEL_SCHEMES,
    ManyHosts,
    Settings,
    check_url,
    parse_many_hosts,
    redact_url,
)
from .errors import ConnectionFailed

logger = logging.getLogger("pykue")

MIN_VERSION = (6, 2)
PROBE_TIMEOUT = 0.5
CONNECT_TIMEOUT = 5.0
# The longest a reply may take without a lease to follow; with one, a third of it (see
# call_timeout), so a dead connection is dropped and replaced well within the lease.
SOCKET_TIMEOUT = 30.0
MIN_SOCKET_TIMEOUT = 0.2  # below it a busy machine's pauses would pass for dead peers
# The longest server-side block of a command on a new_client(): the dashboard's event
# stream XREAD BLOCK (web/app.py KEEPALIVE_MS); the others block for less.
LONGEST_BLOCK = 15.0
TLS_SUSPECT_AFTER = 1.0  # see check_server
HEALTH_CHECK_INTERVAL = 15
RETRIES = 6
MAX_CONNECTIONS = 100  # per client; callers beyond it wait up to POOL_TIMEOUT for one
POOL_TIMEOUT = 20.0
BACKOFF_CAP = 1.0
BACKOFF_BASE = 0.05
RETRY_ON = (redis.ConnectionError, redis.TimeoutError)

# What pykue talks to: one server (or the master Sentinel names), or a cluster.
Client = redis.asyncio.Redis | RedisCluster

NO_SERVER_HELP = (
    "no Redis server found: nothing answers on {probe} and the embedded server is "
    "disabled (PYKUE_EMBEDDED=0). Point pykue at a server with REDIS_URL=redis://host:port "
    "(or rediss:// for TLS, unix:///path/to/redis.sock), or set REDIS_HOST / REDIS_PORT / "
    "REDIS_PASSWORD, or unset PYKUE_EMBEDDED to let pykue start its embedded server."
)


@dataclass(frozen=True)
class ServerInfo:
    """What ``check_server`` learned about a server."""

    version: tuple[int, ...]
    maxmemory_policy: str


async def resolve_url(settings: Settings) -> str:
    """The URL of the Redis server pykue should use, starting the embedded one if needed."""
    if settings.url is not None:
        return settings.url
    if await _answers(settings.probe_url):
        return settings.probe_url
    if not settings.embedded:
        raise ConnectionFailed(NO_SERVER_HELP.format(probe=redact_url(settings.probe_url)))
    # Imported on first use: keeps `python -m pykue.embedded` from finding itself
    # already imported by the package (runpy warns about that).
    from .embedded import ensure_embedded

    return await asyncio.to_thread(ensure_embedded, settings.data_dir)


def call_timeout(lease: float | None) -> float:
    """The longest a reply may take on a client working under ``lease`` seconds: a third
    of it (at least MIN_SOCKET_TIMEOUT, at most SOCKET_TIMEOUT). A renewal sent every
    lease/3 that meets a dead connection is then resent on a fresh one while the lease
    it renews still holds; redis-py resends on timeout, and pykue's calls are safe to
    resend (fencing tokens, claim request ids, save tokens), but for a log line, which
    may then be appended twice."""
    if lease is None:
        return SOCKET_TIMEOUT
    return max(MIN_SOCKET_TIMEOUT, min(SOCKET_TIMEOUT, lease / 3))


def create_client(
    url: str, *, lease: float | None = None, block: float = 0.0, blocking: bool = False
) -> Client:
    """An asyncio client for ``url`` that retries through short outages.

    ``lease``: the lease its calls work under; socket and connect timeouts, TCP
    keepalive and health checks follow it (see ``call_timeout``), so a half-open
    connection (a peer gone without a word) is noticed in a third of a lease instead of
    30 s. ``block``: the longest server-side block of its commands (BLPOP, XREAD BLOCK,
    WAIT), added to the socket timeout so a blocked read is not cut short; ``blocking``
    adds LONGEST_BLOCK, for a client of blocking reads (``Queue.new_client``).

    Its pool waits for a free connection instead of failing: a busy worker (many
    handlers acking at once) must queue for a connection, not see errors. A cluster
    URL gives redis-py's cluster client, a Sentinel URL a client of the master the
    Sentinels name (asked again after a failover)."""
    retry = redis.asyncio.retry.Retry(ExponentialBackoff(BACKOFF_CAP, BACKOFF_BASE), RETRIES)
    options = _options(url, lease, block + (LONGEST_BLOCK if blocking else 0.0))
    if url.partition("://")[0] in CLUSTER_SCHEMES + SENTINEL_SCHEMES:
        return _many_hosts_client(parse_many_hosts(url), retry, options)
    try:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_TIMEOUT,
            retry=retry,
            **options,
        )
    except ValueError as exc:
        raise _bad_url(url, exc) from None
    return redis.asyncio.Redis.from_pool(pool)


def _many_hosts_client(
    spec: ManyHosts, retry: redis.asyncio.retry.Retry, options: dict[str, Any]
) -> Client:
    options = dict(options)
    options.update(username=spec.username, password=spec.password)
    given = dict(spec.options)
    tls: dict[str, Any] = {k: v for k, v in given.items() if k.startswith("ssl_")}
    sentinel_auth = {k.removeprefix("sentinel_"): v for k, v in given.items() if k not in tls}
    if sentinel_auth and spec.kind == "cluster":
        raise ConnectionFailed(f"{sorted(given.keys() - tls.keys())} need a redis+sentinel URL")
    if tls and not spec.tls:
        raise ConnectionFailed(f"TLS options {sorted(tls)} need a rediss+... URL")
    if spec.tls:  # the data nodes and, for Sentinel, the sentinels speak TLS
        tls = {"ssl": True, **tls}
        options.update(tls)
    if spec.kind == "cluster":
        nodes = [ClusterNode(host, port) for host, port in spec.hosts]
        return RedisCluster(
            startup_nodes=nodes, retry=retry, max_connections=MAX_CONNECTIONS, **options
        )
    sentinel = Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
        list(spec.hosts),
        sentinel_kwargs={
            **sentinel_auth,
            **tls,
            "socket_connect_timeout": options["socket_connect_timeout"],
            # a lookup asks the next sentinel at once and is itself retried with the
            # master's connection: a sentinel retrying on its own only adds seconds
            "retry": redis.asyncio.retry.Retry(NoBackoff(), 0),
        },
        retry=retry,
        **options,
    )
    client: redis.asyncio.Redis = sentinel.master_for(spec.service, redis_class=redis.asyncio.Redis)
    return client


def refusal(exc: BaseException) -> str | None:
    """Why Redis refused pykue, when ``exc`` says it did (bad credentials, a cluster that
    will not serve): retrying cannot help. None for anything else."""
    if isinstance(exc, AuthenticationError | RedisClusterException):
        return str(exc)
    # redis-py folds each sentinel's error into one message, as text only
    if isinstance(exc, MasterNotFoundError) and "AuthenticationError" in str(exc):
        return "the sentinels refused the credentials (sentinel_username, sentinel_password)"
    return None


def streams_of(*clients: Client) -> list[asyncio.StreamWriter]:
    """The streams of the clients' open connections, idle or in use (see
    ``finish_closing``); none, so nothing awaited, if redis-py's internals change."""
    connections: list[Any] = []
    for client in clients:
        if isinstance(client, RedisCluster):  # a pool of its own per node
            for node in client.get_nodes():
                connections += _node_connections(node)
        else:
            connections += _pool_connections(client.connection_pool)
    streams = [_connection_stream(connection) for connection in connections]
    return [stream for stream in streams if stream is not None]


def _pool_connections(pool: redis.asyncio.ConnectionPool) -> list[Any]:
    """The connections of ``pool``, idle then in use: redis-py's
    ``ConnectionPool._available_connections`` and ``_in_use_connections``.

    redis-py has no public way to list them: ``get_connection_count()`` only counts
    them, and ``get_connection()`` hands out one at a time."""
    idle = getattr(pool, "_available_connections", None)
    in_use = getattr(pool, "_in_use_connections", None)
    return [*(idle or ()), *(in_use or ())]


def _node_connections(node: ClusterNode) -> list[Any]:
    """The connections a cluster client holds to ``node``, idle or in use: redis-py's
    ``ClusterNode._connections``.

    A cluster node keeps its own connections instead of a ``ConnectionPool`` (it has
    no ``connection_pool``), and has no public way to list them."""
    return list(getattr(node, "_connections", None) or ())


def _connection_stream(connection: object) -> asyncio.StreamWriter | None:
    """The stream of a redis-py asyncio connection, None when it is not connected:
    redis-py's ``AbstractConnection._writer``.

    redis-py has no public way to reach it: ``is_connected`` only says whether there
    is one, and ``disconnect()`` closes it without waiting for it to be closed, which
    is what ``finish_closing`` waits for."""
    stream = getattr(connection, "_writer", None)
    return stream if isinstance(stream, asyncio.StreamWriter) else None


async def finish_closing(streams: list[asyncio.StreamWriter], timeout: float = 1.0) -> None:
    """Wait (at most ``timeout``) for the streams being closed to be closed.

    redis-py closes a connection whose command was cancelled without waiting; over TLS
    that close takes one more round trip (close_notify), and a loop that ends first
    leaves the socket open. Callers take ``streams_of()`` before cancelling blocked
    reads and call this after closing their clients.
    """
    closing = [stream.wait_closed() for stream in streams if stream.transport.is_closing()]
    if closing:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), timeout)


async def close_client(client: Client) -> None:
    """Close ``client`` and, for a Sentinel-named master, the clients of the Sentinels.

    A cluster client also closes, in tasks of its own, the connections to nodes that
    left the cluster (a failed master): those are waited for too, briefly, so that a
    program ending right after leaves no socket open.
    """
    await client.aclose()
    pool = getattr(client, "connection_pool", None)  # a cluster client has one per node
    manager = getattr(pool, "sentinel_manager", None)
    for sentinel_client in getattr(manager, "sentinels", ()):
        await sentinel_client.aclose()
    if isinstance(client, RedisCluster):
        closing = [task for task in asyncio.all_tasks() if _closes_connections(task)]
        if closing:
            await asyncio.wait(closing, timeout=1.0)


def _closes_connections(task: asyncio.Task[Any]) -> bool:
    """True for redis-py's own background tasks that disconnect connections: those
    whose coroutine is a function of a ``redis.asyncio`` module with "disconnect" in
    its name (in redis-py 8.1, ``ClusterNode._disconnect_and_release`` and
    ``ClusterNode.disconnect_free_connections``), recognised from the coroutine's
    name and its frame's module (Python's ``cr_frame.f_globals``).

    redis-py has no public way to wait for them: a cluster client starts them for
    connections to nodes that left the cluster, or that it marked for reconnection,
    keeps them in private sets (``_background_tasks``; that of a node that left is
    out of reach), and ``aclose()`` does not wait for them."""
    coro = task.get_coro()
    module = getattr(getattr(coro, "cr_frame", None), "f_globals", {}).get("__name__", "")
    return module.startswith("redis.asyncio") and "disconnect" in getattr(coro, "__name__", "")


async def check_server(client: Client, url: str | None = None) -> ServerInfo:
    """Refuse a server older than 6.2; warn once if its maxmemory-policy may evict keys.

    Given the ``url`` of a TLS client (``rediss://``), a server that has not answered
    within a second is asked in plain text whether it speaks plain Redis: a TLS
    handshake sent to one is never answered, and redis-py would retry it for half a
    minute before saying only "Timeout connecting"."""
    if url is None or not url.startswith("rediss://"):
        return await _check_server(client)
    checking = asyncio.ensure_future(_check_server(client))
    done, _ = await asyncio.wait({checking}, timeout=TLS_SUSPECT_AFTER)
    if not done and await _speaks_plain_redis(url):
        await cancel_all([checking])
        raise ConnectionFailed(
            f"{redact_url(url)} asks for TLS (rediss://), but the server there speaks plain "
            "Redis without TLS: use a redis:// URL, or enable TLS on the server"
        )
    return await checking


async def _speaks_plain_redis(url: str) -> bool:
    """True if whatever listens at ``url``'s host and port answers a plain-text PING the
    way Redis does (a TLS server takes it for a broken handshake and closes)."""
    try:
        parts = urlsplit(url)
        where = (parts.hostname or "localhost", parts.port or 6379)
    except ValueError:
        return False
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*where), CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"PING\r\n")
        reply = await asyncio.wait_for(reader.read(64), PROBE_TIMEOUT * 2)
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return reply.startswith((b"+PONG", b"-NOAUTH", b"-ERR", b"-DENIED"))


async def _check_server(client: Client) -> ServerInfo:
    info = await client.info("server")
    version = parse_version(str(info.get("redis_version", "")))
    if version < MIN_VERSION:
        shown = ".".join(map(str, version)) or "unknown"
        raise ConnectionFailed(f"pykue needs Redis 6.2 or newer; the server runs {shown}")
    policy = await _maxmemory_policy(client)
    if policy not in ("noeviction", "unknown"):
        logger.warning(
            "pykue: Redis maxmemory-policy is %r: evicting queue keys loses jobs; "
            "set maxmemory-policy noeviction",
            policy,
        )
    return ServerInfo(version=version, maxmemory_policy=policy)


def parse_version(text: str) -> tuple[int, ...]:
    """``"7.2.4"`` → ``(7, 2, 4)``; stops at the first part that is not a number."""
    parts: list[int] = []
    for part in text.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


async def _answers(url: str) -> bool:
    """True if a server at ``url`` answers PING within PROBE_TIMEOUT."""
    client = redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=PROBE_TIMEOUT,
        socket_timeout=PROBE_TIMEOUT,
        retry=redis.asyncio.retry.Retry(NoBackoff(), 0),
    )
    try:
        return bool(await asyncio.wait_for(client.ping(), PROBE_TIMEOUT * 2))
    except redis.AuthenticationError:
        # Someone's server is there but wants a password: say so rather than
        # silently falling through to the embedded server.
        logger.warning(
            "pykue: the Redis on %s requires a password; set REDIS_URL or REDIS_PASSWORD to use it",
            redact_url(url),
        )
        return False
    except (TimeoutError, redis.RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def _maxmemory_policy(client: Client) -> str:
    # Managed services (ElastiCache, Memorystore...) often disable CONFIG; INFO
    # memory carries the same value on Redis 4+.
    try:
        config = await client.config_get("maxmemory-policy")
        for key, value in config.items():
            if _text(key) == "maxmemory-policy":
                return _text(value)
    except redis.ResponseError:
        pass
    try:
        memory = await client.info("memory")
    except redis.ResponseError:
        return "unknown"
    return _text(memory.get("maxmemory_policy", "unknown"))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _options(url: str, lease: float | None = None, block: float = 0.0) -> dict[str, Any]:
    check_url(url, "Redis URL")
    timeout = call_timeout(lease)
    options: dict[str, Any] = {
        "decode_responses": False,
        # connecting to a silent host may take no longer than a reply, nor than 5 s
        "socket_connect_timeout": min(CONNECT_TIMEOUT, max(timeout, 1.0)),
        # a blocked read's reply comes when its block ends: a second more, however short
        # the lease, so that a busy machine's pause does not cut it
        "socket_timeout": block + max(timeout, 1.0) if block else timeout,
        # a connection idle for a lease is PINGed before use rather than trusted
        "health_check_interval": HEALTH_CHECK_INTERVAL
        if lease is None
        else max(1.0, min(HEALTH_CHECK_INTERVAL, lease)),
        # redis-py 5 retries only errors listed here, whatever the Retry object says.
        "retry_on_error": list(RETRY_ON),
    }
    # Unix socket connections reject keepalive options.
    if not url.startswith("unix:"):
        options["socket_keepalive"] = True
        options["socket_keepalive_options"] = _keepalive_options(timeout, block)
    return options


def _keepalive_options(timeout: float, block: float) -> dict[int, int]:
    # Detect a silently dead peer (a failed-over host, a dropped NAT entry) within a
    # few reply timeouts instead of the kernel's default two hours: probes start after
    # about a timeout of silence, and unacknowledged data (a request into the void)
    # drops the connection after the timeout plus any block (TCP_USER_TIMEOUT).
    if sys.platform.startswith("linux"):
        idle = max(1, min(15, round(timeout)))
        return {
            socket.TCP_KEEPIDLE: idle,
            socket.TCP_KEEPINTVL: max(1, min(5, round(timeout / 2))),
            socket.TCP_KEEPCNT: 3,
            socket.TCP_USER_TIMEOUT: max(1000, round((timeout + block) * 1000)),
        }
    return {}


def _bad_url(url: str, exc: ValueError) -> ConnectionFailed:
    reason = str(exc)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    # redis-py's messages may quote parts of the URL; never echo a password.
    for secret in {password, unquote(password)} if password else ():
        reason = reason.replace(secret, "***")
    return ConnectionFailed(f"invalid Redis URL {redact_url(url)!r}: {reason}")
