"""digest's Celery app: RabbitMQ only, settings chosen so that a chunk is never run twice.

- ``task_acks_late``: a chunk's message is acknowledged only after the task returns, so a
  worker that dies mid-chunk leaves it in the queue for another worker.
- ``task_reject_on_worker_lost``: the same when only the pool process running it dies.
- ``worker_prefetch_multiplier = 1``: a worker holds one chunk beyond those it runs, so a
  dead worker strands no backlog and chunks spread evenly over workers.
- ``confirm_publish``: ``digest send`` returns from publishing a chunk only once RabbitMQ has
  taken it (publisher confirms); persistent messages on durable queues survive a broker
  restart.
- RabbitMQ, not Redis or SQS: those redeliver an unacknowledged task after a visibility
  timeout even while its worker still runs it. RabbitMQ redelivers only when the worker's
  connection is gone.

A redelivery is safe because the task claims its rows from the ledger (see ``tasks``).
"""

from __future__ import annotations

from celery import Celery

from ..config import Settings
from ..config.workers import shown
from ..errors import ConfigError

__all__ = ["TASK", "broker_of", "make_app", "shown"]

TASK = "digest.send_chunk"
"""The task's name: one ledger chunk of one issue's segment."""


def broker_of(settings: Settings) -> str:
    """The configured broker URL; ConfigError when none is set."""
    url = settings.workers.broker_url()
    if not url:
        raise ConfigError(
            "no broker configured",
            subject=f"{settings.path} [workers]",
            hint='set [workers] broker_env (or broker = "amqp://host:5672/vhost") to use workers',
        )
    return url


def make_app(settings: Settings, queue: str | None = None) -> Celery:
    """A Celery app on the configured broker, for ``digest send`` and ``digest worker``."""
    app = Celery("digest", broker=broker_of(settings), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"confirm_publish": True},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_default_queue=queue or settings.workers.queue,
        task_default_delivery_mode="persistent",
        task_ignore_result=True,
        # feed parses return their posts to the collecting process's reply queue (RabbitMQ
        # RPC); chunks report through the ledger and keep no result
        result_backend="rpc://",
        task_serializer="json",
        accept_content=["json"],
        # a running chunk is left to finish when the connection drops: its rows' lease, not
        # the connection, decides whether a redelivery may touch them
        worker_cancel_long_running_tasks_on_connection_loss=False,
        digest_config=str(settings.path),
    )
    return app
