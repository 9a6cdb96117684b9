"""Signed, expiring download links for files too big to upload into a chat.

A link names a file by its path relative to the data directory and carries an expiry time
and an HMAC-SHA256 of (path, expiry) under ``VYKE_LINK_SECRET``. The web process checks the
signature and the expiry before serving, so a link cannot be edited to reach another file
or to live longer, and it stops working after ``VYKE_LINK_TTL_HOURS``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["LINK_PREFIX", "parse", "sign", "verify"]

LINK_PREFIX = "/files/"
"""Where the web process serves signed files: ``<public_url>/files/<path>?expires=…&sig=…``."""


def _digest(path: str, expires: int, secret: str) -> str:
    message = f"{path}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _check_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or "\n" in path or ".." in parts or "" in parts:
        raise ValueError(f"a link names a file relative to the data directory, not {path!r}")
    return path


def sign(path: str, *, secret: str, ttl_s: float, base_url: str, now: float | None = None) -> str:
    """A URL for ``path`` (relative to the data directory) valid for ``ttl_s`` seconds."""
    if not secret:
        raise ValueError("signing a download link needs VYKE_LINK_SECRET")
    if ttl_s <= 0:
        raise ValueError(f"a link must live a positive time, not {ttl_s} s")
    _check_path(path)
    expires = int((time.time() if now is None else now) + ttl_s)
    signature = _digest(path, expires, secret)
    return f"{base_url.rstrip('/')}{LINK_PREFIX}{quote(path)}?expires={expires}&sig={signature}"


def verify(path: str, *, expires: int, signature: str, secret: str,
           now: float | None = None) -> bool:
    """Whether the link for ``path`` is genuine and not yet expired."""
    if not secret:
        return False
    try:
        _check_path(path)
    except ValueError:
        return False
    if (time.time() if now is None else now) >= expires:
        return False
    return hmac.compare_digest(_digest(path, expires, secret), signature)


def parse(url: str) -> tuple[str, int, str]:
    """``(path, expires, signature)`` of a signed URL, for :func:`verify`.

    Raises ``ValueError`` when the URL is not one of ours.
    """
    parts = urlsplit(url)
    start = parts.path.find(LINK_PREFIX)  # the public URL may carry a path of its own
    if start < 0:
        raise ValueError(f"not a download link: {url!r}")
    query = parse_qs(parts.query)
    try:
        expires = int(query["expires"][0])
        signature = query["sig"][0]
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"a download link needs expires and sig: {url!r}") from error
    return unquote(parts.path[start + len(LINK_PREFIX):]), expires, signature
