"""What every model task does with a model: run it on a batch of pictures so that one bad
picture (or a passing fault) costs only its own result, and check it loads before pictures are
decoded for it. Shared by the embedding task (``analyse_models``) and the detector
(``detect_objects``)."""

from __future__ import annotations

import logging
from typing import Any

from backend.ml.base import Model, ModelUnavailable, RGBImage

log = logging.getLogger(__name__)
BATCH = 64  # images per task run: several model batches, one transaction
DECODE_SIDE = 512  # every model looks at 416 px or less


def run_model[T](model: Model[T], arrays: list[RGBImage]) -> list[T | None] | None:
    """One result per image; when the batch fails, image by image, so one bad picture (or a
    passing fault) costs only its own result. None when the model cannot run at all."""
    try:
        return list(model.predict(arrays))
    except Exception:
        log.exception("model %s failed on a batch of %d images", model.identity, len(arrays))
    out: list[T | None] = []
    for array in arrays:
        try:
            out.append(model.predict([array])[0])
        except ModelUnavailable:
            return None  # not loadable: the backfill tries again after a restart
        except Exception:  # this picture only
            log.exception("model %s failed on one image", model.identity)
            out.append(None)
    return out


def loads(model: Model[Any] | None) -> bool:
    """Whether the model is there and loads in this process (why not is logged)."""
    if model is None:
        return False
    try:
        model.load()
    except Exception:
        log.exception(
            "model %s cannot be loaded here; nothing is run or backfilled with it", model.name
        )
        return False
    return True
