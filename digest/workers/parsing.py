"""Feed parsing on the workers: one Celery task per fetched feed body, results over ``rpc://``.

The collect phase still fetches (its network guard, limits and budget stay where they are)
and still writes the store in config order; only the CPU-bound parse travels. Results come
back through RabbitMQ's RPC result backend (a reply queue of the collecting process): no
store access is needed on the workers for it, and no second broker (Redis) is. One thread
owns the Celery connection, since Celery's result consumers are not thread-safe; the collect
threads wait on futures it fulfils.

A worker that dies mid-parse never acknowledged the message, so RabbitMQ hands it to another
worker. If only the pool process running the parse dies (a feed that crashes its parser),
the task fails with ``WorkerLostError`` rather than being requeued forever, and the source
is reported with that error.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from dataclasses import asdict
from datetime import datetime
from typing import Any

from celery import Celery
from celery.result import AsyncResult

from ..config import AreaSettings, Settings, TaxonomySettings
from ..models import Image, Post
from ..sources.base import Problem
from ..sources.feed.job import Parsed, ParseJob, parse_job
from ..sources.feed.pool import OVER_BUDGET, Parser, left, run_job
from .app import make_app, shown

log = logging.getLogger(__name__)
TASK = "digest.parse_feed"
LOOK = 2.0
"""Seconds the workers have to say which queues they take, when a collect starts."""
POLL = 0.02
"""Seconds between looks at the reply queue while parses are out."""
MISSES = 8
"""A look at the results stops after this many unfinished tasks."""


def job_to_json(job: ParseJob) -> dict[str, Any]:
    data = asdict(job)
    data["body"] = base64.b64encode(job.body).decode("ascii")
    data["now"] = job.now.isoformat()
    return data


def job_from_json(data: dict[str, Any]) -> ParseJob:
    tax = dict(data["taxonomy"])
    tax["areas"] = tuple(AreaSettings(a["name"], tuple(a["aliases"])) for a in tax["areas"])
    tax["order"] = tuple(tax["order"])
    return ParseJob(
        **{
            **data,
            "body": base64.b64decode(data["body"]),
            "now": datetime.fromisoformat(data["now"]),
            "areas_map": tuple((k, v) for k, v in data["areas_map"]),
            "taxonomy": TaxonomySettings(**tax),
        }
    )


def parsed_to_json(parsed: Parsed) -> dict[str, Any]:
    data = asdict(parsed)
    for post in data["posts"]:
        post["published"] = post["published"].isoformat() if post["published"] else None
    return data


def parsed_from_json(data: dict[str, Any]) -> Parsed:
    posts = []
    for raw in data["posts"]:
        published = raw["published"]
        image = raw["image"]
        posts.append(
            Post(
                **{
                    **raw,
                    "areas": tuple(raw["areas"]),
                    "published": datetime.fromisoformat(published) if published else None,
                    "image": Image(**image) if image else None,
                }
            )
        )
    return Parsed(
        source=data["source"],
        posts=tuple(posts),
        problems=tuple(Problem(**p) for p in data["problems"]),
        wanted=tuple(data["wanted"]),
        error=data["error"],
        fingerprints=tuple(data.get("fingerprints", ())),  # none from an older worker
    )


def parse_feed(payload: dict[str, Any]) -> dict[str, Any]:
    """The task: parse one fetched feed body (see ``ParseJob``)."""
    return parsed_to_json(run_job(job_from_json(payload)))


def register(app: Celery) -> None:
    """Add the parse task to a worker's app."""
    # a dead pool process fails the task instead of requeuing it: a feed that crashes its
    # parser would otherwise kill every worker in turn; a dead worker still gets it redelivered
    app.task(name=TASK, ignore_result=False, reject_on_worker_lost=False)(parse_feed)


class WorkerParser:
    """Sends parse jobs to the workers from one thread and hands each result to its caller.

    When no worker takes the queue (none running, the broker away), feeds are parsed here by
    ``fallback()`` (None: in the calling thread) instead of waiting out the collect budget.
    """

    def __init__(self, settings: Settings, fallback: Callable[[], Parser | None]):
        self.app = make_app(settings)
        self.queue = settings.workers.queue
        self._jobs: queue.SimpleQueue[tuple[ParseJob, Future[Parsed]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="digest-parse-dispatch", daemon=True)
        self._started = self._closed = self._here = False
        self._fallback = fallback
        self._local: Parser | None = None
        self._lock = threading.Lock()
        self._checked = threading.Event()
        threading.Thread(target=self._check, name="digest-parse-check", daemon=True).start()

    def parse(self, job: ParseJob) -> Parsed:
        if not self._checked.wait(left()):
            return Parsed(job.source, error=f"{OVER_BUDGET} (looking for workers)")
        if self._here:
            return parse_job(job) if self._local is None else self._local.parse(job)
        future: Future[Parsed] = Future()
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()
        self._jobs.put((job, future))
        try:
            return future.result(timeout=left())
        except FutureTimeout:
            future.cancel()
            return Parsed(
                job.source,
                error=f"over the collect budget while the workers parsed it (queue {self.queue})",
            )

    def close(self) -> None:
        self._jobs.put(None)
        with self._lock:
            started, self._closed = self._started, True
            local = self._local
        if local is not None:
            local.close()
        if started:
            self._thread.join(60)

    def _check(self) -> None:
        """Whether a worker takes the queue; if none does, parse here from now on."""
        try:
            replies = self.app.control.inspect(timeout=LOOK).active_queues() or {}
        except Exception as exc:  # the broker is away: the same as no worker
            log.warning("cannot ask the workers (%s): %s", shown(self.app.conf.broker_url), exc)
            replies = {}
        taken = any(q.get("name") == self.queue for qs in replies.values() for q in qs or ())
        if not taken:
            log.warning("no digest worker takes queue %s: feeds are parsed here", self.queue)
            with self._lock:
                self._here = True
                self._local = None if self._closed else self._fallback()
        self._checked.set()

    def _run(self) -> None:
        out: dict[str, tuple[AsyncResult[Any], Future[Parsed], str]] = {}
        try:
            with self.app.producer_or_acquire() as producer:
                while self._take(out, producer, block=not out):
                    self._settle(out)
                    if out:
                        time.sleep(POLL)
                return
        except Exception as exc:  # the broker went away: every caller gets the reason
            error = f"cannot parse through the workers ({shown(self.app.conf.broker_url)}): {exc}"
            log.warning("%s", error)
            for _, future, source in out.values():
                _set(future, Parsed(source, error=error))
        while (item := self._jobs.get()) is not None:  # and every later one, until close
            _set(item[1], Parsed(item[0].source, error=error))

    def _take(self, out: dict[str, Any], producer: Any, block: bool) -> bool:
        """Publish the jobs waiting; False once ``close`` was called."""
        while True:
            try:
                item = self._jobs.get(block=block)
            except queue.Empty:
                return True
            if item is None:
                for _, future, _ in out.values():
                    future.cancel()
                return False
            job, future = item
            if future.done():
                continue
            result = self.app.send_task(
                TASK, args=[job_to_json(job)], queue=self.queue, producer=producer
            )
            out[result.id] = (result, future, job.source)
            block = False

    def _settle(self, out: dict[str, tuple[AsyncResult[Any], Future[Parsed], str]]) -> None:
        """Hand over the results that are in, oldest first.

        The first look at an unfinished task reads the whole reply queue, so later results
        are then at hand; each further miss costs a round trip, hence at most ``MISSES``.
        """
        misses = 0
        for task_id, (result, future, source) in list(out.items()):
            if future.cancelled():
                del out[task_id]
            elif not result.ready():
                misses += 1
                if misses >= MISSES:
                    return
            else:
                del out[task_id]
                if result.successful():
                    _set(future, parsed_from_json(result.get(disable_sync_subtasks=False)))
                else:
                    what = f"{type(result.result).__name__}: {result.result}"
                    _set(future, Parsed(source, error=f"a worker failed to parse it: {what}"))


def _set(future: Future[Parsed], parsed: Parsed) -> None:
    with suppress(InvalidStateError):  # its caller gave up (the budget) in the meantime
        future.set_result(parsed)
