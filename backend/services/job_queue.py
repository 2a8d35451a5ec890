"""Jobs are sent after the transaction that queued them commits (Polar's job buffer).

Code queues a job into the buffer of the session whose writes the job will read:
``enqueue_job(session, name, **ids)``. When that session's transaction commits, the buffer is
sent to the job queue in order, each job once; when the transaction ends any other way (rolled
back, or the session closed without a commit) the buffer is dropped. So a worker is never sent
a job for a row that does not exist yet, and a request or task that fails sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_KEY = "dupfinder.job_buffer"


class JobQueue(Protocol):
    """Sends a task by name with plain arguments (ids only), after the caller has committed."""

    def enqueue(self, name: str, **kwargs: Any) -> None: ...

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        """Send the task in ``delay`` seconds (a poll of something that takes its time). For
        work already committed: nothing buffers it."""
        ...

    def reachable(self) -> bool:
        """Whether jobs can be sent right now (for /health)."""
        ...


@dataclass
class _Buffer:
    queue: JobQueue
    jobs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # How many jobs were queued when each open SAVEPOINT began: rolling one back drops the
    # jobs queued inside it.
    savepoints: dict[int, int] = field(default_factory=dict)


def bind_jobs(session: Session, queue: JobQueue) -> None:
    """Jobs queued in ``session`` go to ``queue`` when its transaction commits."""
    if _KEY in session.info:
        raise RuntimeError("this session already sends its jobs to a queue")
    session.info[_KEY] = _Buffer(queue)
    event.listen(session, "after_commit", _send)
    event.listen(session, "after_transaction_create", _savepoint_began)
    event.listen(session, "after_soft_rollback", _savepoint_rolled_back)
    event.listen(session, "after_transaction_end", _drop)


def enqueue_job(session: Session, name: str, **kwargs: Any) -> None:
    """Queue a job to be sent once ``session``'s current transaction commits."""
    buffer: _Buffer | None = session.info.get(_KEY)
    if buffer is None:
        raise RuntimeError(
            f"job {name!r} queued in a session bound to no job queue (open it with ctx.session())"
        )
    if not session.in_transaction():
        # Bind the job to a transaction even before any SQL ran (no connection is taken
        # yet), so that a rollback or a close without commit drops it too.
        session.begin()
    buffer.jobs.append((name, kwargs))


def _send(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the outer transaction has not committed yet
    buffer: _Buffer = session.info[_KEY]
    jobs, buffer.jobs = buffer.jobs, []
    for name, kwargs in jobs:
        buffer.queue.enqueue(name, **kwargs)


def _savepoint_began(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        buffer: _Buffer = session.info[_KEY]
        buffer.savepoints[id(transaction)] = len(buffer.jobs)


def _savepoint_rolled_back(session: Session, previous: SessionTransaction) -> None:
    if previous.nested:
        buffer: _Buffer = session.info[_KEY]
        del buffer.jobs[buffer.savepoints.pop(id(previous), len(buffer.jobs)) :]


def _drop(session: Session, transaction: SessionTransaction) -> None:
    # (A SAVEPOINT's own end comes before its rollback event: its mark stays until then, or
    # until the outer transaction ends.)
    buffer: _Buffer = session.info[_KEY]
    if transaction.parent is None:
        # After a commit the buffer is already empty (after_commit runs first); after a
        # rollback or a close without commit, what was queued refers to writes that never
        # happened.
        buffer.jobs.clear()
        buffer.savepoints.clear()
