"""A blind check of verification: videos that no threshold or method here was chosen on.

Three videos of the benchmark's Debian packages that ``verify_benchmark.py`` does not use:
opencv-doc's ``tree.avi`` (320x240, a handheld camera on a tree in the wind) and
``Megamind.avi`` (720x528, an animated trailer), and kphotoalbum's demo ``movie.avi``
(160x120, a webcam). From each, six evenly spaced frames; each is paired with the frame 1, 2, 5
and 10 frames later (15 fps: 0.07 to 0.67 s apart; two captures, so never a copy) and with five
copies of itself (JPEG at quality 60, half size, the middle 80 %, a caption bar, mirrored;
always a copy). Every pair is verified in process (``core.verify``), as grouping would.

The first run's figures are the blind ones (recorded in RESULTS.md with the commit); once a
change is made with these videos in view, they are calibration data like the rest.

    python bench/blind_videos.py [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
from PIL import Image, ImageOps
from results_file import cpu_name, git_commit, md_table, update_results_json, update_results_md

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verify_benchmark import _caption as caption  # noqa: E402
from verify_benchmark import _jpeg as jpeg_bytes  # noqa: E402
from verify_benchmark import unpacked  # noqa: E402

from backend.core.verify import prepare, verify  # noqa: E402

SECTION = "blind-videos"
OPENCV = "usr/share/doc/opencv-doc/examples/data"
VIDEOS = {
    "tree.avi": ("opencv-doc", f"{OPENCV}/tree.avi"),
    "Megamind.avi": ("opencv-doc", f"{OPENCV}/Megamind.avi"),
    "movie.avi": ("kphotoalbum", "usr/share/kphotoalbum/demo/movie.avi"),
}
GAPS = (1, 2, 5, 10)
STARTS = 6


def _jpeg(im: Image.Image, quality: int = 90) -> Image.Image:
    """The picture as a JPEG file of that quality would decode."""
    return Image.open(io.BytesIO(jpeg_bytes(im, quality))).convert("RGB")


COPIES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "JPEG q60": lambda im: _jpeg(im, 60),
    "half size": lambda im: _jpeg(im.resize((im.width // 2, im.height // 2))),
    "middle 80 %": lambda im: _jpeg(
        im.crop((im.width // 10, im.height // 10, im.width * 9 // 10, im.height * 9 // 10))
    ),
    "caption bar": lambda im: _jpeg(caption(im)),
    "mirrored": lambda im: _jpeg(ImageOps.mirror(im)),
}


def _frames(path: Path) -> list[Image.Image]:
    capture = cv2.VideoCapture(str(path))
    out: list[Image.Image] = []
    while True:
        ok, pixels = capture.read()
        if not ok:
            return out
        out.append(Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)))


def run(debs: Path) -> dict[str, dict[str, Counter[str]]]:
    """Per video: verdict counts of the frame pairs (by gap) and of the copies (by kind)."""
    out: dict[str, dict[str, Counter[str]]] = {}
    for name, (package, file) in VIDEOS.items():
        frames = _frames(unpacked(debs, package, file) / file)
        counts: dict[str, Counter[str]] = {}
        last = len(frames) - 1 - max(GAPS)
        for start in (round(i * last / (STARTS - 1)) for i in range(STARTS)):
            first = prepare(_jpeg(frames[start]))
            for gap in GAPS:
                found = verify(first, prepare(_jpeg(frames[start + gap])))
                counts.setdefault(f"frames {gap} apart", Counter())[found.verdict.value] += 1
            for kind, make in COPIES.items():
                found = verify(first, prepare(make(frames[start])))
                counts.setdefault(kind, Counter())[found.verdict.value] += 1
        size = f"{frames[0].width}x{frames[0].height}"
        out[f"{name} ({size}, {len(frames)} frames)"] = counts
        print(f"[blind] {name}: {counts}", file=sys.stderr, flush=True)
    return out


def markdown(found: dict[str, dict[str, Counter[str]]]) -> str:
    verdicts = ("copy", "other_shot", "undecided", "different")
    rows = [
        [video, pair, str(sum(c.values()))] + [str(c.get(v, 0)) for v in verdicts]
        for video, counts in found.items()
        for pair, c in counts.items()
    ]
    frames = sum(
        c.get("copy", 0) for counts in found.values() for p, c in counts.items() if "apart" in p
    )
    pairs = sum(
        sum(c.values()) for counts in found.values() for p, c in counts.items() if "apart" in p
    )
    copies = [c for counts in found.values() for p, c in counts.items() if "apart" not in p]
    kept = sum(c.get("copy", 0) for c in copies)
    lines = [
        f"Frame pairs verified as copies (two captures: should be none): **{frames} of {pairs}**.",
        f"Copies verified as copies: **{kept} of {sum(sum(c.values()) for c in copies)}**.",
        "",
        md_table(["video", "pair", "pairs", *verdicts], rows),
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debs", type=Path, default=REPO / ".bench-cache" / "debs")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    found = run(args.debs)
    body = markdown(found)
    print(body)
    if args.no_write:
        return
    start, end = f"<!-- {SECTION}:start -->", f"<!-- {SECTION}:end -->"
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head = (
        f"## Verification, blind: frames of three videos nobody tuned on\n\n"
        f"`python bench/blind_videos.py` on {when} (commit {git_commit(REPO)}, {cpu_name()}). "
        "See the script's docstring for what is paired.\n\n"
    )
    update_results_md(REPO / "bench" / "RESULTS.md", start, end, f"{start}\n{head}{body}\n{end}")
    update_results_json(
        REPO / "bench" / "results.json",
        SECTION,
        {v: {p: dict(c) for p, c in counts.items()} for v, counts in found.items()},
    )


if __name__ == "__main__":
    main()
