"""The director's Sound Vault: generated one-shots and loops are classified, loops get tempo and key,
the index is built once per content hash, and names that say what a sample is are trusted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jobs import sound_vault
from jobs.sound_vault import index_sound_vault
from tests.jobs.sound_vault_fixture import FixtureSample, make_sound_vault


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FixtureSample]]:
    folder = tmp_path_factory.mktemp("sound-vault")
    return folder, make_sound_vault(folder / "samples")


def test_generated_vault_is_classified_with_90_percent_accuracy(
        vault: tuple[Path, list[FixtureSample]]) -> None:
    folder, samples = vault
    assert len(samples) >= 30
    entries = {e.path: e for e in index_sound_vault(folder / "samples", cache_dir=folder / "cache",
                                                    use_names=False)}
    right = [s for s in samples if entries[str(s.path)].kind == s.kind]
    wrong = [(s.path.name, s.kind, entries[str(s.path)].kind) for s in samples if s not in right]
    assert len(right) / len(samples) >= 0.9, wrong
    assert {s.kind for s in samples} == {"kick", "snare", "clap", "hat", "percussion", "loop"}


def test_loops_get_their_tempo_and_key(vault: tuple[Path, list[FixtureSample]]) -> None:
    folder, samples = vault
    entries = {e.path: e for e in index_sound_vault(folder / "samples", cache_dir=folder / "cache",
                                                    use_names=False)}
    loops = [s for s in samples if s.kind == "loop"]
    for loop in loops:
        entry = entries[str(loop.path)]
        assert entry.kind == "loop"
        assert loop.tempo_bpm is not None and loop.key is not None
        assert entry.tempo_bpm == pytest.approx(loop.tempo_bpm, rel=0.02), loop.path.name
        assert entry.key == loop.key.long_name, loop.path.name


def test_the_index_analyses_each_content_once(vault: tuple[Path, list[FixtureSample]],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, samples = vault
    small = tmp_path / "small"
    small.mkdir()
    for sample in samples[:3]:
        shutil.copy(sample.path, small / sample.path.name)
    first = index_sound_vault(small, cache_dir=tmp_path / "cache", use_names=False)
    # the same content under another name is served from the index, not analysed again
    (small / samples[0].path.name).rename(small / "renamed.wav")
    calls: list[Path] = []
    real = sound_vault.analyse_file
    monkeypatch.setattr(sound_vault, "analyse_file",
                        lambda path, **kw: calls.append(path) or real(path, **kw))
    second = index_sound_vault(small, cache_dir=tmp_path / "cache", use_names=False)
    assert calls == []
    assert sorted(e.sha256 for e in first) == sorted(e.sha256 for e in second)
    assert (tmp_path / "cache" / "sound_vault" / "index.json").is_file()


def test_a_name_that_says_what_a_sample_is_wins(vault: tuple[Path, list[FixtureSample]],
                                                tmp_path: Path) -> None:
    _, samples = vault
    kick = next(s for s in samples if s.kind == "kick")
    folder = tmp_path / "vault" / "Tribal Perc"
    folder.mkdir(parents=True)
    shutil.copy(kick.path, folder / "djembe_low_01.wav")
    (entry,) = index_sound_vault(tmp_path / "vault", cache_dir=tmp_path / "cache")
    assert (entry.kind, entry.by) == ("percussion", "name")
    (plain,) = index_sound_vault(tmp_path / "vault", cache_dir=tmp_path / "cache", use_names=False)
    assert (plain.kind, plain.by) == ("kick", "analysis")


def test_unreadable_and_empty_files_are_skipped_and_not_retried(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "vault"
    folder.mkdir()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    (folder / "notes.txt").write_text("not audio")
    assert index_sound_vault(folder, cache_dir=tmp_path / "cache") == []
    calls: list[Path] = []
    monkeypatch.setattr(sound_vault, "analyse_file", lambda path, **kw: calls.append(path))
    assert index_sound_vault(folder, cache_dir=tmp_path / "cache") == []
    assert calls == []  # the broken file's failure is remembered by its content hash
