"""mutt send against a real HTTP server that answers the way MUTT's ingest does."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from mutt_app.cli import cli

KEY = "mutt_abcd1234_secret-part-never-printed"
SAMPLES = "/work/shared/data/test_data_syslog_events.json"


class Ingest(BaseHTTPRequestHandler):
    received: list = []
    busy_answers = 0

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.headers.get("X-API-KEY"), body))
        if type(self).busy_answers:
            type(self).busy_answers -= 1
            return self.answer(429, {"error": "Too Many Requests"})
        if isinstance(body, list):
            bad = [i for i, e in enumerate(body) if "hostname" not in e]
            return self.answer(200, {"status": "queued", "accepted": len(body) - len(bad),
                                     "rejected": [{"index": i, "error": "hostname: missing"} for i in bad]})
        if "hostname" not in body:
            return self.answer(400, {"error": "hostname: missing"})
        self.answer(200, {"status": "queued"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def ingest_url():
    Ingest.received, Ingest.busy_answers = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v2/ingest"
    server.shutdown()


def send(*args, env=None):
    return CliRunner().invoke(cli, ["send", *args], env=env or {"MUTT_API_KEY": KEY}, catch_exceptions=False)


def test_one_test_event_goes_out_with_the_key_in_the_header_and_the_key_is_never_printed(ingest_url):
    result = send("--url", ingest_url, "--message", "hello {n}")
    assert result.exit_code == 0, result.output
    ((key, event),) = Ingest.received
    assert key == KEY and event["message"] == "hello 1" and event["syslog_severity"] == 6
    assert "accepted 1  rejected 0" in result.output and "latency ms  p50" in result.output
    assert KEY not in result.output and "secret-part" not in result.output


def test_v25_sample_file_with_bom_in_batches_at_a_rate_counts_every_event(ingest_url):
    result = send("--url", ingest_url, "--file", SAMPLES, "--batch", "10", "--rate", "300", "--concurrency", "3", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 0
    assert report["events"] == report["accepted"] == 66 and report["requests"] == 7
    assert sum(len(body) for _, body in Ingest.received) == 66
    assert report["seconds"] >= 60 / 300  # the 7th request waits until 60 events' worth of time has passed


def test_ndjson_file_repeated_to_count_and_rejections_and_refusals_are_counted(ingest_url, tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_text('{"hostname": "a", "message": "m", "timestamp": "2026-01-01T00:00:00Z"}\n\n{"message": "no host"}\n')
    Ingest.busy_answers = 1
    result = send("--url", ingest_url, "--file", str(path), "--count", "5", "--concurrency", "1", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 1
    assert (report["events"], report["refused"], report["accepted"], report["rejected"]) == (5, 1, 2, 2)
    assert report["statuses"] == {"200": 2, "400": 2, "429": 1}
    assert report["errors"] == {"400: hostname: missing": 2}


def test_no_answer_is_counted_as_failed():
    from tests.support.processes import free_port

    result = send("--url", f"http://127.0.0.1:{free_port()}/api/v2/ingest", "--count", "2", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["failed"] == 2 and report["errors"] == {"ConnectionError": 2}


@pytest.mark.parametrize("args, env, message", [
    ((), {"MUTT_API_KEY": ""}, "give an API key"),
    (("--file", __file__), None, "neither JSON nor NDJSON"),
])
def test_refusals_explain_themselves(args, env, message):
    result = send(*args, env=env)
    assert result.exit_code != 0 and message in result.output


def test_an_ndjson_file_whose_messages_hold_u2028_is_read_as_one_event_a_line(tmp_path):
    from mutt_app.tools.sender import load_events

    sent = [{"hostname": "h", "message": f"a{separator}b", "timestamp": 1} for separator in "\u2028\u2029\u0085"]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(event, ensure_ascii=False) for event in sent) + "\n", encoding="utf-8")
    assert load_events(path) == sent
