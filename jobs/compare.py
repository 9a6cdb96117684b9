"""Compare two versions by ear: the same section of each, matched to equal loudness.

A louder clip sounds better to almost everyone, so an honest A/B gives both clips the same
integrated loudness (the quieter one's, so nothing is pushed into the limiter) before the
director listens. The clips are short MP3s that play inline in a chat thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.jobs import ClipResult, CompareRequest, CompareResult, JobRequest, ProgressFn, payload_of
from core.spec import ProductionSpec
from jobs.files import JobFiles

__all__ = ["compare_task", "section_window_s"]

_MAX_CLIP_S = 30.0
_FADE_S = 0.05


def section_window_s(spec: ProductionSpec, section: str) -> tuple[float, float, str]:
    """Start and end (seconds) of the section to compare, at most 30 s, and its name.

    The named section when there is one, else the first drop or chorus (where differences in
    the mix are easiest to hear), else the start of the song.
    """
    span = spec.listening_section(section)
    if span is None:
        return 0.0, _MAX_CLIP_S, "the start"
    start = spec.bar_start_s(span[1])
    end = min(spec.bar_start_s(span[2] + 1), start + _MAX_CLIP_S)
    return start, end, span[0].name


def compare_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> CompareResult:
    """Cut the same section from both masters, match their loudness and publish two MP3 clips.

    Both clips' ``lufs`` are equal within a few hundredths of a LU.
    """
    with files.scratch(request.production_id, request.job_id) as work:
        return _compare(request, progress, files, work)


def _compare(request: JobRequest, progress: ProgressFn, files: JobFiles,
             out_dir: Path) -> CompareResult:
    import soundfile as sf

    from jobs.loudness import integrated_loudness
    from jobs.preview import faded, preview_mp3

    payload = payload_of(request, CompareRequest)
    progress(0.0, "cutting the clips")
    clips = []
    name = ""
    for side in (payload.a, payload.b):
        start_s, end_s, name = section_window_s(side.spec, payload.section)
        master = files.fetch(side.master)
        info = sf.info(master)
        start = round(start_s * info.samplerate)
        stop = min(info.frames, round(end_s * info.samplerate))
        data, rate = sf.read(master, start=start, stop=max(start + 1, stop),
                             dtype="float32", always_2d=True)
        audio = np.ascontiguousarray(data.T)
        clips.append((side, audio, rate, start_s, end_s))
    loudness = [integrated_loudness(audio, sample_rate=rate) for _, audio, rate, _, _ in clips]
    target = min(loudness)  # the quieter one's level: turning down never clips
    results = []
    for (side, audio, rate, start_s, end_s), lufs in zip(clips, loudness, strict=True):
        gain_db = target - lufs
        matched = faded(audio * np.float32(10 ** (gain_db / 20)), sample_rate=rate,
                        fade_s=_FADE_S)
        path = out_dir / f"v{side.version}-{_slug(name)}.mp3"
        preview_mp3(matched, sample_rate=rate, path=path, max_bytes=8 * 1024 * 1024)
        key = files.publish(request.production_id, f"compare/{path.name}", path)
        results.append(ClipResult(
            version=side.version, key=key, name=path.name,
            lufs=round(integrated_loudness(matched, sample_rate=rate), 2),
            gain_db=round(gain_db, 2), start_s=round(start_s, 2), end_s=round(end_s, 2)))
    progress(1.0, "clips ready")
    return CompareResult(clips=results, section=name)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-") or "clip"
