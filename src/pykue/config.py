"""Settings from arguments and the environment: where Redis is and which prefix to use.

Where Redis comes from (first match wins)::

    url argument → REDIS_URL → REDIS_HOST / REDIS_PORT / REDIS_PASSWORD
      → None: connection.resolve_url() probes redis://127.0.0.1:6379,
        then starts the embedded server unless PYKUE_EMBEDDED=0

Other variables: ``PYKUE_PREFIX`` (key prefix, default ``pykue``) and
``PYKUE_DATA_DIR`` (the embedded server's data directory).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from .errors import ConnectionFailed
from .keys import check_name

# Every query value is masked, not only those named like passwords: options such as a
# token, an auth string or a key file's passphrase come under many names.
QUERY_VALUE = re.compile(r"(^|&)([^=&]*)=[^&]*")

DEFAULT_PREFIX = "pykue"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6379
PROBE_URL = f"redis://{DEFAULT_HOST}:{DEFAULT_PORT}"

SUPPORTED_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
SCHEME_HELP = (
    "use redis://, rediss://, unix://, redis+cluster://host:port,host:port "
    "or redis+sentinel://host:port,host:port/service (rediss+... for TLS)"
)

_FALSE = frozenset({"0", "false", "no", "off"})
_TRUE = frozenset({"", "1", "true", "yes", "on"})


@dataclass(frozen=True)
class ManyHosts:
    """A cluster or Sentinel URL taken apart: ``redis+cluster://[user:password@]host:port,
    host:port[?option=value]`` or ``redis+sentinel://...host:port.../service[?...]``.

    The user and password are the data nodes' (ACL); a Sentinel that wants a password
    of its own gets ``?sentinel_password=...`` (and ``sentinel_username``)."""

    kind: str  # "cluster" or "sentinel"
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    service: str  # Sentinel's name for the master; "" for a cluster
    options: tuple[tuple[str, str], ...]


def parse_many_hosts(url: str, source: str = "Redis URL") -> ManyHosts:
    """Take a ``redis+cluster://`` or ``redis+sentinel://`` URL apart, or raise
    ConnectionFailed naming ``source``."""
    shown = redact_url(url)
    scheme, _, rest = url.partition("://")
    if scheme not in CLUSTER_SCHEMES + SENTINEL_SCHEMES:
        raise ConnectionFailed(f"{source} {shown!r} is not a cluster or Sentinel URL")
    kind = "cluster" if scheme in CLUSTER_SCHEMES else "sentinel"
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    auth, at, host_list = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = auth.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts = tuple(_host_port(item, kind, source, shown) for item in host_list.split(","))
    service = unquote(path.strip("/"))
    if kind == "sentinel" and (not service or "/" in service):
        raise ConnectionFailed(
            f"{source} {shown!r} names no master: use redis+sentinel://host:port/service-name"
        )
    if kind == "cluster" and path.strip("/"):
        raise ConnectionFailed(
            f"{source} {shown!r}: a cluster has only database 0, so the URL takes no path"
        )
    options = tuple(parse_qsl(query, keep_blank_values=True))
    unknown = sorted({name for name, _ in options} - MANY_HOST_OPTIONS)
    if unknown or fragment:
        raise ConnectionFailed(
            f"{source} {shown!r} has unknown options {unknown or [fragment]}; "
            f"known: {', '.join(sorted(MANY_HOST_OPTIONS))}"
        )
    return ManyHosts(kind, scheme.startswith("rediss"), hosts, username, password, service, options)


# Query options of cluster and Sentinel URLs (TLS files for rediss+...).
MANY_HOST_OPTIONS = frozenset(
    {"sentinel_username", "sentinel_password", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile",
     "ssl_cert_reqs"}
)  # fmt: skip


def _host_port(item: str, kind: str, source: str, shown: str) -> tuple[str, int]:
    default = 26379 if kind == "sentinel" else DEFAULT_PORT
    if item.startswith("["):  # an IPv6 address: its colons are not the port's
        host, _, after = item[1:].partition("]")
        colon, port_text = after[:1], after[1:]
        if after and colon != ":":
            host = ""
    else:
        host, colon, port_text = item.rpartition(":")
        if not colon:
            host = item
    if not colon:
        port_text = str(default)
    if not host or any(c in host for c in "/@?#[]% \t\r\n"):
        raise ConnectionFailed(f"{source} {shown!r} has an invalid host {item!r}")
    if not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ConnectionFailed(f"{source} {shown!r} has an invalid port in {item!r}")
    return host, int(port_text)


@dataclass(frozen=True)
class Settings:
    """Where pykue finds Redis and which key prefix it uses.

    ``url`` None means: use ``probe_url`` if a server answers there, else the
    embedded server (unless ``embedded`` is False).
    """

    url: str | None = None
    prefix: str = DEFAULT_PREFIX
    embedded: bool = True
    data_dir: Path | None = None
    probe_url: str = PROBE_URL

    def __post_init__(self) -> None:
        check_name("prefix", self.prefix)
        if self.url is not None:
            check_url(self.url, "url")
        check_url(self.probe_url, "probe_url")

    @classmethod
    def from_env(
        cls,
        url: str | None = None,
        prefix: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from explicit arguments, falling back to ``env`` (os.environ)."""
        env = os.environ if env is None else env
        data_dir = _get(env, "PYKUE_DATA_DIR")
        return cls(
            url=url if url is not None else url_from_env(env),
            prefix=prefix if prefix is not None else _get(env, "PYKUE_PREFIX") or DEFAULT_PREFIX,
            embedded=_embedded_from_env(env),
            data_dir=Path(data_dir).expanduser() if data_dir else None,
        )


def url_from_env(env: Mapping[str, str]) -> str | None:
    """The Redis URL the environment names, or None when it names none."""
    url = _get(env, "REDIS_URL")
    if url:
        return check_url(url, "REDIS_URL")
    host = _get(env, "REDIS_HOST")
    port = _get(env, "REDIS_PORT")
    password = _get(env, "REDIS_PASSWORD")
    if not (host or port or password):
        return None
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{_url_host(host or DEFAULT_HOST)}:{_parse_port(port)}"


def check_url(url: str, source: str) -> str:
    """Return ``url`` if pykue can use it; else raise ConnectionFailed naming ``source``."""
    shown = redact_url(url)
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ConnectionFailed(
            f"{source} {shown!r} has no scheme: use redis://host:port, rediss://host:port "
            "or unix:///path/to/redis.sock"
        )
    if scheme in CLUSTER_SCHEMES + SENTINEL_SCHEMES:
        parse_many_hosts(url, source)
        return url
    if scheme not in SUPPORTED_SCHEMES:
        raise ConnectionFailed(
            f"{source} {shown!r} has unsupported scheme {scheme!r}: {SCHEME_HELP}"
        )
    parts = urlsplit(url)
    if scheme == "unix":
        if not parts.path:
            raise ConnectionFailed(f"{source} {shown!r} names no socket path")
        return url
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise ConnectionFailed(f"{source} {shown!r} has an invalid port") from None
    return url


def redact_url(url: str) -> str:
    """``url`` with its password (in the user part) and the value of every query option
    replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    query = QUERY_VALUE.sub(r"\1\2=***", parts.query)
    if password:
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{user}:***@{host}")
    return urlunsplit(parts._replace(query=query))


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The embedded server's data dir: $PYKUE_DATA_DIR, $XDG_DATA_HOME/pykue or
    ~/.local/share/pykue."""
    env = os.environ if env is None else env
    explicit = _get(env, "PYKUE_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = _get(env, "XDG_DATA_HOME")
    # The XDG spec says to ignore a relative XDG_DATA_HOME.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "pykue"
    return Path.home() / ".local" / "share" / "pykue"


def _get(env: Mapping[str, str], name: str) -> str:
    # Compose files and .env templates often set a variable to "" meaning unset.
    return env.get(name, "").strip()


def _parse_port(text: str) -> int:
    if not text:
        return DEFAULT_PORT
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ConnectionFailed(f"REDIS_PORT must be an integer from 1 to 65535, got {text!r}")
    return port


def _url_host(host: str) -> str:
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if any(c in bare for c in "/@?#[]% \t\r\n"):
        raise ConnectionFailed(f"REDIS_HOST must be a host name or IP address, got {host!r}")
    # An IPv6 address needs brackets so its colons are not read as the port separator.
    return f"[{bare}]" if ":" in bare else bare


def _embedded_from_env(env: Mapping[str, str]) -> bool:
    value = _get(env, "PYKUE_EMBEDDED").lower()
    if value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise ConnectionFailed(
        f"PYKUE_EMBEDDED must be 1/true/yes or 0/false/no, got {env['PYKUE_EMBEDDED']!r}"
    )
