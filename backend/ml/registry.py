"""The models a process uses, built from plain settings once per process and shared.

Loading is lazy (the first prediction loads a model), so a process that never analyses an
image (the API, `dupfinder migrate`) never pays for it. Several runtimes in one process (the
tests) share the loaded sessions, as their configuration is the key.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from backend.config import Settings
from backend.ml.clip import ClipImageEncoder, find_clip_model, validate_model_name
from backend.ml.sscd import SSCDEncoder
from backend.ml.yolo import YoloDetector


@dataclass(frozen=True)
class ModelConfig:
    copy_model: str  # "sscd", "sscd_distilled" or "none"
    clip_model: str  # an Immich export name under models_dir, or "" / "none"
    models_dir: Path
    object_model: str  # "yolov4-tiny" or "none"
    batch_size: int = 8
    threads: int = 0  # per model; 0: the runtime's default


@dataclass
class ModelSet:
    copy: SSCDEncoder | None
    clip: ClipImageEncoder | None
    detector: YoloDetector | None
    clip_note: str  # why CLIP is not used, when it is not

    @property
    def enabled(self) -> bool:
        """Whether images go through the models step: the embedding models (the detector
        runs where its answer is needed: services/features/detect_objects.py)."""
        return any(m is not None for m in (self.copy, self.clip))

    def similar_source(self) -> str:
        """Which model serves the similar tier (shown by /health and the docs)."""
        if self.clip is not None:
            return self.clip.identity
        if self.copy is not None:
            return f"{self.copy.identity} (fallback: no CLIP model)"
        return "none (perceptual hashes only)"

    def describe(self) -> dict[str, str | None]:
        return {
            "copy_detection": self.copy.identity if self.copy else None,
            "clip": self.clip.identity if self.clip else None,
            "clip_note": self.clip_note or None,
            "objects": self.detector.identity if self.detector else None,
            "similar_tier": self.similar_source(),
        }


_cache: dict[ModelConfig, ModelSet] = {}
_lock = threading.Lock()


def model_set(config: ModelConfig) -> ModelSet:
    with _lock:
        found = _cache.get(config)
        if found is None:
            found = _cache[config] = _build(config)
        return found


def _build(config: ModelConfig) -> ModelSet:
    copy = None
    if config.copy_model != "none":
        copy = SSCDEncoder(config.copy_model, threads=config.threads, batch_size=config.batch_size)
    clip, note = None, ""
    if config.clip_model in ("", "none"):
        note = "disabled (DUPFINDER_CLIP_MODEL=none)"
    elif not _valid_name(config.clip_model):
        note = f"DUPFINDER_CLIP_MODEL={config.clip_model!r} is not an export name"
    elif find_clip_model(config.models_dir, config.clip_model) is None:
        note = (
            f"no CLIP export at {config.models_dir / config.clip_model}; fetch it with "
            f"`dupfinder models fetch-clip {config.clip_model}`"
        )
    else:
        clip = ClipImageEncoder(
            config.models_dir,
            config.clip_model,
            threads=config.threads,
            batch_size=config.batch_size,
        )
    detector = None
    if config.object_model != "none":
        detector = YoloDetector(threads=config.threads, batch_size=config.batch_size)
    return ModelSet(copy, clip, detector, note)


def models_from_settings(settings: Settings) -> ModelSet:
    return model_set(
        ModelConfig(
            copy_model=settings.copy_model,
            clip_model=settings.clip_model,
            models_dir=settings.model_dir,
            object_model=settings.object_model,
            batch_size=settings.model_batch_size,
            threads=settings.model_threads,
        )
    )


def _valid_name(name: str) -> bool:
    try:
        validate_model_name(name)
    except ValueError:
        return False
    return True
