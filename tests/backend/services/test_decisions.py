"""Decisions stick: dismissed and keep-both pairs never share a group again, across restarts."""

from __future__ import annotations

from backend.config import Settings
from tests.helpers import images as img
from tests.helpers.app import Person, member_ids, names, service, settle, together


def test_dismissed_pair_never_regroups(settings: Settings) -> None:
    a = img.jpeg(11, (400, 300))
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "erin@example.com")
        ids = person.ids(person.upload([("a.jpg", a), ("b.jpg", img.reencoded(a, 60))]))
        (group,) = person.groups()
        assert member_ids(group) == {ids["a.jpg"], ids["b.jpg"]}

        response = person.post(f"/duplicates/groups/{group['id']}/dismiss")
        assert response.status_code == 200
        decision = response.json()
        assert {k: decision[k] for k in ("group_id", "status", "keep", "trash", "undoes")} == {
            "group_id": group["id"],
            "status": "dismissed",
            "keep": sorted(ids.values()),
            "trash": [],
            "undoes": None,
        }
        assert isinstance(decision["id"], int)
        person.settle()
        assert person.groups() == []
        assert person.group(group["id"])["status"] == "dismissed"

        # Another copy of the same photo may pair with either, never bring the two together.
        ids |= person.ids(person.upload([("c.jpg", a)]))
        groups = person.groups()
        assert not together(groups, ids["a.jpg"], ids["b.jpg"])
        assert [names(g) for g in groups] == [{"a.jpg", "c.jpg"}]

    with service(settings) as (client, runtime):  # a restart on the same data
        person = Person.sign_in(client, runtime, "erin@example.com")
        runtime.start()
        settle(runtime)
        assert [names(g) for g in person.groups()] == [{"a.jpg", "c.jpg"}]
        ids |= person.ids(person.upload([("d.jpg", img.resized(a)), ("e.jpg", img.flipped(a))]))
        groups = person.groups()
        assert not together(groups, ids["a.jpg"], ids["b.jpg"])
        assert all(not together(groups, ids["b.jpg"], other) for other in ids.values())
        assert {"d.jpg", "e.jpg"} <= set().union(*map(names, groups))


def test_resolving_trashes_and_keeps(settings: Settings) -> None:
    x, p = img.jpeg(21, (400, 300)), img.jpeg(22, (400, 300))
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "finn@example.com")
        ids = person.ids(
            person.upload(
                [
                    ("x.jpg", x),
                    ("x-small.jpg", img.resized(x)),
                    ("p.jpg", p),
                    ("p-edit.jpg", img.brightened(p)),
                ]
            )
        )
        by_name = {frozenset(names(g)): g["id"] for g in person.groups()}
        x_group = by_name[frozenset({"x.jpg", "x-small.jpg"})]
        p_group = by_name[frozenset({"p.jpg", "p-edit.jpg"})]

        trashed = person.post(
            f"/duplicates/groups/{x_group}/resolve",
            json={"keep": [ids["x.jpg"]], "trash": [ids["x-small.jpg"]]},
        )
        assert trashed.status_code == 200, trashed.text
        assert trashed.json()["status"] == "resolved"
        both = person.post(
            f"/duplicates/groups/{p_group}/resolve",
            json={"keep": [ids["p.jpg"], ids["p-edit.jpg"]]},
        )
        assert both.status_code == 200 and both.json()["trash"] == []
        settle(runtime)
        assert person.groups() == []
        assert person.get(f"/images/{ids['x-small.jpg']}").json()["trashed"] is True
        assert person.get(f"/images/{ids['x.jpg']}").json()["trashed"] is False

        again = person.post(f"/duplicates/groups/{x_group}/resolve", json={"keep": [ids["x.jpg"]]})
        assert again.status_code == 409 and "already resolved" in again.json()["detail"]
        dismiss = person.post(f"/duplicates/groups/{p_group}/dismiss")
        assert dismiss.status_code == 409

        ids |= person.ids(person.upload([("x2.jpg", img.resized(x, 0.6)), ("p2.jpg", p)]))
        groups = person.groups()
        assert not together(groups, ids["p.jpg"], ids["p-edit.jpg"])
        trashed_id = ids["x-small.jpg"]
        assert all(trashed_id not in member_ids(g) for g in groups)
        assert {"x.jpg", "x2.jpg"} in [names(g) for g in groups]

    with service(settings) as (client, runtime):
        person = Person.sign_in(client, runtime, "finn@example.com")
        runtime.start()
        settle(runtime)
        groups = person.groups()
        assert not together(groups, ids["p.jpg"], ids["p-edit.jpg"])
        assert all(trashed_id not in member_ids(g) for g in groups)


def test_members_left_out_of_a_resolution_are_kept(settings: Settings) -> None:
    x = img.jpeg(31, (400, 300))
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "gale@example.com")
        ids = person.ids(
            person.upload(
                [("x.jpg", x), ("x-small.jpg", img.resized(x)), ("x-q30.jpg", img.reencoded(x, 30))]
            )
        )
        (group,) = person.groups()
        response = person.post(
            f"/duplicates/groups/{group['id']}/resolve",
            json={"keep": [ids["x.jpg"]], "trash": [ids["x-small.jpg"]]},
        )
        assert response.status_code == 200
        assert response.json()["keep"] == sorted([ids["x.jpg"], ids["x-q30.jpg"]])
        settle(runtime)
        assert person.groups() == []  # the group's question is answered; nothing comes back
        assert person.get(f"/images/{ids['x-q30.jpg']}").json()["trashed"] is False


def test_dismissing_a_near_group_keeps_its_identical_copies_together(settings: Settings) -> None:
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "hal@example.com")
        ids = person.ids(person.upload(img.camera_batch()))
        (near,) = person.groups("near")
        assert person.post(f"/duplicates/groups/{near['id']}/dismiss").status_code == 200
        settle(runtime)
        assert person.groups("near") == []
        assert [names(g) for g in person.groups("exact")] == [img.EXACT_NAMES]
        assert not together(person.groups(), ids["original.jpg"], ids["small.jpg"])
