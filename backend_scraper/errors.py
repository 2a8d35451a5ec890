"""What stops a scrape, each with a message a person can act on."""

from __future__ import annotations


class ScrapeError(Exception):
    """The scrape cannot go on; the message says why and what to do."""


class SignInRequired(ScrapeError):
    def __init__(self, url: str) -> None:
        super().__init__(
            f"Google asked to sign in ({url}): the saved sign-in has expired or the profile is "
            "not signed in. Sign in again with `dupfinder scrape login --profile DIR`, then "
            "run the scrape again with the same --profile (or a fresh --storage-state)."
        )


class LayoutChanged(ScrapeError):
    """The page does not look as the selectors expect (Google changed it): see selectors.py."""

    def __init__(self, what: str, selector: str, url: str) -> None:
        super().__init__(
            f"the photos page does not look as expected: found no {what} "
            f"(selector {selector!r}) on {url}. Google may have changed the page; the "
            "selectors live in backend_scraper/selectors.py."
        )
        self.selector = selector


class ApiError(ScrapeError):
    """The API refused what was sent, or could not be reached after the retries."""
