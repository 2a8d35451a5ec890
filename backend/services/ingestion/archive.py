"""Reading untrusted .zip and .tar(.gz) archives member by member, as streams, never to disk.

No path from a member's name is ever opened: members are read into memory one at a time (each
within a size limit) and handed to the caller by name. A hostile archive is refused whole, with
a reason a person understands, before the caller has written anything: links and devices,
absolute or ``..`` names, too many members, members that unpack to far more than they weigh
(zip bombs), more unpacked bytes in all than allowed, and damaged or truncated archives.
"""

from __future__ import annotations

import posixpath
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# A member may grow this much before the ratio applies (small files compress well: JSON).
_RATIO_FLOOR = 1024 * 1024
_READ_CHUNK = 1024 * 1024


class ArchiveRejected(Exception):
    """The whole archive is refused; ``reason`` says why in words a person understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MemberTooLarge(Exception):
    """One member is over the size the caller asked for (the archive itself may be fine)."""


@dataclass(frozen=True)
class Entry:
    member: Member
    data: bytes | None  # None: not asked for, or unreadable (then ``problem`` says why)
    problem: str | None = None


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 500_000
    max_unpacked_bytes: int = 256 * 1024**3
    max_ratio: int = 100


@dataclass(frozen=True)
class Member:
    part: int  # which of the archives given together
    name: str  # the member's path inside the archive, "/"-separated, normalised
    size: int  # uncompressed bytes


# Called per member: how many bytes of it to read (None: do not read it).
Wanted = Callable[[Member], int | None]


def archive_kind(path: Path, shown: str = "") -> str:
    """ "zip" or "tar" from the file's first bytes (its name may say anything)."""
    with path.open("rb") as fh:
        head = fh.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return "tar"  # compressed: tarfile says whether a tar is inside
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    raise ArchiveRejected(f"{shown or path.name} is not a .zip, .tgz or .tar.gz archive")


def safe_name(raw: str, archive: str = "the archive") -> str:
    """The member's name, or ArchiveRejected for one that points outside the archive."""
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise ArchiveRejected(f"the member {raw!r} of {archive} has a NUL in its name")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveRejected(
            f"the member {raw!r} of {archive} has an absolute path (an archive that tries to "
            "write outside its folder is refused)"
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRejected(
            f"the member {raw!r} of {archive} climbs out with '..' (path traversal is refused)"
        )
    return posixpath.join(*parts) if parts else ""


class _Budget:
    """Unpacked bytes and members seen across every part of one import."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.unpacked = 0

    def add(self, archive: str, size: int) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveRejected(
                f"{archive} has more than {self.limits.max_members} members; refused (raise "
                "DUPFINDER_TAKEOUT_MAX_MEMBERS for a bigger export)"
            )
        self.unpacked += size
        if self.unpacked > self.limits.max_unpacked_bytes:
            raise ArchiveRejected(
                f"{archive} unpacks to more than {_gib(self.limits.max_unpacked_bytes)} "
                "(a zip bomb?); refused"
            )


def walk(
    paths: list[Path], limits: ArchiveLimits, wanted: Wanted, shown: list[str] | None = None
) -> Iterator[Entry]:
    """Every file member of every part in archive order, with its bytes when ``wanted`` asks
    for them (at most the limit it gives; a bigger or damaged member comes without data and
    with a ``problem``). Raises ArchiveRejected: for a zip before yielding anything, for a
    tar as soon as it is met (so read every part once before acting on any). ``shown``: the
    parts' names in messages (default: their file names)."""
    budget = _Budget(limits)
    for part, path in enumerate(paths):
        name = shown[part] if shown and part < len(shown) else path.name
        if archive_kind(path, name) == "zip":
            yield from _walk_zip(part, path, name, limits, budget, wanted)
        else:
            yield from _walk_tar(part, path, name, limits, budget, wanted)


def _read(stream: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = stream.read(min(_READ_CHUNK, left))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        raise MemberTooLarge
    return data


def _walk_zip(
    part: int, path: Path, shown: str, limits: ArchiveLimits, budget: _Budget, wanted: Wanted
) -> Iterator[Entry]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveRejected(f"{shown} is damaged or truncated ({exc})") from exc
    with archive:
        members: list[tuple[zipfile.ZipInfo, Member]] = []
        for info in archive.infolist():  # every check before anything is read
            name = safe_name(info.filename, shown)
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix file type recorded
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                raise ArchiveRejected(
                    f"the member {info.filename!r} of {shown} is a link or a device; refused"
                )
            if info.is_dir() or not name:
                continue
            budget.add(shown, info.file_size)
            if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * max(
                1, info.compress_size
            ):
                raise ArchiveRejected(
                    f"the member {info.filename!r} of {shown} unpacks to "
                    f"{info.file_size // max(1, info.compress_size)} times its size "
                    "(a zip bomb?); refused"
                )
            members.append((info, Member(part, name, info.file_size)))
        for info, member in members:
            limit = wanted(member)
            if limit is None:
                yield Entry(member, None)
                continue
            try:
                with archive.open(info) as stream:
                    data = _read(stream, limit)
            except MemberTooLarge:
                yield Entry(member, None, f"the file is over the limit of {_gib(limit)}")
                continue
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
                # A damaged member (bad CRC, unknown compression, encrypted): it alone is lost.
                yield Entry(member, None, f"the file is damaged in the archive ({exc})")
                continue
            yield Entry(member, data)


def _walk_tar(
    part: int, path: Path, shown: str, limits: ArchiveLimits, budget: _Budget, wanted: Wanted
) -> Iterator[Entry]:
    packed = max(1, path.stat().st_size)
    unpacked = 0
    try:
        # "r|*": a stream, read once front to back, never seeking (gzip, bzip2, xz or none).
        with tarfile.open(path, mode="r|*") as archive:
            for info in archive:
                if info.issym() or info.islnk():
                    raise ArchiveRejected(f"the member {info.name!r} of {shown} is a link; refused")
                if info.isdev() or not (info.isfile() or info.isdir()):
                    raise ArchiveRejected(
                        f"the member {info.name!r} of {shown} is a device or special file; "
                        "refused"
                    )
                name = safe_name(info.name, shown)
                if info.isdir() or not name:
                    continue
                budget.add(shown, info.size)
                unpacked += info.size
                if unpacked > _RATIO_FLOOR * 16 and unpacked > limits.max_ratio * packed:
                    raise ArchiveRejected(
                        f"{shown} unpacks to more than {limits.max_ratio} times its size "
                        "(a zip bomb?); refused"
                    )
                member = Member(part, name, info.size)
                limit = wanted(member)
                stream = archive.extractfile(info) if limit is not None else None
                if limit is None or stream is None:
                    yield Entry(member, None)
                    continue
                try:
                    data = _read(stream, limit)
                except MemberTooLarge:
                    yield Entry(member, None, f"the file is over the limit of {_gib(limit)}")
                    continue
                yield Entry(member, data)
    except ArchiveRejected:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveRejected(
            f"{shown} is damaged or truncated ({exc or type(exc).__name__})"
        ) from exc


def _gib(n: int) -> str:
    return f"{n / 1024**3:.0f} GiB" if n >= 1024**3 else f"{n / 1024**2:.1f} MiB"
