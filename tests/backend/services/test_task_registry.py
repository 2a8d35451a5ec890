"""The task registry names its handlers by module path: each one must resolve, and a wrong
path must fail at start-up rather than at the first job."""

from __future__ import annotations

import pytest

from backend.services.ingestion.google_picks import IMPORT_PICK
from backend.services.ingestion.takeout import TAKEOUT_IMPORT
from backend.services.worker import tasks
from backend.services.worker.tasks import TASKS, TaskSpec, check_registry, resolve


def test_every_handler_resolves_to_a_function() -> None:
    for spec in TASKS.values():
        for ref in (spec.fn, spec.on_give_up):
            if ref is not None:
                assert callable(resolve(ref)), (spec.name, ref)


def test_names_agree_with_the_modules_that_send_them() -> None:
    assert (tasks.TAKEOUT_IMPORT, tasks.IMPORT_PICK) == (TAKEOUT_IMPORT, IMPORT_PICK)


def test_a_misspelt_handler_module_fails_at_start_up() -> None:
    broken = {**TASKS, "x": TaskSpec("x", "backend.services.no_such_module:run", "cpu")}
    with pytest.raises(RuntimeError, match="no_such_module"):
        check_registry(broken)
