"""One atomic write: a reader sees the whole file or folder or none; the writer's format survives."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.artifacts import atomic_target


def test_the_temporary_name_keeps_the_extension_a_writer_picks_its_format_by(
        tmp_path: Path) -> None:
    target = tmp_path / "cache" / "mixed.npz"
    with atomic_target(target, suffix=".npz") as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".mixed.npz.")
        assert tmp.name.endswith(".tmp.npz") and not target.exists()
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert [p.name for p in target.parent.iterdir()] == ["mixed.npz"]


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "master.wav"
    target.write_bytes(b"old")
    with pytest.raises(OSError), atomic_target(target, suffix=".wav") as tmp:
        tmp.write_bytes(b"half")
        raise OSError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["master.wav"]


def test_a_folder_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    from core.artifacts import atomic_folder

    entry = tmp_path / "mixed" / "abc"
    with pytest.raises(OSError), atomic_folder(entry) as folder:
        (folder / "dry.npy").write_bytes(b"half")
        raise OSError("disk full")
    assert not entry.exists() and list((tmp_path / "mixed").iterdir()) == []
    with atomic_folder(entry) as folder:
        assert not entry.exists()
        (folder / "dry.npy").write_bytes(b"whole")
        (folder / "level_reverb.npy").write_bytes(b"whole")
    assert sorted(p.name for p in entry.iterdir()) == ["dry.npy", "level_reverb.npy"]
    with atomic_folder(entry) as folder:  # stored meanwhile by another process: kept as it was
        (folder / "dry.npy").write_bytes(b"other")
    assert (entry / "dry.npy").read_bytes() == b"whole"
    assert [p.name for p in (tmp_path / "mixed").iterdir()] == ["abc"]
