"""web/errors.py: a refusal a view lets escape answers by its kind; anything else is a logged 500."""

import logging

import pytest

from mutt_app import errors
from mutt_app.access import users
from mutt_app.rules import validation


@pytest.fixture
def raising(app):
    """A client of ``app`` with routes that raise what the test hands them."""
    raised: dict[str, Exception] = {}

    def view():
        raise raised["error"]

    app.add_url_rule("/api/v2/raise", "raise_json", view)
    app.add_url_rule("/raise", "raise_page", view)
    client = app.test_client()

    def get(error: Exception, path: str = "/api/v2/raise"):
        raised["error"] = error
        return client.get(path, headers={"X-Correlation-ID": "cid-1"})

    return get


@pytest.mark.parametrize(("error", "status"), [
    (errors.InvalidInput("page must be a whole number"), 400),
    (validation.RuleError("name is required"), 422),
    (errors.NotFound("no user with id 9"), 404),
    (users.NoSuchUser("no user with id 9"), 404),
    (validation.AlreadyExists("host1 is already a development host"), 409),
    (users.LastAdmin("olga is the last active admin"), 409),
])
def test_a_refusal_answers_its_status_with_its_message(raising, error, status):
    answer = raising(error)
    assert answer.status_code == status
    assert answer.json == {"error": str(error), "correlation_id": "cid-1"}
    page = raising(error, "/raise")
    assert page.status_code == status and str(error).encode() in page.data and page.mimetype == "text/html"


def test_a_dependency_down_answers_503_with_retry_after(raising):
    answer = raising(errors.DependencyDown("Redis"))
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.json["error"].startswith("Service Unavailable - Redis is unavailable")


def test_any_other_error_is_a_500_that_hides_its_text_and_is_logged(raising, caplog):
    with caplog.at_level(logging.ERROR, logger="web.errors"):
        answer = raising(ValueError("the secret is hunter2"))
    assert answer.status_code == 500 and "hunter2" not in answer.get_data(as_text=True)
    assert "unhandled error on GET /api/v2/raise" in caplog.text and caplog.records[-1].exc_info
