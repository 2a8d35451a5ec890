"""An iPhone's HEIC and the JPEG of the same photo are one photo to the service."""

from __future__ import annotations

from tests.backend.core.test_decode_heic import heic
from tests.helpers import images as img
from tests.helpers.app import Person, names


def test_heic_upload_is_a_near_duplicate_of_its_jpeg(alice: Person) -> None:
    picture = img.photo(71, (640, 480))
    other = img.jpeg(72, (640, 480))
    body = alice.upload(
        [
            ("IMG_0071.jpg", img.encode(picture)),
            ("IMG_0071.HEIC", heic(picture, quality=70)),
            ("IMG_0072.heic", other),  # JPEG bytes behind a .heic name: read by content
            ("IMG_0071.MOV", b"\x00\x00\x00\x18ftypqt  "),
        ]
    )
    assert body["rejected"] == [{"filename": "IMG_0071.MOV", "reason": "videos are not analysed"}]
    ids = alice.ids(body)
    heic_image = alice.get(f"/images/{ids['IMG_0071.HEIC']}").json()
    assert heic_image["format"] == "HEIF" and heic_image["status"] == "ready", heic_image
    groups = alice.groups()
    assert [names(g) for g in groups] == [{"IMG_0071.jpg", "IMG_0071.HEIC"}]
    assert groups[0]["tier"] == "near"
    served = alice.get(f"/images/{ids['IMG_0071.HEIC']}/file")
    assert served.headers["content-type"] == "image/heic"
