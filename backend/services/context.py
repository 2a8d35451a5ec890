"""What a use case or task needs from the outside world, built once by the runtime."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.config import Settings
from backend.db.engine import writer
from backend.db.session import session_scope
from backend.ml.registry import ModelSet
from backend.services.grouping.library import HashLibraries
from backend.services.grouping.verdict_cache import VerdictCache
from backend.services.job_queue import JobQueue, bind_jobs
from backend.services.similarity.vector_index import VectorIndex
from backend.services.storage.blobstore import BlobStore, LocalBlobStore


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    store: BlobStore
    jobs: JobQueue
    ml: ModelSet  # the machine-learning models (not the tables of backend/models)
    vectors: VectorIndex
    hash_libraries: HashLibraries  # this process's in-memory hash index of each library
    # This process's verification verdicts by the two pictures' contents (per owner).
    verdicts: VerdictCache = field(default_factory=VerdictCache)

    @property
    def local_database(self) -> bool:
        """Whether the database is a SQLite file on this machine (embedded mode): a read
        there waits for no lock and no network."""
        return self.engine.dialect.name == "sqlite"

    @property
    def local_reads(self) -> bool:
        """Whether a read touches only this machine: the SQLite file and blob files on disk."""
        return self.local_database and isinstance(self.store, LocalBlobStore)

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends normally (then the jobs queued in it
        are sent), rolled back when it raises (and its jobs dropped). ``write``: it will
        write, so on SQLite it takes the write lock up front."""
        with session_scope(writer(self.engine) if write else self.engine) as session:
            bind_jobs(session, self.jobs)
            yield session
