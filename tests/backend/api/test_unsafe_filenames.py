"""An upload whose name hides a right-to-left override is refused, and the refusal does not
echo the disguise back (the UI shows the name from the response)."""

from __future__ import annotations

from tests.helpers import images as img
from tests.helpers.app import Person

RLO = "\u202e"


def test_a_disguised_name_is_refused_and_shown_safely(alice: Person) -> None:
    body = alice.upload([(f"invoice{RLO}gpj.exe", img.jpeg(1)), ("real.jpg", img.jpeg(2))])
    assert [i["filename"] for i in body["images"]] == ["real.jpg"]
    [rejected] = body["rejected"]
    assert rejected["filename"] == "invoice\ufffdgpj.exe"
    assert RLO not in str(body)
    assert "right-to-left" in rejected["reason"]
    listed = alice.get("/images").json()["items"]
    assert [i["filename"] for i in listed] == ["real.jpg"]
