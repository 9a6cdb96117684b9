"""Stem separation: vocals, drums, bass and other, with Demucs or a labelled DSP fallback.

Demucs ``htdemucs`` (Rouard, Massa & Défossez 2023; 8.8 dB SDR on MUSDB18-HQ) runs when its
weights can be found, in this order: the weights folder named in the settings, the local
torch hub cache, then a download when the machine is online. Without weights a DSP fallback
runs (harmonic/percussive separation, a low-pass bass and a centre-channel vocal estimate):
its stems are rough and the result says ``fallback=True`` so the thread is told so.

Long songs are separated in overlapping chunks of about a minute that are cross-faded and
streamed to disk, so a 10-minute song needs the memory of one chunk, not of four full stems.
Audio is float32 ``(channels, samples)`` at ``sample_rate`` Hz throughout.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import soundfile as sf

from core.artifacts import atomic_target
from core.errors import WeightsUnavailable
from jobs.audio_io import fits_flac, valid_audio

__all__ = [
    "DEFAULT_MODEL",
    "STEM_NAMES",
    "SeparationOptions",
    "SeparationResult",
    "WeightsUnavailable",
    "fetch_models",
    "load_model",
    "resolve_device",
    "separate",
    "separate_dsp",
    "separate_to_files",
    "si_sdr",
    "weights_available",
]

logger = logging.getLogger(__name__)

STEM_NAMES = ("vocals", "drums", "bass", "other")
"""The four stems every separation returns, in this order."""

DEFAULT_MODEL = "htdemucs"
"""The Demucs model used unless the settings name another."""

_FALLBACK_MODEL = "dsp-fallback"
_CHUNK_S = 60.0  # outer chunk length, seconds
_CROSSFADE_S = 4.0  # overlap between outer chunks, seconds
_DOWNLOAD_HOSTS = (("huggingface.co", 443), ("dl.fbaipublicfiles.com", 443))

ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class SeparationResult:
    """Four stems of the input's length and what produced them."""

    stems: dict[str, np.ndarray]  #: name -> float32 (channels, samples)
    model: str  #: the model that ran (``dsp-fallback`` when Demucs could not)
    fallback: bool  #: True when the rough DSP fallback produced the stems


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks CUDA, then Apple MPS, then CPU; any other value is returned as is."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _bag_signatures(model: str, folder: Path) -> list[str] | None:
    """Model signatures listed by ``<model>.yaml`` in ``folder`` (None when there is none)."""
    import yaml

    path = folder / f"{model}.yaml"
    if not path.is_file():
        return None
    with path.open() as fh:
        data = yaml.safe_load(fh) or {}
    return [str(sig) for sig in data.get("models", [])]


def _remote_root() -> Path:
    from demucs.pretrained import REMOTE_ROOT

    return Path(REMOTE_ROOT)


def _torch_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_available(model: str = DEFAULT_MODEL, *, weights_dir: Path | None = None) -> bool:
    """Whether ``model`` can be loaded without the network (folder or torch hub cache).

    Parameters
    ----------
    model : str
        A Demucs model name such as ``htdemucs``; ``demucs_unittest`` needs no weights.
    weights_dir : Path, optional
        A folder holding ``<model>.yaml`` and ``<signature>-<hash>.th`` files.
    """
    if model == "demucs_unittest":
        return True
    if weights_dir is not None:
        sigs = _bag_signatures(model, Path(weights_dir))
        if sigs:
            files = [p.name for p in Path(weights_dir).glob("*.th")]
            return all(any(f.startswith(f"{sig}-") for f in files) for sig in sigs)
        return False
    sigs = _bag_signatures(model, _remote_root())
    if not sigs:
        return False
    cache = _torch_checkpoints()
    return all(any(cache.glob(f"{sig}-*.th")) for sig in sigs)


def _online(timeout_s: float = 2.0) -> bool:
    """True when one of the weight servers accepts a TCP connection within ``timeout_s``."""
    for host, port in _DOWNLOAD_HOSTS:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def load_model(
    model: str = DEFAULT_MODEL, *, weights_dir: Path | None = None, allow_download: bool = True
) -> Any:
    """Load a Demucs model (a ``BagOfModels`` or a single model), without the network if possible.

    Order: the weights folder when one is named (and only it), then the torch hub cache
    through Demucs' legacy repository (no network when cached), then a download (Hugging
    Face, then the legacy servers) when ``allow_download`` and the machine is online.

    Raises
    ------
    WeightsUnavailable
        When none of these can provide the weights.
    """
    from demucs.pretrained import get_model

    if model == "demucs_unittest":
        return get_model(model)
    if weights_dir is not None:
        if not weights_available(model, weights_dir=Path(weights_dir)):
            raise WeightsUnavailable(model=model, weights_dir=Path(weights_dir))
        return get_model(model, repo=Path(weights_dir))
    if weights_available(model):
        from demucs.pretrained import _parse_remote_files
        from demucs.repo import AnyModelRepo, BagOnlyRepo, RemoteRepo

        remote = RemoteRepo(_parse_remote_files(_remote_root() / "files.txt"))
        loaded = AnyModelRepo(remote, BagOnlyRepo(_remote_root(), remote)).get_model(model)
        loaded.eval()
        return loaded
    if allow_download and _online():
        loaded = get_model(model)
        loaded.eval()
        return loaded
    raise WeightsUnavailable(model=model, weights_dir=None)


def fetch_models(*, model: str = DEFAULT_MODEL, weights_dir: Path | None = None) -> str:
    """Download (or find) the weights of ``model`` so separation works offline afterwards.

    With ``weights_dir`` the weights are copied there as ``<model>.yaml`` plus ``.th`` files
    (a folder the settings can name); without it they land in the torch hub cache.

    Returns
    -------
    str
        A sentence saying what was done, for ``vyke models fetch``.

    Raises
    ------
    WeightsUnavailable
        When the weights are not cached and the machine is offline.
    """
    folder = Path(weights_dir) if weights_dir is not None else None
    if folder is not None and weights_available(model, weights_dir=folder):
        return f"The {model} weights are already in {folder}; nothing to download."
    if folder is None and weights_available(model):
        return f"The {model} weights are already in the local cache ({_torch_checkpoints()})."
    if not _online():
        raise WeightsUnavailable(model=model, weights_dir=folder)
    import shutil

    import torch

    sigs = _bag_signatures(model, _remote_root()) or []
    from demucs.pretrained import _parse_remote_files

    urls = _parse_remote_files(_remote_root() / "files.txt")
    for sig in sigs:
        torch.hub.load_state_dict_from_url(urls[sig], map_location="cpu", check_hash=True)
    if folder is None:
        return f"Downloaded the {model} weights to the local cache ({_torch_checkpoints()})."
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(_remote_root() / f"{model}.yaml", folder / f"{model}.yaml")
    for sig in sigs:
        for path in _torch_checkpoints().glob(f"{sig}-*.th"):
            shutil.copy2(path, folder / path.name)
    return f"Downloaded the {model} weights into {folder}."


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019).

    ``SI-SDR = 10·log10(‖α·s‖² / ‖α·s − ŝ‖²)`` with ``α = ⟨ŝ, s⟩ / ‖s‖²``; channels are
    concatenated. Higher is better; the mixture itself scores the baseline.
    """
    s = np.asarray(reference, dtype=np.float64).ravel()
    e = np.asarray(estimate, dtype=np.float64).ravel()
    alpha = float(np.dot(e, s) / (np.dot(s, s) + 1e-12))
    target = alpha * s
    noise = target - e
    return float(10.0 * np.log10((np.dot(target, target) + 1e-12) / (np.dot(noise, noise) + 1e-12)))


class SeparationOptions(TypedDict, total=False):
    """How to separate: the keyword options :func:`separate` and :func:`separate_to_files`
    share, described (with their defaults) in :func:`separate`; declared once, so the two
    entry points cannot drift apart."""

    model: str
    weights_dir: Path | None
    segment_s: float | None
    overlap: float
    shifts: int
    device: str
    allow_download: bool
    progress: ProgressCallback | None


def separate(audio: np.ndarray, *, sample_rate: int,
             **options: Unpack[SeparationOptions]) -> SeparationResult:
    """Separate audio into vocals, drums, bass and other, in memory (short audio, tests).

    Uses Demucs when its weights load, else the DSP fallback (``fallback=True``). For songs,
    prefer :func:`separate_to_files`, which streams the stems to disk chunk by chunk.

    Parameters
    ----------
    audio : np.ndarray, float32, shape (channels, samples)
        Mono or stereo at ``sample_rate``.
    sample_rate : int
        Must be 44100 Hz, the rate Demucs was trained at (audio_io resamples uploads).
    model : str, default :data:`DEFAULT_MODEL`
        Demucs model name (``htdemucs``, ``htdemucs_ft``, ``demucs_unittest``…).
    weights_dir : Path, optional
    segment_s : float, optional, seconds
        Demucs segment length (≤ 7.8 s for transformer models); ``None`` = the model's own.
    overlap : float in [0, 1), default 0.25
        Overlap between Demucs segments; 0.1 is about 30 % faster than 0.25.
    shifts : int ≥ 0, default 1
        Random time shifts averaged (each one costs a full pass).
    device : str, default ``auto``
        ``auto``, ``cpu``, ``cuda`` or ``mps``.
    allow_download : bool, default True
    progress : callable(fraction, step), optional

    Returns
    -------
    SeparationResult
        Stems of exactly the input's length and channel count.
    """
    audio = valid_audio(audio)
    chunks, name, fallback = _stem_chunks(audio, sample_rate=sample_rate, **options)
    parts: dict[str, list[np.ndarray]] = {stem: [] for stem in STEM_NAMES}
    for chunk in chunks:
        for stem in STEM_NAMES:
            parts[stem].append(chunk[stem])
    stems = {stem: np.concatenate(parts[stem], axis=1) for stem in STEM_NAMES}
    return SeparationResult(stems, name, fallback)


def separate_to_files(audio: np.ndarray, *, sample_rate: int, out_dir: Path,
                      **options: Unpack[SeparationOptions]) -> tuple[dict[str, Path], str, bool]:
    """Separate and stream the four stems to ``out_dir`` atomically, as 24-bit FLAC.

    A stem is streamed to a 32-bit float WAV first (its peak is known only at the end); one
    that stays below full scale, as stems of a song that did almost always do, is then
    re-encoded to ``<stem>.flac`` (lossless at 24 bits, about a third of the size); a louder
    one stays ``<stem>.wav`` in float so nothing clips. Memory stays at one outer chunk (about
    a minute) of four stems whatever the song's length. Parameters are those of
    :func:`separate`.

    Returns
    -------
    (paths, model, fallback)
        Paths by stem name, the model that ran, and whether the DSP fallback ran.
    """
    audio = valid_audio(audio)
    out_dir.mkdir(parents=True, exist_ok=True)
    chunks, name, fallback = _stem_chunks(audio, sample_rate=sample_rate, **options)
    fits = dict.fromkeys(STEM_NAMES, True)
    with ExitStack() as scratch:
        floats = {stem: scratch.enter_context(_scratch_file(out_dir, f".{stem}.float.wav"))
                  for stem in STEM_NAMES}
        with ExitStack() as writing:
            writers = {
                stem: writing.enter_context(sf.SoundFile(
                    str(path), "w", samplerate=sample_rate, channels=audio.shape[0],
                    subtype="FLOAT", format="WAV"))
                for stem, path in floats.items()
            }
            for chunk in chunks:
                for stem in STEM_NAMES:
                    writers[stem].write(chunk[stem].T)
                    fits[stem] = fits[stem] and fits_flac(chunk[stem])
        paths = {stem: out_dir / (f"{stem}.flac" if fits[stem] else f"{stem}.wav")
                 for stem in STEM_NAMES}
        # every stem is renamed into place only when all are written
        with ExitStack() as publishing:
            for stem, path in paths.items():
                target = publishing.enter_context(atomic_target(path, suffix=path.suffix))
                if path.suffix == ".flac":
                    _to_flac(floats[stem], target)
                else:
                    os.replace(floats[stem], target)
    for path in paths.values():  # an earlier separation's file of the other format
        path.with_suffix(".wav" if path.suffix == ".flac" else ".flac").unlink(missing_ok=True)
    return paths, name, fallback


@contextmanager
def _scratch_file(folder: Path, name: str) -> Iterator[Path]:
    """A temporary file in ``folder``, removed on leaving whatever happened."""
    fd, tmp = tempfile.mkstemp(prefix=name, suffix=".tmp.wav", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _to_flac(source: Path, target: Path, *, block_frames: int = 1 << 20) -> None:
    """Re-encode a float WAV as 24-bit FLAC, a block (about 24 s) at a time."""
    info = sf.info(str(source))
    with sf.SoundFile(str(target), "w", samplerate=info.samplerate, channels=info.channels,
                      subtype="PCM_24", format="FLAC") as out:
        for block in sf.blocks(str(source), blocksize=block_frames, dtype="float32",
                               always_2d=True):
            out.write(block)


def _stem_chunks(
    audio: np.ndarray,
    *,
    sample_rate: int,
    model: str = DEFAULT_MODEL,
    weights_dir: Path | None = None,
    segment_s: float | None = None,
    overlap: float = 0.25,
    shifts: int = 1,
    device: str = "auto",
    allow_download: bool = True,
    progress: ProgressCallback | None = None,
) -> tuple[Iterator[dict[str, np.ndarray]], str, bool]:
    """The stem pieces of valid ``audio``, the model that makes them and whether it is the
    DSP fallback: Demucs' chunks when its weights load (nothing runs until they are read),
    else the whole fallback separation as one piece. Both entry points take their stems here,
    so they fall back alike."""
    try:
        loaded = load_model(model, weights_dir=weights_dir, allow_download=allow_download)
    except WeightsUnavailable as exc:
        logger.warning("%s; using the DSP fallback", exc)
        return iter([separate_dsp(audio, sample_rate=sample_rate)]), _FALLBACK_MODEL, True
    chunks = _demucs_chunks(
        loaded, audio, sample_rate=sample_rate, segment_s=segment_s, overlap=overlap,
        shifts=shifts, device=resolve_device(device), progress=progress,
    )
    return chunks, model, False


def _demucs_chunks(
    model: Any,
    audio: np.ndarray,
    *,
    sample_rate: int,
    segment_s: float | None,
    overlap: float,
    shifts: int,
    device: str,
    progress: ProgressCallback | None,
    chunk_s: float = _CHUNK_S,
    crossfade_s: float = _CROSSFADE_S,
) -> Iterator[dict[str, np.ndarray]]:
    """Run Demucs over overlapping outer chunks and yield consecutive, cross-faded stem pieces.

    Each yielded dict holds float32 ``(channels, samples)`` pieces that, concatenated, have
    exactly the input's length. The input is normalised once, globally, as Demucs' own
    command line does, so chunk boundaries do not change the level.
    """
    import torch
    from demucs.apply import apply_model

    if sample_rate != model.samplerate:
        raise ValueError(f"Demucs expects {model.samplerate} Hz audio, got {sample_rate} Hz")
    sources = list(model.sources)
    channels, n = audio.shape
    stereo = audio if channels == 2 else np.repeat(audio[:1], 2, axis=0)
    ref = stereo.mean(axis=0)
    mean, std = float(ref.mean()), float(ref.std()) or 1.0
    normalised = (stereo - mean) / std
    hop = max(1, int(chunk_s * sample_rate))
    fade = min(int(crossfade_s * sample_rate), hop)
    if segment_s is not None:
        max_segment = float(getattr(model, "max_allowed_segment", float("inf")))
        segment_s = min(segment_s, max_segment)
    carry: np.ndarray | None = None
    pos = 0
    torch.set_grad_enabled(False)
    while pos < n:
        end = min(n, pos + hop + fade)
        mix = torch.from_numpy(np.ascontiguousarray(normalised[:, pos:end]))[None]
        with torch.inference_mode():
            out = apply_model(
                model, mix, shifts=shifts, split=True, overlap=overlap, progress=False,
                device=device, segment=segment_s,
            )[0]
        est = out.cpu().numpy() * std + mean  # (sources, 2, length)
        if carry is not None:
            k = carry.shape[-1]
            ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
            est[..., :k] = carry * (1.0 - ramp) + est[..., :k] * ramp
        last = end >= n
        emit = est if last else est[..., :hop]
        carry = None if last else est[..., hop:]
        piece = {}
        for stem in STEM_NAMES:
            data = emit[sources.index(stem)]
            piece[stem] = (data.mean(axis=0, keepdims=True) if channels == 1 else data).astype(
                np.float32
            )
        yield piece
        pos += hop
        if progress is not None:
            progress(min(1.0, pos / n), "separating stems")


def separate_dsp(audio: np.ndarray, *, sample_rate: int) -> dict[str, np.ndarray]:
    """The rough fallback: percussive/harmonic split, low-pass bass, centre-channel vocals.

    - **drums**: the percussive part of a median-filter HPSS (Fitzgerald 2010);
    - **bass**: the harmonic part below ~150 Hz (fading out by 250 Hz);
    - **vocals**: the harmonic part from 200 Hz to 8 kHz that is panned to the centre
      (mid much louder than side), which is where lead vocals are mixed;
    - **other**: everything else, so the four stems add up to the mixture exactly.

    It cannot tell a centred synth from a voice, and bass notes above 150 Hz stay in
    "other": useful for a sketch, not for a release, which is why it is labelled.

    Returns
    -------
    dict of str to np.ndarray
        Four float32 arrays of the input's shape, summing to the input.
    """
    import librosa

    audio = valid_audio(audio)
    n_fft, hop = 4096, 1024
    spec = librosa.stft(audio, n_fft=n_fft, hop_length=hop)  # (channels, bins, frames)
    mid = spec.mean(axis=0)
    harmonic, percussive = librosa.decompose.hpss(np.abs(mid), kernel_size=(31, 31), mask=True,
                                                  power=2.0)
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)[:, None]
    low = np.clip((250.0 - freqs) / 100.0, 0.0, 1.0)  # 1 below 150 Hz, 0 above 250 Hz
    band = np.clip((freqs - 150.0) / 50.0, 0.0, 1.0) * np.clip((9000.0 - freqs) / 1000.0, 0.0, 1.0)
    if audio.shape[0] == 2:
        side = (spec[0] - spec[1]) / 2.0
        centre = np.abs(mid) ** 2 / (np.abs(mid) ** 2 + 4.0 * np.abs(side) ** 2 + 1e-12)
        centre = centre**2
    else:
        centre = np.full(mid.shape, 0.5)
    masks = {
        "drums": percussive,
        "bass": harmonic * low,
        "vocals": harmonic * (1.0 - low) * band * centre,
    }
    masks["other"] = np.clip(1.0 - masks["drums"] - masks["bass"] - masks["vocals"], 0.0, 1.0)
    out = {}
    for stem, mask in masks.items():
        out[stem] = librosa.istft(spec * mask[None], hop_length=hop, n_fft=n_fft,
                                  length=audio.shape[1]).astype(np.float32)
    return {stem: out[stem] for stem in STEM_NAMES}
