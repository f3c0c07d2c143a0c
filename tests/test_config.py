"""Settings.from_env: where Redis comes from, and the errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from pykue.config import Settings, default_data_dir, parse_many_hosts, redact_url
from pykue.errors import ConnectionFailed, InvalidName

FULL_ENV = {
    "REDIS_URL": "redis://from-url:1111",
    "REDIS_HOST": "from-host",
    "REDIS_PORT": "2222",
    "REDIS_PASSWORD": "pw",
}


def test_explicit_url_wins_over_the_environment() -> None:
    settings = Settings.from_env(url="redis://explicit:3333", env=FULL_ENV)
    assert settings.url == "redis://explicit:3333"


def test_redis_url_wins_over_host_and_port() -> None:
    assert Settings.from_env(env=FULL_ENV).url == "redis://from-url:1111"


def test_host_port_and_password_build_a_url() -> None:
    env = {k: v for k, v in FULL_ENV.items() if k != "REDIS_URL"}
    assert Settings.from_env(env=env).url == "redis://:pw@from-host:2222"


def test_nothing_set_leaves_the_url_to_the_probe() -> None:
    settings = Settings.from_env(env={})
    assert settings == Settings()
    assert settings.url is None
    assert settings.probe_url == "redis://127.0.0.1:6379"


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"REDIS_HOST": "cache"}, "redis://cache:6379"),
        ({"REDIS_PORT": "6380"}, "redis://127.0.0.1:6380"),
        ({"REDIS_PASSWORD": "pw"}, "redis://:pw@127.0.0.1:6379"),
        ({"REDIS_HOST": "::1", "REDIS_PORT": "7000"}, "redis://[::1]:7000"),
        ({"REDIS_HOST": "[::1]"}, "redis://[::1]:6379"),
    ],
)
def test_missing_parts_take_defaults(env: dict[str, str], url: str) -> None:
    assert Settings.from_env(env=env).url == url


def test_empty_variables_count_as_unset() -> None:
    env = {"REDIS_URL": "", "REDIS_HOST": " ", "REDIS_PORT": "", "PYKUE_PREFIX": ""}
    assert Settings.from_env(env=env) == Settings()


def test_password_is_quoted_so_redis_py_reads_it_back() -> None:
    password = "p@ss:w/rd?#%"
    url = Settings.from_env(env={"REDIS_PASSWORD": password}).url
    assert url is not None
    client = redis.Redis.from_url(url)  # connects lazily: nothing is sent
    try:
        assert client.connection_pool.connection_kwargs["password"] == password
        assert client.connection_pool.connection_kwargs["host"] == "127.0.0.1"
    finally:
        client.close()


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1", "63.5"])
def test_bad_port_names_the_variable(port: str) -> None:
    with pytest.raises(ConnectionFailed, match="REDIS_PORT") as caught:
        Settings.from_env(env={"REDIS_PORT": port})
    assert "\n" not in str(caught.value)


def test_bad_host_names_the_variable() -> None:
    with pytest.raises(ConnectionFailed, match="REDIS_HOST"):
        Settings.from_env(env={"REDIS_HOST": "evil/host"})


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://example:80", "unsupported scheme 'http'"),
        ("localhost:6379", "no scheme"),
        ("redis://host:notaport", "invalid port"),
        ("unix://", "no socket path"),
        ("redis+sentinel://host:26379", "names no master"),
        ("redis+sentinel://host:26379/a/b", "names no master"),
        ("redis+cluster://h:7000,h:notaport", "invalid port in 'h:notaport'"),
        ("redis+cluster://h:7000,,h:7001", "invalid host ''"),
        ("redis+cluster://h:7000/3", "takes no path"),
        ("redis+cluster://h:7000?timeout=1", r"unknown options \['timeout'\]"),
        ("rediss+cluster://h:7000#x", "unknown options"),
    ],
)
def test_bad_redis_url_names_the_variable(url: str, match: str) -> None:
    with pytest.raises(ConnectionFailed, match=match) as caught:
        Settings.from_env(env={"REDIS_URL": url})
    assert str(caught.value).startswith("REDIS_URL ")


def test_bad_explicit_url_names_the_argument() -> None:
    with pytest.raises(ConnectionFailed, match=r"^url 'ftp://x'"):
        Settings.from_env(url="ftp://x", env={})
    with pytest.raises(ConnectionFailed, match=r"^url "):
        Settings(url="nope")


def test_errors_never_show_the_password() -> None:
    with pytest.raises(ConnectionFailed) as caught:
        Settings.from_env(env={"REDIS_URL": "http://user:s3cret@host:1"})
    assert "s3cret" not in str(caught.value)
    assert "user:***@host:1" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://h:1/0",
        "rediss://u:p@h:6380",
        "unix:///tmp/r.sock",
        "redis+cluster://h1:7000,h2:7001",
        "rediss+cluster://user:pw@h1:7000/?ssl_ca_certs=/ca.pem",
        "redis+sentinel://h1:26379,h2:26380/main-db?sentinel_password=x",
    ],
)
def test_supported_urls_are_kept_verbatim(url: str) -> None:
    assert Settings.from_env(env={"REDIS_URL": url}).url == url


@pytest.mark.parametrize(
    ("url", "kind", "hosts", "auth", "service"),
    [
        ("redis+cluster://a:1,b:2", "cluster", (("a", 1), ("b", 2)), (None, None), ""),
        ("redis+cluster://a", "cluster", (("a", 6379),), (None, None), ""),
        ("redis+sentinel://u:p%40ss@a:1/svc", "sentinel", (("a", 1),), ("u", "p@ss"), "svc"),
        ("redis+sentinel://[::1]/svc", "sentinel", (("::1", 26379),), (None, None), "svc"),
    ],
)
def test_many_host_urls_are_taken_apart(
    url: str, kind: str, hosts: tuple[tuple[str, int], ...], auth: tuple[str, str], service: str
) -> None:
    spec = parse_many_hosts(url)
    assert (spec.kind, spec.hosts, (spec.username, spec.password), spec.service) == (
        kind,
        hosts,
        auth,
        service,
    )


def test_prefix_argument_wins_over_environment_over_default() -> None:
    env = {"PYKUE_PREFIX": "from-env"}
    assert Settings.from_env(prefix="arg", env=env).prefix == "arg"
    assert Settings.from_env(env=env).prefix == "from-env"
    assert Settings.from_env(env={}).prefix == "pykue"


@pytest.mark.parametrize("prefix", ["has space", "a" * 129, "{tag}", "x*"])
def test_bad_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(InvalidName):
        Settings.from_env(prefix=prefix, env={})
    with pytest.raises(InvalidName):
        Settings.from_env(env={"PYKUE_PREFIX": prefix})


@pytest.mark.parametrize(
    ("value", "embedded"),
    [
        *[("0", False), ("false", False), ("No", False), ("OFF", False)],
        *[("1", True), ("true", True), ("YES", True), ("", True)],
    ],
)
def test_pykue_embedded_switch(value: str, embedded: bool) -> None:
    assert Settings.from_env(env={"PYKUE_EMBEDDED": value}).embedded is embedded


def test_pykue_embedded_rejects_other_values() -> None:
    with pytest.raises(ConnectionFailed, match="PYKUE_EMBEDDED"):
        Settings.from_env(env={"PYKUE_EMBEDDED": "maybe"})


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://from-os-environ:4444")
    monkeypatch.setenv("PYKUE_PREFIX", "osenv")
    settings = Settings.from_env()
    assert settings.url == "redis://from-os-environ:4444"
    assert settings.prefix == "osenv"


def test_data_dir_from_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(env={"PYKUE_DATA_DIR": str(tmp_path)})
    assert settings.data_dir == tmp_path
    assert Settings.from_env(env={}).data_dir is None


def test_default_data_dir_order(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    assert default_data_dir({"PYKUE_DATA_DIR": "/srv/q", "XDG_DATA_HOME": str(xdg)}) == Path(
        "/srv/q"
    )
    assert default_data_dir({"XDG_DATA_HOME": str(xdg)}) == xdg / "pykue"
    home_default = Path.home() / ".local" / "share" / "pykue"
    assert default_data_dir({}) == home_default
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    assert default_data_dir({"XDG_DATA_HOME": "relative/dir"}) == home_default


def test_default_data_dir_expands_the_home_directory() -> None:
    assert default_data_dir({"PYKUE_DATA_DIR": "~/q"}) == Path.home() / "q"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("rediss://user:pw@h:1", "rediss://user:***@h:1"),
        ("redis://user@h:1", "redis://user@h:1"),
        ("redis://h:1", "redis://h:1"),
        ("redis://h:1?password=pw&db=2", "redis://h:1?password=***&db=***"),
        (
            "rediss+sentinel://u:pw@h:1,h:2/main?ssl_ca_certs=/ca&sentinel_password=sp&x=1",
            "rediss+sentinel://u:***@h:1,h:2/main?ssl_ca_certs=***&sentinel_password=***&x=***",
        ),
        # any option may carry a secret, whatever its name
        ("redis://h:1/0?token=abc&auth=s3cret&flag", "redis://h:1/0?token=***&auth=***&flag"),
        ("redis+sentinel://h:1/main?SSL_PASSWORD=k", "redis+sentinel://h:1/main?SSL_PASSWORD=***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
