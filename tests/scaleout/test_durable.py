"""Durable saves: Queue(replicas=N) returns from save() only once N replicas have the
job (Redis WAIT on the connection that wrote it), on one server and on a cluster."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import redis

from pykue import InvalidArgument, NotReplicated, Queue
from tests.helpers import RedisServer, wait_until
from tests.topology import LocalCluster


@pytest.fixture
def pair() -> Iterator[tuple[RedisServer, RedisServer]]:
    master = RedisServer.start()
    replica = RedisServer.start(extra=("--replicaof", "127.0.0.1", str(master.port)))
    try:
        with redis.Redis(port=replica.port, decode_responses=True) as client:
            wait_until(
                lambda: client.info("replication")["master_link_status"] == "up", "replica link"
            )
        yield master, replica
    finally:
        replica.proc.send_signal(signal.SIGCONT)
        replica.stop()
        master.stop()


async def test_save_waits_for_the_replica_and_says_when_it_cannot(
    pair: tuple[RedisServer, RedisServer],
) -> None:
    master, replica = pair
    queue = Queue(url=master.url, prefix="durable", replicas=1, replica_timeout=0.3)
    try:
        first = await queue.create("work", {"n": 1}).save()
        bulk = await queue.add_bulk([queue.create("work", {"n": n}) for n in range(600)])
        with redis.Redis(port=replica.port) as client:  # WAIT returned: it is there now
            assert client.exists(queue.keys.job(first.job_id), queue.keys.job(bulk[-1].job_id)) == 2

        replica.proc.send_signal(signal.SIGSTOP)  # alive, connected, but acknowledging nothing
        late = queue.create("work", {"n": "late"})
        with pytest.raises(NotReplicated, match=r"0 of 1 replicas confirmed within 0.3 s"):
            await late.save()
        assert late.id is None  # not marked saved: the caller may save it again
        replica.proc.send_signal(signal.SIGCONT)
        await late.save()  # the same job (its save token), now replicated
        assert late.job_id == first.job_id + 601
        assert (await queue.counts())["inactive"] == 602
    finally:
        await queue.close()


async def test_save_on_a_cluster_waits_for_the_masters_replica() -> None:
    with LocalCluster.start() as cluster:
        # a queue away from the client's default node (the first one in the URL), where
        # an unrouted WAIT would go
        prefix = cluster.prefix_on(cluster.master_ports[1], "durable")
        queue = Queue(url=cluster.url, prefix=prefix, replicas=1, replica_timeout=0.2)
        try:
            job = await queue.create("work", {}).save()
            replica = cluster.replica_of(cluster.master_for_key(queue.keys.events))
            with redis.Redis(port=replica) as client:
                client.execute_command("READONLY")
                assert client.exists(queue.keys.job(job.job_id)) == 1
            # a frozen replica acknowledges nothing: WAIT ran on the connection that wrote
            cluster.freeze(replica)
            try:
                late = queue.create("work", {})
                with pytest.raises(NotReplicated, match="0 of 1 replicas"):
                    await late.save()
            finally:
                cluster.thaw(replica)
            await late.save()
            assert late.job_id == job.job_id + 1
            strict = Queue(url=cluster.url, prefix=prefix, replicas=2, replica_timeout=0.2)
            with pytest.raises(NotReplicated, match="1 of 2 replicas"):
                await strict.create("work", {}).save()
            await strict.close()
        finally:
            await queue.close()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"replicas": -1}, "replicas must be"),
        ({"replicas": 101}, "replicas must be"),
        ({"replicas": True}, "replicas must be"),
        ({"replica_timeout": 0}, "replica_timeout must be"),
        ({"replica_timeout": float("nan")}, "replica_timeout must be"),
    ],
)
def test_bad_durability_options_are_refused(options: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        Queue(url="redis://127.0.0.1:1", **options)  # type: ignore[arg-type]
