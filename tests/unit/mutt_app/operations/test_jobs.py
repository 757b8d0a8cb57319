import time

from mutt_app.operations import jobs
from mutt_app.storage import redis_keys


def test_one_run_at_a_time_and_a_dead_runs_lock_expires_on_its_own(redis):
    dead_run = redis.lock(redis_keys.job_lock(jobs.JANITOR), timeout=1)  # a run whose worker was SIGKILLed: never released
    assert dead_run.acquire(blocking=False)
    with jobs.exclusive(redis, jobs.JANITOR, timeout=1) as held:
        assert held is None
    time.sleep(1.1)
    with jobs.exclusive(redis, jobs.JANITOR, timeout=1) as held:
        assert held is not None
        with jobs.exclusive(redis, jobs.JANITOR, timeout=1) as rival:
            assert rival is None
        time.sleep(0.6)
        held.keep_alive()
        time.sleep(0.6)  # past the first expiry: still held thanks to keep_alive
        assert redis.exists(redis_keys.job_lock(jobs.JANITOR))
    assert not redis.exists(redis_keys.job_lock(jobs.JANITOR))


def test_due_follows_the_last_run(redis):
    assert jobs.due(redis, jobs.REMEDIATION, every=60)
    jobs.mark_ran(redis, jobs.REMEDIATION, at=time.time() - 30)
    assert not jobs.due(redis, jobs.REMEDIATION, every=60)
    assert jobs.due(redis, jobs.REMEDIATION, every=20)
    assert jobs.last_run(redis, jobs.REMEDIATION) < time.time() - 29
