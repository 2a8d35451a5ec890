"""``python -m backend_scraper``: the scraper on its own, without loading the service's code
(the same options as ``dupfinder scrape``; settings from the same environment variables)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from backend_scraper.cli import add_scrape_parser, run_scrape

# The service's defaults for the same variables (backend/config/settings.py; a test keeps
# them equal).
DEFAULTS = {
    "GOOGLE_PHOTOS_URL": "https://photos.google.com/",
    "FASTAPI_ENDPOINT": "http://127.0.0.1:8000",
    "DUPFINDER_CHROMIUM": "/usr/bin/chromium",
}


def data_dir() -> Path:
    if os.environ.get("DUPFINDER_DATA_DIR"):
        return Path(os.environ["DUPFINDER_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "dupfinder"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend_scraper")
    add_scrape_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["scrape", *(sys.argv[1:] if argv is None else argv)])
    env = {name: os.environ.get(name) or default for name, default in DEFAULTS.items()}
    return run_scrape(
        args,
        page_url=env["GOOGLE_PHOTOS_URL"],
        api_url=env["FASTAPI_ENDPOINT"],
        chromium=env["DUPFINDER_CHROMIUM"],
        data_dir=data_dir(),
    )


if __name__ == "__main__":
    sys.exit(main())
