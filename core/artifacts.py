"""Where finished files live: a content-addressed store the bot, the workers and the web share.

Every file a production keeps (the upload, stems, renders, exports, previews, pictures) is an
object named by its **key**, ``blobs/<first two hex digits>/<sha256><suffix>``: the SHA-256 of
its bytes, so a re-run that produces the same output stores nothing new and a key never names
two contents. Job payloads and results carry keys, never paths; a process that needs the bytes
asks its store for them (:meth:`ArtifactStore.fetch`), so the bot, the workers and the web
process share no disk. Two stores implement the interface: :class:`LocalArtifactStore`, a
folder (the embedded default, where ``fetch`` is the stored file itself), and
``core.object_store.S3ArtifactStore``, any S3-compatible object store (where ``fetch``
downloads into this host's cache once).

Jobs run at least once (a worker can die mid-job and the job runs again), so every file is
written to a temporary name and renamed into place: a reader sees the whole file or none.
Each production records which names it keeps (name -> key); expiring a production drops that
record and its working folder, then unreferenced blobs are collected.

Layout under ``root`` (the local store)::

    blobs/<first two hex digits>/<sha256><suffix>
    manifests/<production folder>.json       {"name": {"sha256", "size_bytes", "key"}}
    productions/<production folder>/...      uploads as the platforms saved them
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, SecretStr

__all__ = [
    "Artifact",
    "ArtifactStore",
    "LocalArtifactStore",
    "S3Settings",
    "StoreConfig",
    "atomic_folder",
    "atomic_target",
    "check_key",
    "folder_name",
    "is_key",
    "key_for",
    "link_or_copy",
    "open_artifact_store",
    "safe_file_name",
    "sha256_file",
    "upload_path",
    "write_bytes_atomic",
]

_CHUNK = 1 << 20

_KEY = re.compile(r"blobs/[0-9a-f]{2}/[0-9a-f]{64}(?:\.[a-z0-9]{1,10})?")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,10}")


def key_for(digest: str, suffix: str = "") -> str:
    """The key of the content whose SHA-256 is ``digest`` (the suffix tells its format)."""
    suffix = suffix.lower()
    return f"blobs/{digest[:2]}/{digest}{suffix if _SUFFIX.fullmatch(suffix) else ''}"


def is_key(value: str) -> bool:
    """Whether ``value`` is an artifact key (and so names nothing outside the store)."""
    return _KEY.fullmatch(value) is not None


def check_key(value: str) -> str:
    """``value`` when it is a key; ``ValueError`` otherwise (a path, a name, a forged key)."""
    if not is_key(value):
        raise ValueError(f"not an artifact key: {value!r}")
    return value


@dataclass(frozen=True)
class Artifact:
    """One stored file: its name in the production, content hash, size, key and a local copy."""

    name: str
    sha256: str
    size_bytes: int
    key: str  #: where every process finds it (``blobs/ab/ab12…<suffix>``)
    path: Path  #: a local file with its bytes on this host


class ArtifactStore(Protocol):
    """Files of productions, shared by the bot (to post them), workers (to read and write
    them) and the web process (to serve them)."""

    def put_file(self, production_id: str, name: str, source: Path) -> Artifact:
        """Store ``source`` under ``name`` for a production; the same bytes are stored once."""

    def put_bytes(self, production_id: str, name: str, data: bytes) -> Artifact:
        """Store ``data`` under ``name`` for a production."""

    def fetch(self, key: str) -> Path:
        """A local file holding the object's bytes (``FileNotFoundError`` when there is none).

        Read it, never write it: it may be the stored object itself (the local store).
        """

    def size(self, key: str) -> int:
        """The object's size in bytes (``FileNotFoundError`` when there is none)."""

    def artifacts(self, production_id: str) -> dict[str, Artifact]:
        """The stored files of a production, by name."""

    def remove(self, production_id: str) -> None:
        """Forget a production's files (blobs are collected by :meth:`collect`)."""

    def forget(self, production_id: str, keys: list[str]) -> int:
        """Drop a production's names for ``keys`` (a file it no longer keeps, such as an
        earlier version's project zip) and delete those blobs no production refers to any
        more; returns how many blobs were deleted."""

    def expire(self, *, idle_s: float) -> list[str]:
        """Remove productions untouched for ``idle_s`` seconds and collect; returns their folders."""

    def collect(self) -> int:
        """Delete blobs no production refers to; returns how many."""


class S3Settings(BaseModel):
    """An S3-compatible object store (``VYKE_S3_*``; see ``docs/deploy.md``)."""

    endpoint: str | None = None  #: ``https://…``; ``None``: AWS itself
    bucket: str
    access_key: SecretStr | None = None  #: ``None``: the client's usual AWS variables
    secret_key: SecretStr | None = None
    region: str = "us-east-1"
    public: bool = False  #: the store is reachable by the people downloading: presign links


class StoreConfig(BaseModel):
    """Where a process finds files, and what its host brings to jobs: what the bot hands the
    job processes it starts, and what ``vyke worker`` builds from its own settings (never part
    of a job's payload, which names no folder of any host)."""

    data_dir: str  #: the local store's root (the embedded default), and uploads' first stop
    cache_dir: str  #: this host's disposable caches; the S3 store's downloads go in ``objects/``
    cache_max_bytes: int = 0  #: this host's caches' size (``VYKE_CACHE_MAX_GB``); 0: no limit
    s3: S3Settings | None = None
    samples_dir: str | None = None  #: this host's copy of the director's Sound Vault
    weights_dir: str | None = None  #: this host's Demucs weights (else the torch hub cache)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"  #: where this host separates


def open_artifact_store(config: StoreConfig) -> ArtifactStore:
    """The local folder, or the S3 store when one is configured."""
    if config.s3 is None:
        return LocalArtifactStore(Path(config.data_dir))
    from core.object_store import S3ArtifactStore

    return S3ArtifactStore(config.s3, cache_dir=Path(config.cache_dir) / "objects")


def folder_name(identifier: str) -> str:
    """A folder name for a production id that cannot escape the store."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in identifier)[:120]


def safe_file_name(name: str, *, fallback: str = "file", max_length: int = 100) -> str:
    """A file name made from anything a person typed or uploaded, safe in any folder.

    Letters, digits, ``-``, ``_``, ``.`` and spaces are kept, everything else (slashes,
    NUL, control characters) becomes ``_``; leading and trailing dots and spaces go, so
    the name is never ``.``, ``..`` or hidden. The one rule for every file name the
    product derives from outside input (uploads, attachments it posts back).
    """
    cleaned = "".join(ch if ch.isalnum() or ch in "-_. " else "_" for ch in name).strip(" .")
    return cleaned[:max_length].strip(" .") or fallback


def upload_path(root: Path, production_id: str, name: str, *, unique: str) -> Path:
    """Where an upload to a production is saved: inside the production's folder.

    Every platform saves there, so expiring a production removes its uploads too.
    ``unique`` (the platform's file id) keeps two uploads of the same name apart.
    """
    return (root / "productions" / folder_name(production_id) / "uploads"
            / safe_file_name(f"{unique}-{name}", max_length=160))


@contextmanager
def atomic_target(path: Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    On any error the temporary file is removed and ``path`` is left as it was. The temporary
    name ends in ``.tmp`` plus ``suffix``: writers that choose a format by extension (numpy's
    ``.npz``, soundfile, matplotlib) are given the extension they need, and one that appends
    its own (``np.savez``) finds it already there.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}",
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it is renamed onto ``path``.

    For entries made of several files that must appear whole or not at all. When ``path``
    exists already (the same content, stored meanwhile by another process) the new folder is
    dropped; on any error it is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        try:
            tmp.rename(path)
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    with atomic_target(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def _linked(source: Path, near: Path) -> Path:
    link = near.with_name(f"{near.name}.link")
    link.unlink(missing_ok=True)
    os.link(source, link)
    return link


def link_or_copy(source: Path, target: Path) -> Path:
    """Put ``source``'s bytes at ``target`` atomically: a hard link where the disk allows
    (it costs no space, and sources are never rewritten in place), else a copy."""
    with atomic_target(target) as tmp:
        try:
            os.replace(_linked(source, tmp), tmp)
        except OSError:
            shutil.copyfile(source, tmp)
    return target


def sha256_file(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class LocalArtifactStore:
    """An :class:`ArtifactStore` in a local directory (the default; one host, bot + workers)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # --- writing ----------------------------------------------------------------------

    def put_file(self, production_id: str, name: str, source: Path) -> Artifact:
        digest = sha256_file(source)
        blob = self._blob(digest, source.suffix)
        if not blob.is_file():
            link_or_copy(source, blob)
        return self._record(production_id, name, digest, blob)

    def put_bytes(self, production_id: str, name: str, data: bytes) -> Artifact:
        digest = hashlib.sha256(data).hexdigest()
        blob = self._blob(digest, Path(name).suffix)
        if not blob.is_file():
            write_bytes_atomic(blob, data)
        return self._record(production_id, name, digest, blob)

    # --- reading ----------------------------------------------------------------------

    def fetch(self, key: str) -> Path:
        path = self.root / check_key(key)
        if not path.is_file():
            raise FileNotFoundError(f"no artifact {key}")
        return path

    def size(self, key: str) -> int:
        return self.fetch(key).stat().st_size

    def artifacts(self, production_id: str) -> dict[str, Artifact]:
        manifest = self._read_manifest(self._manifest(production_id))
        found = {}
        for name, entry in manifest.items():
            key = self._entry_key(entry)
            found[name] = Artifact(name=name, sha256=entry["sha256"],
                                   size_bytes=int(entry["size_bytes"]), key=key,
                                   path=self.root / key)
        return found

    def production_dir(self, production_id: str) -> Path:
        """The working folder of a production (where jobs put stems and renders)."""
        return self.root / "productions" / folder_name(production_id)

    # --- clean-up ---------------------------------------------------------------------

    def remove(self, production_id: str) -> None:
        self._manifest(production_id).unlink(missing_ok=True)
        shutil.rmtree(self.production_dir(production_id), ignore_errors=True)

    def forget(self, production_id: str, keys: list[str]) -> int:
        gone = {check_key(key) for key in keys}
        path = self._manifest(production_id)
        manifest = self._read_manifest(path)
        kept = {name: entry for name, entry in manifest.items()
                if self._entry_key(entry) not in gone}
        if len(kept) != len(manifest):
            write_bytes_atomic(path, json.dumps(kept, indent=1, sort_keys=True).encode())
        referenced = self._referenced()
        removed = 0
        for key in gone:
            blob = self.root / key
            if blob.name not in referenced and blob.is_file():
                blob.unlink(missing_ok=True)
                removed += 1
        return removed

    def expire(self, *, idle_s: float) -> list[str]:
        cutoff = time.time() - idle_s
        expired: list[str] = []
        for folder in self._folders():
            if self._last_touched(folder) < cutoff:
                (self.root / "manifests" / f"{folder}.json").unlink(missing_ok=True)
                shutil.rmtree(self.root / "productions" / folder, ignore_errors=True)
                expired.append(folder)
        self.collect()
        return sorted(expired)

    def collect(self) -> int:
        referenced = self._referenced()
        removed = 0
        for blob in (self.root / "blobs").glob("*/*"):
            if blob.is_file() and not blob.name.startswith(".") and blob.name not in referenced:
                blob.unlink(missing_ok=True)
                removed += 1
        return removed

    # --- internals --------------------------------------------------------------------

    def _referenced(self) -> set[str]:
        """The file names of every blob some production refers to."""
        return {Path(entry.get("key") or entry.get("path", "")).name
                for manifest in (self.root / "manifests").glob("*.json")
                for entry in self._read_manifest(manifest).values()}

    @staticmethod
    def _entry_key(entry: dict[str, Any]) -> str:
        return key_for(entry["sha256"], Path(entry.get("key") or entry.get("path", "")).suffix)

    def _blob(self, digest: str, suffix: str) -> Path:
        return self.root / key_for(digest, suffix)

    def _manifest(self, production_id: str) -> Path:
        return self.root / "manifests" / f"{folder_name(production_id)}.json"

    def _record(self, production_id: str, name: str, digest: str, blob: Path) -> Artifact:
        path = self._manifest(production_id)
        manifest = self._read_manifest(path)
        size = blob.stat().st_size
        key = blob.relative_to(self.root).as_posix()
        manifest[name] = {"sha256": digest, "size_bytes": size, "key": key}
        write_bytes_atomic(path, json.dumps(manifest, indent=1, sort_keys=True).encode())
        return Artifact(name=name, sha256=digest, size_bytes=size, key=key, path=blob)

    @staticmethod
    def _read_manifest(path: Path) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _folders(self) -> set[str]:
        names = {p.stem for p in (self.root / "manifests").glob("*.json")}
        productions = self.root / "productions"
        if productions.is_dir():
            names |= {p.name for p in productions.iterdir() if p.is_dir()}
        return names

    def _last_touched(self, folder: str) -> float:
        """The newest modification time of a production's manifest or working files."""
        times = [0.0]
        manifest = self.root / "manifests" / f"{folder}.json"
        if manifest.is_file():
            times.append(manifest.stat().st_mtime)
        work = self.root / "productions" / folder
        if work.is_dir():
            times += [p.stat().st_mtime for p in work.rglob("*")] + [work.stat().st_mtime]
        return max(times)
