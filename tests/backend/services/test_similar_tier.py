"""The similar tier end to end with a CLIP export (a tiny random-weight one: real CLIP
weights cannot be installed here), and the people-count check on it."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from backend.ml.clip import ClipImageEncoder
from backend.ml.images import rgb_array
from tests.helpers import photos
from tests.helpers.app import API, MODELS_ON, Person, make_settings, service
from tests.helpers.tiny_clip import write_tiny_clip

CLIP = "ViT-B-32__openai"


def _clip_similarities(
    models_dir: Path, files: list[tuple[str, bytes]]
) -> dict[tuple[str, str], float]:
    encoder = ClipImageEncoder(models_dir, CLIP)
    vectors = encoder.predict([rgb_array(photos.decoded(data)) for _, data in files])
    names = [n for n, _ in files]
    return {
        (names[i], names[j]): float(np.dot(vectors[i], vectors[j]))
        for i, j in itertools.combinations(range(len(files)), 2)
    }


def test_clip_serves_the_similar_tier(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_tiny_clip(data / "models", CLIP, seed=3)
    files = [
        (name.split(".")[0] + ".jpg", photos.jpeg(photos.skimage_photo(name)))
        for name in photos.SKIMAGE
    ]
    sims = _clip_similarities(data / "models", files)
    ranked = sorted(sims, key=sims.__getitem__, reverse=True)
    best, runner_up = ranked[0], ranked[1]
    assert sims[best] - sims[runner_up] > 0.002, "the tiny model must separate its best pair"
    threshold = (sims[best] + sims[runner_up]) / 2
    settings = make_settings(
        data,
        **{
            **MODELS_ON,
            "DUPFINDER_OBJECT_MODEL": "none",
            "DUPFINDER_CLIP_MODEL": CLIP,
            "DUPFINDER_SIMILAR_CLIP_SIMILARITY": threshold,
        },
    )
    with service(settings) as (client, runtime):
        health = client.get(f"{API}/health").json()
        assert health["models"]["clip"] == health["models"]["similar_tier"]
        assert health["models"]["clip"].startswith(f"clip:{CLIP}@")
        person = Person.sign_up(client, runtime, "clip@example.com")
        person.upload(files)
        (group,) = person.groups()
        assert group["tier"] == "similar"
        assert {i["filename"] for i in group["images"]} == set(best)
        (pair,) = group["pairs"]
        assert pair["semantic_similarity"] == pytest.approx(sims[best], abs=1e-4)
        assert pair["copy_similarity"] is None  # SSCD found nothing near: not a copy
        assert "CLIP similarity" in pair["explanation"]
        assert person.groups("near") == []


@pytest.mark.parametrize("check", [True, False])
def test_different_people_counts_are_not_the_same_shot(tmp_path: Path, check: bool) -> None:
    data = tmp_path / "data"
    files = [
        ("bus.jpg", photos.yolo_sample("bus.jpg")),
        ("zidane.jpg", photos.yolo_sample("zidane.jpg")),
    ]
    write_tiny_clip(data / "models", CLIP, seed=3)
    sims = _clip_similarities(data / "models", files)
    settings = make_settings(
        data,
        **{
            **MODELS_ON,
            "DUPFINDER_CLIP_MODEL": CLIP,
            # Loose enough that CLIP alone would call the two "similar".
            "DUPFINDER_SIMILAR_CLIP_SIMILARITY": sims[("bus.jpg", "zidane.jpg")] - 0.01,
            "DUPFINDER_SIMILAR_OBJECT_CHECK": check,
        },
    )
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "people@example.com")
        ids = person.ids(person.upload(files))
        people = [
            sum(o["label"] == "person" for o in person.get(f"/images/{ids[n]}").json()["objects"])
            for n, _ in files
        ]
        assert people[0] != people[1]  # four people at the bus, two men in the other
        groups = person.groups()
        if check:
            assert groups == []
        else:
            (group,) = groups
            assert group["tier"] == "similar"
