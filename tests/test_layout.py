"""The project's wiring: every queue consumed, every task routed, compose matches the code."""

import re
from pathlib import Path

import yaml

import celeryconfig
from mutt_app.cli import run
from tests.support import scripts

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
    default = next(p for p in run.worker.params if p.name == "queues").default()
    assert set(default.split(",")) == set(celeryconfig.QUEUES)


def test_every_routed_task_goes_to_a_declared_queue():
    for route in celeryconfig.task_routes.values():
        assert route["queue"] in celeryconfig.QUEUES


def test_every_beat_task_is_routed():
    for entry in celeryconfig.beat_schedule.values():
        assert entry["task"] in celeryconfig.task_routes


def test_compose_runs_one_beat_a_second_only_in_the_ha_profile_and_commands_that_exist():
    services = compose()["services"]
    beats = {name: s.get("profiles", []) for name, s in services.items() if (s.get("command") or [])[:2] == ["mutt", "beat"]}
    assert beats == {"beat": [], "beat-2": ["ha"]}
    from mutt_app.cli import cli

    for name, service in services.items():
        command = service.get("command") or []
        if command and command[0] == "mutt":
            assert command[1] in cli.list_commands(None), f"compose service {name} runs unknown `mutt {command[1]}`"


def test_compose_sets_only_environment_variables_the_code_reads():
    from mutt_app.config import ENV_VARS

    declared = {v.name for v in ENV_VARS}
    for name, service in compose()["services"].items():
        if service.get("image") == "mutt:3" or "build" in service:
            for variable in service.get("environment", {}):
                assert variable in declared, f"{name} sets {variable}, which MUTT does not read"


def test_compose_redis_keeps_what_it_accepted():
    for name in ("redis", "redis-replica"):  # the replica becomes the primary after a failover
        command = compose()["services"][name]["command"]
        options = {flag: command[at + 1] for at, flag in enumerate(command) if flag.startswith("--")}
        assert options["--appendonly"] == "yes"
        assert options["--maxmemory-policy"] == "noeviction"


def test_compose_ha_profile_has_a_replica_and_three_sentinels_watching_the_primary():
    services = compose()["services"]
    sentinels = [name for name, s in services.items() if "--sentinel" in " ".join(s.get("command") or [])]
    assert sentinels == ["sentinel-1", "sentinel-2", "sentinel-3"]
    assert all(services[name]["profiles"] == ["ha"] for name in (*sentinels, "redis-replica"))
    assert "sentinel monitor mutt redis 6379 2" in services["sentinel-1"]["command"][-1]


def test_compose_runs_flower_with_authentication_and_a_moog_standin_for_trials():
    services = compose()["services"]
    assert services["flower"]["command"][:2] == ["mutt", "flower"]
    assert "FLOWER_BASIC_AUTH" in services["flower"]["environment"]
    standin = services["moog-standin"]
    assert standin["profiles"] == ["trial"]
    port = standin["command"][standin["command"].index("--port") + 1]
    # the stand-in URL that compose's error message and .env.example give for a trial is where it listens
    standin_url = f"http://moog-standin:{port}/events"
    assert standin_url in compose()["x-mutt"]["environment"]["MOOG_WEBHOOK_URL"]
    assert f"MOOG_WEBHOOK_URL={standin_url}" in (ROOT / ".env.example").read_text()


def test_compose_refuses_to_start_without_an_explicit_moog_webhook_url():
    """No default: a production install must not send its alerts to the trial stand-in by accident."""
    webhook = compose()["x-mutt"]["environment"]["MOOG_WEBHOOK_URL"]
    assert re.fullmatch(r"\$\{MOOG_WEBHOOK_URL:\?[^}]+\}", webhook), webhook


def test_env_example_names_every_variable_compose_reads_from_env():
    text = (ROOT / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    example = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert interpolated == example


def _health_urls(service: dict) -> list[str]:
    test = service.get("healthcheck", {}).get("test") or []
    return re.findall(r"https?://[^'\"\s)]+", " ".join(test))


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_compose_web_health_check_hits_a_real_endpoint_on_the_port_web_listens_on(app):
    web = compose()["services"]["web"]
    port = _option(web["command"], "--port")
    assert _option(web["command"], "--host") == "0.0.0.0"
    assert any(mapping.endswith(f":{port}") for mapping in web["ports"])
    [url] = _health_urls(web)
    host_port, _, path = url.split("://", 1)[1].partition("/")
    assert host_port == f"127.0.0.1:{port}"
    assert app.test_client().get("/" + path).status_code == 200


def test_compose_workers_are_health_checked_by_pinging_their_own_node():
    for name, service in compose()["services"].items():
        command = service.get("command") or []
        if command[:2] == ["mutt", "worker"]:
            node = _option(command, "-n").replace("%h", "$$HOSTNAME")
            check = " ".join(service["healthcheck"]["test"])
            assert "inspect ping" in check and f"-d {node}" in check, name


def test_compose_flower_listens_where_its_port_is_published():
    flower = compose()["services"]["flower"]
    port = _option(flower["command"], "--port")
    assert _option(flower["command"], "--address") == "0.0.0.0"
    assert flower["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert _health_urls(flower) == [f"http://127.0.0.1:{port}/healthcheck"]


def test_compose_commands_parse_with_their_options():
    """Every `mutt ...` command line in compose is accepted by the CLI's own parser."""
    from mutt_app.cli import cli

    for service in compose()["services"].values():
        command = service.get("command") or []
        if command[:1] == ["mutt"]:
            cli.get_command(None, command[1]).make_context(command[1], list(command[2:]))  # raises on a bad option


def test_generated_files_are_current():
    """docs/configuration.md, docs/api.md and codecov.yml are generated: `python scripts/gen_docs.py`."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def _sources() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for top in ("mutt_app", "tasks", "web") for p in (ROOT / top).rglob("*.py"))


def _codecov_owns(paths: list[str], source: str) -> bool:
    """Codecov's rule for a component's paths: no "!" regex matches, and a plain one does (or there is none)."""
    excluded = [rx[1:] for rx in paths if rx.startswith("!")]
    included = [rx for rx in paths if not rx.startswith("!")]
    if any(re.match(rx, source) for rx in excluded):
        return False
    return not included or any(re.match(rx, source) for rx in included)


def test_codecov_components_partition_the_code_as_the_test_command_does():
    run_tests = scripts.run_tests()
    components = yaml.safe_load((ROOT / "codecov.yml").read_text())["component_management"]["individual_components"]
    floors = {c.name: c.floor for c in run_tests.COMPONENTS}
    assert {c["name"]: float(c["statuses"][0]["target"].rstrip("%")) for c in components} == floors
    for source in _sources():
        owners = [c["name"] for c in components if _codecov_owns(c["paths"], source)]
        assert owners == [run_tests.component_of(source)], source  # component_of fails on overlapping patterns


def test_every_component_pattern_matches_a_file():
    """A pattern that matches nothing is a file moved or renamed without its component following it."""
    from fnmatch import fnmatchcase

    run_tests = scripts.run_tests()
    sources = _sources()
    dead = [(c.name, pattern) for c in run_tests.COMPONENTS for pattern in c.files
            if not any(fnmatchcase(source, pattern.removeprefix("!")) for source in sources)]
    assert dead == [], "COMPONENTS in scripts/run_tests.py names files that do not exist"


def test_every_component_but_core_owns_code():
    run_tests = scripts.run_tests()
    owned = {run_tests.component_of(source) for source in _sources()}
    assert owned == {c.name for c in run_tests.COMPONENTS}


def test_docs_coverage_md_has_the_one_section_a_full_run_writes():
    run_tests = scripts.run_tests()
    text = run_tests.COVERAGE_DOC.read_text()
    assert text.count(run_tests.DOC_BEGIN) == 1 and text.count(run_tests.DOC_END) == 1
    assert text.index(run_tests.DOC_BEGIN) < text.index(run_tests.DOC_END)


def test_every_relative_link_in_the_docs_resolves():
    """docs/ is the single source of truth: no link in README, CHANGELOG or docs/ points nowhere."""
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"[a-z]+:", target) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_compose_workers_serve_metrics_where_prometheus_can_reach_them():
    services = compose()["services"]
    assert compose()["x-mutt"]["environment"]["WORKER_METRICS_ADDRESS"] == "0.0.0.0"
    for name, service in services.items():
        if (service.get("command") or [])[:2] == ["mutt", "worker"]:
            assert _option(service["command"], "--metrics-port").isdigit(), name


def _setup_cfg():
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def _cfg_list(value: str) -> list[str]:
    return [item.strip() for line in value.splitlines() for item in line.split(",") if item.strip()]


def test_package_data_ships_every_file_the_package_needs_at_run_time():
    """A non-editable install (the Docker image) has only what setup.cfg lists: every non-Python file
    under the packages is matched by its own package's package_data globs, and every glob matches."""
    from fnmatch import fnmatchcase

    cfg = _setup_cfg()
    assert cfg["options"]["packages"].strip() == "find_namespace:"  # data directories are packages too
    includes = _cfg_list(cfg["options.packages.find"]["include"])
    package_data = {package: _cfg_list(globs) for package, globs in cfg["options.package_data"].items()}
    tops = {pattern for pattern in includes if "*" not in pattern}
    assert includes == [p for top in sorted(tops, key=includes.index) for p in (top, f"{top}.*")]
    unshipped, matched = [], set()
    for top in tops:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".py", ".pyc"):
                continue
            package = ".".join(path.parent.relative_to(ROOT).parts)
            globs = [g for g in package_data.get(package, []) if fnmatchcase(path.name, g)]
            matched.update((package, g) for g in globs)
            if not globs:
                unshipped.append(path.relative_to(ROOT).as_posix())
    assert unshipped == [], "add these to [options.package_data] in setup.cfg"
    dead = [(package, g) for package, globs in package_data.items() for g in globs if (package, g) not in matched]
    assert dead == [], "package_data globs that match no file"


def _requirements() -> list:
    from packaging.requirements import Requirement

    cfg = _setup_cfg()
    lines = (cfg["options"]["install_requires"] + "\n" + cfg["options.extras_require"]["test"]).splitlines()
    return [Requirement(line) for line in map(str.strip, lines) if line]


def _constraints() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version
    return pins


def test_constraints_pin_every_requirement_within_its_range():
    from packaging.utils import canonicalize_name

    pins = _constraints()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"constraints.txt does not pin {requirement}: scripts/update_constraints.sh"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {requirement}"


def test_constraints_pin_exactly_what_the_requirements_pull_in():
    """Every distribution setup.cfg's requirements pull in (as installed here) is pinned, and nothing else.
    pip and setuptools come with the virtualenv and are not pinned."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = _constraints()
    seen: dict[str, set[str]] = {}
    todo = _requirements()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen and set(requirement.extras) <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | set(requirement.extras)
        for line in metadata.distribution(name).requires or []:
            dependency = Requirement(line)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": extra})
                                                for extra in ("", *seen[name])):
                todo.append(dependency)
    pulled_in = set(seen) - {"pip", "setuptools"}
    assert sorted(pulled_in - set(pins)) == [], "not pinned: scripts/update_constraints.sh"
    assert sorted(set(pins) - pulled_in) == [], "pinned but not required"
