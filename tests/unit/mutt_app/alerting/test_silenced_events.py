"""Silences in the alerter: a silenced event is audited `silenced` with the silence id, raises no
alert and is not unhandled; the knowledge cache picks up a silence change from Redis."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from mutt_app.alerting import decide
from mutt_app.alerting.knowledge import Knowledge, KnowledgeCache
from mutt_app.storage import redis_keys
from mutt_app.suppression.silence_store import SilenceCache
from mutt_app.suppression.silences import Silence, SilenceSet, validate
from tests.unit.mutt_app.alerting.test_decide import NOW, event, knowledge


def silence(silence_id, *matchers, ends=NOW + timedelta(hours=2)):
    fields = {"matchers": list(matchers), "comment": "maintenance", "ends_at": ends.isoformat(),
              "starts_at": (NOW - timedelta(minutes=5)).isoformat()}
    return Silence.of(validate(fields, now=NOW) | {"id": silence_id})


CORE = {"field": "hostname", "op": "=", "value": "core-router-01.dc1.example.com"}


def silenced_knowledge(*silences):
    return replace(knowledge(), silences=SilenceSet(silences))


def test_a_silenced_event_is_audited_with_the_silence_and_raises_no_alert():
    batch = [event(1, "core-router-01.dc1.example.com", "LINK-DOWN Gi0/1"),     # would page
             event(2, "core-router-01.dc1.example.com", "all good"),            # would be unhandled
             event(3, "edge-router-02", "LINK-DOWN Gi0/1")]                     # not silenced: pages
    outcome = decide.process(silenced_knowledge(silence(7, CORE)), batch, now=NOW, alert_lease_seconds=45)
    rows = {row["event_id"]: row for row in outcome.audit_rows}
    assert (rows["e1"]["decision"], rows["e1"]["forwarded"], rows["e1"]["silence_id"]) == ("silenced", False, 7)
    assert rows["e1"]["rule_name"] == "Link down"
    assert (rows["e2"]["decision"], rows["e2"]["rule_id"], rows["e2"]["silence_id"]) == ("silenced", None, 7)
    assert rows["e3"]["silence_id"] is None and rows["e3"]["forwarded"]
    assert [signal.alert["id"] for signal in outcome.signals] == ["e3"]
    assert outcome.unhandled == []


def test_matchers_see_the_decided_environment_team_and_rule():
    dev_only = silence(3, {"field": "environment", "op": "=", "value": "dev"},
                       {"field": "rule_id", "op": "=", "value": "1"})
    batch = [event(1, "DEV-ROUTER1.lab.example.com", "LINK-DOWN Gi0/1"), event(2, "core-router-01", "LINK-DOWN Gi0/1")]
    outcome = decide.process(silenced_knowledge(dev_only), batch, now=NOW, alert_lease_seconds=45)
    assert [(row["event_id"], row["decision"]) for row in outcome.audit_rows] == [
        ("e1", "silenced"), ("e2", "Page_and_ticket")]


def test_when_the_silence_ends_new_events_page_again():
    ended = silence(4, CORE, ends=NOW - timedelta(seconds=1))
    outcome = decide.process(silenced_knowledge(ended), [event(1, "core-router-01.dc1.example.com", "LINK-DOWN x")],
                             now=NOW, alert_lease_seconds=45)
    assert outcome.audit_rows[0]["decision"] == "Page_and_ticket" and len(outcome.signals) == 1


def test_the_knowledge_cache_reloads_silences_when_their_version_moves(redis):
    loads = []

    def load_silences(version):
        loads.append(version)
        return SilenceSet([silence(1, CORE)] if version else [], version=version)

    cache = KnowledgeCache(lambda version: Knowledge.build([], [], {}, version), SilenceCache(load_silences, check_every=0))
    first, _ = cache.get(redis)
    assert len(first.silences) == 0
    assert cache.get(redis)[0] is first  # nothing moved: nothing rebuilt
    redis.incr(redis_keys.SILENCES_VERSION)
    second, rules_reloaded = cache.get(redis)
    assert len(second.silences) == 1 and not rules_reloaded and loads == [None, "1"]
    assert second.silences.silencing({"hostname": "core-router-01.dc1.example.com"}, now=NOW) == 1
