from mutt_app.alerting import lifecycle


def test_crash_action():
    assert [lifecycle.crash_action(claims, 10, 3) for claims in (1, 3, 4)] == ["process", "process", "split"]
    assert lifecycle.crash_action(4, 1, 3) == "dead_letter"
