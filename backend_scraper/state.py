"""The state file: which photo ids the API has acknowledged, so a killed run resumes without
sending anything twice. Written atomically after every acknowledged batch."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class ScrapeState:
    def __init__(self, path: Path, page_url: str, api_url: str) -> None:
        self.path = path
        self.key = f"{api_url} <- {page_url}"
        self.sent: set[str] = set()
        self.rejected: dict[str, str] = {}
        if path.exists():
            data = json.loads(path.read_text())
            run = data.get("runs", {}).get(self.key, {})
            self.sent = set(run.get("sent", []))
            self.rejected = dict(run.get("rejected", {}))
        self._others = json.loads(path.read_text()).get("runs", {}) if path.exists() else {}

    def done(self, source_id: str) -> bool:
        return source_id in self.sent or source_id in self.rejected

    def record(self, sent: list[str], rejected: dict[str, str]) -> None:
        self.sent.update(sent)
        self.rejected.update(rejected)
        self._others[self.key] = {"sent": sorted(self.sent), "rejected": self.rejected}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".scrape-state-")
        with os.fdopen(fd, "w") as fh:
            json.dump({"runs": self._others}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
