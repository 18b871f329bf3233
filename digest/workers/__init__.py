"""Celery workers for the send: one task per ledger chunk, on RabbitMQ (``[workers]``)."""
