"""Worker pieces without Redis: which failures are retried, the child-process runner's
timeout, and the content-addressed artifact store with atomic writes and expiry."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from core.artifacts import LocalArtifactStore, StoreConfig, atomic_target
from core.errors import AudioError, QueueUnavailable
from core.jobs import JobKind, JobRequest, job_id_for
from jobs.worker import _classify, run_in_process


@pytest.mark.parametrize(("error", "transient"), [
    (AudioError("That file is not audio."), False),  # bad input: never retried
    (QueueUnavailable(), False),  # a sentence of ours: said, not retried
    (OSError(errno.ENOSPC, "No space left on device"), False),
    (OSError(errno.EIO, "I/O error"), True),
    (ConnectionResetError(), True),
    (ValueError("a bug"), False),
])
def test_only_transient_failures_are_retried(error: BaseException, transient: bool) -> None:
    message, retry = _classify(error, JobKind.RENDER)
    assert retry is transient
    assert message.endswith(".")


def test_a_full_disk_is_told_plainly() -> None:
    message, _ = _classify(OSError(errno.ENOSPC, "full"), JobKind.RENDER)
    assert "disk is full" in message and "operator" in message


async def test_a_job_past_its_time_is_killed_and_reported(tmp_path: Path) -> None:
    from jobs.demo_song import make_demo_song

    song = make_demo_song(tmp_path / "song.wav", duration_s=30.0)
    key = LocalArtifactStore(tmp_path).put_file("p", song.name, song).key
    request = JobRequest(job_id=job_id_for("p", 0, JobKind.ANALYZE), production_id="p",
                         kind=JobKind.ANALYZE,
                         payload={"audio": key, "max_duration_s": 600, "max_size_bytes": 10**9})
    steps: list[str] = []
    store = StoreConfig(data_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    outcome = await run_in_process(request, lambda f, s: steps.append(s), timeout_s=0.5,
                                   store=store)
    assert outcome.status == "timeout" and not outcome.transient
    assert "took longer than" in outcome.message
    time.sleep(2)
    assert not list((tmp_path / "cache").rglob("*.json"))  # the killed job wrote nothing


def test_same_bytes_are_stored_once(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    a = store.put_bytes("discord:1:2", "preview.mp3", b"abc")
    b = store.put_bytes("slack:T:C:1", "master.mp3", b"abc")
    assert a.path == b.path and a.path.read_bytes() == b"abc"
    assert a.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert set(store.artifacts("discord:1:2")) == {"preview.mp3"}
    source = tmp_path / "mix.wav"
    source.write_bytes(b"RIFF....")
    stored = store.put_file("discord:1:2", "mix.wav", source)
    assert stored.path.read_bytes() == b"RIFF...." and stored.size_bytes == 8


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "v1" / "master.wav"
    target.parent.mkdir()
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_target(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["master.wav"]


def test_expiry_removes_idle_productions_and_unshared_blobs(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    old = store.put_bytes("old", "a.wav", b"old only")
    shared = store.put_bytes("old", "b.wav", b"shared")
    store.put_bytes("new", "b.wav", b"shared")
    (store.production_dir("old") / "stems").mkdir(parents=True)
    long_ago = time.time() - 3 * 86400
    for path in [tmp_path / "manifests" / "old.json", store.production_dir("old"),
                 store.production_dir("old") / "stems"]:
        os.utime(path, (long_ago, long_ago))
    assert store.expire(idle_s=86400) == ["old"]
    assert not old.path.exists() and shared.path.exists()
    assert store.artifacts("old") == {} and set(store.artifacts("new")) == {"b.wav"}
    assert not store.production_dir("old").exists()
