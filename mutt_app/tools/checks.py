"""Checks of a running MUTT over HTTP: `mutt smoke` (is it working end to end?) and `mutt validate`
(v2.5's operator validation guide, automated: docs/operator-validation.md).

Only public interfaces are used — /health, /metrics, /api/v2/ingest, /api/v2/config — plus, for
the log checks, the processes' log files when they are on this machine (`mutt up` writes them to
MUTT_HOME/logs). Keys are sent in headers only and never printed.
"""

from __future__ import annotations

import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from mutt_app.errors import MuttError

PROCESSED_METRIC = "mutt_alerter_events_processed"
LOG_LINE_WAIT = 2.0  # v2.5's guide: a posted event shows in the logs within 2 s


class CheckFailed(MuttError):
    """The check ran and what it saw is wrong."""


class Skipped(MuttError):
    """The check cannot run with what it was given (a key or the log folder is missing)."""


@dataclass
class Result:
    name: str
    status: str  # passed | failed | skipped
    detail: str
    seconds: float


@dataclass
class Stack:
    """A running MUTT: its base URL, the keys the checks may use, where its logs are."""

    url: str
    ingest_key: str | None = None
    admin_key: str | None = None
    logs: Path | None = None
    moog_url: str | None = None  # a Moogsoft stand-in's /events URL (trial profile), never a real Moogsoft
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.http = requests.Session()

    def request(self, method: str, path: str, key: str | None = None, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key:
            headers["X-API-KEY"] = key
        return self.http.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def need(self, what: str) -> str:
        value = getattr(self, what)
        if not value:
            raise Skipped(f"needs --{what.replace('_', '-')}")
        return value

    # --- what the checks observe -------------------------------------------------------------

    def health(self) -> dict:
        response = self.request("GET", "/health")
        if response.status_code != 200:
            raise CheckFailed(f"/health answered {response.status_code}: {response.text[:200]}")
        return response.json()

    def processed_total(self) -> float:
        """Events the alerter finished, all outcomes, summed over every worker process."""
        response = self.request("GET", "/metrics")
        if response.status_code != 200:
            raise CheckFailed(f"/metrics answered {response.status_code}")
        return sum(sample.value for family in text_string_to_metric_families(response.text)
                   if family.name == PROCESSED_METRIC for sample in family.samples if sample.name.endswith("_total"))

    def ingest(self, event: dict, correlation_id: str) -> dict:
        response = self.request("POST", "/api/v2/ingest", self.need("ingest_key"), json=event,
                                headers={"X-Correlation-ID": correlation_id})
        if response.status_code != 200:
            raise CheckFailed(f"ingest answered {response.status_code}: {response.text[:200]}")
        return response.json()

    def setting(self, key: str):
        response = self.request("GET", f"/api/v2/config/{key}", self.need("admin_key"))
        if response.status_code != 200:
            raise CheckFailed(f"GET /api/v2/config/{key} answered {response.status_code}: {response.text[:200]}")
        return response.json()

    def change(self, key: str, value, reason: str) -> dict:
        if value is None:
            response = self.request("DELETE", f"/api/v2/config/{key}", self.need("admin_key"), json={"reason": reason})
        else:
            response = self.request("PUT", f"/api/v2/config/{key}", self.need("admin_key"),
                                    json={"value": value, "reason": reason})
        if response.status_code != 200:
            raise CheckFailed(f"changing {key} answered {response.status_code}: {response.text[:200]}")
        return response.json()

    def log_files(self) -> list[Path]:
        folder = self.need("logs")
        files = sorted(Path(folder).glob("*.log"))
        if not files:
            raise Skipped(f"no *.log files in {folder}")
        return files


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def marker() -> str:
    return "mutt-check-" + uuid.uuid4().hex[:12]


def probe_event(tag: str, message: str = "MUTT check event") -> dict:
    """An event no rule is meant to match (it ends counted as unhandled), named by ``tag``."""
    return {"hostname": tag, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "message": f"{message} {tag}", "source_type": "mutt-check"}


class LogTail:
    """Remembers where each log file ended, then waits for text to appear after that point."""

    def __init__(self, files: list[Path]) -> None:
        self.offsets = {path: path.stat().st_size for path in files}

    def new_text(self, path: Path) -> str:
        with open(path, "rb") as handle:
            handle.seek(self.offsets[path])
            return handle.read().decode("utf-8", "replace")

    def files_containing(self, text: str) -> list[Path]:
        return [path for path in self.offsets if text in self.new_text(path)]


# --- smoke ---------------------------------------------------------------------------------------

def check_health(stack: Stack) -> str:
    body = stack.health()
    if body.get("status") != "healthy":
        raise CheckFailed(f"/health says {body}")
    return f"healthy, version {body.get('version')}; " + ", ".join(f"{k} {v}" for k, v in body.items() if k in ("redis", "database"))


def check_event_processed(stack: Stack) -> str:
    before = stack.processed_total()
    tag = marker()
    answer = stack.ingest(probe_event(tag, "MUTT smoke test"), tag)
    if answer.get("status") != "queued":
        raise CheckFailed(f"ingest answered {answer}")
    started = time.monotonic()
    wait_for(lambda: stack.processed_total() >= before + 1, stack.timeout, "the event processed (/metrics)", 0.5)
    return f"event {tag} queued and processed in {time.monotonic() - started:.1f} s"


def check_moog_delivery(stack: Stack) -> str:
    """Only against a stand-in: an event a seed rule forwards must reach it."""
    standin = stack.moog_url
    if not standin:
        raise Skipped("needs --moog-standin")
    base = standin.rsplit("/", 1)[0]
    tag = marker()
    stack.ingest({**probe_event(tag), "message": f"CRITICAL MUTT smoke test {tag}"}, tag)

    def arrived():
        received = requests.get(base + "/_received", timeout=5).json()["received"]
        return any(tag in str(item.get("body")) for item in received)

    started = time.monotonic()
    wait_for(arrived, stack.timeout, "the alert at the Moogsoft stand-in", 0.5)
    return f"alert {tag} reached the stand-in in {time.monotonic() - started:.1f} s"


SMOKE = (("health", check_health), ("event processed", check_event_processed), ("alert delivered to Moog stand-in", check_moog_delivery))


# --- validate (docs/operator-validation.md) -----------------------------------------------------

def check_config_reload(stack: Stack) -> str:
    """Test 1: set alerter_queue_warn_threshold to 1000 then 2000; every web process serves the new
    value at once, nothing restarts, health stays green; the original value comes back."""
    key = "alerter_queue_warn_threshold"
    original = stack.setting(key)
    try:
        for value in (1000, 2000):
            stack.change(key, value, "mutt validate: dynamic config reload")
            seen = {stack.setting(key)["value"] for _ in range(8)}  # several requests: several web server processes
            if seen != {value}:
                raise CheckFailed(f"after setting {value}, reads gave {sorted(seen)}")
            check_health(stack)
    finally:
        stack.change(key, original["value"] if original["overridden"] else None, "mutt validate: restore")
    return f"{key} 1000 then 2000 read back from every request; restored to {original['value']}"


def check_config_reaches_every_process(stack: Stack) -> str:
    """Test 1 (the guide's "logs show the change"): log_level changed at runtime is applied by every
    MUTT process — web, worker, beat — which each log it, without a restart."""
    files = stack.log_files()
    original = stack.setting("log_level")
    target = "DEBUG" if original["value"] != "DEBUG" else "INFO"
    tail = LogTail(files)
    started = time.monotonic()
    try:
        stack.change("log_level", target, "mutt validate: reload seen by every process")
        line = f"log level is now {target}"
        expected = [path for path in files if path.stem in ("web", "worker", "beat")] or files
        wait_for(lambda: set(tail.files_containing(line)) >= set(expected), 10, f"'{line}' in {[p.name for p in expected]}")
        took = time.monotonic() - started
    finally:
        stack.change("log_level", original["value"] if original["overridden"] else None, "mutt validate: restore")
    return f"{', '.join(p.name for p in expected)} applied log_level={target} within {took:.1f} s"


def check_log_streaming(stack: Stack) -> str:
    """Test 2: an event posted shows in the logs within 2 s: the worker logs the batch that carried
    it. (MUTT does not log every accepted event, as v2.5 did; the correlation id is in the answer,
    in the event's audit row or dead letter, and on the log lines of the work it caused.)"""
    files = stack.log_files()
    tail = LogTail(files)
    tag = marker()
    before = stack.processed_total()
    posted = time.monotonic()
    stack.ingest(probe_event(tag, "MUTT log streaming check"), tag)
    line = "mutt.process_events["

    def logged():
        return [p.name for p in tail.files_containing(line) if "succeeded" in tail.new_text(p)]

    found = wait_for(logged, LOG_LINE_WAIT, "the batch's processing in a process log")
    took = time.monotonic() - posted
    wait_for(lambda: stack.processed_total() >= before + 1, stack.timeout, "the event processed (/metrics)", 0.5)
    return f"event {tag}: its batch processed and logged in {', '.join(found)} {took:.1f} s after the post"


def check_combined(stack: Stack) -> str:
    """Test 3: while events flow, set alerter_shed_mode=dlq and alerter_queue_shed_threshold=3000;
    the listing shows both; nothing restarts; events keep being processed; both are restored."""
    changes = {"alerter_shed_mode": "dlq", "alerter_queue_shed_threshold": 3000}
    originals = {key: stack.setting(key) for key in changes}
    before = stack.processed_total()
    try:
        for key, value in changes.items():
            tag = marker()
            stack.ingest(probe_event(tag, "MUTT combined check"), tag)
            stack.change(key, value, "mutt validate: combined")
        listing = stack.request("GET", "/api/v2/config", stack.admin_key).json()["settings"]
        shown = {item["key"]: item["value"] for item in listing if item["key"] in changes}
        if shown != changes:
            raise CheckFailed(f"the listing shows {shown}, expected {changes}")
        wait_for(lambda: stack.processed_total() >= before + len(changes), stack.timeout, "events processed meanwhile", 0.5)
        check_health(stack)
    finally:
        for key, original in originals.items():
            stack.change(key, original["value"] if original["overridden"] else None, "mutt validate: restore")
    return "listing shows alerter_shed_mode=dlq, alerter_queue_shed_threshold=3000; events kept flowing; restored"


def check_refusals(stack: Stack) -> str:
    """Checklist: bad requests get a clear 4xx, never a 500 (and no key material in the answer)."""
    outcomes = {
        "no key": stack.request("POST", "/api/v2/ingest", json=probe_event(marker())).status_code,
        "wrong key": stack.request("POST", "/api/v2/ingest", "not-a-key", json=probe_event(marker())).status_code,
        "not JSON": stack.request("POST", "/api/v2/ingest", stack.need("ingest_key"), data="{nope",
                                  headers={"Content-Type": "application/json"}).status_code,
        "config without admin key": stack.request("PUT", "/api/v2/config/log_level", stack.ingest_key,
                                                  json={"value": "DEBUG"}).status_code,
    }
    expected = {"no key": 401, "wrong key": 401, "not JSON": 400, "config without admin key": 403}
    if outcomes != expected:
        raise CheckFailed(f"got {outcomes}, expected {expected}")
    return ", ".join(f"{name} → {status}" for name, status in outcomes.items())


VALIDATE = (
    ("health", check_health),
    ("event processed end to end", check_event_processed),
    ("test 1: dynamic config reload", check_config_reload),
    ("test 1: change applied by every process (logs)", check_config_reaches_every_process),
    ("test 2: log streaming", check_log_streaming),
    ("test 3: combined", check_combined),
    ("checklist: clear refusals", check_refusals),
    ("checklist: healthy at the end", check_health),
)


def run(stack: Stack, checks, report: Callable[[Result], None] = lambda result: None) -> list[Result]:
    results = []
    for name, check in checks:
        started = time.monotonic()
        try:
            result = Result(name, "passed", check(stack), 0.0)
        except Skipped as skipped:
            result = Result(name, "skipped", str(skipped), 0.0)
        except CheckFailed as failed:
            result = Result(name, "failed", str(failed), 0.0)
        except requests.RequestException as error:
            result = Result(name, "failed", f"{type(error).__name__}: {error}", 0.0)
        result.seconds = time.monotonic() - started
        results.append(result)
        report(result)
    return results


def markdown(stack: Stack, results: list[Result], title: str, note: str = "") -> str:
    health = {}
    try:
        health = stack.health()
    except (CheckFailed, requests.RequestException):
        pass
    counts = {status: sum(r.status == status for r in results) for status in ("passed", "failed", "skipped")}
    logs = f"read from {stack.logs}" if stack.logs else "not read"
    lines = [f"# {title}", "",
             f"- when: {datetime.now(UTC).isoformat(timespec='seconds')}",
             f"- target: {stack.url} (MUTT {health.get('version', '?')}), logs {logs}",
             *([f"- stack: {note}"] if note else []),
             f"- runner: {platform.node()} ({platform.system()} {platform.release()}, Python {platform.python_version()})",
             f"- result: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped",
             "", "| Check | Result | Seconds | What was seen |", "|---|---|---|---|"]
    for result in results:
        lines.append(f"| {result.name} | {result.status} | {result.seconds:.1f} | {result.detail.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
