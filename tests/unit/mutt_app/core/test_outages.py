import redis
from sqlalchemy.exc import OperationalError

from mutt_app.core import outages
from mutt_app.errors import DependencyDown


def test_a_dependency_down_raised_by_mutt_is_recognised_like_the_library_errors_that_mean_it():
    assert outages.unavailable(DependencyDown(outages.DATABASE, "no connection")) == outages.DATABASE
    assert outages.unavailable(redis.ConnectionError("refused")) == outages.REDIS
    assert outages.unavailable(OperationalError("SELECT 1", {}, Exception("gone"))) == outages.DATABASE
    assert outages.unavailable(ValueError("a bug")) is None
