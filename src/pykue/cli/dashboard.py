"""``pykue dashboard``: the web dashboard and JSON API on one port."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import Any

import click

from ..queue import Queue
from . import params
from .base import PROG, Options, StopSignals, many_queues, opened, run, say
from .serve import Dashboard, bind, load_create_app, url_of


async def serve(
    queues: list[Queue], app: Any, sock: socket.socket, what: str, access_log: bool
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for queue in queues:
            await stack.enter_async_context(opened(queue))
        web = Dashboard(app, access_log)
        with StopSignals(web.stop, "forced stop"):
            say(f"pykue dashboard on {url_of(sock)} ({what}); Ctrl-C to stop")
            await web.serve(sock)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command(short_help="Serve the dashboard and JSON API.")
@click.option(
    "--host", metavar="HOST", default="127.0.0.1", show_default=True, help="Address to listen on."
)
@click.option(
    "--port",
    metavar="PORT",
    type=click.IntRange(0, 65535),
    default=3000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--token",
    metavar="TOKEN",
    envvar="PYKUE_DASHBOARD_TOKEN",
    show_envvar=True,
    help="Require 'Authorization: Bearer TOKEN' for every change (POST/PUT/DELETE).",
)
@click.option(
    "--token-reads",
    is_flag=True,
    help="Require the token for reads too (job data, /events, /metrics); needs --token.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    metavar="NAME",
    multiple=True,
    help="A host name the dashboard may be reached by, besides loopback names, IP "
    "addresses and --host (repeatable; '*': any, e.g. behind a proxy that checks it).",
)
@click.option("--access-log", is_flag=True, help="Log every request.")
@params.many_queues("Serve an overview of", "each one's own dashboard under q/PREFIX/")
@click.pass_obj
def dashboard(
    options: Options,
    host: str,
    port: int,
    token: str | None,
    token_reads: bool,
    allow_hosts: tuple[str, ...],
    access_log: bool,
    prefixes: list[str] | None,
    shards: int | None,
) -> None:
    """Serve the dashboard and the JSON API (Kue's routes) for the queue, or an
    overview of several queues (--queues, --shards) that asks each queue on its own
    and adds the counts up.

    Requests whose Host header is not a loopback name, an IP address, --host or an
    --allow-host name are refused (DNS rebinding), and so are writes a browser marks as
    cross-site or that are not JSON. Prints the URL on stdout once it is listening.
    """
    token = token or None
    if token_reads and token is None:
        raise click.UsageError("--token-reads needs --token (or PYKUE_DASHBOARD_TOKEN)")
    settings = {"token": token, "token_reads": token_reads, "allowed_hosts": [host, *allow_hosts]}
    queues = many_queues(options, prefixes, shards)
    if queues is None:
        queue = options.queue()
        queues, what = [queue], f"queue '{queue.keys.prefix}'"
        app = load_create_app()(queue, **settings)
    else:
        what = f"{len(queues)} queues"
        app = load_create_app("create_overview_app")(queues, **settings)
    if not is_loopback(host):
        unguarded = "has no --token: anyone who can reach it can change jobs; " if not token else ""
        say(
            f"{PROG}: warning: the dashboard on {host} {unguarded}it answers only for IP "
            "addresses and loopback names: add --allow-host NAME for each name it is reached by",
            err=True,
        )
    sock = bind(host, port)
    try:
        run(serve(queues, app, sock, what, access_log))
    finally:
        sock.close()
