"""The ``pykue`` command group, its global options and ``main()`` with one-line errors."""

from __future__ import annotations

from collections.abc import Sequence

import click

from ..config import check_url
from ..errors import PykueError
from ..keys import check_name
from .dashboard import dashboard
from .demo import demo
from .jobs import enqueue, jobs, stats
from .options import Options
from .runtime import PROG, error_line, one_line, say
from .schedules import limits, schedules
from .worker import worker

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_url(value, "--url")
    except PykueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _prefix(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_name("prefix", value)
    except PykueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@click.group(context_settings=CONTEXT, no_args_is_help=True)
@click.option(
    "--url",
    metavar="URL",
    callback=_url,
    help="Redis URL (redis://, rediss://, unix://). Default: REDIS_URL, REDIS_HOST/PORT, "
    "127.0.0.1:6379 if it answers, else pykue's embedded server.",
)
@click.option(
    "--prefix",
    metavar="NAME",
    callback=_prefix,
    help="Key prefix of the queue. Default: PYKUE_PREFIX, else 'pykue'.",
)
@click.version_option(package_name="pykue", prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context, url: str | None, prefix: str | None) -> None:
    """pykue: a Redis-backed job queue in the spirit of Kue.

    Run workers, enqueue and inspect jobs, serve the dashboard, or try it all with
    'pykue demo'.
    """
    ctx.obj = Options(url=url, prefix=prefix)


cli.add_command(worker)
cli.add_command(enqueue)
cli.add_command(stats)
cli.add_command(jobs)
cli.add_command(schedules)
cli.add_command(limits)
cli.add_command(dashboard)
cli.add_command(demo)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pykue`` command; return its exit code.

    Click's own error output (usage plus message over several lines) is replaced by
    one line on stderr: exit 2 for bad arguments, 1 for failures, 130 when interrupted.
    """
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name=PROG,
            standalone_mode=False,
        )
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:  # click >= 8.2
            say(exc.ctx.get_help())  # a group named alone: its help, as with --help
            return 0
        message = one_line(exc.format_message()).rstrip(".")
        where = exc.ctx.command_path if exc.ctx is not None else PROG
        error_line(f"{message}. Try '{where} --help'.")
        return 2
    except click.ClickException as exc:
        error_line(exc.format_message())
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        error_line("interrupted")
        return 130
    return result if isinstance(result, int) else 0
