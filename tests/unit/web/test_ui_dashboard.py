"""The dashboard's forwarding side and its live fragment, as a logged-in viewer sees them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mutt_app.storage import redis_keys
from tests.support.alerts import insert_alerts


def number(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', html).group(1)


def test_the_backlog_that_waits_for_moogsoft_is_not_the_ingest_backlog(viewer, redis):
    now = datetime.now(UTC)
    insert_alerts(130, created_at=now - timedelta(minutes=3))
    insert_alerts(4, state="sending")
    insert_alerts(2, state="delivered", updated_at=now - timedelta(seconds=10), delivered_at=now)
    insert_alerts(1, state="dead", updated_at=now - timedelta(hours=1))
    redis.hset(redis_keys.BREAKER, mapping={"state": "open"})
    html = viewer.get("/").get_data(as_text=True)
    assert ">Ingest backlog<" in html and ">Backlog<" not in html and number(html, "ingest-backlog") == "0"
    assert (number(html, "alerts-waiting"), number(html, "alerts-pending"), number(html, "alerts-sending")) == ("134", "130", "4")
    assert re.search(r"oldest waited 3 min \d+ s", html)
    assert (number(html, "alerts-delivered"), number(html, "alerts-dead")) == ("2", "1")
    assert "alerts in the last hour (2 in the last 60 s)" in html and "alerts dead-lettered in the last 24 h" in html
    assert number(html, "breaker") == "open" and 'class="band-open"' in html
    assert html.count('<figure class="spark">') == 5 and ">Workers<" in html


def test_the_live_fragment_is_the_live_part_only_and_is_not_cached(viewer):
    first = viewer.get("/dashboard/live")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    html = first.get_data(as_text=True)
    assert "<nav" not in html and "<html" not in html and ">Workers<" not in html and "<script" not in html
    assert number(html, "alerts-waiting") == "0" and 'data-live-updated' in html
    insert_alerts(3)
    assert number(viewer.get("/dashboard/live").get_data(as_text=True), "alerts-waiting") == "3"


def test_the_page_says_where_the_script_finds_the_live_part(viewer):
    html = viewer.get("/").get_data(as_text=True)
    assert '<div id="live" data-live="/dashboard/live" data-live-every="5">' in html
    assert '<button type="button" data-live-pause aria-pressed="false" hidden>Pause updates</button>' in html
    assert "data-refresh" not in html, "no full-page reload any more"


def test_the_live_fragment_needs_a_login(client):
    response = client.get("/dashboard/live")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_duration_reads_like_a_person_says_it():
    from web.ui import duration
    assert [duration(s) for s in (0, 59, 134, 3599, 7260)] == ["0 s", "59 s", "2 min 14 s", "59 min 59 s", "2 h 1 min"]
