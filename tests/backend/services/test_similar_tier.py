"""The similar tier end to end with a CLIP export (a tiny random-weight one: real CLIP
weights cannot be installed here), and the people-count check on it."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from backend.ml.clip import ClipImageEncoder
from backend.ml.images import rgb_array
from backend.models import Image
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


def _skimage_files() -> list[tuple[str, bytes]]:
    return [
        (name.split(".")[0] + ".jpg", photos.jpeg(photos.skimage_photo(name)))
        for name in photos.SKIMAGE
    ]


def _best_pair(
    models_dir: Path, files: list[tuple[str, bytes]]
) -> tuple[dict[tuple[str, str], float], tuple[str, str], float]:
    """CLIP's similarities, its best pair, and a threshold that only that pair passes."""
    sims = _clip_similarities(models_dir, files)
    ranked = sorted(sims, key=sims.__getitem__, reverse=True)
    best, runner_up = ranked[0], ranked[1]
    assert sims[best] - sims[runner_up] > 0.002, "the tiny model must separate its best pair"
    return sims, best, (sims[best] + sims[runner_up]) / 2


def test_clip_serves_the_similar_tier(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_tiny_clip(data / "models", CLIP, seed=3)
    files = _skimage_files()
    sims, best, threshold = _best_pair(data / "models", files)
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


def test_only_the_people_checks_images_meet_the_detector_when_no_tags_are_wanted(
    tmp_path: Path,
) -> None:
    """DUPFINDER_OBJECT_TAGS=candidates (a scan's choice): the detector looks at the images of
    the pairs that may end similar, before grouping, and at nothing else."""
    data = tmp_path / "data"
    write_tiny_clip(data / "models", CLIP, seed=3)
    files = [
        ("bus.jpg", photos.yolo_sample("bus.jpg")),
        ("zidane.jpg", photos.yolo_sample("zidane.jpg")),
    ] + _skimage_files()
    _, best, threshold = _best_pair(data / "models", files)
    settings = make_settings(
        data,
        **{
            **MODELS_ON,
            "DUPFINDER_CLIP_MODEL": CLIP,
            # Only the best pair may be "similar": the people check asks about its two images.
            "DUPFINDER_SIMILAR_CLIP_SIMILARITY": threshold,
            "DUPFINDER_OBJECT_TAGS": "candidates",
        },
    )
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "few@example.com")
        ids = person.ids(person.upload(files))
        assert person.groups("near") == [] and person.groups("exact") == []
        with Session(runtime.ctx.engine) as session:
            looked = {
                image_id
                for image_id, model in session.exec(select(Image.id, Image.objects_model))
                if model is not None
            }
        assert looked == {ids[best[0]], ids[best[1]]}
