"""A job's files: inputs fetched from the artifact store, outputs published to it.

Payloads carry artifact keys (``core.jobs``); the engine reads and writes local files. This is
the one place between the two: a job fetches each input it names (from the local folder, or
downloaded once into this host's cache from an S3 store), works in a scratch folder of its own
on this host, and publishes what it made, returning keys. Nothing a job leaves on the host is
needed later: the scratch folder is removed when the job ends, and the caches
(``cache_dir``: analysis, stems, render, fetched objects) are accelerators that a fresh host
rebuilds from the store, kept to this host's ``cache_max_bytes``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.artifacts import (
    ArtifactStore,
    StoreConfig,
    folder_name,
    link_or_copy,
    open_artifact_store,
)

__all__ = ["JobFiles"]


@dataclass(frozen=True)
class JobFiles:
    """The artifact store and this host's folders, as one job process uses them."""

    store: ArtifactStore
    cache_dir: Path  #: analysis, stems and render caches, and the S3 store's downloads
    work_dir: Path  #: scratch folders of running jobs (``<data>/work``)
    samples_dir: Path | None = None  #: the director's Sound Vault on this host, if any
    weights_dir: Path | None = None  #: Demucs weights on this host (else the torch hub cache)
    device: str = "auto"  #: where this host separates (``cuda`` on a GPU worker)
    cache_max_bytes: int = 0  #: the caches' size on this host (0: no limit)

    @classmethod
    def open(cls, config: StoreConfig) -> JobFiles:
        """The store and folders a worker (or the bot's inline pool) was configured with."""
        return cls(store=open_artifact_store(config), cache_dir=Path(config.cache_dir),
                   work_dir=Path(config.data_dir) / "work",
                   samples_dir=Path(config.samples_dir) if config.samples_dir else None,
                   weights_dir=Path(config.weights_dir) if config.weights_dir else None,
                   device=config.device, cache_max_bytes=config.cache_max_bytes)

    @classmethod
    def local(cls, data_dir: Path) -> JobFiles:
        """The embedded default in one folder: the local store, ``cache/`` and ``work/``."""
        return cls.open(StoreConfig(data_dir=str(data_dir), cache_dir=str(data_dir / "cache")))

    def fetch(self, key: str) -> Path:
        """A local file with the artifact's bytes (read it, never write it)."""
        return self.store.fetch(key)

    def publish(self, production_id: str, name: str, path: Path) -> str:
        """Store a file the job made under ``name`` for the production; returns its key."""
        return self.store.put_file(production_id, name, path).key

    def gather(self, artifacts: dict[str, str], folder: Path) -> Path:
        """Lay the named artifacts out in ``folder`` (``tracks/kick.wav`` …), for code that
        reads a folder; only names that stay inside it are laid out."""
        root = folder.resolve()
        for name, key in artifacts.items():
            target = (folder / name).resolve()
            if target.is_relative_to(root) and target != root:
                link_or_copy(self.fetch(key), target)
        return folder

    def trim_cache(self) -> None:
        """Keep this host's caches to their size, once a job stored what it made (least
        recently used first, :mod:`jobs.cache_limit`)."""
        if self.cache_max_bytes:
            from jobs.cache_limit import trim_cache

            trim_cache(self.cache_dir, max_bytes=self.cache_max_bytes)

    @contextmanager
    def scratch(self, production_id: str, job: str) -> Iterator[Path]:
        """A fresh folder for one run of a job, removed when it ends (published or not)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # one flat folder per run (no per-production parent another job's clean-up could
        # remove under this one)
        folder = Path(tempfile.mkdtemp(prefix=f"{folder_name(production_id)}-{folder_name(job)}-",
                                       dir=self.work_dir))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
