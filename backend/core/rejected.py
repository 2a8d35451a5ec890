"""The one error a file that cannot be used raises, with the reason in words a person reads.

Its own module, free of any image library, so that checking a name or a header does not load
the decoders (every command's start-up would pay for them)."""

from __future__ import annotations


class ImageRejected(ValueError):
    """A file that cannot be used, with the reason in words a person understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
