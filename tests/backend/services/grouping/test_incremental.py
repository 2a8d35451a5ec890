"""Grouping costs what changed: the task functions run directly (no HTTP, no threads) on a
real SQLite file, with a job queue that records what it is sent."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, col, select

from backend.core.grouping import Tier
from backend.core.verify import Verdict
from backend.models import (
    DuplicateGroup,
    GroupStatus,
    Image,
    ImagePair,
    ImageState,
    RegroupMark,
)
from backend.runtime import build_runtime
from backend.services import decisions
from backend.services.context import AppContext
from backend.services.features.extract import extract_image_features
from backend.services.grouping.compare import compare
from backend.services.grouping.library import HashLibraries, HashLibrary
from backend.services.grouping.prepare import (
    Batch,
    _prepare_digests,
    _stored_copies,
    prepare_batch,
    prepare_verification,
)
from backend.services.grouping.regroup import OTHER_SHOT, _Area, regroup
from backend.services.grouping.task import group_prepared, update_owner_groups
from backend.services.images import delete_image
from backend.services.ingestion.upload import IncomingFile, ingest_upload
from backend.services.pipeline import GROUP
from backend.services.worker.recovery import resume_unfinished
from tests.helpers import images as img
from tests.helpers.app import make_settings
from tests.helpers.jobs import Recorder, new_owner


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    runtime = build_runtime(make_settings(tmp_path))
    runtime.close()  # its database and store only: the test runs the tasks itself
    yield dataclasses.replace(runtime.ctx, jobs=Recorder())
    runtime.engine.dispose()


@pytest.fixture
def owner(ctx: AppContext) -> int:
    return new_owner(ctx, "lib@example.com")


def ingest(ctx: AppContext, owner: int, files: list[tuple[str, bytes]]) -> dict[str, int]:
    """Store and analyse ``files``, not grouped yet; their ids by name."""
    with ctx.session(write=True) as session:
        result = ingest_upload(
            session, ctx.store, ctx.settings.decode_limits, owner, (IncomingFile(*f) for f in files)
        )
        ids = {i.filename: i.id for i in result.images if i.id is not None}
    for image_id in ids.values():
        extract_image_features(ctx, image_id)
    return ids


def add(ctx: AppContext, owner: int, files: list[tuple[str, bytes]]) -> dict[str, int]:
    """Store, analyse and group ``files`` as the pipeline does; their ids by name."""
    ids = ingest(ctx, owner, files)
    update_owner_groups(ctx, owner)
    return ids


def open_groups(ctx: AppContext, owner: int) -> dict[int, set[str]]:
    with Session(ctx.engine) as session:
        out: dict[int, set[str]] = {}
        for group in session.exec(
            select(DuplicateGroup).where(
                DuplicateGroup.owner_id == owner, DuplicateGroup.status == GroupStatus.OPEN
            )
        ):
            assert group.id is not None
            rows = session.execute(
                sa.text(
                    "SELECT i.filename FROM group_member m JOIN image i ON i.id = m.image_id "
                    "WHERE m.group_id = :g"
                ),
                {"g": group.id},
            )
            out[group.id] = {r[0] for r in rows}
        return out


def family(n: int) -> list[tuple[str, bytes]]:
    original = img.jpeg(700 + n, (240, 180))
    return [(f"f{n}.jpg", original), (f"f{n}-small.jpg", img.resized(original))]


def test_a_new_copy_reads_only_what_was_grouped_since(ctx: AppContext, owner: int) -> None:
    add(ctx, owner, [f for n in range(6) for f in family(n)])
    library = ctx.hash_libraries.of(owner)
    assert len(library) == 12  # built once, by the first run
    with Session(ctx.engine) as session:
        # What the last run grouped is read once more (the index cannot know that run
        # committed), then nothing: the library is never read again.
        assert library.refresh(session) == 12
        assert library.refresh(session) == 0
    groups = open_groups(ctx, owner)
    assert len(groups) == 6

    third = img.reencoded(family(2)[0][1], 40)
    add(ctx, owner, [("f2-q40.jpg", third)])
    with Session(ctx.engine) as session:
        assert library.refresh(session) == 1  # only the run that added the copy
    after = open_groups(ctx, owner)
    # The touched group keeps its id and gains the copy; the others are as they were.
    (touched,) = [g for g, names in after.items() if "f2.jpg" in names]
    assert after[touched] == {"f2.jpg", "f2-small.jpg", "f2-q40.jpg"}
    assert touched in groups
    assert {g: n for g, n in after.items() if g != touched} == {
        g: n for g, n in groups.items() if g != touched
    }


def test_regrouping_reads_only_the_touched_component(ctx: AppContext, owner: int) -> None:
    ids = add(ctx, owner, [f for n in range(5) for f in family(n)])
    with Session(ctx.engine) as session:
        area = _Area.around(session, owner, [ids["f3.jpg"]])
    assert area.images == {ids["f3.jpg"], ids["f3-small.jpg"]}
    assert len(area.groups) == 1 and len(area.pairs) == 1


def test_another_workers_groupings_are_seen(ctx: AppContext, owner: int) -> None:
    """Two worker processes, each with its own in-memory index, take turns on one person."""
    other = dataclasses.replace(ctx, hash_libraries=HashLibraries(ctx.settings.near_distance))
    (a, small), q40 = family(9), ("f9-q40.jpg", img.reencoded(family(9)[0][1], 40))
    add(ctx, owner, [a])
    add(other, owner, [small])  # the second worker reads the library for the first time
    add(ctx, owner, [q40])  # the first worker must see what the second one grouped
    assert list(open_groups(ctx, owner).values()) == [{"f9.jpg", "f9-small.jpg", "f9-q40.jpg"}]


def test_a_deleted_image_left_in_the_index_is_never_paired(ctx: AppContext, owner: int) -> None:
    original = img.jpeg(801)
    ids = add(ctx, owner, [("a.jpg", original)])
    assert ctx.hash_libraries.of(owner).code(ids["a.jpg"]) is not None
    with ctx.session(write=True) as session:
        delete_image(session, owner, ids["a.jpg"])
    add(ctx, owner, [("b.jpg", img.resized(original))])  # would pair with a.jpg: it is gone
    assert open_groups(ctx, owner) == {}
    with Session(ctx.engine) as session:
        image = session.exec(select(Image).where(Image.filename == "b.jpg")).one()
        assert image.state == ImageState.READY


def test_a_deletion_regroups_through_a_mark(ctx: AppContext, owner: int) -> None:
    original = img.jpeg(802, (240, 180))
    ids = add(
        ctx,
        owner,
        [
            ("x.jpg", original),
            ("x-small.jpg", img.resized(original)),
            ("x-flip.jpg", img.flipped(original)),
        ],
    )
    ((gid, names),) = open_groups(ctx, owner).items()
    assert len(names) == 3
    with ctx.session(write=True) as session:
        delete_image(session, owner, ids["x-flip.jpg"])
    with Session(ctx.engine) as session:
        marked = set(session.exec(select(RegroupMark.image_id)).all())
    assert marked == {ids["x.jpg"], ids["x-small.jpg"]}  # written with the deletion

    # The grouping message is lost (e.g. Redis restarted): recovery finds the marks.
    sent = Recorder()
    resume_unfinished(dataclasses.replace(ctx, jobs=sent), stale_after=60)
    assert (GROUP, {"owner_id": owner}) in sent.sent
    update_owner_groups(ctx, owner)
    assert open_groups(ctx, owner) == {gid: {"x.jpg", "x-small.jpg"}}
    with Session(ctx.engine) as session:
        assert session.exec(select(RegroupMark)).all() == []  # drained

    with ctx.session(write=True) as session:
        delete_image(session, owner, ids["x-small.jpg"])
    update_owner_groups(ctx, owner)
    assert open_groups(ctx, owner) == {}  # one image left is no group


def test_a_decision_regroups_its_members(ctx: AppContext, owner: int) -> None:
    ids = add(ctx, owner, family(4) + family(5))
    groups = open_groups(ctx, owner)
    (gid,) = [g for g, n in groups.items() if "f4.jpg" in n]
    with ctx.session(write=True) as session:
        decisions.dismiss(session, owner, gid)
    update_owner_groups(ctx, owner)
    assert list(open_groups(ctx, owner).values()) == [{"f5.jpg", "f5-small.jpg"}]
    # A new copy of the dismissed pair's photo joins neither (the decision stands).
    add(ctx, owner, [("f4-q40.jpg", img.reencoded(family(4)[0][1], 40))])
    remaining = list(open_groups(ctx, owner).values())
    assert {"f5.jpg", "f5-small.jpg"} in remaining
    assert not any({"f4.jpg", "f4-small.jpg"} <= names for names in remaining)
    assert ids


def test_adding_one_image_costs_the_same_at_any_library_size(ctx: AppContext, owner: int) -> None:
    """The statements of a warm run that adds one image do not grow with the library."""

    def statements_to_add(name: str, seed: int) -> int:
        count = 0

        def counted(*_: object) -> None:
            nonlocal count
            count += 1

        with ctx.session(write=True) as session:
            result = ingest_upload(
                session,
                ctx.store,
                ctx.settings.decode_limits,
                owner,
                [IncomingFile(name, img.jpeg(seed))],
            )
            (image_id,) = [i.id for i in result.images if i.id is not None]
        extract_image_features(ctx, image_id)
        event.listen(ctx.engine, "before_cursor_execute", counted)
        try:
            update_owner_groups(ctx, owner)
        finally:
            event.remove(ctx.engine, "before_cursor_execute", counted)
        return count

    add(ctx, owner, [(f"s{n}.jpg", img.jpeg(900 + n)) for n in range(10)])
    small = statements_to_add("one.jpg", 1901)
    add(ctx, owner, [(f"l{n}.jpg", img.jpeg(1000 + n)) for n in range(60)])
    large = statements_to_add("two.jpg", 1902)
    assert small == large
    with Session(ctx.engine) as session:
        ready = session.exec(
            select(sa.func.count()).select_from(Image).where(col(Image.state) == ImageState.READY)
        ).one()
    assert ready == 72


def test_only_pairs_proven_one_photograph_make_copies_through_them(
    ctx: AppContext, owner: int
) -> None:
    """Verification skips a pair whose pictures are joined through stored pairs: exact ones
    and verified copies, never a near pair nobody verified or whose check could not decide."""
    ids = add(ctx, owner, [(f"{n}.jpg", img.jpeg(900 + n, (120, 90))) for n in range(5)])
    i = [ids[f"{n}.jpg"] for n in range(5)]
    stored = [
        (i[0], i[1], Tier.EXACT, None),
        (i[1], i[2], Tier.NEAR, Verdict.COPY.value),
        (i[2], i[3], Tier.NEAR, Verdict.UNDECIDED.value),
        (i[3], i[4], Tier.NEAR, None),
    ]
    with ctx.session(write=True) as session:
        for a, b, tier, verdict in stored:
            session.add(ImagePair(owner_id=owner, image_a=a, image_b=b, tier=tier, verdict=verdict))
    with Session(ctx.engine) as session:
        assert sorted(_stored_copies(session, owner, set(i))) == [(i[0], i[1]), (i[1], i[2])]
        assert _stored_copies(session, owner + 1, set(i)) == []  # another person's: none


def test_proven_two_shots_never_share_a_near_group(ctx: AppContext, owner: int) -> None:
    """Frames 0 and 2 moved on their own (verification's motion check), frame 1 verified a
    copy of each (its motion too small to see): near keeps 0 and 2 apart, similar holds all.
    An "other shot" that only says one transform explains too little (a heavy edit looks the
    same) keeps no one apart: it is no proof of two captures."""
    ids = add(ctx, owner, [(f"{n}.jpg", img.jpeg(950 + n, (120, 90))) for n in range(6)])
    i = [ids[f"{n}.jpg"] for n in range(6)]
    copy, other = Verdict.COPY.value, Verdict.OTHER_SHOT.value
    assert other == OTHER_SHOT  # regroup's own name for it (it does not import OpenCV)
    stored = [
        (i[0], i[1], Tier.NEAR, 2.0, copy, 0.9, None),
        (i[1], i[2], Tier.NEAR, 3.0, copy, 0.9, None),
        (i[0], i[2], Tier.SIMILAR, 5.0, other, 0.88, 0.08),  # moved on its own
        (i[3], i[4], Tier.NEAR, 2.0, copy, 0.9, None),
        (i[4], i[5], Tier.NEAR, 3.0, copy, 0.9, None),
        (i[3], i[5], Tier.SIMILAR, 5.0, other, 0.6, None),  # explains too little: no proof
    ]
    with ctx.session(write=True) as session:
        for a, b, tier, bits, verdict, explained, moved in stored:
            a, b = min(a, b), max(a, b)
            session.add(
                ImagePair(
                    owner_id=owner,
                    image_a=a,
                    image_b=b,
                    tier=tier,
                    distance=bits,
                    verdict=verdict,
                    explained=explained,
                    moved=moved,
                )
            )
    with ctx.session(write=True) as session:
        regroup(session, owner, i)
    with Session(ctx.engine) as session:
        tiers = {
            (g.tier, frozenset(names))
            for gid, names in open_groups(ctx, owner).items()
            if (g := session.get(DuplicateGroup, gid)) is not None
        }
    assert tiers == {
        (Tier.NEAR, frozenset({"0.jpg", "1.jpg"})),
        (Tier.SIMILAR, frozenset({"0.jpg", "1.jpg", "2.jpg"})),
        (Tier.NEAR, frozenset({"3.jpg", "4.jpg", "5.jpg"})),
    }


def test_a_run_that_commits_between_prepare_and_lock_is_compared_with(
    ctx: AppContext, owner: int
) -> None:
    """The pairs found before the lock are stale once another run has grouped a copy in the
    meantime (another worker, its own batch): the locked phase gathers them again."""
    original = img.jpeg(811, (240, 180))
    ingest(ctx, owner, [("a.jpg", original)])
    batch = prepare_batch(ctx, owner)
    assert batch.gathered is not None and batch.gathered.found == {}
    # Another worker groups its own batch, a copy of a.jpg, and commits first.
    ids = ingest(ctx, owner, [("a-small.jpg", img.resized(original))])
    with ctx.session(write=True) as session:
        (copy,) = session.exec(select(Image).where(Image.id == ids["a-small.jpg"])).all()
        compare(session, ctx, owner, [copy])
    group_prepared(ctx, owner, batch)
    assert list(open_groups(ctx, owner).values()) == [{"a.jpg", "a-small.jpg"}]


def test_pairs_found_before_the_lock_lose_an_image_deleted_meanwhile(
    ctx: AppContext, owner: int
) -> None:
    original = img.jpeg(812, (240, 180))
    ids = add(ctx, owner, [("b.jpg", original)])
    add(ctx, owner, [("other.jpg", img.jpeg(813))])  # a later run: b.jpg is not the last
    ingest(ctx, owner, [("b-small.jpg", img.resized(original))])
    batch = prepare_batch(ctx, owner)
    assert batch.gathered is not None and len(batch.gathered.found) == 1
    with ctx.session(write=True) as session:
        delete_image(session, owner, ids["b.jpg"])
    group_prepared(ctx, owner, batch)  # uses what it gathered, less the pair with b.jpg
    assert open_groups(ctx, owner) == {}
    with Session(ctx.engine) as session:
        assert session.exec(select(ImagePair)).all() == []
        image = session.exec(select(Image).where(Image.filename == "b-small.jpg")).one()
        assert image.state == ImageState.READY


class CountingLibraries(HashLibraries):
    """The hash libraries, counting the searches made in them (a grouping's gathers)."""

    def __init__(self, radius: int) -> None:
        super().__init__(radius)
        self.searches = 0

    def of(self, owner_id: int) -> HashLibrary:
        library = super().of(owner_id)
        search = library.search

        def counted(variants: list[int], exclude: int) -> dict[int, int]:
            self.searches += 1
            return search(variants, exclude)

        library.search = counted  # type: ignore[method-assign]
        return library


def test_pairs_found_before_the_lock_are_used_when_nothing_changed(
    ctx: AppContext, owner: int
) -> None:
    libraries = CountingLibraries(ctx.settings.near_distance)
    ctx = dataclasses.replace(ctx, hash_libraries=libraries)
    original = img.jpeg(814, (240, 180))
    add(ctx, owner, [("c.jpg", original)])
    ingest(ctx, owner, [("c-small.jpg", img.resized(original))])
    batch = prepare_batch(ctx, owner)
    before = libraries.searches
    group_prepared(ctx, owner, batch)
    assert libraries.searches == before  # nothing searched under the lock
    assert list(open_groups(ctx, owner).values()) == [{"c.jpg", "c-small.jpg"}]


def test_an_image_grouped_after_the_digests_were_prepared_is_compared_again(
    ctx: AppContext, owner: int
) -> None:
    """A copy another worker groups after this run prepared its digests has none stored for
    the pair: the pairs are gathered again under the lock, where its digest is computed, and
    identical pixels make the pair exact."""
    other = dataclasses.replace(ctx, hash_libraries=HashLibraries(ctx.settings.near_distance))
    original = img.jpeg(815, (240, 180))
    ids = frozenset(ingest(ctx, owner, [("d.jpg", original)]).values())
    mark = _prepare_digests(ctx, owner, ids)  # nothing to pair with yet
    copy_id = ingest(other, owner, [("d.png", img.lossless_png(original))])["d.png"]
    with other.session(write=True) as session:
        (copy,) = session.exec(select(Image).where(Image.id == copy_id)).all()
        compare(session, other, owner, [copy])
    gathered, verified, _ = prepare_verification(ctx, owner, ids, mark)
    group_prepared(ctx, owner, Batch(ids, verified, gathered))
    with Session(ctx.engine) as session:
        (stored,) = session.exec(select(ImagePair)).all()
    assert stored.tier == Tier.EXACT


def test_pixels_are_read_only_where_the_hashes_leave_identity_open(
    ctx: AppContext, owner: int
) -> None:
    """Two JPEGs of one size whose hashes differ cannot have the same pixels (both were
    reduced by the same decoder before hashing): a burst pair costs no full-size decode. A
    JPEG whose bytes differ but whose hash does not is read, and found identical."""
    original = img.jpeg(815, (1024, 768))
    commented = original[:2] + b"\xff\xfe\x00\x07hello" + original[2:]  # same pixels
    ids = add(
        ctx,
        owner,
        [("a.jpg", original), ("b.jpg", img.brightened(original)), ("c.jpg", commented)],
    )
    with Session(ctx.engine) as session:
        digests = {
            i.filename: i.pixel_hash for i in session.exec(select(Image)).all() if i.filename
        }
        pairs = {frozenset((p.image_a, p.image_b)): p.tier for p in session.exec(select(ImagePair))}
    assert digests["b.jpg"] is None  # 4 bits from the others: another picture
    assert digests["a.jpg"] is not None and digests["a.jpg"] == digests["c.jpg"]
    assert pairs[frozenset((ids["a.jpg"], ids["c.jpg"]))] == Tier.EXACT
    assert pairs[frozenset((ids["a.jpg"], ids["b.jpg"]))] == Tier.NEAR
