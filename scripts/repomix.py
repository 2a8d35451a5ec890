"""Pack the repository into one text file for review, like `npx repomix` (the fallback of
`make repomix` when npx is missing or fails, e.g. offline).

    python3 scripts/repomix.py [--output repomix-output.txt]

Takes the files git tracks plus the untracked ones it does not ignore, skips binary and very
large files, and writes a directory listing followed by each file under a header.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 1_000_000
RULE = "=" * 64


def listed_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return sorted({name.decode() for name in out.split(b"\0") if name})


def readable_text(path: Path) -> str | None:
    if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_BYTES:
        return None
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="repomix-output.txt")
    args = parser.parse_args()
    output = (ROOT / args.output).resolve()
    packed: list[tuple[str, str]] = []
    skipped: list[str] = []
    for name in listed_files():
        path = ROOT / name
        if path.resolve() == output:
            continue
        text = readable_text(path)
        if text is None:
            if path.exists():
                skipped.append(name)
            continue
        packed.append((name, text))
    with output.open("w", encoding="utf-8") as out:
        out.write(
            f"{RULE}\nRepository: {ROOT.name}, packed by scripts/repomix.py\n{RULE}\n"
            f"{len(packed)} text files follow, each under a 'File: path' header.\n"
        )
        if skipped:
            out.write("Left out (binary or over 1 MB): " + ", ".join(skipped) + "\n")
        out.write(f"\n{RULE}\nDirectory structure\n{RULE}\n")
        out.writelines(f"{name}\n" for name, _ in packed)
        for name, text in packed:
            out.write(f"\n{RULE}\nFile: {name}\n{RULE}\n{text}")
            if text and not text.endswith("\n"):
                out.write("\n")
    size = output.stat().st_size
    print(f"repomix: {len(packed)} files, {size:,} bytes -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
