"""Which failures are worth another try: the database, the network or the disk away a moment."""

from __future__ import annotations

import sqlalchemy as sa

TRANSIENT: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,  # database unreachable, locked, restarting, deadlock victim
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    ConnectionError,
    TimeoutError,
    OSError,  # a full disk or a storage hiccup (a missing file is handled by the tasks)
)
RETRIES = 5  # embedded worker: waits of base, 2×base, 4×base … then the task gives up
