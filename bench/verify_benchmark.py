#!/usr/bin/env python3
"""Trustworthy tiers: is another shot of a scene ever "a copy"? Calibration vs held-out.

usage: python bench/verify_benchmark.py [--shared DIR] [--cache DIR] [--seed N] [--no-write]
                                        [--calibrate-only] [--verified-only] [--rounds N]

1. Builds the benchmark: ``make_benchmark.py`` on the originals of ``photos.sh`` (as
   bench/run_benchmark.py does), plus stress cases of real photographs:
   - scikit-image's stereo pair ``motorcycle_left``/``motorcycle_right`` (another shot) and
     copies of the left one;
   - five consecutive video frames of ``labelme-examples`` (``00000100``..``00000104`` of its
     ``video_annotation/data_annotated``, which make_benchmark leaves out): other shots of one
     scene, each with labelme's own re-encoded copy (``data_dataset_voc/JPEGImages``) as its
     near copy;
   - copies that must stay near, of every eighth original (by name): crop to 50 %, a caption,
     a sticker, turned +10° and -10°, a strong colour grade.
   - real other shots from ``opencv-doc``'s sample data (a package no threshold has seen):
     bursts (consecutive video frames of a fixed camera: ``vtest.avi`` every 5th frame, half
     a second apart, and the optical-flow pairs ``basketball``, ``rubberwhale``) and other
     viewpoints (the stereo pairs ``aloeL``/``aloeR`` and ``left01``/``right01``, the
     viewpoint pairs ``graf1``/``graf3`` and ``aero1``/``aero3``), with a copy of the first
     of each set; ``leuvenA``/``leuvenB`` (one viewpoint, another exposure) are left out: a
     tone change and nothing else is by definition what a brightness edit is.
   make_benchmark's "bursts" (kphotoalbum ``name``/``name_2``) are kept as it scores them,
   though most are the same subject shot months or years apart by different cameras.
   Pictures rendered from a photo rather than photographs (labelme's mask and box
   visualisations, its screenshots: source folders ``*Visualization*`` and ``.readme``, which
   photos.sh keeps under the photo's name) stay in the scan but no pair with one is scored:
   make_benchmark leaves such renderings out where their names say so, and whether a mask
   drawn over a photo is "a copy" has no one answer.
2. Splits the originals by source package (the file-name prefix ``package__``), fixed and
   deterministic: CALIBRATION = darknet, lomiri-wallpapers-16.04, mate-backgrounds,
   tuxpaint-data (copies only); HELD-OUT = every other package, which includes every "other
   shot" of the benchmark (kphotoalbum's bursts, labelme's video frames, the stereo pair), so
   no threshold has seen one.
3. Calibration: ``core.verify`` on every true near pair of the calibration part (in process);
   prints the distribution of ``explained`` and the share of copies each rule keeps.
4. Scans (``dupfinder --data-dir TMP scan --json -q``, SSCD + YOLO, CLIP off) with
   verification on and off, wall time measured, scored per part (pairs with both images in the
   part) by score.py's own pair logic; other-shot pairs in near and burst pairs in similar.
5. Updates ``bench/RESULTS.md`` (section ``verification``) and ``bench/results.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import io
import itertools
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance
from results_file import cpu_name, git_commit, md_table, update_results_json, update_results_md
from run_benchmark import build_benchmark, dupfinder_command

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backend.core.verify import Rules, Verdict, prepare, verify  # noqa: E402

SECTION = "verification"
TIERS = ("exact", "near", "similar")
CALIBRATION = ("darknet", "lomiri-wallpapers-16.04", "mate-backgrounds", "tuxpaint-data")
LABELME = "usr/share/doc/labelme-examples/examples"
VIDEO = f"{LABELME}/video_annotation"
VIDEO_FRAMES = [f"0000010{i}.jpg" for i in range(5)]
# Source folders of pictures rendered from a photo, not photographs (see the docstring).
RENDERED = re.compile(r"(Visualization|/\.readme)/")
JsonDict = dict[str, Any]


def log(msg: str) -> None:
    print(f"[verify] {msg}", file=sys.stderr, flush=True)


def package(origin: str) -> str:
    return origin.split("__", 1)[0]


def part_of(origin: str) -> str:
    return "calibration" if package(origin) in CALIBRATION else "held-out"


# --------------------------------------------------------------------------- stress cases


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _caption(im: Image.Image) -> Image.Image:
    out = im.convert("RGB").copy()
    bar = max(14, out.height // 10)
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, out.height - bar, out.width, out.height), fill=(20, 20, 20))
    draw.text((bar // 2, out.height - bar + bar // 4), "Summer 2019  #holiday", fill="white")
    return out


def _sticker(im: Image.Image) -> Image.Image:
    out = im.convert("RGB").copy()
    w, h = out.size
    d = ImageDraw.Draw(out)
    box = (w * 6 // 10, h // 10, w * 6 // 10 + w // 5, h // 10 + w // 5)
    d.ellipse(box, fill=(250, 205, 20), outline=(0, 0, 0), width=3)
    d.text((box[0] + w // 20, box[1] + w // 12), ":-)", fill="black")
    return out


def _grade(im: Image.Image) -> Image.Image:
    r, g, b = im.convert("RGB").split()
    r = r.point(lambda v: min(255, int(255 * (v / 255) ** 0.7 * 1.05)))
    b = b.point(lambda v: int(v * 0.75 + 30))
    graded = Image.merge("RGB", (r, g, b))
    return ImageEnhance.Contrast(ImageEnhance.Color(graded).enhance(1.5)).enhance(1.25)


def _crop50(im: Image.Image, rng: random.Random) -> Image.Image:
    w, h = im.size
    cw, ch = w // 2, h // 2
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return im.crop((x, y, x + cw, y + ch))


STRESS_EDITS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "crop_50": _crop50,
    "caption_bar": lambda im, r: _caption(im),
    "sticker": lambda im, r: _sticker(im),
    "rotate_plus10": lambda im, r: im.convert("RGB").rotate(10, Image.Resampling.BICUBIC, True),
    "rotate_minus10": lambda im, r: im.convert("RGB").rotate(-10, Image.Resampling.BICUBIC),
    "colour_grade": lambda im, r: _grade(im),
}


def _skimage(name: str) -> Image.Image:
    spec = importlib.util.find_spec("skimage")
    assert spec is not None and spec.submodule_search_locations
    return Image.open(Path(next(iter(spec.submodule_search_locations))) / "data" / name)


def join_same_named(truth: JsonDict) -> None:
    stem = re.compile(r"_[0-9a-f]{6}(\.\w+)$")
    origins = {v["origin"] for v in truth["images"].values()}
    by_photo: dict[str, list[str]] = {}
    for name, v in truth["images"].items():
        base = stem.sub(r"\1", v["origin"])
        by_photo.setdefault(base if base in origins else v["origin"], []).append(name)
    for tier in ("near", "similar"):
        groups = [set(g) for g in truth[tier]]
        for names in by_photo.values():
            if len({truth["images"][n]["origin"] for n in names}) < 2:
                continue
            joined = set(names)
            rest = []
            for g in groups:
                if g & joined:
                    joined |= g
                else:
                    rest.append(g)
            groups = [*rest, joined]
        truth[tier] = [sorted(g) for g in groups]


OPENCV = "usr/share/doc/opencv-doc/examples/data"
# name: (kind, files); "video#n" is frame n of that video
OPENCV_SHOTS: dict[str, tuple[str, list[str]]] = {
    "vtest": ("burst", [f"vtest.avi#{n}" for n in range(100, 121, 5)]),
    "basketball": ("burst", ["basketball1.png", "basketball2.png"]),
    "rubberwhale": ("burst", ["rubberwhale1.png", "rubberwhale2.png"]),
    "aloe": ("viewpoint", ["aloeL.jpg", "aloeR.jpg"]),
    "chessboard": ("viewpoint", ["left01.jpg", "right01.jpg"]),
    "graffiti": ("viewpoint", ["graf1.png", "graf3.png"]),
    "aerial": ("viewpoint", ["aero1.jpg", "aero3.jpg"]),
}


def unpacked(debs: Path, package: str, inside: str = "") -> Path:
    """A Debian package's files, downloaded and unpacked (never installed) like photos.sh,
    unless ``inside`` (a path in the package) is there already."""
    root = debs / "root" / package
    if not (root / inside).exists():
        debs.mkdir(parents=True, exist_ok=True)
        if not list(debs.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", "-qq", package], cwd=debs, check=True)
        deb = next(debs.glob(f"{package}_*.deb"))
        root.parent.mkdir(parents=True, exist_ok=True)  # dpkg -x makes only the last folder
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def opencv_data(debs: Path) -> Path:
    """opencv-doc's sample data."""
    return unpacked(debs, "opencv-doc", OPENCV) / OPENCV


def _picture(data: Path, file: str) -> Image.Image:
    """An image file of opencv-doc's data, or frame n of a video there (``video#n``)."""
    if "#" not in file:
        return Image.open(data / file).convert("RGB")
    import cv2

    video, frame = file.split("#")
    capture = cv2.VideoCapture(str(data / video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, int(frame))
    ok, pixels = capture.read()
    capture.release()
    assert ok, f"{video}: no frame {frame}"
    return Image.fromarray(pixels[:, :, ::-1])


def opencv_shots(debs: Path) -> dict[str, tuple[str, list[tuple[str, Image.Image]]]]:
    """Each set of OPENCV_SHOTS as (kind, [(file, picture), ...])."""
    data = opencv_data(debs)
    return {
        name: (kind, [(f, _picture(data, f)) for f in files])
        for name, (kind, files) in OPENCV_SHOTS.items()
    }


def rendered_origins(originals: Path, debs: Path) -> set[str]:
    """Origins (photos.sh's file names) of rendered pictures, found by their content."""
    rendered: set[str] = set()
    for source in (debs / "root").rglob("*.jp*g"):
        if RENDERED.search(str(source.relative_to(debs / "root"))):
            rendered.add(hashlib.sha256(source.read_bytes()).hexdigest())
    return {
        f.name
        for f in originals.iterdir()
        if f.is_file() and hashlib.sha256(f.read_bytes()).hexdigest() in rendered
    }


def add_stress(originals: Path, bench: Path, out: Path, seed: int) -> JsonDict:
    """A copy of the benchmark with the stress cases added; returns its truth."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(bench / "images", out / "images")
    truth: JsonDict = json.loads((bench / "truth.json").read_text())
    rng = random.Random(seed)

    def add(name_key: str, data: bytes, origin: str, edit: str) -> str:
        name = hashlib.sha1(f"stress:{seed}:{name_key}".encode()).hexdigest()[:16] + ".jpg"
        (out / "images" / name).write_bytes(data)
        truth["images"][name] = {"origin": origin, "edit": edit}
        return name

    # photos.sh keeps same-named photos of different folders, the later with a content id
    # (labelme's 2011_000003.jpg and 2011_000003_172bbf.jpg...): one photograph, re-encoded.
    # They are copies of each other, which make_benchmark's truth does not know: join them.
    join_same_named(truth)
    # Copies that must stay near, of every eighth original, joined to its near family.
    family_of: dict[str, list[str]] = {}
    for group in truth["near"]:
        family_of[truth["images"][group[0]]["origin"]] = group
    base_of = {v["origin"]: k for k, v in truth["images"].items() if v["edit"] == "original"}
    for origin in sorted(base_of)[::8]:
        im = Image.open(out / "images" / base_of[origin])
        im.load()
        names = [
            add(f"{origin}:{kind}", _jpeg(edit(im, rng), 88), origin, kind)
            for kind, edit in STRESS_EDITS.items()
        ]
        family = family_of.get(origin)
        if family is None:
            family = [base_of[origin]]
            truth["near"].append(family)
            # a new near family is also a similar group (unless it is part of a burst)
            if not any(base_of[origin] in g for g in truth["similar"]):
                truth["similar"].append(family)
        family.extend(names)
        for group in truth["similar"]:
            if base_of[origin] in group and group is not family:
                group.extend(names)
    # The stereo pair, with copies of the left view (near), all one scene (similar).
    left, right = _skimage("motorcycle_left.png"), _skimage("motorcycle_right.png")
    lname = add("stereo:left", _jpeg(left, 92), "skimage__motorcycle_left", "original")
    rname = add("stereo:right", _jpeg(right, 92), "skimage__motorcycle_right", "original")
    copies = [
        add("stereo:left:caption", _jpeg(_caption(left)), "skimage__motorcycle_left", "caption"),
        add("stereo:left:crop", _jpeg(_crop50(left, rng)), "skimage__motorcycle_left", "crop_50"),
    ]
    truth["near"].append([lname, *copies])
    truth["similar"].append([lname, rname, *copies])
    # Consecutive video frames: five shots of one scene, each with labelme's re-encoded copy.
    debs = originals.parent / "debs"
    video = debs / "root" / "labelme-examples" / VIDEO
    frames = []
    for f in VIDEO_FRAMES:
        origin = f"labelme-examples__video_{f}"
        frame = add(f"video:{f}", (video / "data_annotated" / f).read_bytes(), origin, "original")
        again = (video / "data_dataset_voc" / "JPEGImages" / f).read_bytes()
        copy = add(f"video:{f}:voc", again, origin, "re-encoded by labelme")
        truth["near"].append([frame, copy])
        frames += [frame, copy]
    truth["similar"].append(frames)
    # Real other shots of opencv-doc, each set one scene (similar), a copy of its first shot.
    truth["shot_kinds"] = {}
    for kind, shots in opencv_shots(debs).values():
        members = []
        for file, im in shots:
            origin = f"opencv-doc__{file}"
            members.append(add(f"opencv:{file}", _jpeg(im, 92), origin, "original"))
            truth["shot_kinds"][origin] = kind
        first_origin = f"opencv-doc__{shots[0][0]}"
        half = shots[0][1].resize((shots[0][1].width // 2, shots[0][1].height // 2))
        copy = add(f"opencv:{shots[0][0]}:half", _jpeg(half, 80), first_origin, "resize_half")
        truth["near"].append([members[0], copy])
        truth["similar"].append([*members, copy])
    for f in VIDEO_FRAMES:
        truth["shot_kinds"][f"labelme-examples__video_{f}"] = "burst"
    for side in ("left", "right"):
        truth["shot_kinds"][f"skimage__motorcycle_{side}"] = "viewpoint"
    unscored = rendered_origins(originals, debs)
    truth["unscored"] = sorted(n for n, v in truth["images"].items() if v["origin"] in unscored)
    for tier in TIERS:
        truth[tier] = [sorted(g) for g in truth[tier]]
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    return truth


# --------------------------------------------------------------------------- scoring


def pairs(groups: list[list[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for g in groups:
        names = sorted({os.path.basename(p) for p in g})
        out.update(itertools.combinations(names, 2))
    return out


def score_part(truth: JsonDict, pred: JsonDict, part: str) -> JsonDict:
    """score.py's logic on the pairs whose two images belong to ``part``."""
    unscored = set(truth.get("unscored", ()))
    inside = {
        n for n, v in truth["images"].items() if part_of(v["origin"]) == part and n not in unscored
    }

    def keep(ps: set[tuple[str, str]]) -> set[tuple[str, str]]:
        return {p for p in ps if p[0] in inside and p[1] in inside}

    result: JsonDict = {}
    t_acc: set[tuple[str, str]] = set()
    p_acc: set[tuple[str, str]] = set()
    for tier in TIERS:
        t_acc |= keep(pairs(truth.get(tier, [])))
        p_acc |= keep(pairs(pred.get(tier) or []))
        tp = len(t_acc & p_acc)
        precision = tp / len(p_acc) if p_acc else 1.0
        recall = tp / len(t_acc) if t_acc else 1.0
        result[tier] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "true_pairs": len(t_acc),
            "predicted_pairs": len(p_acc),
        }
    other = keep(pairs(truth["similar"])) - keep(pairs(truth["near"])) - keep(pairs(truth["exact"]))
    near_pred = keep(pairs(pred.get("exact") or []) | pairs(pred.get("near") or []))
    similar_pred = keep(pairs(pred.get("similar") or []))
    result["other_shot_pairs"] = len(other)
    result["other_shots_in_near"] = len(other & near_pred)
    result["other_shots_in_similar"] = len(other & (similar_pred - near_pred))
    kinds = truth.get("shot_kinds", {})

    def kind_of(a: str, b: str) -> str:
        oa, ob = truth["images"][a]["origin"], truth["images"][b]["origin"]
        if kinds.get(oa) and kinds.get(oa) == kinds.get(ob):
            return str(kinds[oa])
        if package(oa) == package(ob) == "kphotoalbum":
            return "same subject (kphotoalbum)"
        return "other"

    by_kind: dict[str, dict[str, int]] = {}
    for a, b in sorted(other):
        row = by_kind.setdefault(kind_of(a, b), {"pairs": 0, "in_near": 0, "in_similar": 0})
        row["pairs"] += 1
        row["in_near"] += (a, b) in near_pred
        row["in_similar"] += (a, b) in similar_pred and (a, b) not in near_pred
    result["other_shots_by_kind"] = by_kind
    result["other_shots_in_near_examples"] = sorted(
        f"{truth['images'][a]['origin']} ~ {truth['images'][b]['origin']}"
        for a, b in other & near_pred
    )[:10]
    return result


# --------------------------------------------------------------------------- calibration


def calibrate(images: Path, truth: JsonDict) -> JsonDict:
    """core.verify on every true near pair of the calibration part (exact pairs excluded)."""
    from backend.core.decode import decode_reduced

    exact = pairs(truth["exact"])
    # Copy to copy too: a scan verifies such pairs (the strongest pair of a family first).
    todo = [
        p
        for p in sorted(pairs(truth["near"]) - exact)
        if part_of(truth["images"][p[0]]["origin"]) == "calibration"
    ]
    cache: dict[str, Any] = {}

    def prep(name: str) -> Any:
        if name not in cache:
            _, im = decode_reduced((images / name).read_bytes(), 512)
            cache[name] = prepare(im)
        return cache[name]

    rows = []
    started = time.perf_counter()
    for a, b in todo:
        v = verify(prep(a), prep(b))
        edits = sorted(truth["images"][n]["edit"] for n in (a, b))
        rows.append((v, edits))
    seconds = time.perf_counter() - started
    explained = sorted(v.explained for v, _ in rows if v.explained is not None)
    undecided = sum(1 for v, _ in rows if v.verdict == Verdict.UNDECIDED)

    def pct(q: float) -> float | None:
        return round(explained[int(q * (len(explained) - 1))], 3) if explained else None

    lowest = sorted(
        (round(v.explained or 0, 3), round(v.compact or 0, 2), "+".join(e))
        for v, e in rows
        if v.explained is not None
    )[:12]
    sweep = []
    for e in (0.75, 0.80, 0.85, 0.90):
        for ec in (0.6, 0.7, 0.75):
            rules = Rules(explained=e, explained_compact=min(ec, e))
            refused = sum(
                1
                for v, _ in rows
                if v.verdict != Verdict.UNDECIDED
                and v.explained is not None
                and v.explained < rules.explained
                and not (
                    v.explained >= rules.explained_compact and (v.compact or 0) >= rules.compact
                )
            )
            sweep.append({"explained": e, "explained_compact": ec, "copies_refused": refused})
    # Step 4's share on every pair, computed in full even where too little changed for the
    # default rule to look (Rules.moved): what the rule's threshold is set on.
    counting = Rules(moved=0.0)
    moved = sorted(
        (round((c.moved or 0.0) * 100, 3), "+".join(e))
        for (a, b), (_, e) in zip(todo, rows, strict=True)
        if (c := verify(prep(a), prep(b), counting)).moved is not None
    )
    # Step 5's share likewise, where step 4 left the pair a copy (what Rules.shifted is set on).
    counting = Rules(shifted=0.0)
    shifted = sorted(
        (round((c.shifted or 0.0) * 100, 3), "+".join(e))
        for (a, b), (_, e) in zip(todo, rows, strict=True)
        if (c := verify(prep(a), prep(b), counting)).shifted is not None
    )
    return {
        "pairs": len(rows),
        "most_moved_percent": moved[-5:][::-1],
        "most_shifted_percent": shifted[-5:][::-1],
        "images": len(cache),
        "seconds_in_process": round(seconds, 2),
        "undecided": undecided,
        "verdicts": {
            str(k): sum(1 for v, _ in rows if v.verdict == k) for k in Verdict  # default rules
        },
        "explained_percentiles": {
            "min": pct(0.0),
            "p01": pct(0.01),
            "p05": pct(0.05),
            "median": pct(0.5),
        },
        "lowest": lowest,
        "sweep": sweep,
    }


# --------------------------------------------------------------------------- scans


def run_scan(images: Path, verify_on: bool) -> tuple[float, JsonDict, list[JsonDict]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUPFINDER_")}
    env.update(
        {
            "DUPFINDER_COPY_MODEL": "sscd",
            "DUPFINDER_OBJECT_MODEL": "yolov4-tiny",
            "DUPFINDER_CLIP_MODEL": "none",
            "DUPFINDER_VERIFY_COPIES": "true" if verify_on else "false",
            "PYTHONPATH": str(REPO),  # packages of the working tree not installed yet
        }
    )
    with tempfile.TemporaryDirectory(prefix="dupfinder-verify-") as tmp:
        cmd = [dupfinder_command(), "--data-dir", tmp, "scan", "--json", "-q", str(images)]
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"scan failed: {proc.stderr[-3000:]}")
        report: JsonDict = json.loads(proc.stdout)
        saved = images.parent.parent / f"verify-report-{'on' if verify_on else 'off'}.json"
        saved.write_text(proc.stdout)  # outside the benchmark folder, which is rebuilt
        pairs_rows = _stored_pairs(Path(tmp))
    return seconds, report, pairs_rows


def _stored_pairs(data_dir: Path) -> list[JsonDict]:
    import sqlite3

    dbs = sorted(data_dir.rglob("*.sqlite3")) + sorted(data_dir.rglob("*.db"))
    if not dbs:
        return []
    con = sqlite3.connect(dbs[0])
    try:
        rows = con.execute(
            "SELECT a.filename, b.filename, p.tier, p.distance, p.copy_similarity, p.verdict,"
            " p.explained, p.decided_by FROM image_pair p JOIN image a ON a.id = p.image_a"
            " JOIN image b ON b.id = p.image_b"
        ).fetchall()
    finally:
        con.close()
    keys = ("a", "b", "tier", "distance", "copy", "verdict", "explained", "decided_by")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def verification_stats(truth: JsonDict, rows: list[JsonDict]) -> JsonDict:
    near_truth = pairs(truth["near"]) | pairs(truth["exact"])
    unscored = set(truth.get("unscored", ()))
    out: JsonDict = {}
    for part in ("calibration", "held-out"):
        verified = [
            r
            for r in rows
            if r["verdict"] is not None
            and r["a"] in truth["images"]
            and r["b"] in truth["images"]
            and part_of(truth["images"][r["a"]]["origin"]) == part
            and part_of(truth["images"][r["b"]]["origin"]) == part
        ]
        copies = [r for r in verified if tuple(sorted((r["a"], r["b"]))) in near_truth]
        others = [r for r in verified if tuple(sorted((r["a"], r["b"]))) not in near_truth]
        # Verified copies the truth does not call copies: with an unscored picture (a
        # rendering drawn over a photo, which the truth leaves out), or scored ones.
        called = [r for r in others if r["verdict"] == Verdict.COPY]
        scored = [r for r in called if r["a"] not in unscored and r["b"] not in unscored]
        out[part] = {
            "verified_pairs": len(verified),
            "true_copies": {v: sum(1 for r in copies if r["verdict"] == v) for v in Verdict},
            "not_copies": {v: sum(1 for r in others if r["verdict"] == v) for v in Verdict},
            "copies_refused": sorted(
                f"{truth['images'][r['a']]['edit']}+{truth['images'][r['b']]['edit']}"
                f" ({r['explained'] if r['explained'] is None else round(r['explained'], 3)})"
                for r in copies
                if r["verdict"] == Verdict.OTHER_SHOT
            )[:12],
            "not_copies_called_copies": {
                "with_an_unscored_picture": len(called) - len(scored),
                "scored": len(scored),
                "scored_examples": sorted(
                    f"{truth['images'][r['a']]['origin']} ({truth['images'][r['a']]['edit']}) ~ "
                    f"{truth['images'][r['b']]['origin']} ({truth['images'][r['b']]['edit']})"
                    f" [{r['tier']}]"
                    for r in scored
                )[:12],
            },
        }
    return out


# --------------------------------------------------------------------------- report


def markdown(res: JsonDict) -> str:
    lines = [
        f"Measured {res['date']} on {res['cpu']} ({res['machine']}), commit {res['commit']}.",
        f"`python bench/verify_benchmark.py` ({res['images']} images; calibration packages: "
        f"{', '.join(CALIBRATION)}; held-out: every other package, including every other shot).",
        "",
    ]
    head = [
        "scan",
        "part",
        "near P",
        "near R",
        "similar P",
        "similar R",
        "other shots in near",
        "other shots in similar",
        "seconds",
    ]
    rows = []
    for key, scan in res["scans"].items():
        for part in ("held-out", "calibration"):
            s = scan["score"][part]
            rows.append(
                [
                    key,
                    part,
                    f"{s['near']['precision']:.3f}",
                    f"{s['near']['recall']:.3f}",
                    f"{s['similar']['precision']:.3f}",
                    f"{s['similar']['recall']:.3f}",
                    f"{s['other_shots_in_near']} of {s['other_shot_pairs']}",
                    f"{s['other_shots_in_similar']} of {s['other_shot_pairs']}",
                    f"{scan['seconds']:.1f}",
                ]
            )
    lines.append(md_table(head, rows))
    verified = res["scans"].get("verified")
    if verified:
        kinds = verified["score"]["held-out"].get("other_shots_by_kind", {})
        lines += ["", "Other shots of the held-out part by kind (verified scan):", ""]
        lines.append(
            md_table(
                ["kind", "pairs", "in near", "in similar"],
                [
                    [k, str(v["pairs"]), str(v["in_near"]), str(v["in_similar"])]
                    for k, v in sorted(kinds.items())
                ],
            )
        )
        called = verified["verification"]["held-out"].get("not_copies_called_copies")
        if called:
            examples = "; ".join(called["scored_examples"])
            lines += [
                "",
                "Pairs of the held-out part verified as copies that the truth does not call "
                f"copies: {called['with_an_unscored_picture']} with an unscored picture (a "
                f"rendering drawn over a photo, left out of the scores), {called['scored']} "
                f"with scored ones{': ' + examples if examples else ''}.",
            ]
    cal = res.get("calibration")
    if cal:
        lines += [
            "",
            f"Calibration (in process, {cal['pairs']} true near pairs of the calibration part, "
            f"{cal['images']} images, {cal['seconds_in_process']} s): explained "
            f"min {cal['explained_percentiles']['min']}, 1st percentile "
            f"{cal['explained_percentiles']['p01']}, median "
            f"{cal['explained_percentiles']['median']}; undecided {cal['undecided']}; "
            f"verdicts {cal['verdicts']}; the highest shares of a copy's pixels that moved "
            f"on their own (step 4, %): {cal.get('most_moved_percent')}; that shifted on "
            f"their own by a pixel or two (step 5, %): {cal.get('most_shifted_percent')}.",
        ]
    if "overhead" in res:
        lines += ["", f"Verification's share of the scan's wall time: {res['overhead']}."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "bench")
    ap.add_argument("--cache", type=Path, default=REPO / ".bench-cache")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--calibrate-only", action="store_true")
    ap.add_argument("--verified-only", action="store_true", help="skip the unverified scan")
    ap.add_argument("--rounds", type=int, default=3, help="alternating scans of each side")
    ap.add_argument("--rescore", action="store_true", help="score the reports a run left")
    args = ap.parse_args()
    originals, bench = build_benchmark(args.shared, args.cache.resolve(), args.seed)
    out = args.cache.resolve() / f"verify-seed{args.seed}"
    truth = add_stress(originals, bench, out, args.seed)
    images = out / "images"
    log(f"{len(truth['images'])} images in {out}")
    res: JsonDict = {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "machine": "2 cores, shared/noisy",
        "commit": git_commit(REPO),
        "images": len(truth["images"]),
        "calibration_packages": list(CALIBRATION),
    }
    if args.rescore:
        for key, tag in (("verified", "on"), ("unverified", "off")):
            saved = out.parent / f"verify-report-{tag}.json"
            if saved.exists():
                report = json.loads(saved.read_text())
                scores = {p: score_part(truth, report, p) for p in ("calibration", "held-out")}
                print(key, json.dumps(scores, indent=1))
        return 0
    res["calibration"] = calibrate(images, truth)
    log(json.dumps(res["calibration"], indent=1))
    if args.calibrate_only:
        return 0
    res["scans"] = {}
    sides = (("verified", True), ("unverified", False))[: 1 if args.verified_only else 2]
    walls: dict[str, list[float]] = {key: [] for key, _ in sides}
    for round_no in range(args.rounds):
        # Alternating order each round: neither side always runs on a warmer machine.
        for key, on in sides if round_no % 2 == 0 else sides[::-1]:
            log(f"scan {round_no + 1}/{args.rounds}: verification {'on' if on else 'off'}")
            seconds, report, rows = run_scan(images, on)
            walls[key].append(round(seconds, 1))
            if key not in res["scans"]:  # the groups are the same every round
                res["scans"][key] = {
                    "score": {p: score_part(truth, report, p) for p in ("calibration", "held-out")},
                    "verification": verification_stats(truth, rows),
                }
    for key, values in walls.items():
        res["scans"][key]["seconds"] = statistics.median(values)
        res["scans"][key]["each_run"] = values
        log(json.dumps(res["scans"][key], indent=1))
    if "unverified" in res["scans"]:
        on_s, off_s = res["scans"]["verified"]["seconds"], res["scans"]["unverified"]["seconds"]
        res["overhead"] = (
            f"{on_s:.1f} s against {off_s:.1f} s without ({on_s / off_s - 1:+.1%}; medians of "
            f"{args.rounds} alternating runs each: {walls['verified']} against "
            f"{walls['unverified']})"
        )
    print(markdown(res))
    if not args.no_write:
        start, end = f"<!-- {SECTION}:start -->", f"<!-- {SECTION}:end -->"
        body = (
            f"{start}\n## Verification: other shots and copies, held-out\n\n{markdown(res)}\n{end}"
        )
        update_results_md(REPO / "bench" / "RESULTS.md", start, end, body)
        update_results_json(REPO / "bench" / "results.json", SECTION, res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
