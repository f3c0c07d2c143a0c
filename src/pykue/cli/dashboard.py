"""``pykue dashboard``: the web dashboard and JSON API on one port."""

from __future__ import annotations

import ipaddress
import socket

import click

from ..queue import Queue
from .base import PROG, Options, StopSignals, opened, run, say
from .serve import AppFactory, Dashboard, bind, load_create_app, url_of


async def serve(
    queue: Queue,
    create_app: AppFactory,
    sock: socket.socket,
    token: str | None,
    access_log: bool,
) -> None:
    async with opened(queue):
        web = Dashboard(queue, create_app, token, access_log)
        with StopSignals(web.stop, "forced stop"):
            say(f"pykue dashboard on {url_of(sock)} (queue '{queue.keys.prefix}'); Ctrl-C to stop")
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
@click.option("--access-log", is_flag=True, help="Log every request.")
@click.pass_obj
def dashboard(options: Options, host: str, port: int, token: str | None, access_log: bool) -> None:
    """Serve the dashboard and the JSON API (Kue's routes) for the queue.

    Prints the URL on stdout once it is listening.
    """
    create_app = load_create_app()
    token = token or None
    if token is None and not is_loopback(host):
        say(
            f"{PROG}: warning: the dashboard on {host} has no --token: anyone who can reach "
            "it can change jobs",
            err=True,
        )
    queue = options.queue()
    sock = bind(host, port)
    try:
        run(serve(queue, create_app, sock, token, access_log))
    finally:
        sock.close()
