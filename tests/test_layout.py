"""The project's wiring: every queue consumed, every task routed, compose matches the code."""

import re
import shlex
from pathlib import Path

import yaml

import celeryconfig
from mutt_app.celery_app import app
from mutt_app.cli import run

ROOT = Path(__file__).resolve().parent.parent


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_worker_queues() -> set[str]:
    queues = set()
    for service in compose()["services"].values():
        command = service.get("command") or []
        if command[:2] == ["mutt", "worker"]:
            queues |= set(command[command.index("-Q") + 1].split(","))
    return queues


def test_every_queue_is_consumed_by_the_compose_workers():
    assert compose_worker_queues() == set(celeryconfig.QUEUES)


def test_every_queue_is_consumed_by_the_embedded_worker():
    default = next(p for p in run.worker.params if p.name == "queues").default
    assert set(default.split(",")) == set(celeryconfig.QUEUES)


def test_every_routed_task_goes_to_a_declared_queue():
    for route in celeryconfig.task_routes.values():
        assert route["queue"] in celeryconfig.QUEUES


def test_every_beat_task_is_routed():
    for entry in celeryconfig.beat_schedule.values():
        assert entry["task"] in celeryconfig.task_routes


def test_compose_runs_exactly_one_beat_and_commands_that_exist():
    services = compose()["services"]
    beats = [name for name, s in services.items() if (s.get("command") or [])[:2] == ["mutt", "beat"]]
    assert beats == ["beat"]
    from mutt_app.cli import cli

    for name, service in services.items():
        command = service.get("command") or []
        if command and command[0] == "mutt":
            assert command[1] in cli.commands, f"compose service {name} runs unknown `mutt {command[1]}`"


def test_compose_sets_only_environment_variables_the_code_reads():
    from mutt_app.config import ENV_VARS

    declared = {v.name for v in ENV_VARS}
    for name, service in compose()["services"].items():
        if service.get("image") == "mutt:3" or "build" in service:
            for variable in service.get("environment", {}):
                assert variable in declared, f"{name} sets {variable}, which MUTT does not read"
