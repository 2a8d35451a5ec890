"""A tiny random-weight stand-in for an Immich CLIP visual export, built with ``onnx.helper``.

Same interface as the real ``visual/model.onnx``: input ``image`` float32 NCHW at the
preprocess config's size, output ``embedding`` [batch, dim], L2-normalised as open_clip's
``encode_image(normalize=True)`` is. Inside: average pooling to an 8 × 8 grid, flatten, a
seeded random projection. Pooling keeps it smooth (a resized or re-encoded copy lands close),
and the random projection keeps cosines of the pooled images (so unrelated pictures differ).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
GRID = 8
OPSET = 17
IR_VERSION = 8  # what opset 17 needs; ONNX Runtime may not read the newest IR


def tiny_clip_model(
    seed: int = 0,
    size: int = 224,
    dim: int = 512,
    static_batch: int | None = None,
    uint8_input: bool = False,
) -> onnx.ModelProto:
    """``uint8_input``: the graph takes uint8 NHWC pixels and normalises them itself (the
    variant Immich feeds raw pixels to); same weights, same embeddings."""
    if size % GRID:
        raise ValueError(f"size must be a multiple of {GRID}")
    rng = np.random.default_rng(seed)
    features = 3 * GRID * GRID
    weights = (rng.standard_normal((features, dim)) / np.sqrt(features)).astype(np.float32)
    batch: int | str = static_batch if static_batch is not None else "batch_size"
    kernel = size // GRID
    nodes, initialisers = [], [numpy_helper.from_array(weights, "projection")]
    if uint8_input:
        image = helper.make_tensor_value_info("image", TensorProto.UINT8, [batch, size, size, 3])
        mean = np.asarray(OPENAI_MEAN, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(OPENAI_STD, np.float32).reshape(1, 3, 1, 1)
        initialisers += [
            numpy_helper.from_array(np.array(255.0, np.float32), "scale"),
            numpy_helper.from_array(mean, "mean"),
            numpy_helper.from_array(std, "std"),
        ]
        nodes += [
            helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
            helper.make_node("Transpose", ["pixels"], ["chw"], perm=[0, 3, 1, 2]),
            helper.make_node("Div", ["chw", "scale"], ["unit"]),
            helper.make_node("Sub", ["unit", "mean"], ["centred"]),
            helper.make_node("Div", ["centred", "std"], ["normalised"]),
        ]
        first = "normalised"
    else:
        image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, size, size])
        first = "image"
    nodes += [
        helper.make_node(
            "AveragePool", [first], ["pooled"], kernel_shape=[kernel] * 2, strides=[kernel] * 2
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "projection"], ["projected"]),
        helper.make_node("LpNormalization", ["projected"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_clip_visual",
        [image],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, dim])],
        initialisers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dupfinder-tests"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def preprocess_cfg(size: int = 224, resize_mode: str = "shortest") -> dict[str, object]:
    """What open_clip's ``get_model_preprocess_cfg`` writes for the OpenAI models."""
    return {
        "size": [size, size],
        "mode": "RGB",
        "mean": OPENAI_MEAN,
        "std": OPENAI_STD,
        "interpolation": "bicubic",
        "resize_mode": resize_mode,
        "fill_color": 0,
    }


def model_cfg(size: int = 224, dim: int = 512) -> dict[str, object]:
    """The shape of open_clip's model config (``config.json`` at the export's root)."""
    return {
        "embed_dim": dim,
        "vision_cfg": {"image_size": size, "layers": 1, "width": 3 * GRID * GRID},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "layers": 1},
    }


def export_files(
    seed: int = 0,
    size: int = 224,
    dim: int = 512,
    static_batch: int | None = None,
    resize_mode: str = "shortest",
    uint8_input: bool = False,
) -> dict[str, bytes]:
    """The export as relative path → bytes (what a server would hold)."""
    model = tiny_clip_model(seed, size, dim, static_batch, uint8_input)
    return {
        "config.json": json.dumps(model_cfg(size, dim)).encode(),
        "visual/preprocess_cfg.json": json.dumps(preprocess_cfg(size, resize_mode)).encode(),
        "visual/model.onnx": model.SerializeToString(),
    }


def write_tiny_clip(
    models_dir: Path,
    name: str = "ViT-B-32__openai",
    seed: int = 0,
    size: int = 224,
    dim: int = 512,
    *,
    static_batch: int | None = None,
    resize_mode: str = "shortest",
    uint8_input: bool = False,
) -> Path:
    """Writes the export in Immich's layout under ``models_dir/name``; returns that folder."""
    root = models_dir / name
    for rel, data in export_files(seed, size, dim, static_batch, resize_mode, uint8_input).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
