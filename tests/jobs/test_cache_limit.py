"""The caches kept to their size: least recently used out first, nothing in use, nothing shared.

Entries are laid out as the render and separation jobs store them; their ages are set with
``os.utime`` (a job's read touches its entry, so an entry's time is its last use).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from jobs.array_store import flush_subnormals, load_array, save_array
from jobs.cache_limit import IN_USE_S, cache_entries, touch, trim_cache

MB = 1_000_000


def _aged(paths: list[Path], age_s: float) -> None:
    when = time.time() - age_s
    for path in paths:
        os.utime(path, (when, when))


def _raw(cache: Path, key: str, size: int, age_s: float) -> Path:
    path = cache / "render" / "render-v2" / "raw" / f"{key}.flac"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    note = path.with_name(path.name + ".samples.json")
    note.write_text("[]")
    _aged([path, note], age_s)
    return path


def _mixed(cache: Path, key: str, size: int, age_s: float) -> Path:
    folder = cache / "render" / "render-v2" / "mixed" / key
    folder.mkdir(parents=True)
    (folder / "dry.npy").write_bytes(os.urandom(size))
    numbers = folder.with_name(f"{key}-m2.json")
    numbers.write_text("{}")
    _aged([folder / "dry.npy", folder, numbers], age_s)
    return folder


def _stems(cache: Path, key: str, size: int, age_s: float) -> Path:
    folder = cache / "stems" / "stems-v1" / f"{key}-htdemucs"
    folder.mkdir(parents=True)
    for stem in ("vocals", "drums", "bass", "other"):
        (folder / f"{stem}.flac").write_bytes(os.urandom(size // 4))
    (folder / "meta.json").write_text("{}")
    _aged([*folder.iterdir(), folder], age_s)
    return folder


def test_the_least_recently_used_entries_go_until_the_cache_fits(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    oldest = _mixed(cache, "a" * 24, 3 * MB, age_s=5 * 3600)
    old_stems = _stems(cache, "b" * 64, 2 * MB, age_s=4 * 3600)
    old_raw = _raw(cache, "c" * 24, 2 * MB, age_s=3 * 3600)
    recent = _mixed(cache, "d" * 24, 2 * MB, age_s=2 * 3600)
    in_use = _raw(cache, "e" * 24, 2 * MB, age_s=60)
    assert sum(e.size_bytes for e in cache_entries(cache)) >= 11 * MB

    trimmed = trim_cache(cache, max_bytes=5 * MB)

    assert trimmed.removed == 3 and trimmed.kept_bytes <= 5 * MB
    assert not oldest.exists() and not oldest.with_name(f"{oldest.name}-m2.json").exists()
    assert not old_stems.exists() and not old_raw.exists()
    assert not old_raw.with_name(old_raw.name + ".samples.json").exists()  # its note with it
    assert recent.is_dir() and in_use.is_file()
    assert trim_cache(cache, max_bytes=5 * MB).removed == 0  # fits now: nothing more goes


def test_an_entry_in_use_stays_even_over_the_limit(tmp_path: Path) -> None:
    """A render reads its entries for up to its time limit; one just read is touched."""
    cache = tmp_path / "cache"
    reading = _mixed(cache, "a" * 24, 3 * MB, age_s=5 * 3600)
    touch(reading)  # the render's read
    other = _raw(cache, "b" * 24, 3 * MB, age_s=IN_USE_S - 60)
    trimmed = trim_cache(cache, max_bytes=1 * MB)
    assert trimmed.removed == 0 and reading.is_dir() and other.is_file()
    later = trim_cache(cache, max_bytes=1 * MB, now=time.time() + IN_USE_S + 1)
    assert later.removed == 2 and later.kept_bytes == 0


def test_bytes_a_production_shares_with_the_cache_are_not_counted(tmp_path: Path) -> None:
    """A version's tracks are hard links into the raw cache: removing the cache's link would
    free nothing, so they do not count towards the size, and the version keeps its track when
    the cache's entry goes."""
    cache = tmp_path / "cache"
    shared = _raw(cache, "a" * 24, 4 * MB, age_s=5 * 3600)
    version = tmp_path / "productions" / "p" / "v1" / "tracks"
    version.mkdir(parents=True)
    os.link(shared, version / "bass.flac")
    alone = _raw(cache, "b" * 24, 2 * MB, age_s=4 * 3600)
    sizes = {e.key: e.size_bytes for e in cache_entries(cache)}
    assert sizes["a" * 24] < 10_000 and sizes["b" * 24] >= 2 * MB  # its note only
    trimmed = trim_cache(cache, max_bytes=1 * MB)
    assert trimmed.freed_bytes < 2 * MB + 20_000 and not alone.exists() and not shared.exists()
    assert (version / "bass.flac").stat().st_size == 4 * MB


def test_a_write_a_crash_left_behind_goes_once_it_is_old(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mixed = cache / "render" / "render-v2" / "mixed"
    mixed.mkdir(parents=True)
    stale = mixed / ".abc.x1y2.tmp"
    stale.mkdir()
    (stale / "dry.npy").write_bytes(b"x" * 1000)
    _aged([stale / "dry.npy", stale], 2 * IN_USE_S)
    writing = mixed / ".def.z3.tmp"
    writing.mkdir()
    assert trim_cache(cache, max_bytes=10 * MB).removed == 1
    assert not stale.exists() and writing.exists()


def test_objects_fetched_from_an_s3_store_are_kept_to_the_size_too(tmp_path: Path) -> None:
    """A worker's copies of an S3 store's objects (``objects/``, fetched again when missing)
    go least recently used first like the rest, and a download a crash cut short goes."""
    cache = tmp_path / "cache"

    def stored(digest: str, size: int, age_s: float) -> Path:
        path = cache / "objects" / "blobs" / digest[:2] / f"{digest}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        _aged([path], age_s)
        return path

    old = stored("a" * 64, 3 * MB, age_s=5 * 3600)
    recent = stored("b" * 64, 3 * MB, age_s=2 * 3600)
    cut_short = old.with_name(f".{'c' * 64}.flac.x1y2.tmp")
    cut_short.write_bytes(b"x" * 1000)
    _aged([cut_short], 2 * IN_USE_S)
    trimmed = trim_cache(cache, max_bytes=4 * MB)
    assert trimmed.removed == 2 and not old.exists() and not cut_short.exists()
    assert recent.is_file()


def test_a_processed_track_is_stored_without_its_silence_and_read_back_equal(
        tmp_path: Path) -> None:
    """Chain arrays are memory-mapped ``.npy`` files: silence is a hole in a sparse file and a
    mono track one channel, yet what is read back equals what was stored."""
    n = 44100 * 20
    rng = np.random.default_rng(1)
    stereo = np.zeros((2, n), dtype=np.float32)
    stereo[:, n // 4: n // 2] = rng.standard_normal((2, n // 4)) * 0.1  # plays a quarter
    mono = np.zeros((2, n), dtype=np.float32)
    mono[:, : n // 2] = np.sin(np.arange(n // 2) / 10.0) * 0.5  # a kick-like mono track
    full = n * 2 * 4
    for name, array, most in (("stereo", stereo, 0.3), ("mono", mono, 0.3)):
        path = save_array(tmp_path / f"{name}.npy", array)
        back = load_array(path)
        assert back.shape == (2, n) and back.dtype == np.float32
        assert np.array_equal(back, array)
        allocated = path.stat().st_blocks * 512
        assert allocated <= most * full, (name, allocated / full)
    levels = np.linspace(0, 1, n, dtype=np.float32)  # a send level curve: stays one-dimensional
    assert np.array_equal(load_array(save_array(tmp_path / "level.npy", levels)), levels)


def test_a_filtered_track_s_silence_is_a_hole_too(tmp_path: Path) -> None:
    """A filter leaves silence as subnormal numbers that never reach zero; flushed, the
    silence between two phrases (and a gap of a few blocks) takes no disk, and every sample
    that sounds is read back exactly."""
    from scipy.signal import butter, sosfilt

    n = 44100 * 20
    dry = np.zeros((2, n), dtype=np.float32)
    rng = np.random.default_rng(2)
    dry[:, : n // 4] = rng.standard_normal((2, n // 4)) * 0.1  # a phrase, then silence
    dry[:, n // 2: n // 2 + 2048] = 0.2  # one hit, then silence again
    sos = butter(4, 60.0, "highpass", fs=44100, output="sos").astype(np.float32)
    filtered = sosfilt(sos, dry, axis=-1).astype(np.float32)
    tail = filtered[:, n // 2 + 44100:]
    assert np.count_nonzero(tail) > 0 and np.abs(tail).max() < np.finfo(np.float32).tiny
    stored = flush_subnormals(filtered.copy())
    audible = np.abs(filtered) >= np.finfo(np.float32).tiny
    assert np.array_equal(stored[audible], filtered[audible])
    assert np.count_nonzero(stored[:, n // 2 + 44100:]) == 0
    path = save_array(tmp_path / "shaped.npy", stored)
    assert np.array_equal(load_array(path), stored)
    # the phrase, the hit and a second of tail each: far less than the 7 MB of a dense file
    assert path.stat().st_blocks * 512 <= 0.4 * stored.nbytes
