"""Keeping the caches to a configured size: the least recently used entries go first.

The analysis, separation and render caches and the S3 store's downloads are accelerators
(content-addressed, rebuilt or fetched again when missing), so a host keeps them under a size
(``VYKE_CACHE_MAX_GB``). A job that reads an entry
touches it, so an entry's modification time is its last use; after a job stored something the
cache is trimmed, oldest use first. Nothing used within :data:`IN_USE_S` is removed: that is
the longest a render may run, so a running render never loses an entry it has yet to read
(and the arrays it has memory-mapped stay readable after an unlink anyway).

Bytes a production shares with the cache through hard links (its stems, each version's
tracks) are not counted: removing the cache's link would free none of them, and they go
when the production expires.

Layout trimmed, under the cache folder (one entry per key; a key's files go together)::

    analysis/<version>/<sha256>.json
    stems/<version>/<sha256>-<model>/               one folder per separated song
    render/<version>/raw/<key>.flac (+ .samples.json)
    render/<version>/mixed/<key>/ (+ <key>.json, <key>-<measure>.json)
    render/<version>/owners/<production>.json       what a production's newest version reads
    objects/blobs/<xx>/<sha256><suffix>             an S3 store's objects fetched or published here
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IN_USE_S", "CacheEntry", "Trimmed", "cache_entries", "touch", "trim_cache"]

logger = logging.getLogger(__name__)

IN_USE_S = 900.0
"""Seconds after its last use during which an entry is never removed (a render's time limit)."""

_COLLECTIONS = ("analysis/*", "stems/*", "render/*/raw", "render/*/mixed", "render/*/owners",
                "objects/blobs/*")
"""Folders whose children are cache entries (the sample kits rendered from SoundFonts and the
Sound Vault's index are small, bounded by what is installed, and not trimmed)."""


@dataclass(frozen=True)
class CacheEntry:
    """One cached result: every file and folder stored under its key."""

    key: str
    paths: tuple[Path, ...]
    size_bytes: int  #: allocated bytes only the cache holds (hard-linked files count 0)
    last_used: float  #: seconds since the epoch
    temporary: bool = False  #: a write in progress, or one a crash left behind


@dataclass(frozen=True)
class Trimmed:
    """What one trim did."""

    removed: int
    freed_bytes: int
    kept_bytes: int


def touch(path: Path) -> None:
    """Mark a cache entry as used now (its modification time is its last use)."""
    with contextlib.suppress(OSError):  # removed meanwhile: its reader makes it again
        os.utime(path)


def _own_bytes(path: Path) -> int:
    """Allocated bytes under ``path`` that no other link holds."""
    try:
        stat = path.lstat()
    except FileNotFoundError:
        return 0
    if not path.is_dir():
        return stat.st_blocks * 512 if stat.st_nlink == 1 else 0
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            total += _own_bytes(Path(folder) / name)
    return total


def _mtime(path: Path) -> float:
    """When ``path`` was last used: a folder's own time or its newest file's (a separation
    writing its stems into the folder keeps it fresh however long it runs)."""
    try:
        times = [path.lstat().st_mtime]
        children = list(path.iterdir()) if path.is_dir() and not path.is_symlink() else []
    except FileNotFoundError:
        return 0.0
    for child in children:
        try:
            times.append(child.lstat().st_mtime)
        except FileNotFoundError:  # renamed into place meanwhile: the folder is in use
            times.append(time.time())
    return max(times)


def _key(name: str) -> str:
    """The key a cache file belongs to: ``abc.flac.samples.json`` and ``abc-m2.json`` → ``abc``."""
    return name.split(".", 1)[0].split("-", 1)[0] if not name.startswith(".") else name


def cache_entries(cache_dir: Path) -> list[CacheEntry]:
    """Every trimmable entry of the cache, least recently used first."""
    groups: dict[tuple[Path, str], list[Path]] = {}
    for pattern in _COLLECTIONS:
        for collection in cache_dir.glob(pattern):
            if not collection.is_dir():
                continue
            # a separated song's folder is its own key ("<sha256>-<model>")
            whole_names = collection.parent.name == "stems"
            for child in collection.iterdir():
                key = child.name if whole_names else _key(child.name)
                groups.setdefault((collection, key), []).append(child)
    entries = [CacheEntry(key=key, paths=tuple(paths),
                          size_bytes=sum(_own_bytes(p) for p in paths),
                          last_used=max(_mtime(p) for p in paths),
                          temporary=key.startswith("."))
               for (_, key), paths in groups.items()]
    return sorted(entries, key=lambda e: e.last_used)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def trim_cache(cache_dir: Path, *, max_bytes: int, in_use_s: float = IN_USE_S,
               now: float | None = None) -> Trimmed:
    """Remove the least recently used entries until the cache holds at most ``max_bytes``.

    Entries used within ``in_use_s`` stay even when the cache is over its size (it then
    shrinks once they are older); writes a crash left behind go once they are that old.
    """
    now = time.time() if now is None else now
    entries = cache_entries(cache_dir)
    total = sum(e.size_bytes for e in entries)
    removed = freed = 0
    for entry in entries:
        in_use = entry.last_used > now - in_use_s
        if in_use or (total <= max_bytes and not entry.temporary):
            continue
        for path in entry.paths:
            _remove(path)
        total -= entry.size_bytes
        freed += entry.size_bytes
        removed += 1
    if removed:
        logger.info("cache trimmed: %d entries, %.1f MB freed, %.1f MB kept", removed,
                    freed / 1e6, total / 1e6)
    return Trimmed(removed=removed, freed_bytes=freed, kept_bytes=total)
