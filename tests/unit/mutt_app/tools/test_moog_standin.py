import socket
import time

import requests

from mutt_app.tools.moog_standin import MoogStandin


def test_the_standin_records_events_and_answers_as_told():
    standin = MoogStandin().start()
    try:
        assert requests.post(standin.url, json={"n": 1}, timeout=5).status_code == 200
        standin.behave(429, retry_after=2, times=1)
        refused = requests.post(standin.url, json={"n": 2}, timeout=5)
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "2")
        assert requests.post(standin.url, json={"n": 3}, timeout=5).status_code == 200
        assert [r.status for r in standin.received] == [200, 429, 200]
        assert standin.delivered() == [{"n": 1}, {"n": 3}]
        control = standin.url.replace("/events", "/_control")
        requests.post(control, json={"status": 503}, timeout=5)
        assert requests.post(standin.url, json={}, timeout=5).status_code == 503
        summary = requests.get(standin.url.replace("/events", "/_received"), timeout=5).json()
        assert summary["count"] == 4
    finally:
        standin.stop()



def test_a_list_of_events_is_recorded_event_by_event_and_refused_whole_when_one_is_bad():
    standin = MoogStandin().start()
    try:
        assert requests.post(standin.url, json={"events": [{"n": 1}, {"n": 2}]}, timeout=5).status_code == 200
        requests.post(standin.url.replace("/events", "/_control"), json={"refuse": "bad"}, timeout=5)
        assert requests.post(standin.url, json={"events": [{"n": 3}, {"n": "bad"}]}, timeout=5).status_code == 400
        assert requests.post(standin.url, json={"n": 5}, timeout=5).status_code == 200
        assert [(r.body, r.status) for r in standin.received] == [
            ({"n": 1}, 200), ({"n": 2}, 200), ({"n": 3}, 400), ({"n": "bad"}, 400), ({"n": 5}, 200)]
        summary = requests.get(standin.url.replace("/events", "/_received"), timeout=5).json()
        assert (summary["count"], summary["requests"]) == (5, 3)
    finally:
        standin.stop()

def test_a_request_cut_off_mid_body_is_not_counted_as_received():
    standin = MoogStandin().start()
    try:
        host, port = standin.url.split("//")[1].split("/")[0].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sender:  # a worker killed mid-send
            sender.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 100\r\n\r\n{\"external_id\": ")
        time.sleep(0.2)
        assert requests.post(standin.url, json={"n": 1}, timeout=5).status_code == 200
        assert [r.body for r in standin.received] == [{"n": 1}]
    finally:
        standin.stop()
