"""CLIP image embeddings from Immich's public ONNX exports (Hugging Face org ``immich-app``).

An export is a folder ``<models_dir>/<name>/`` laid out as Immich's machine-learning service
caches it (``clip/<name>/`` in its cache): ``visual/model.onnx``, the open_clip preprocessing
config ``visual/preprocess_cfg.json`` and the open_clip model config ``config.json``; the
``textual/`` half is not needed for image-to-image similarity.

Preprocessing follows Immich's ``OpenClipVisualEncoder`` (immich_ml/models/clip/visual.py and
immich_ml/models/transforms.py): Pillow resize of the shortest side to ``size`` (the long side
truncated with ``int``) with the config's interpolation, a centre crop computed as Immich
does, float32 / 255, then ``x * (1 / std) - mean / std``, NCHW, fed to the input ``image``.
Vectors mean nothing across exports, so the version is taken from the weights themselves.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from backend.ml.base import Model, ModelUnavailable, RGBImage, l2_normalise, onnx_session

VISUAL_MODEL = "visual/model.onnx"
PREPROCESS_CFG = "visual/preprocess_cfg.json"
MODEL_CFG = "config.json"
EXPORT_FILES = (MODEL_CFG, PREPROCESS_CFG, VISUAL_MODEL)  # what an image encoder needs
DEFAULT_MODEL = "ViT-B-32__openai"
VERSION_HEX = 12

# Hugging Face repository names: no separators, no leading dot, no "..", so a name can never
# leave the models folder or the organisation's URL.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_RESAMPLING = {r.name.lower(): r for r in Image.Resampling}  # "bicubic" → BICUBIC, as Immich


def validate_model_name(name: str) -> str:
    """The name unchanged if it is a plain export name (e.g. ``ViT-B-32__openai``); otherwise
    ``ValueError`` saying why."""
    if "/" in name or "\\" in name:
        raise ValueError(
            f"{name!r} is not an export name: give the name alone, without an organisation or "
            f"folder (e.g. {DEFAULT_MODEL})"
        )
    if not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"{name!r} is not an export name: letters, digits, '-', '_' and '.' only "
            f"(e.g. {DEFAULT_MODEL})"
        )
    return name


def find_clip_model(models_dir: Path, name: str) -> Path | None:
    """The export's root folder if its image encoder is there, else None."""
    root = models_dir / validate_model_name(name)
    return root if (root / VISUAL_MODEL).is_file() else None


def fetch_hint(models_dir: Path, name: str) -> str:
    return (
        f"fetch it with `dupfinder models fetch-clip {name}` on a machine with internet "
        f"access, or copy the folder {name}/ from one that has it (an Immich machine-learning "
        f"cache keeps it as clip/{name}/) to {models_dir / name}"
    )


@dataclass(frozen=True, eq=False)
class PreprocessConfig:
    """The parts of open_clip's ``preprocess_cfg.json`` that Immich uses (``mode`` is always
    RGB; ``fill_color`` only matters for the "longest" mode, which Immich does not support)."""

    size: int
    mean: NDArray[np.float32]
    std: NDArray[np.float32]
    resampling: Image.Resampling
    resize_mode: str = "shortest"

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> PreprocessConfig:
        size = cfg["size"]
        side = int(size[0] if isinstance(size, list) else size)  # Immich takes size[0]
        interpolation = str(cfg["interpolation"]).lower()
        if interpolation not in _RESAMPLING:
            raise ValueError(f"unsupported interpolation {interpolation!r}")
        # Older configs have no resize_mode; open_clip's default then is "shortest".
        resize_mode = str(cfg.get("resize_mode", "shortest"))
        if resize_mode not in ("shortest", "squash"):
            raise ValueError(f"unsupported resize_mode {resize_mode!r}")
        return cls(
            size=side,
            mean=np.asarray(cfg["mean"], dtype=np.float32),
            std=np.asarray(cfg["std"], dtype=np.float32),
            resampling=_RESAMPLING[interpolation],
            resize_mode=resize_mode,
        )

    @classmethod
    def from_file(cls, path: Path) -> PreprocessConfig:
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_dict(cfg)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ModelUnavailable(f"unusable preprocessing config {path}: {exc}") from exc


def resize_shortest(im: Image.Image, size: int, resample: Image.Resampling) -> Image.Image:
    """Shortest side to ``size``, the other scaled and truncated (Immich's ``resize_pil``)."""
    if im.width < im.height:
        return im.resize((size, int(im.height / im.width * size)), resample=resample)
    return im.resize((int(im.width / im.height * size), size), resample=resample)


def centre_crop(im: Image.Image, size: int) -> Image.Image:
    """``size`` × ``size`` from the middle, offsets truncated (Immich's ``crop_pil``)."""
    left = int(im.width / 2 - size / 2)
    upper = int(im.height / 2 - size / 2)
    return im.crop((left, upper, left + size, upper + size))


def resized(image: RGBImage, cfg: PreprocessConfig) -> Image.Image:
    im = Image.fromarray(image)
    if cfg.resize_mode == "squash":
        return im.resize((cfg.size, cfg.size), resample=cfg.resampling)
    return centre_crop(resize_shortest(im, cfg.size, cfg.resampling), cfg.size)


def normalised_chw(im: Image.Image, cfg: PreprocessConfig) -> NDArray[np.float32]:
    """3 × size × size float32; the same float operations as Immich, in the same order."""
    pixels = np.asarray(im, dtype=np.float32) / 255.0
    pixels *= 1.0 / cfg.std
    pixels -= cfg.mean / cfg.std
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _file_key(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class ClipImageEncoder(Model[NDArray[np.float32]]):
    """Unit-length CLIP image embeddings from an Immich export under ``models_dir/name``.

    The identity is ``clip:<name>@<first 12 hex of the SHA-256 of visual/model.onnx>``: new
    weights under the same name give a new identity, so stored vectors get recomputed. Until
    the model is loaded the hash follows the file (re-hashed only if it changed); loading
    freezes it to the weights the session was built from.
    """

    def __init__(
        self, models_dir: Path, name: str = DEFAULT_MODEL, threads: int = 0, batch_size: int = 8
    ) -> None:
        super().__init__(threads)
        self.model_name = validate_model_name(name)
        self.models_dir = models_dir
        self.root = models_dir / name
        self.name = f"clip:{name}"
        self.batch_size = batch_size
        self._hash_lock = threading.Lock()
        self._hashed: tuple[tuple[int, int, int], str] | None = None
        self._frozen_version: str | None = None
        self._session: Any = None
        self._cfg: PreprocessConfig | None = None
        self._input = "image"
        # Graphs that normalise inside take uint8 pixels, as Immich feeds them (NHWC).
        self._uint8 = False
        self._channels_last = False
        self._input_dtype: type[np.floating[Any]] = np.float32
        self._run_size: int | None = None  # fixed batch of the graph, None if dynamic
        self._dimension: int | None = None

    @property
    def model_path(self) -> Path:
        return self.root / VISUAL_MODEL

    @property  # derived from the weights, so read-only (Model declares a plain attribute)
    def version(self) -> str:  # type: ignore[override]
        if self._frozen_version is not None:
            return self._frozen_version
        return self._weights_hash()

    @property
    def dimension(self) -> int:
        """Length of the vectors (loads the model on first use)."""
        self.load()
        assert self._dimension is not None
        return self._dimension

    @property
    def providers(self) -> list[str]:
        self.load()
        return list(self._session.get_providers())

    def _missing(self, what: Path) -> ModelUnavailable:
        return ModelUnavailable(
            f"CLIP model {self.model_name!r} is not installed ({what} is missing); "
            + fetch_hint(self.models_dir, self.model_name)
        )

    def _weights_hash(self) -> str:
        return self._hash_now()[1]

    def _hash_now(self) -> tuple[tuple[int, int, int], str]:
        # A 350 MB file takes about a second to hash: done once, then only when its size,
        # mtime or inode change (a new file moved into place).
        with self._hash_lock:
            try:
                key = _file_key(self.model_path)
            except FileNotFoundError:
                raise self._missing(self.model_path) from None
            if self._hashed is None or self._hashed[0] != key:
                self._hashed = (key, _sha256(self.model_path)[:VERSION_HEX])
            return self._hashed

    def _load(self) -> None:
        cfg_path = self.root / PREPROCESS_CFG
        try:
            cfg = PreprocessConfig.from_file(cfg_path)
        except FileNotFoundError:
            raise self._missing(cfg_path) from None
        key, version = self._hash_now()
        session = onnx_session(self.model_path, self._threads)
        if _file_key(self.model_path) != key:  # replaced while loading: version would lie
            raise ModelUnavailable(f"{self.model_path} changed while loading; try again")

        inp = session.get_inputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4:
            raise ModelUnavailable(f"{self.model_path}: expected a 4-D image input, got {shape}")
        self._uint8 = inp.type == "tensor(uint8)"
        self._input_dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
        self._channels_last = self._uint8 and shape[1] != 3
        spatial = shape[1:3] if self._channels_last else shape[2:4]
        if any(isinstance(d, int) and d != cfg.size for d in spatial):
            raise ModelUnavailable(
                f"{self.model_path} takes {spatial} pixels but {cfg_path} says {cfg.size}"
            )
        # Immich's newer exports have a fixed batch of 1 (older ones a dynamic one).
        self._run_size = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self._session, self._input, self._cfg = session, inp.name, cfg
        self._dimension = self._output_dimension(session)
        self._frozen_version = version

    def _output_dimension(self, session: Any) -> int:
        last = session.get_outputs()[0].shape[-1]
        if isinstance(last, int) and last > 0:
            return last
        try:  # open_clip's model config names it
            embed_dim = json.loads((self.root / MODEL_CFG).read_text(encoding="utf-8"))
            return int(embed_dim["embed_dim"])
        except (OSError, ValueError, KeyError, TypeError):
            assert self._cfg is not None
            blank = np.zeros((self._cfg.size, self._cfg.size, 3), dtype=np.uint8)
            return int(self._run([blank]).shape[1])

    def preprocess(self, image: RGBImage) -> NDArray[Any]:
        """The array one image contributes to the batch: 3 × size × size float32 normalised,
        or the uint8 pixels for graphs that normalise inside."""
        self.load()
        return self._prepare(image)

    def _prepare(self, image: RGBImage) -> NDArray[Any]:
        assert self._cfg is not None
        im = resized(image, self._cfg)
        if self._uint8:
            pixels = np.asarray(im, dtype=np.uint8)
            return (
                pixels if self._channels_last else np.ascontiguousarray(pixels.transpose(2, 0, 1))
            )
        return normalised_chw(im, self._cfg).astype(self._input_dtype, copy=False)

    def _run(self, images: Sequence[RGBImage]) -> NDArray[np.float32]:
        batch = np.stack([self._prepare(image) for image in images])
        step = self._run_size or len(batch)
        outs: list[NDArray[np.float32]] = []
        for start in range(0, len(batch), step):
            chunk = batch[start : start + step]
            short = step - len(chunk)
            if self._run_size and short:  # a fixed batch > 1: pad, then drop the padding
                chunk = np.concatenate([chunk, np.zeros((short, *chunk.shape[1:]), chunk.dtype)])
            out, *_ = self._session.run(None, {self._input: chunk})
            out = np.asarray(out, dtype=np.float32).reshape(len(chunk), -1)
            outs.append(out[: len(chunk) - short])
        return np.concatenate(outs)

    def _predict_batch(self, images: Sequence[RGBImage]) -> list[NDArray[np.float32]]:
        # Immich's exports already normalise; doing it again costs nothing and covers others.
        return list(l2_normalise(self._run(images)))
