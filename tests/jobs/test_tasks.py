"""The job functions: payload in, JSON out, cache hits without recomputing, sentences on failure."""

from __future__ import annotations

import pickle
import typing
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import jobs.analysis
import jobs.separation
from core.errors import AudioError, NotAudio, SilentAudio
from core.jobs import RESULTS, AnalyzeResult, JobKind, JobRequest, SeparateResult
from jobs.files import JobFiles
from jobs.synth import known_stems
from jobs.tasks import TASKS, analyze_task, separate_task

SR = 44100


def _request(kind: JobKind, payload: dict) -> JobRequest:
    return JobRequest(job_id="j1", production_id="p1", kind=kind, payload=payload)


def _uploaded(files: JobFiles, path: Path) -> str:
    """The upload's artifact key, as the Maestro stores it before queueing the job."""
    return files.store.put_file("p1", f"uploads/{path.name}", path).key


def _progress_log() -> tuple[list, callable]:
    seen: list[tuple[float, str]] = []
    return seen, lambda fraction, step: seen.append((fraction, step))


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "song.wav"
    mix = sum(known_stems(sample_rate=SR, bars=4, seed=1).values())
    sf.write(path, mix.T, SR)
    return path


def test_tasks_are_registered_and_picklable() -> None:
    assert set(TASKS) == set(JobKind)  # every step has its job
    for task in TASKS.values():
        assert pickle.loads(pickle.dumps(task)) is task


def test_every_job_returns_its_kinds_result_model_not_a_dict() -> None:
    """What crosses from ``jobs/`` to the Maestro is the typed model of ``core.jobs.RESULTS``."""
    from jobs.compare import compare_task
    from jobs.export.task import export_task
    from jobs.render import render_task

    implementations = {JobKind.RENDER: render_task, JobKind.EXPORT: export_task,
                       JobKind.COMPARE: compare_task}
    for kind, task in [*TASKS.items(), *implementations.items()]:
        assert typing.get_type_hints(task)["return"] is RESULTS[kind], task.__qualname__


async def test_a_finished_job_process_hands_back_its_typed_result(song: Path,
                                                                  tmp_path: Path) -> None:
    from core.artifacts import StoreConfig
    from jobs.worker import run_in_process

    store = StoreConfig(data_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    payload = {"audio": _uploaded(JobFiles.open(store), song), "name": "song.wav",
               "max_duration_s": 600.0, "max_size_bytes": 10**8}
    outcome = await run_in_process(_request(JobKind.ANALYZE, payload), lambda f, s: None,
                                   timeout_s=120, store=store)
    assert outcome.status == "done" and isinstance(outcome.result, AnalyzeResult)
    assert outcome.result.report.tempo.bpm == pytest.approx(120, rel=0.04)


def test_analysis_is_served_from_the_cache_the_second_time(
    song: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = JobFiles.local(tmp_path)
    payload = {"audio": _uploaded(files, song), "name": "song.wav",
               "max_duration_s": 600.0, "max_size_bytes": 10**8}
    seen, progress = _progress_log()
    first = analyze_task(_request(JobKind.ANALYZE, payload), progress, files)
    assert isinstance(first, AnalyzeResult) and first.cached is False
    assert AnalyzeResult.model_validate_json(first.model_dump_json()) == first  # crosses the wire
    assert first.report.tempo.bpm == pytest.approx(120, rel=0.04)
    assert seen[-1][0] == 1.0

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the analysis ran again instead of using the cache")

    monkeypatch.setattr(jobs.analysis, "analyze_file", must_not_run)
    second = analyze_task(_request(JobKind.ANALYZE, payload), progress, files)
    assert second == first.model_copy(update={"cached": True})
    assert len(list((tmp_path / "cache" / "analysis").rglob("*.json"))) == 1
    assert not any((tmp_path / "work").rglob("*.wav"))  # the job's scratch copy is gone
    # a cached song is still held to today's length limit (an operator may have lowered it)
    from core.errors import AudioTooLong

    with pytest.raises(AudioTooLong):
        analyze_task(_request(JobKind.ANALYZE, {**payload, "max_duration_s": 1.0}), progress,
                     files)


@pytest.mark.parametrize(
    ("content", "error", "phrase"),
    [(b"%PDF-1.4 not a song" * 50, NotAudio, "not an audio file"),
     (None, SilentAudio, "is silent")],
)
def test_bad_upload_becomes_a_sentence_not_a_traceback(
    tmp_path: Path, content: bytes | None, error: type[AudioError], phrase: str
) -> None:
    path = tmp_path / "upload.mp3"
    if content is None:
        path = tmp_path / "upload.wav"
        sf.write(path, np.zeros((SR, 2), dtype=np.float32), SR)
    else:
        path.write_bytes(content)
    files = JobFiles.local(tmp_path / "data")
    payload = {"audio": _uploaded(files, path), "name": path.name,
               "max_duration_s": 600.0, "max_size_bytes": 10**8}
    with pytest.raises(error) as info:
        TASKS[JobKind.ANALYZE](_request(JobKind.ANALYZE, payload), lambda f, s: None, files)
    assert phrase in str(info.value) and path.name in str(info.value)  # the name they uploaded


@pytest.mark.parametrize("model", ["demucs_unittest", "htdemucs"])
def test_separation_writes_stems_and_is_cached_by_content_and_model(
    song: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    from dataclasses import replace

    # this host's weights folder (empty: no htdemucs weights here) is the worker's setting
    files = replace(JobFiles.local(tmp_path), weights_dir=tmp_path / "no-weights")
    payload = {"audio": _uploaded(files, song), "model": model, "segment_s": None,
               "overlap": 0.1, "shifts": 0}
    (tmp_path / "no-weights").mkdir()
    first = separate_task(_request(JobKind.SEPARATE, payload), lambda f, s: None, files)
    assert isinstance(first, SeparateResult) and first.cached is False
    assert first.fallback is (model == "htdemucs")  # no htdemucs weights here: rough stems
    length = sf.info(song).frames
    assert set(first.stems) == {"vocals", "drums", "bass", "other"}
    for name, key in first.stems.items():  # published: the store lists them by name
        assert files.store.artifacts("p1")[f"stems/{name}.flac"].key == key
        path = files.fetch(key)
        assert sf.info(path).frames == length
        # 24-bit FLAC, and the same bytes as the cache's (a hard link, not a copy)
        assert (sf.info(path).format, sf.info(path).subtype) == ("FLAC", "PCM_24")
        assert path.stat().st_nlink == 2

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("separated again instead of using the cache")

    monkeypatch.setattr(jobs.separation, "separate_to_files", must_not_run)
    second = separate_task(_request(JobKind.SEPARATE, payload), lambda f, s: None, files)
    assert second == first.model_copy(update={"cached": True})


def test_a_render_fetches_its_stems_and_plays_this_hosts_sound_vault(tmp_path: Path,
                                                                    song: Path) -> None:
    """The render request names stems by key and no folder; the worker lays them out from
    the store and plays the Sound Vault its own settings name."""
    from dataclasses import replace

    from core.jobs import RenderRequest
    from core.music import parse_key
    from core.spec import ProductionSpec
    from jobs.render import RenderPayload

    files = replace(JobFiles.local(tmp_path / "data"), samples_dir=tmp_path / "vault",
                    cache_max_bytes=2_000_000_000)
    key = _uploaded(files, song)
    spec = ProductionSpec(title="t", genre="house", tempo_bpm=124, key=parse_key("Am"))
    request = RenderRequest(spec=spec, stems={"vocals": key},
                            samples={"library": True, "vault_dir": "/elsewhere"})
    local = RenderPayload.of(request, files, tmp_path / "out")
    assert Path(local.stems["vocals"]).read_bytes() == song.read_bytes()
    assert local.samples.library and local.samples.vault_dir == str(tmp_path / "vault")
    assert local.cache_dir == str(tmp_path / "data" / "cache")
    assert local.cache_max_bytes == 2_000_000_000  # the cache's size is this host's too


def test_the_cache_size_is_each_hosts_own_setting(tmp_path: Path) -> None:
    """``VYKE_CACHE_MAX_GB`` reaches a worker's files through its own settings, never a job's
    payload (which names nothing of any host)."""
    from bot.settings import Settings
    from core.jobs import RenderRequest, SeparateRequest

    settings = Settings(data_dir=tmp_path, cache_max_gb=1.5)
    assert JobFiles.open(settings.store_config()).cache_max_bytes == 1_500_000_000
    assert "cache_max_bytes" not in SeparateRequest.model_fields
    assert "cache_max_bytes" not in RenderRequest.model_fields
