"""The Celery app: `celery -A mutt_app.celery_app worker|beat|inspect|flower` uses this."""

from celery import Celery
from celery.signals import setup_logging, worker_process_init

from mutt_app import db, logs, redis_client

app = Celery("mutt", include=["tasks.alerter", "tasks.forwarder", "tasks.janitor", "tasks.remediation"])
app.config_from_object("celeryconfig")


@setup_logging.connect
def _configure_logging(**_kwargs) -> None:
    logs.configure()


@worker_process_init.connect
def _after_fork(**_kwargs) -> None:
    # Connections opened by the parent must not be shared with pool processes.
    db.dispose_all()
    redis_client.reset()
