"""Where feed bodies are parsed: in the calling thread, or in a pool of processes.

feedparser and the entry cleanup hold the GIL, so the collect phase's threads parse one feed
at a time; ``[collect] processes`` parses as many at once as there are processes. The pool is
concurrent.futures' (forkserver: no fork of a threaded process). A pool process that dies
breaks every job it had in flight: each of those is run again alone in a fresh process, so
only the feed that kills its parser twice is reported. Every wait ends with the collect
budget; ``close`` kills whatever still runs (a parse that hangs).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from .faults import adopt, at_parse, fault_env
from .fetch import budget_end
from .job import Parsed, ParseJob, parse_job

log = logging.getLogger(__name__)
OVER_BUDGET = "over the collect budget while parsing: skipped"
NO_PROCESS = "could not start a process to parse it ([collect] processes = 1 parses in-process)"
_context = multiprocessing.get_context("forkserver")


class Parser(Protocol):
    """Runs parse jobs somewhere; ``parse`` may be called from many threads at once."""

    def parse(self, job: ParseJob) -> Parsed: ...

    def close(self) -> None: ...


_current: ContextVar[Parser | None] = ContextVar("digest_feed_parser", default=None)


@contextmanager
def parsing_with(parser: Parser | None) -> Iterator[None]:
    """Feeds read inside parse their bodies with ``parser`` (None: in the calling thread)."""
    token = _current.set(parser)
    try:
        yield
    finally:
        _current.reset(token)


def parse(job: ParseJob) -> Parsed:
    """Parse ``job`` with the parser set by ``parsing_with``, else right here."""
    parser = _current.get()
    return parse_job(job) if parser is None else parser.parse(job)


def run_job(job: ParseJob) -> Parsed:
    """What another process runs for a job (the fault hook first: see ``faults``)."""
    at_parse(job.source)
    return parse_job(job)


def left() -> float | None:
    """Seconds until the collect budget ends (None: no budget), never below 0."""
    end = budget_end()
    return None if end is None else max(0.0, end - time.monotonic())


class ProcessParser:
    """Parses in a pool of ``processes`` processes, started on the first job."""

    def __init__(self, processes: int):
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._alone: set[BaseProcess] = set()
        self._lock = threading.Lock()
        self._closed = False
        # start the processes while the first feeds are fetched, not when their bodies arrive
        threading.Thread(target=self._warm, name="digest-parse-warm", daemon=True).start()

    def parse(self, job: ParseJob) -> Parsed:
        pool = self._executor()
        if pool is None:
            return Parsed(job.source, error=OVER_BUDGET)
        try:
            future = pool.submit(run_job, job)
        except (BrokenProcessPool, RuntimeError, OSError):  # broken, replaced, or no process
            self._replace(pool)
            return self._parse_alone(job)
        try:
            return future.result(timeout=left())
        except FutureTimeout:
            return Parsed(job.source, error=OVER_BUDGET)
        except BrokenProcessPool:
            log.warning("%s: a parsing process died; parsing the feed again alone", job.source)
            self._replace(pool)
            return self._parse_alone(job)

    def close(self) -> None:
        """Stop the pool, killing parses still running (they are past the budget)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            alone, self._alone = set(self._alone), set()
        for process in alone:
            process.kill()
        if pool is not None:
            # concurrent.futures has no public way to stop a running job before Python 3.14
            # (terminate_workers): a hung parse would otherwise keep its process forever
            for process in list(getattr(pool, "_processes", {}).values()):
                with suppress(OSError):
                    process.kill()
            pool.shutdown(wait=False, cancel_futures=True)

    def _warm(self) -> None:
        pool = self._executor()
        if pool is None:
            return
        with suppress(RuntimeError, BrokenProcessPool, OSError):  # closed, broken: no matter
            for _ in range(self.processes):
                pool.submit(int)

    def _executor(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._closed:
                return None
            if self._pool is None:
                _context.set_forkserver_preload(preloaded())
                self._pool = ProcessPoolExecutor(
                    self.processes, _context, initializer=adopt, initargs=(fault_env(),)
                )
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def _parse_alone(self, job: ParseJob) -> Parsed:
        """Run ``job`` in a process of its own: if that dies too, the feed is what kills it."""
        receive, send = _context.Pipe(duplex=False)
        process = _context.Process(target=_alone, args=(job, send, fault_env()), daemon=True)
        with self._lock:
            if self._closed:
                return Parsed(job.source, error=OVER_BUDGET)
            try:
                process.start()
            except (OSError, RuntimeError) as exc:  # no process to be had (fork limit, ...)
                send.close()
                receive.close()
                return Parsed(job.source, error=f"{NO_PROCESS}: {exc}")
            self._alone.add(process)
        send.close()
        try:
            if not receive.poll(left()):
                return Parsed(job.source, error=OVER_BUDGET)
            try:
                outcome: Parsed | BaseException = receive.recv()
            except EOFError:
                process.join(60)
                return Parsed(job.source, error=_died(process.exitcode))
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        finally:
            receive.close()
            process.kill()
            process.join(60)
            with self._lock:
                self._alone.discard(process)


def preloaded() -> list[str]:
    """What the forkserver imports once for all the processes it starts: the main script
    and this module (the parse, and nothing of the store or the send).

    A process started from it would otherwise run the main script again (multiprocessing's
    rule), each on its own; from the forkserver it finds it run. ``bin/digest`` imports only
    the command group (``digest.cli.app``), so a parsing process starts in milliseconds,
    and the forkserver is ready in a third of a second, not the second that every module of
    the collecting process took.
    """
    return ["__main__", __name__]


def _alone(job: ParseJob, send: Connection, env: dict[str, str]) -> None:
    adopt(env)
    try:
        outcome: Parsed | BaseException = run_job(job)
    except Exception as exc:  # handed to the parent, which raises it as the pool would
        outcome = exc
    send.send(outcome)
    send.close()


def _died(code: int | None) -> str:
    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return f"the process parsing this feed died ({how}), twice: not read"
