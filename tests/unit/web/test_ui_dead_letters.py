"""The dead-letters page: host, message and rule of each letter; filter, then replay or purge the
rows ticked or every letter the filter matches; a refused request keeps what was typed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit, DeadLetter
from tests.support.recovery import event_letter
from tests.support.web import login, make_user, page_token


@pytest.fixture
def operator(client):
    make_user("oscar", "operator")
    login(client, "oscar")
    return client


def letters(shed: int = 3, failed: int = 2) -> tuple[list[int], list[int]]:
    with session_scope() as session:
        shed_ids = [event_letter(session, f"s{n}", dlq.SHED, hostname=f"edge-{n}", message=f"link down {n}").id
                    for n in range(shed)]
        failed_ids = [event_letter(session, f"f{n}", dlq.PROCESSING_FAILED).id for n in range(failed)]
    return shed_ids, failed_ids


def count(**where) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(DeadLetter).filter_by(**where)) or 0


def bulk(client, data: dict, page: str = "/dead-letters"):
    return client.post("/dead-letters/bulk", data={**data, "csrf_token": page_token(client, page)})


def test_the_list_shows_host_message_and_rule_and_the_actions_come_first(operator):
    letters(shed=1, failed=0)
    html = operator.get("/dead-letters?reason=shed").get_data(as_text=True)
    assert "<th>Host</th><th>Message</th><th>Rule</th>" in html
    assert "<td>edge-0</td>" in html and "<td>link down 0</td>" in html
    assert html.index('id="bulk"') < html.index('<table class="rows"')        # actions at the top
    assert 'data-select-all="ids"' in html and 'name="ids" value=' in html and 'form="bulk"' in html
    assert 'id="bulk-purge" class="danger" data-confirm=' in html
    assert "all 1 matching the filter" in html
    assert "matching the filter" not in operator.get("/dead-letters").get_data(as_text=True)  # no filter, no "all"


def test_bulk_purge_of_the_rows_ticked_then_back_to_the_filtered_list(operator):
    shed, failed = letters()
    assert (count(), count(reason="shed")) == (5, 3)
    done = bulk(operator, {"action": "purge", "scope": "selected", "ids": shed[:2], "reason": "noise after CHG-7",
                           "kind": "event", "cause": "shed", "next": "/dead-letters?kind=event&reason=shed"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/dead-letters?kind=event&reason=shed")
    assert (count(), count(reason="shed")) == (3, 1)
    with session_scope() as session:
        audits = session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == "dead_letters")).all()
    assert sorted(int(a.record_id) for a in audits) == sorted(shed[:2])
    assert {(a.operation, a.reason, a.changed_by) for a in audits} == {("DELETE", "noise after CHG-7", "user:oscar")}
    assert "Purged 2 dead letters." in operator.get(done.headers["Location"]).get_data(as_text=True)


def test_bulk_replay_of_everything_the_filter_matches(operator, redis):
    shed, failed = letters()
    done = bulk(operator, {"action": "replay", "scope": "matching", "reason": "alerter back", "cause": "shed",
                           "next": "/dead-letters?reason=shed"})
    assert done.status_code == 302
    assert (count(state="replayed"), count(state="waiting")) == (3, 2)  # the shed ones, not the others
    with session_scope() as session:
        replayed = set(session.scalars(select(DeadLetter.id).where(DeadLetter.state == "replayed")))
    assert replayed == set(shed)
    assert redis.llen("mutt:ingest:buffer") + redis.zcard("mutt:batches:pending") >= 1
    assert "Replayed 3 dead letters." in operator.get("/dead-letters?reason=shed").get_data(as_text=True)


def test_bulk_purge_of_everything_the_filter_matches_leaves_the_rest(operator):
    letters()
    bulk(operator, {"action": "purge", "scope": "matching", "reason": "old", "cause": "processing_failed"})
    assert (count(), count(reason="processing_failed")) == (3, 0)


@pytest.mark.parametrize(("data", "words"), [
    ({"reason": "CHG-9 cleanup"}, "Nothing selected"),                                   # nothing ticked
    ({"reason": "CHG-9 cleanup", "scope": "matching"}, "name the dead letters"),        # "all" without a filter
    ({"reason": "   ", "ids": "SHED0"}, "Give a reason"),                                # no reason
])
def test_a_refused_bulk_request_keeps_the_reason_and_the_rows_ticked(operator, data, words):
    shed, _failed = letters()
    data = {**data, "ids": shed[0]} if data.get("ids") == "SHED0" else data
    refused = bulk(operator, {"action": "purge", "scope": "selected", **data})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and words in html
    assert count() == 5                                                                   # nothing done
    if data["reason"].strip():
        assert 'id="bulk-reason" value="CHG-9 cleanup"' in html                           # the typed reason kept
    if "ids" in data:
        assert f'value="{shed[0]}" form="bulk" aria-label="Select dead letter {shed[0]}" checked' in html


def test_a_replay_that_replays_nothing_is_refused_with_why_and_keeps_the_form(operator):
    with session_scope() as session:
        letter = event_letter(session, "again")
        letter.state = dlq.REPLAYED   # replayed before and not failed again: only with force
        rejected = letter.id
    refused = bulk(operator, {"action": "replay", "ids": rejected, "reason": "sender fixed", "kind": "event",
                              "cause": "processing_failed"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Nothing replayed. Skipped 1" in html and "replay with force" in html
    assert 'value="sender fixed"' in html and 'name="cause" value="processing_failed"' in html  # the filter kept
    assert count(state="replayed", replays=0) == 1
    forced = bulk(operator, {"action": "replay", "ids": rejected, "reason": "sender fixed", "force": "on"})
    assert forced.status_code == 302 and count(state="replayed", replays=1) == 1


def test_viewers_see_no_actions_and_cannot_post_them(client):
    make_user("vic", "viewer")
    login(client, "vic")
    shed, _ = letters()
    html = client.get("/dead-letters").get_data(as_text=True)
    assert 'id="bulk"' not in html and 'name="ids"' not in html
    assert bulk(client, {"action": "purge", "ids": shed, "reason": "x"}).status_code == 403
    assert count() == 5


def test_a_bad_action_or_id_is_a_bad_request(operator):
    shed, _ = letters()
    assert bulk(operator, {"action": "explode", "ids": shed, "reason": "x"}).status_code == 400
    assert bulk(operator, {"action": "purge", "ids": "abc", "reason": "x"}).status_code == 400
    assert re.search(r"Page 1 of 1", operator.get("/dead-letters").get_data(as_text=True))
    assert count() == 5
