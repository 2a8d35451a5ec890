"""``dupfinder scrape``: the command line of the scraper (wired into ``backend/cli.py``).

``dupfinder scrape login --profile DIR`` signs in by hand once; ``dupfinder scrape --profile
DIR`` (or ``--storage-state FILE``) then walks the page headless and sends what it finds.
The API token: ``--token`` or ``$DUPFINDER_TOKEN``, else ``--email`` with the password from
``$DUPFINDER_PASSWORD`` or a prompt (signs in at ``/api/v1/auth/token``, and renews the
short-lived access token with the refresh token during a long run; a ``--token`` lasts
``DUPFINDER_ACCESS_TOKEN_MINUTES`` on the server).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend_scraper.api import Tokens


def add_scrape_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scrape = sub.add_parser(
        "scrape",
        help="SCRAPE mode: send the photos of your Google Photos page to the API",
        description="Walk your Google Photos page in Chromium (signed in once with "
        "`dupfinder scrape login --profile DIR`) and send every photo to the API.",
    )
    scrape.add_argument(
        "action", nargs="?", choices=("run", "login"), default="run",
        help="login: open a Chromium window to sign in to Google (needs a screen); "
        "run (default): scrape headless",
    )  # fmt: skip
    where = scrape.add_mutually_exclusive_group()
    where.add_argument("--profile", type=Path, help="the Chromium profile folder signed in")
    where.add_argument("--storage-state", type=Path, help="a Playwright storage-state file")
    scrape.add_argument("--url", help="the photos page (default: $GOOGLE_PHOTOS_URL)")
    scrape.add_argument("--api", help="the API's address (default: $FASTAPI_ENDPOINT)")
    scrape.add_argument("--token", help="an API access token (default: $DUPFINDER_TOKEN)")
    scrape.add_argument(
        "--email", help="sign in to the API as this person (password: $DUPFINDER_PASSWORD)"
    )
    scrape.add_argument(
        "--state", type=Path, help="the resume file (default: DATA_DIR/scrape/state.json)"
    )
    scrape.add_argument("--batch", type=int, default=50, help="photos per request (50)")
    scrape.add_argument(
        "--interval", type=float, default=1.0, help="seconds between two requests (1.0)"
    )
    scrape.add_argument(
        "--scroll-pause", type=float, default=1.0, help="seconds to wait after each scroll (1.0)"
    )
    scrape.add_argument(
        "--send", choices=("auto", "url", "bytes"), default="auto",
        help="url: the API downloads each photo; bytes: the browser downloads them (when the "
        "addresses answer only inside your session); auto: try which (default)",
    )  # fmt: skip
    scrape.add_argument("--headed", action="store_true", help="show the browser window")
    scrape.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _token(args: argparse.Namespace, api_url: str) -> Tokens:
    from backend_scraper.api import Tokens, sign_in
    from backend_scraper.errors import ScrapeError

    token = args.token or os.environ.get("DUPFINDER_TOKEN", "")
    if token:
        return Tokens(str(token))
    if not args.email:
        raise ScrapeError(
            "the API needs to know who you are: pass --token (or set DUPFINDER_TOKEN), or "
            "--email (password from DUPFINDER_PASSWORD or a prompt)"
        )
    password = os.environ.get("DUPFINDER_PASSWORD") or getpass.getpass(
        f"password for {args.email} at {api_url}: "
    )
    return sign_in(api_url, args.email, password)


def run_scrape(
    args: argparse.Namespace, *, page_url: str, api_url: str, chromium: str, data_dir: Path
) -> int:
    try:
        from backend_scraper.browser import BrowserConfig, login
        from backend_scraper.errors import ScrapeError
        from backend_scraper.run import ScrapeConfig, scrape
    except ImportError as exc:  # pragma: no cover - depends on the installation
        print(
            f"dupfinder: the scraper needs Playwright ({exc}): pip install 'dupfinder[scrape]'",
            file=sys.stderr,
        )
        return 2
    page_url = args.url or page_url
    api_url = args.api or api_url
    try:
        if args.action == "login":
            if args.profile is None:
                print("dupfinder: login needs --profile DIR (where to keep the sign-in)",
                      file=sys.stderr)  # fmt: skip
                return 2
            login(chromium, args.profile, page_url)
            print(f"signed in: now run `dupfinder scrape --profile {args.profile}`",
                  file=sys.stderr)  # fmt: skip
            return 0
        if args.profile is None and args.storage_state is None:
            print(
                "dupfinder: say which signed-in browser to use: --profile DIR (after "
                "`dupfinder scrape login --profile DIR`) or --storage-state FILE",
                file=sys.stderr,
            )
            return 2
        if args.profile is not None and not args.profile.is_dir():
            raise ScrapeError(
                f"no browser profile at {args.profile}: sign in first with "
                f"`dupfinder scrape login --profile {args.profile}`"
            )
        tokens = _token(args, api_url)  # before the browser starts: fail fast
        config = ScrapeConfig(
            page_url=page_url,
            api_url=api_url,
            state_file=args.state or data_dir / "scrape" / "state.json",
            browser=BrowserConfig(
                chromium=chromium,
                profile=args.profile,
                storage_state=args.storage_state,
                headless=not args.headed,
            ),
            batch_size=max(1, min(args.batch, 500)),
            min_interval=args.interval,
            scroll_pause=args.scroll_pause,
            send=args.send,
            progress=not args.quiet,
        )
        report = scrape(config, tokens.access, tokens.refresh)
    except ScrapeError as exc:
        print(f"dupfinder: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dupfinder: interrupted; the next run resumes where this one stopped",
              file=sys.stderr)  # fmt: skip
        return 130
    print(
        f"{report.found} photo(s) on the page: {report.sent} sent ({report.new} new), "
        f"{report.skipped} sent by an earlier run, {len(report.rejected)} refused"
        + (f" (images sent as {report.mode})" if report.mode else ""),
        file=sys.stderr,
    )
    for source_id, reason in sorted(report.rejected.items()):
        print(f"  refused {source_id}: {reason}", file=sys.stderr)
    return 0
