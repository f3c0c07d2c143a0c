"""TLS and ACL users through every URL form pykue takes: a cluster node (all slots)
that speaks only TLS and refuses the default user, reached as rediss+cluster:// and as
rediss://; and a master, replica and sentinel over TLS, reached as rediss+sentinel://.
Needs the redis-server on PATH (built with TLS, as Debian's is) and openssl."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from pykue import ConnectionFailed, Queue
from tests.helpers import free_port, wait_until

# redis-py, when a call that opens a TLS connection is cut off or refused (a worker
# stopping, a refused AUTH) while the handshake or its close is under way, can leave
# that socket to the garbage collector: under CPU load about 1 run in 3 of these tests
# reports an unclosed socket or transport at a later collection (never on an idle
# machine; pykue's own closing waits for every stream it can see). Those warnings alone
# are let through in this module; every assertion stands.
pytestmark = [
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:unclosed transport:ResourceWarning"),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in:pytest.PytestUnraisableExceptionWarning"
    ),
]


def make_certs(folder: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 signed by it."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=pykue-test-ca")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=127.0.0.1")  # fmt: skip
    (folder / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext")  # fmt: skip


async def one_job_runs(queue: Queue) -> None:
    """A worker on ``queue`` runs a saved job and its result comes back; then closed."""
    try:

        @queue.process("secure")
        async def handler(job: Any) -> str:
            return f"sealed {job.data['n']}"

        job = await queue.create("secure", {"n": 1}).save()
        runner = asyncio.ensure_future(queue.run(handle_signals=False))
        assert await job.wait(20) == "sealed 1"
        await queue.shutdown()
        await runner
    finally:
        await queue.close()


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    make_certs(folder)
    port = free_port()
    while port > 55535:  # a cluster node also listens on port + 10000
        port = free_port()
    binary = shutil.which("redis-server")
    assert binary, "the TLS tests need a redis-server on PATH"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", "server.pem", "--tls-key-file", "server.key",
         "--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no", "--tls-cluster", "yes",
         "--cluster-enabled", "yes", "--cluster-config-file", str(folder / "nodes.conf"),
         "--save", "", "--appendonly", "no", "--dir", str(folder),
         "--user", "app", "on", ">s3cret", "~*", "&*", "+@all", "--user", "default", "off"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    admin = redis.Redis(
        host="127.0.0.1", port=port, username="app", password="s3cret", ssl=True,
        ssl_ca_certs=str(folder / "ca.pem"), decode_responses=True,
    )  # fmt: skip
    try:
        wait_until(lambda: admin.ping(), "the TLS node")
        admin.execute_command("CLUSTER", "ADDSLOTS", *range(16384))
        wait_until(lambda: "cluster_state:ok" in admin.execute_command("CLUSTER", "INFO"), "ok")
        yield port, folder / "ca.pem"
    finally:
        admin.close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("scheme", ["rediss+cluster", "rediss"])
async def test_jobs_run_over_tls_as_an_acl_user(tls_node: tuple[int, Path], scheme: str) -> None:
    port, ca = tls_node
    url = f"{scheme}://app:s3cret@127.0.0.1:{port}?ssl_ca_certs={ca}"
    await one_job_runs(Queue(url=url, prefix=scheme.replace("+", "-")))


@pytest.mark.parametrize("scheme", ["rediss+cluster", "rediss"])
async def test_a_wrong_password_is_refused(tls_node: tuple[int, Path], scheme: str) -> None:
    port, ca = tls_node
    url = f"{scheme}://app:wrong@127.0.0.1:{port}?ssl_ca_certs={ca}"
    queue = Queue(url=url, prefix="x")
    try:
        with pytest.raises(ConnectionFailed, match=r"refused pykue: .*invalid username-password"):
            await queue.create("secure", {}).save()
    finally:
        await queue.close()


@pytest.fixture(scope="module")
def tls_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A master, a replica and a sentinel, each on a TLS port (what pykue uses) and a
    plain one (for the checks below); the data nodes take only the ACL user app, the
    sentinel a password of its own. Yields the rediss+sentinel URL's hosts part and the CA."""
    folder = tmp_path_factory.mktemp("tls-sentinel")
    make_certs(folder)
    binary = shutil.which("redis-server")
    assert binary, "the TLS tests need a redis-server on PATH"
    cert = {name: str(folder / name) for name in ("server.pem", "server.key", "ca.pem")}
    tls = ["--tls-cert-file", cert["server.pem"], "--tls-key-file", cert["server.key"],
           "--tls-ca-cert-file", cert["ca.pem"], "--tls-auth-clients", "no",
           "--tls-replication", "yes"]  # fmt: skip
    acl = ["--user", "app", "on", ">s3cret", "~*", "&*", "+@all", "--user", "default", "off",
           "--masteruser", "app", "--masterauth", "s3cret"]  # fmt: skip
    plain, secure = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str]) -> None:
        procs.append(subprocess.Popen(
            [binary, *args], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ))  # fmt: skip

    def node(n: int, *more: str) -> None:
        workdir = folder / f"node{n}"
        workdir.mkdir()
        ports = ["--port", str(plain[n]), "--tls-port", str(secure[n]), "--bind", "127.0.0.1"]
        start(
            [*ports, *tls, *acl, "--save", "", "--appendonly", "no", "--dir", str(workdir), *more]
        )

    def admin(port: int, **auth: str) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=True, **auth)

    try:
        node(0)
        # sentinels learn a replica's address from it: announce the TLS port
        announce = ["--replica-announce-port", str(secure[1])]
        node(1, "--replicaof", "127.0.0.1", str(secure[0]), *announce)
        with admin(plain[1], username="app", password="s3cret") as replica:
            wait_until(
                lambda: replica.info("replication").get("master_link_status") == "up" or None,
                "the replica to sync over TLS",
            )
        conf = folder / "sentinel.conf"  # sentinel rewrites its config: a file of its own
        conf.write_text(
            f"port {plain[2]}\ntls-port {secure[2]}\nbind 127.0.0.1\ndir {folder}\n"
            f"tls-cert-file {cert['server.pem']}\ntls-key-file {cert['server.key']}\n"
            f"tls-ca-cert-file {cert['ca.pem']}\n"
            "tls-auth-clients no\ntls-replication yes\nrequirepass sent1nel\n"
            f"sentinel monitor tlsmain 127.0.0.1 {secure[0]} 1\n"
            "sentinel auth-user tlsmain app\nsentinel auth-pass tlsmain s3cret\n"
        )
        start([str(conf), "--sentinel"])
        with admin(plain[2], password="sent1nel") as sentinel:

            def knows_both() -> bool | None:
                master = sentinel.sentinel_master("tlsmain")
                replicas = sentinel.sentinel_slaves("tlsmain")
                ok = "s_down" not in master["flags"] and [r["port"] for r in replicas] == [
                    secure[1]
                ]
                return ok or None

            wait_until(knows_both, "the sentinel to reach the master and replica over TLS")
        yield f"127.0.0.1:{secure[2]}", folder / "ca.pem"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


async def test_jobs_run_through_sentinel_over_tls(tls_sentinel: tuple[str, Path]) -> None:
    sentinel, ca = tls_sentinel
    url = f"rediss+sentinel://app:s3cret@{sentinel}/tlsmain?ssl_ca_certs={ca}"
    await one_job_runs(Queue(url=f"{url}&sentinel_password=sent1nel", prefix="tls-sentinel"))
    # the sentinel's own password is checked too
    refused = Queue(url=f"{url}&sentinel_password=wrong", prefix="tls-sentinel")
    try:
        with pytest.raises(ConnectionFailed, match="sentinels refused the credentials") as info:
            await refused.create("secure", {}).save()
        assert "sentinel_password=***" in str(info.value)
        assert "wrong" not in str(info.value)
    finally:
        await refused.close()
