"""The S3 artifact store against a real S3 server (SeaweedFS, on loopback): objects keyed by
content, a second host with an empty cache reading what the first published, ranges for the
web's players, presigned links, and expiry collecting only what no production keeps."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest

from core.artifacts import S3Settings, StoreConfig, is_key, open_artifact_store
from core.object_store import S3ArtifactStore
from tests.services import SeaweedS3


def _store(seaweed: SeaweedS3, cache: Path, **extra: object) -> S3ArtifactStore:
    settings = S3Settings(endpoint=seaweed.endpoint, bucket=seaweed.BUCKET,
                          access_key=seaweed.ACCESS_KEY,  # type: ignore[arg-type]
                          secret_key=seaweed.SECRET_KEY, **extra)  # type: ignore[arg-type]
    store = open_artifact_store(StoreConfig(data_dir=str(cache / "data"), cache_dir=str(cache),
                                            s3=settings))
    assert isinstance(store, S3ArtifactStore)
    return store


def test_a_host_with_an_empty_cache_reads_what_another_published(seaweed: SeaweedS3,
                                                                  tmp_path: Path) -> None:
    worker, bot = _store(seaweed, tmp_path / "worker"), _store(seaweed, tmp_path / "bot")
    source = tmp_path / "master.wav"
    source.write_bytes(b"RIFF" + bytes(range(256)) * 4000)
    stored = worker.put_file("discord:1:2", "v1/master.wav", source)
    assert is_key(stored.key) and stored.key.endswith(".wav")
    again = worker.put_bytes("slack:T:C:1", "copy.wav", source.read_bytes())
    assert again.key == stored.key  # the same bytes are one object
    fetched = bot.fetch(stored.key)
    assert fetched.read_bytes() == source.read_bytes()
    assert fetched.is_relative_to(tmp_path / "bot")  # into the reading host's own cache
    assert bot.size(stored.key) == source.stat().st_size
    assert set(bot.artifacts("discord:1:2")) == {"v1/master.wav"}
    with pytest.raises(FileNotFoundError):
        bot.fetch("blobs/00/" + "0" * 64 + ".wav")
    with pytest.raises(ValueError):
        bot.fetch("../../etc/passwd")


def test_ranges_and_presigned_links(seaweed: SeaweedS3, tmp_path: Path) -> None:
    store = _store(seaweed, tmp_path / "c", public=True)
    key = store.put_bytes("p", "preview.mp3", b"0123456789" * 1000).key

    async def read(start: int, end: int | None) -> bytes:
        return b"".join([chunk async for chunk in store.stream(key, start=start, end=end)])

    assert asyncio.run(read(5, 15)) == b"5678901234"
    assert len(asyncio.run(read(0, None))) == 10_000
    with urllib.request.urlopen(store.presign(key, expires_s=60), timeout=5) as response:
        assert response.read() == b"0123456789" * 1000


def test_expiry_collects_only_unshared_objects(seaweed: SeaweedS3, tmp_path: Path) -> None:
    store = _store(seaweed, tmp_path / "c")
    only_old = store.put_bytes("old", "a.wav", b"old only").key
    shared = store.put_bytes("old", "b.wav", b"shared").key
    store.put_bytes("new", "b.wav", b"shared")
    store.remove("old")
    assert store.collect() == 1
    with pytest.raises(FileNotFoundError):
        _store(seaweed, tmp_path / "fresh").fetch(only_old)
    assert _store(seaweed, tmp_path / "fresh2").fetch(shared).read_bytes() == b"shared"
    assert store.expire(idle_s=3600) == []  # "new" was touched just now


def test_a_forgotten_project_zip_goes_unless_another_production_keeps_it(
        seaweed: SeaweedS3, tmp_path: Path) -> None:
    """One project zip per production: the export makes the store forget the zip it replaces;
    its object goes with it, unless another name still refers to the same bytes."""
    store = _store(seaweed, tmp_path / "c")
    earlier = store.put_bytes("forget", "v1/project.zip", b"PK earlier").key
    shared = store.put_bytes("forget", "v2/project.zip", b"PK shared").key
    store.put_bytes("forget-other", "v1/project.zip", b"PK shared")
    kept = store.put_bytes("forget", "v1/master.wav", b"RIFF").key
    assert store.forget("forget", [earlier, shared]) == 1
    assert set(store.artifacts("forget")) == {"v1/master.wav"}
    with pytest.raises(FileNotFoundError):
        _store(seaweed, tmp_path / "fresh").fetch(earlier)
    assert _store(seaweed, tmp_path / "fresh2").fetch(shared).read_bytes() == b"PK shared"
    assert store.fetch(kept).read_bytes() == b"RIFF"
