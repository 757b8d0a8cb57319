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
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
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
