"""Artifacts in any S3-compatible object store (AWS S3, SeaweedFS, MinIO, R2, …), via obstore.

The same :class:`core.artifacts.ArtifactStore` as the local folder, for processes on several
hosts: the object store is the source of truth, and each host keeps a disposable cache of the
objects it fetched or published (``<cache>/objects/<key>``), so a worker reads a stem from the
network once and a fresh host with an empty cache simply downloads again.

Objects in the bucket::

    blobs/<first two hex digits>/<sha256><suffix>     the content, written once
    refs/<production folder>/<name>                  {"key", "sha256", "size_bytes"}

A production's names are one small object each, so two workers publishing into the same
production at once never overwrite each other's record (a single manifest would lose one).
obstore speaks S3 from Rust with a synchronous API for the workers' job processes and an
asynchronous one for the bot and the web process, and signs URLs for a public-facing store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import obstore
from obstore.store import S3Store

from core.artifacts import (
    Artifact,
    S3Settings,
    atomic_target,
    check_key,
    folder_name,
    key_for,
    link_or_copy,
    sha256_file,
    write_bytes_atomic,
)

if TYPE_CHECKING:
    from obstore import GetOptions
    from obstore.store import ClientConfig

__all__ = ["S3ArtifactStore", "s3_client"]

_CHUNK = 1 << 20


def s3_client(settings: S3Settings) -> S3Store:
    """An obstore client for the configured bucket (plain HTTP allowed for a local endpoint)."""
    options: dict[str, Any] = {"region": settings.region}
    if settings.endpoint:
        options["endpoint"] = settings.endpoint
        options["virtual_hosted_style_request"] = False  # path style: what every S3 clone serves
    if settings.access_key is not None and settings.secret_key is not None:
        options["access_key_id"] = settings.access_key.get_secret_value()
        options["secret_access_key"] = settings.secret_key.get_secret_value()
    client: ClientConfig = {"allow_http": (settings.endpoint or "").startswith("http:")}
    return S3Store(settings.bucket, client_options=client, **options)


class S3ArtifactStore:
    """An :class:`core.artifacts.ArtifactStore` in a bucket, with this host's cache beside it."""

    def __init__(self, settings: S3Settings, *, cache_dir: Path) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.client = s3_client(settings)

    # --- writing ----------------------------------------------------------------------

    def put_file(self, production_id: str, name: str, source: Path) -> Artifact:
        digest = sha256_file(source)
        key = key_for(digest, source.suffix)
        local = self._local(key)
        if not local.is_file():
            link_or_copy(source, local)  # the host that made it never downloads it
        size = local.stat().st_size
        if not self._exists(key):
            obstore.put(self.client, key, local)
        return self._record(production_id, name, key, digest, size, local)

    def put_bytes(self, production_id: str, name: str, data: bytes) -> Artifact:
        digest = hashlib.sha256(data).hexdigest()
        key = key_for(digest, Path(name).suffix)
        local = self._local(key)
        if not local.is_file():
            write_bytes_atomic(local, data)
        if not self._exists(key):
            obstore.put(self.client, key, data)
        return self._record(production_id, name, key, digest, len(data), local)

    # --- reading ----------------------------------------------------------------------

    def fetch(self, key: str) -> Path:
        local = self._local(check_key(key))
        if local.is_file():
            with contextlib.suppress(OSError):  # its last use, for the cache's size limit
                os.utime(local)
            return local
        with atomic_target(local) as tmp, open(tmp, "wb") as fh:
            for chunk in obstore.get(self.client, key).stream(min_chunk_size=_CHUNK):
                fh.write(chunk)
        return local

    def size(self, key: str) -> int:
        return int(obstore.head(self.client, check_key(key))["size"])

    async def size_async(self, key: str) -> int:
        """:meth:`size` without blocking the event loop."""
        return int((await obstore.head_async(self.client, check_key(key)))["size"])

    async def stream(self, key: str, *, start: int = 0,
                     end: int | None = None) -> AsyncIterator[bytes]:
        """The object's bytes ``start`` to ``end`` (exclusive; ``None``: to the end), in chunks."""
        options: GetOptions = {}
        if start or end is not None:
            options["range"] = (start, end) if end is not None else {"offset": start}
        result = await obstore.get_async(self.client, check_key(key), options=options)
        async for chunk in result.stream(min_chunk_size=_CHUNK):
            yield bytes(chunk)

    def presign(self, key: str, *, expires_s: float) -> str:
        """A URL the object store itself serves the object at, for ``expires_s`` seconds."""
        return str(obstore.sign(self.client, "GET", check_key(key),
                                timedelta(seconds=max(1.0, expires_s))))

    def artifacts(self, production_id: str) -> dict[str, Artifact]:
        prefix = f"refs/{folder_name(production_id)}/"
        found: dict[str, Artifact] = {}
        for meta in self._listing(prefix):
            ref = json.loads(bytes(obstore.get(self.client, meta["path"]).bytes()))
            name = meta["path"][len(prefix):]
            found[name] = Artifact(name=name, sha256=ref["sha256"],
                                   size_bytes=int(ref["size_bytes"]), key=ref["key"],
                                   path=self._local(ref["key"]))
        return found

    # --- clean-up ---------------------------------------------------------------------

    def remove(self, production_id: str) -> None:
        for meta in self._listing(f"refs/{folder_name(production_id)}/"):
            obstore.delete(self.client, meta["path"])

    def forget(self, production_id: str, keys: list[str]) -> int:
        gone = {check_key(key) for key in keys}
        for meta in self._listing(f"refs/{folder_name(production_id)}/"):
            if self._ref(meta["path"])["key"] in gone:
                obstore.delete(self.client, meta["path"])
        referenced = self._referenced()
        removed = 0
        for key in gone - referenced:
            if self._exists(key):
                obstore.delete(self.client, key)
                removed += 1
            self._local(key).unlink(missing_ok=True)
        return removed

    def expire(self, *, idle_s: float) -> list[str]:
        cutoff = time.time() - idle_s
        newest: dict[str, float] = {}
        for meta in self._listing("refs/"):
            folder = meta["path"].split("/")[1]
            newest[folder] = max(newest.get(folder, 0.0), meta["last_modified"].timestamp())
        expired = sorted(folder for folder, at in newest.items() if at < cutoff)
        for folder in expired:
            for meta in self._listing(f"refs/{folder}/"):
                obstore.delete(self.client, meta["path"])
        self.collect()
        return expired

    def collect(self) -> int:
        referenced = self._referenced()
        removed = 0
        for meta in self._listing("blobs/"):
            if meta["path"] not in referenced:
                obstore.delete(self.client, meta["path"])
                self._local(meta["path"]).unlink(missing_ok=True)
                removed += 1
        return removed

    # --- internals --------------------------------------------------------------------

    def _ref(self, path: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(bytes(obstore.get(self.client, path).bytes()))
        return data

    def _referenced(self) -> set[str]:
        """The key of every blob some production refers to."""
        return {self._ref(meta["path"])["key"] for meta in self._listing("refs/")}

    def _local(self, key: str) -> Path:
        return self.cache_dir / key

    def _exists(self, key: str) -> bool:
        try:
            obstore.head(self.client, key)
        except FileNotFoundError:
            return False
        return True

    def _listing(self, prefix: str) -> list[dict[str, Any]]:
        return [dict(meta) for batch in obstore.list(self.client, prefix=prefix)
                for meta in batch]

    def _record(self, production_id: str, name: str, key: str, digest: str, size: int,
                local: Path) -> Artifact:
        ref = {"key": key, "sha256": digest, "size_bytes": size}
        obstore.put(self.client, f"refs/{folder_name(production_id)}/{name}",
                    json.dumps(ref).encode())
        return Artifact(name=name, sha256=digest, size_bytes=size, key=key, path=local)
