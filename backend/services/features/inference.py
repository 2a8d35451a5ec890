"""What every model task does with a model: run it on a batch of pictures so that one bad
picture (or a passing fault) costs only its own result, and check it loads before pictures are
decoded for it. Shared by the embedding task (``analyse_models``) and the detector
(``detect_objects``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from backend.core.decode import decode_reduced
from backend.ml.base import Model, ModelUnavailable, RGBImage
from backend.ml.images import rgb_array
from backend.services.context import AppContext
from backend.services.storage.blobstore import BlobNotFound

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
        log.exception("model %s cannot be loaded; its results are not backfilled", model.name)
        return False
    return True


def decode_for_models(
    ctx: AppContext, images: Sequence[tuple[int, str]], what: str
) -> dict[int, RGBImage]:
    """The pictures (image id, storage key) decoded at ``DECODE_SIDE`` as RGB arrays, in
    order, on ``Settings.threads`` helper threads: the decodes are almost half of a model
    task's time and the model queue has one thread, so they would otherwise run one at a
    time (Pillow decodes without the GIL; the decode budget bounds their memory). A picture
    that cannot be decoded is left out, with a warning naming ``what`` it misses."""
    limits = ctx.settings.decode_limits

    def one(item: tuple[int, str]) -> RGBImage | None:
        image_id, key = item
        try:
            return rgb_array(decode_reduced(ctx.store.get(key), DECODE_SIDE, limits)[1])
        except (BlobNotFound, OSError, ValueError) as exc:
            log.warning("image %s: no %s, it could not be decoded (%r)", image_id, what, exc)
            return None

    workers = max(1, min(ctx.settings.threads, len(images)))
    with ThreadPoolExecutor(workers, thread_name_prefix="dupfinder-decode") as pool:
        arrays = list(pool.map(one, images))
    return {i: a for (i, _), a in zip(images, arrays, strict=True) if a is not None}
