"""Signed, expiring download links for files too big to upload into a chat.

A link names a stored file by its artifact key and the name it downloads as
(:func:`artifact_path`: ``blobs/ab/ab12….zip/My Song v3 Project.zip``) and carries an expiry
time and an HMAC-SHA256 of (that path, expiry) under ``VYKE_LINK_SECRET``. The web process checks the
signature and the expiry before serving, so a link cannot be edited to reach another file
or to live longer, and it stops working after ``VYKE_LINK_TTL_HOURS``.

A production page (one version of one production) is signed the same way over
(production id, version, expiry), in a message a file link can never produce, so a file's
signature never opens a page and a page's never opens a file.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["LINK_PREFIX", "PAGE_PREFIX", "artifact_path", "parse", "parse_page", "sign",
           "sign_page", "split_artifact_path", "verify", "verify_page"]

LINK_PREFIX = "/files/"
"""Where the web process serves signed files: ``<public_url>/files/<path>?expires=…&sig=…``."""

PAGE_PREFIX = "/p/"
"""Where it serves production pages: ``<public_url>/p/<production id>/v<n>?expires=…&sig=…``."""


def _digest(path: str, expires: int, secret: str) -> str:
    message = f"{path}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def artifact_path(key: str, name: str) -> str:
    """What a link to the artifact ``key`` names: the key, then the file name it downloads as."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_. " else "_" for ch in name).strip(" .")
    return f"{key}/{cleaned or key.rsplit('/', 1)[-1]}"


def split_artifact_path(path: str) -> tuple[str, str] | None:
    """``(key, file name)`` of a link's path made by :func:`artifact_path`, else ``None``."""
    parts = path.split("/")
    if len(parts) != 4 or parts[0] != "blobs":
        return None
    return "/".join(parts[:3]), parts[3]


def _check_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or "\n" in path or ".." in parts or "" in parts:
        raise ValueError(f"a link names a file relative to the data directory, not {path!r}")
    return path


def _page_message(production_id: str, version: int) -> str:
    # two or more newlines: a file path has none, so no file link's message looks like this
    return f"page\n{production_id}\n{int(version)}"


def _expiry(ttl_s: float | None, expires_at: int | None, now: float | None, secret: str) -> int:
    if not secret:
        raise ValueError("signing a download link needs VYKE_LINK_SECRET")
    if (ttl_s is None) == (expires_at is None):
        raise ValueError("a link needs either ttl_s or expires_at")
    if expires_at is not None:
        return int(expires_at)
    if ttl_s is None or ttl_s <= 0:
        raise ValueError(f"a link must live a positive time, not {ttl_s} s")
    return int((time.time() if now is None else now) + ttl_s)


def sign(path: str, *, secret: str, ttl_s: float | None = None, base_url: str,
         now: float | None = None, expires_at: int | None = None) -> str:
    """A URL for ``path`` (relative to the data directory) valid for ``ttl_s`` seconds.

    ``expires_at`` (Unix seconds) instead of ``ttl_s`` makes a link that dies with another
    one: the files a production page offers expire with the page.
    """
    expires = _expiry(ttl_s, expires_at, now, secret)
    _check_path(path)
    signature = _digest(path, expires, secret)
    return f"{base_url.rstrip('/')}{LINK_PREFIX}{quote(path)}?expires={expires}&sig={signature}"


def sign_page(production_id: str, version: int, *, secret: str, ttl_s: float, base_url: str,
              now: float | None = None) -> str:
    """A URL for the page of ``production_id``'s version ``version``, valid for ``ttl_s`` seconds."""
    if not production_id or version < 1:
        raise ValueError(f"a page names a production and a version, not {production_id!r} v{version}")
    expires = _expiry(ttl_s, None, now, secret)
    signature = _digest(_page_message(production_id, version), expires, secret)
    return (f"{base_url.rstrip('/')}{PAGE_PREFIX}{quote(production_id, safe='')}/v{int(version)}"
            f"?expires={expires}&sig={signature}")


def verify_page(production_id: str, version: int, *, expires: int, signature: str, secret: str,
                now: float | None = None) -> bool:
    """Whether the page link for ``production_id`` v``version`` is genuine and not yet expired."""
    if not secret or not production_id or version < 1:
        return False
    if (time.time() if now is None else now) >= expires:
        return False
    return hmac.compare_digest(_digest(_page_message(production_id, version), expires, secret),
                               signature)


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


def parse_page(url: str) -> tuple[str, int, int, str]:
    """``(production_id, version, expires, signature)`` of a signed page URL, for :func:`verify_page`.

    Raises ``ValueError`` when the URL is not a page link.
    """
    parts = urlsplit(url)
    start = parts.path.find(PAGE_PREFIX)
    if start < 0:
        raise ValueError(f"not a page link: {url!r}")
    quoted, _, leaf = parts.path[start + len(PAGE_PREFIX):].rpartition("/")
    query = parse_qs(parts.query)
    try:
        if not quoted or not leaf.startswith("v"):
            raise ValueError(leaf)
        version = int(leaf[1:])
        expires = int(query["expires"][0])
        signature = query["sig"][0]
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"a page link needs a production, a version, expires and sig: {url!r}") from error
    return unquote(quoted), version, expires, signature
