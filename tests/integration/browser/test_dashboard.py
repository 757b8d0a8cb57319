"""The dashboard's live part in real headless Chromium against `mutt web` (granian) on PostgreSQL,
at 1440x900 and 390x844: during a Moogsoft outage (breaker open, alerts piling up in the outbox,
ingest backlog empty) the dashboard says how many alerts wait, and a new pending alert changes
the count and the "Updated" time without a page reload; Pause stops that, Resume starts it again;
no Content-Security-Policy violation; on the phone the page is no wider than the screen. Saves
the screenshots docs/web-ui.md shows (see IMAGES)."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from mutt_app.storage import redis_keys
from tests.integration.browser.conftest import IMAGES, log_in, serving_web
from tests.support.alerts import insert_alerts

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PASSWORD = "browser dashboard passphrase"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture
def web(redis, pg_url, tmp_path):
    with serving_web(pg_url, tmp_path, ("dora", PASSWORD, "viewer")) as url:
        yield url


def an_outage(redis) -> None:
    """The last 40 minutes as the janitor sampled them: Moogsoft failed 25 minutes ago, the
    breaker opened, the alerts waiting to be sent rose to 134 while the ingest backlog stayed
    small (the events were processed; their alerts could not be sent)."""
    now = time.time()
    samples = []
    for n in range(240):
        at = now - 2400 + n * 10
        failing = at > now - 1500
        samples.append({"at": at, "backlog": round(6 + 5 * math.sin(n / 9)),
                        "waiting": min(134, int((at - (now - 1500)) / 11)) if failing else int(n % 17 == 0),
                        "queues": {"alerts": int(n % 40 == 0), "moog": 2 if failing else int(n % 17 == 0)},
                        "breaker": ("half_open" if n % 30 == 0 else "open") if failing else "closed"})
    # and ingest carried on: a day of hourly counts, the last hour's minutes
    moment = datetime.now(UTC)
    for hours in range(24):
        stamp = (moment - timedelta(hours=hours)).strftime("%Y-%m-%dT%H")
        redis.set(redis_keys.ingest_rate("1h", stamp), int(60 * (300 + 200 * math.sin(hours / 4))))
    for minutes in range(61):
        redis.set(redis_keys.ingest_rate("1m", (moment - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")),
                  280 + minutes % 7 * 10)
    redis.rpush(redis_keys.DASHBOARD_SAMPLES, *[json.dumps(sample) for sample in samples])
    redis.hset(redis_keys.BREAKER, mapping={"state": "open", "failures": 5})


def waiting(page) -> int:
    return int(page.inner_text("#alerts-waiting"))


def updated(page) -> str:
    return page.get_attribute("[data-live-updated]", "datetime")


def test_the_dashboard_shows_alerts_waiting_and_updates_without_a_reload(web, redis, page):
    url = web
    an_outage(redis)
    insert_alerts(134, attempts=3, last_status=503, last_error="HTTP 503: Service Unavailable")
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    IMAGES.mkdir(parents=True, exist_ok=True)

    for viewport, shot in ((DESKTOP, "dashboard-forwarding.png"), (PHONE, "dashboard-390.png")):
        page.set_viewport_size(viewport)
        if viewport is DESKTOP:
            log_in(page, url, "dora", PASSWORD)
        else:
            page.goto(url + "/")
        page.evaluate("window.notReloaded = true")  # gone if the page reloads
        before, shown_at = waiting(page), updated(page)
        assert page.inner_text("#ingest-backlog") == "0" and page.inner_text("#breaker") == "open"
        assert page.locator(".card", has=page.get_by_role("heading", name="Alerts to send", exact=True)).is_visible()

        insert_alerts(2)
        expect(page.locator("#alerts-waiting")).to_have_text(str(before + 2), timeout=20_000)
        assert page.evaluate("window.notReloaded === true"), "updated in place, not by a reload"
        assert updated(page) > shown_at, "the 'Updated' time moved"

        pause = page.locator("[data-live-pause]")
        pause.click()
        assert pause.inner_text() == "Resume updates" and pause.get_attribute("aria-pressed") == "true"
        insert_alerts(1)
        page.wait_for_timeout(7_000)  # longer than an update's interval (5 s)
        assert waiting(page) == before + 2, "paused: nothing changes"
        pause.click()
        assert pause.inner_text() == "Pause updates"
        expect(page.locator("#alerts-waiting")).to_have_text(str(before + 3), timeout=20_000)
        assert page.evaluate("window.notReloaded === true")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert page.locator("figure.spark svg polyline").count() >= 4 and page.locator("rect.band-open").count() >= 1
        page.screenshot(path=str(IMAGES / shot), full_page=True)
    assert violations == []
