import pytest

from mutt_app import config


def test_a_unix_socket_redis_url_becomes_a_kombu_socket_url():
    assert config.broker_url_for("unix:///tmp/r.sock?db=2") == "redis+socket:///tmp/r.sock?virtual_host=2"
    assert config.broker_url_for("redis://h:6379/1") == "redis://h:6379/1"


def test_production_against_external_services_needs_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("MUTT_ENV", "production")
    monkeypatch.setenv("MUTT_HOME", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigurationError, match="SECRET_KEY must be set"):
        config.load()


def test_the_embedded_run_makes_and_keeps_its_own_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("MUTT_ENV", "production")
    monkeypatch.setenv("MUTT_HOME", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.load()
    assert first.embedded_redis and len(first.secret_key) == 64
    assert config.load().secret_key == first.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_every_variable_read_is_declared():
    with pytest.raises(KeyError):
        config.env("NOT_A_MUTT_VARIABLE")


def test_a_variable_without_a_default_is_read_as_optional(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert config.optional_env("REDIS_URL") is None
    with pytest.raises(KeyError, match="optional_env"):
        config.env("REDIS_URL")
    monkeypatch.setenv("REDIS_URL", "redis://h:6379/1")
    assert config.env("REDIS_URL") == config.optional_env("REDIS_URL") == "redis://h:6379/1"


# Settings celeryconfig checks when any MUTT process starts; each case names the setting to fix.
BAD_SETTINGS = [
    ({"CLAIM_LEASE_SECONDS": "20", "MOOG_TIMEOUT": "10"},
     "CLAIM_LEASE_SECONDS=20 must be at least 2 x MOOG_TIMEOUT + 10 = 30 (MOOG_TIMEOUT=10)"),
    ({"MOOG_RETRY_BACKOFF_MAX": "600", "CELERY_VISIBILITY_TIMEOUT": "2000"},
     "MOOG_RETRY_BACKOFF_MAX=600 must be below a quarter of CELERY_VISIBILITY_TIMEOUT=2000"),
    ({"CELERY_TASK_TIME_LIMIT": "600", "CELERY_VISIBILITY_TIMEOUT": "2000"},
     "CELERY_TASK_TIME_LIMIT=600 must be below a quarter of CELERY_VISIBILITY_TIMEOUT=2000"),
    ({"CLAIM_LEASE_SECONDS": "half a minute"}, "CLAIM_LEASE_SECONDS='half a minute' is not an integer"),
]


def run_optimised(args: list[str], tmp_path, **settings: str):
    """``python -O`` (asserts stripped, as some deployments run it) with these settings."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, MUTT_HOME=str(tmp_path / "home"), **settings)
    return subprocess.run([sys.executable, "-O", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("settings, problem", BAD_SETTINGS, ids=["lease", "backoff", "time-limit", "not-a-number"])
def test_a_wrong_celery_setting_stops_mutt_with_one_line_naming_it_even_under_python_O(settings, problem, tmp_path):
    result = run_optimised(["-m", "mutt_app.cli", "worker"], tmp_path, **settings)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {problem}") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("command", [["up", "--port", "1"], ["web"], ["beat"], ["status"], ["listen"]])
def test_every_command_that_runs_mutt_refuses_a_wrong_celery_setting_before_it_starts_anything(command, tmp_path):
    result = run_optimised(["-m", "mutt_app.cli", *command], tmp_path, CLAIM_LEASE_SECONDS="20")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: CLAIM_LEASE_SECONDS=20 must be at least") and result.stderr.count("\n") == 1
    assert not (tmp_path / "home" / "logs").exists()  # nothing was started


def test_listen_refuses_sources_it_cannot_read_in_one_line(tmp_path):
    result = run_optimised(["-m", "mutt_app.cli", "listen"], tmp_path, LISTEN_SOURCES="lan=10.0.0.0/33")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: LISTEN_SOURCES: source 'lan': ") and result.stderr.count("\n") == 1, result.stderr


def test_listen_refuses_half_a_tls_setting_in_one_line(tmp_path):
    result = run_optimised(["-m", "mutt_app.cli", "listen"], tmp_path, SYSLOG_TLS_CERT="/nonexistent.pem")
    assert result.returncode == 1
    assert result.stderr == "Error: SYSLOG_TLS_CERT and SYSLOG_TLS_KEY: set both, or neither\n", result.stderr


@pytest.mark.parametrize("program", [["worker", "--pool", "solo"], ["beat"]])
def test_celery_started_directly_refuses_a_wrong_setting_as_it_starts(program, tmp_path):
    args = ["-m", "celery", "-A", "mutt_app.celery_app", *program]
    if program[0] == "beat":
        args += ["-s", str(tmp_path / "celerybeat-schedule")]
    result = run_optimised(args, tmp_path, CLAIM_LEASE_SECONDS="20")
    assert result.returncode == 1
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: CLAIM_LEASE_SECONDS=20 must be at least")
    assert "Traceback" not in result.stderr


def test_every_configuration_problem_is_one_exception_naming_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MUTT_HOME", str(tmp_path))
    cases = {"MUTT_ENV": ("staging", "MUTT_ENV='staging' must be one of production, development, test"),
             "LOG_LEVEL": ("LOUD", "LOG_LEVEL='LOUD' must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
             "LOG_FORMAT": ("xml", "LOG_FORMAT='xml' must be one of json, text"),
             "MOOG_TIMEOUT": ("ten", "MOOG_TIMEOUT='ten' is not a number"),
             "REDIS_TIMEOUT": ("inf", "REDIS_TIMEOUT='inf' is not a number"),
             "MOOG_VERIFY_TLS": ("ture", "MOOG_VERIFY_TLS='ture' is neither true nor false"),
             "MAX_CONTENT_LENGTH": ("5MB", "MAX_CONTENT_LENGTH='5MB' is not an integer")}
    for name, (value, message) in cases.items():
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(config.ConfigurationError) as raised:
                config.load()
            assert str(raised.value).startswith(message)


@pytest.fixture
def loose_umask():
    """The common umask (022), under which a plain create is readable by everyone."""
    import os

    before = os.umask(0o022)
    yield
    os.umask(before)


def test_a_private_file_is_created_0600_with_no_chmod_afterwards_and_never_replaced(tmp_path, loose_umask, monkeypatch):
    from pathlib import Path

    def no_chmod(*_args, **_kwargs):
        raise AssertionError("chmod after the create: others could read it in between")

    monkeypatch.setattr(Path, "chmod", no_chmod)
    monkeypatch.setattr("os.chmod", no_chmod)
    path = tmp_path / "ingest_api_key"
    assert config.write_private(path, "mutt_secret\n") is True
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == "mutt_secret\n"
    assert config.write_private(path, "another") is False and path.read_text() == "mutt_secret\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ingest_api_key"]  # nothing left aside


def test_the_generated_secret_key_is_0600_from_the_start_in_a_0700_home(monkeypatch, tmp_path, loose_umask):
    from pathlib import Path

    monkeypatch.setattr(Path, "chmod", lambda *_: (_ for _ in ()).throw(AssertionError("chmod afterwards")))
    monkeypatch.setenv("MUTT_ENV", "development")
    monkeypatch.setenv("MUTT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config.load()
    assert (tmp_path / "home").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "home" / "secret_key").stat().st_mode & 0o777 == 0o600


SENTINELS = "sentinel://:s3cret@10.0.0.1:26379/2;sentinel://10.0.0.2:26380;sentinel://10.0.0.3"


def test_a_sentinel_redis_url_names_every_sentinel_the_primary_its_password_and_database(monkeypatch, tmp_path):
    monkeypatch.setenv("MUTT_HOME", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", SENTINELS)
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "mutt")
    monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", "watchers")
    sentinel = config.load().redis_sentinel
    assert sentinel == config.RedisSentinel(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379)), master="mutt", db=2,
        password="s3cret", sentinel_password="watchers")
    assert "s3cret" not in repr(sentinel) and "watchers" not in repr(sentinel)


def test_the_broker_follows_a_sentinel_redis_url_with_the_primary_s_name(monkeypatch):
    monkeypatch.setenv("REDIS_URL", SENTINELS)
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "mutt")
    monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", "watchers")
    assert config.broker_url() == SENTINELS
    assert config.broker_sentinel_options() == {"master_name": "mutt", "sentinel_kwargs": {
        "password": "watchers", "socket_timeout": 10, "socket_connect_timeout": 5}}  # a hung Sentinel times out
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.1:6379/0")
    monkeypatch.delenv("REDIS_SENTINEL_MASTER")
    assert config.broker_sentinel_options() == {} and config.load().redis_sentinel is None


@pytest.mark.parametrize("settings, message", [
    ({"REDIS_URL": SENTINELS}, "REDIS_SENTINEL_MASTER must name the primary"),
    ({"REDIS_URL": "sentinel://10.0.0.1:26379;redis://10.0.0.2:6379", "REDIS_SENTINEL_MASTER": "mutt"},
     "REDIS_URL: 'redis://10.0.0.2:6379' must be sentinel://"),
    ({"REDIS_URL": "sentinel://:pw@10.0.0.1:port", "REDIS_SENTINEL_MASTER": "mutt"},
     "REDIS_URL: 'sentinel://:***@10.0.0.1:port' must be sentinel://"),
    ({"REDIS_URL": "sentinel://10.0.0.1:26379/x", "REDIS_SENTINEL_MASTER": "mutt"}, "REDIS_URL: the database"),
    ({"REDIS_URL": "redis://10.0.0.1:6379/0", "REDIS_SENTINEL_MASTER": "mutt"},
     "REDIS_SENTINEL_MASTER is set but neither REDIS_URL nor CELERY_BROKER_URL"),
    ({"REDIS_URL": "redis://10.0.0.1:6379/0", "CELERY_BROKER_URL": "sentinel://10.0.0.1:26379"},
     "REDIS_SENTINEL_MASTER must name the primary the Sentinels watch (CELERY_BROKER_URL is sentinel://)"),
], ids=["no-master", "mixed-schemes", "bad-port-password-masked", "bad-db", "master-without-sentinel", "broker-without-master"])
def test_a_sentinel_setting_mutt_cannot_run_with_is_refused_naming_the_variable(settings, message, monkeypatch, tmp_path):
    monkeypatch.setenv("MUTT_HOME", str(tmp_path))
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigurationError) as raised:
        config.load()
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_worker_refuses_a_sentinel_broker_without_the_primary_s_name_before_it_starts(tmp_path):
    result = run_optimised(["-m", "mutt_app.cli", "worker"], tmp_path, REDIS_URL="sentinel://127.0.0.1:1")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: REDIS_SENTINEL_MASTER must name the primary") and result.stderr.count("\n") == 1, result.stderr


@pytest.fixture
def certificates(tmp_path):
    from tests.support.tls import make_certificates

    return make_certificates(tmp_path / "certificates")


def tls_settings(certificates, **changes: str) -> dict[str, str]:
    return {"REDIS_URL": SENTINELS, "REDIS_SENTINEL_MASTER": "mutt", "REDIS_TLS": "true",
            "REDIS_TLS_CA_CERT": str(certificates.ca), "REDIS_TLS_CERT": str(certificates.client_cert),
            "REDIS_TLS_KEY": str(certificates.client_key), **changes}


def test_redis_tls_reaches_the_sentinels_and_the_primary_with_the_ca_and_client_certificate(certificates, monkeypatch, tmp_path):
    monkeypatch.setenv("MUTT_HOME", str(tmp_path))
    for name, value in tls_settings(certificates, REDIS_SENTINEL_PASSWORD="watchers").items():
        monkeypatch.setenv(name, value)
    tls = config.load().redis_sentinel.tls
    assert tls == config.RedisTls(ca_cert=str(certificates.ca), cert=str(certificates.client_cert), key=str(certificates.client_key))
    ssl_options = {"ssl_cert_reqs": "required", "ssl_ca_certs": str(certificates.ca),
                   "ssl_certfile": str(certificates.client_cert), "ssl_keyfile": str(certificates.client_key)}
    assert config.broker_use_ssl() == ssl_options  # the primary, through kombu
    assert config.broker_sentinel_options() == {
        "master_name": "mutt", "sentinel_kwargs": {"password": "watchers", "ssl": True, **ssl_options,
                                                   **config.BROKER_SOCKET_TIMEOUTS}}  # the Sentinels

    monkeypatch.delenv("REDIS_TLS_CERT")
    monkeypatch.delenv("REDIS_TLS_KEY")
    assert config.load().redis_sentinel.tls.ssl_options() == {"ssl_cert_reqs": "required", "ssl_ca_certs": str(certificates.ca)}


def test_redis_tls_leaves_a_broker_that_is_not_sentinel_alone(certificates, monkeypatch, tmp_path):
    monkeypatch.setenv("MUTT_HOME", str(tmp_path))
    for name, value in tls_settings(certificates, CELERY_BROKER_URL="amqp://guest:guest@localhost:5672//").items():
        monkeypatch.setenv(name, value)
    assert config.load().redis_sentinel.tls is not None
    assert config.broker_use_ssl() is False and config.broker_sentinel_options() == {}
    monkeypatch.setenv("REDIS_TLS", "false")
    for name in config.TLS_FILES:
        monkeypatch.delenv(name)
    assert config.load().redis_sentinel.tls is None and config.broker_use_ssl() is False


@pytest.mark.parametrize("changes, message", [
    ({"REDIS_TLS": "maybe"}, "REDIS_TLS='maybe' is neither true nor false"),
    ({"REDIS_TLS_CA_CERT": ""}, "REDIS_TLS_CA_CERT must name the PEM file of the CA"),
    ({"REDIS_TLS_CA_CERT": "{missing}"}, "REDIS_TLS_CA_CERT: cannot load '{missing}' as PEM certificates (No such file or directory)"),
    ({"REDIS_TLS_CA_CERT": "{not_pem}"}, "REDIS_TLS_CA_CERT: cannot load '{not_pem}' as PEM certificates"),
    ({"REDIS_TLS_KEY": ""}, "REDIS_TLS_CERT and REDIS_TLS_KEY: set both, or neither"),
    ({"REDIS_TLS_CERT": ""}, "REDIS_TLS_CERT and REDIS_TLS_KEY: set both, or neither"),
    ({"REDIS_TLS_KEY": "{not_pem}"}, "REDIS_TLS_CERT/REDIS_TLS_KEY: cannot load"),
    ({"REDIS_TLS_KEY": "{ca_key}"}, "REDIS_TLS_CERT/REDIS_TLS_KEY: cannot load"),  # another certificate's key
    ({"REDIS_TLS": "false"}, "REDIS_TLS_CA_CERT is set but REDIS_TLS is false"),
    ({"REDIS_URL": "redis://10.0.0.1:6379/0", "REDIS_SENTINEL_MASTER": ""}, "REDIS_TLS is for sentinel:// URLs"),
], ids=["not-a-flag", "no-ca", "missing-ca", "ca-not-pem", "cert-without-key", "key-without-cert", "key-not-pem",
        "key-of-another-cert", "files-without-tls", "tls-without-sentinel"])
def test_a_redis_tls_setting_mutt_cannot_run_with_is_refused_naming_the_variable(changes, message, certificates, monkeypatch, tmp_path):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("SECRET-MATERIAL\n")
    paths = {"missing": str(tmp_path / "missing.pem"), "not_pem": str(not_pem), "ca_key": str(certificates.ca.with_suffix(".key"))}
    monkeypatch.setenv("MUTT_HOME", str(tmp_path))
    for name, value in tls_settings(certificates, **{name: value.format(**paths) for name, value in changes.items()}).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigurationError) as raised:
        config.load()
    assert str(raised.value).startswith(message.format(**paths)), str(raised.value)
    assert "SECRET-MATERIAL" not in str(raised.value)


def test_a_worker_refuses_redis_tls_without_a_ca_in_one_line_before_it_starts(tmp_path):
    result = run_optimised(["-m", "mutt_app.cli", "worker"], tmp_path, REDIS_URL="sentinel://127.0.0.1:1",
                           REDIS_SENTINEL_MASTER="mutt", REDIS_TLS="true")
    assert result.returncode == 1
    assert result.stderr == "Error: REDIS_TLS_CA_CERT must name the PEM file of the CA that signed the Redis and Sentinel " \
                            "certificates (REDIS_TLS is true)\n", result.stderr
