"""The exceptions of getting raw data, in a module of their own: datasets/fetch.py (downloads)
and datasets/archives.py + own_data.py (local folders) both raise them, and neither should
depend on the other's code (a change to one would rerun the other's fetch stages)."""

from __future__ import annotations


class FetchError(RuntimeError):
    """A file could not be obtained or did not verify. The message names the file or URL."""


class UnsafeArchiveError(FetchError):
    """An archive member would be written outside the destination, is a link, or is too big."""


class BrokenArchiveError(FetchError):
    """An archive is truncated or corrupt, or not an archive at all."""
