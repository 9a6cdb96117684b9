"""Every error a user can see, each one sentence that says what happened and what to do.

Adapters post ``str(error)`` and write no wording of their own. Exceptions from lower
layers (SQLite, Redis, SDKs, decoders) are translated into this tree where they are caught.

::

    VykeError                      something the person in the thread should read
    ├── RequestError               the request cannot be carried out as asked
    │   ├── UnknownTrack
    │   ├── VersionNotFound
    │   ├── NothingProducedYet
    │   └── LimitExceeded
    ├── AudioError                 the uploaded audio cannot be used (see jobs/audio_io)
    ├── StepUnavailable            this installation lacks a step the plan needs
    ├── JobFailed                  a job failed; carries the job's own sentence
    └── QueueUnavailable           the job queue cannot be reached right now
    IllegalTransition              a bug: the Maestro tried a transition its table forbids
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "AudioError",
    "AudioTooLarge",
    "AudioTooLong",
    "CorruptAudio",
    "EmptyAudio",
    "IllegalTransition",
    "JobFailed",
    "LimitExceeded",
    "NotAudio",
    "NothingProducedYet",
    "QueueUnavailable",
    "RequestError",
    "SilentAudio",
    "StepUnavailable",
    "UnknownTrack",
    "UnsupportedFormat",
    "VersionNotFound",
    "VykeError",
    "WeightsUnavailable",
]


class VykeError(Exception):
    """Base of every error whose message is shown to the person in the thread."""


class RequestError(VykeError):
    """The request cannot be carried out as asked; nothing was changed."""


class UnknownTrack(RequestError):
    """A change names a track the production does not have."""

    def __init__(self, track: str, *, available: Sequence[str]) -> None:
        self.track = track
        self.available = list(available)
        names = ", ".join(self.available) or "none yet"
        super().__init__(f"There is no track called '{track}' in this production (tracks: {names}).")


class VersionNotFound(RequestError):
    """A version command names a version that does not exist."""

    def __init__(self, number: int, *, latest: int) -> None:
        self.number = number
        self.latest = latest
        if latest == 0:
            super().__init__(f"There is no v{number} yet: nothing has been produced in this thread.")
        else:
            super().__init__(f"There is no v{number}: this production has v1 to v{latest}.")


class NothingProducedYet(RequestError):
    """A change or version command arrived before the first version exists."""

    def __init__(self, *, wanted: str) -> None:
        self.wanted = wanted
        super().__init__(
            f"I can't {wanted} yet: there is no version to work on. "
            "Start with /remix and a song, or describe the track you want."
        )


class LimitExceeded(RequestError):
    """A limit from the settings was reached; names the limit and its value."""

    def __init__(self, *, limit: str, value: float, maximum: float, unit: str = "") -> None:
        self.limit = limit
        self.value = value
        self.maximum = maximum
        suffix = f" {unit}" if unit else ""
        super().__init__(
            f"That is over the {limit} limit ({value:g}{suffix}; the most is {maximum:g}{suffix})."
        )


class AudioError(VykeError):
    """The uploaded audio cannot be used; the subclasses in ``jobs`` say why and what to send."""


class StepUnavailable(VykeError):
    """This installation lacks a step the plan needs, so the plan stops there, honestly."""

    def __init__(self, step: str, *, detail: str = "") -> None:
        self.step = step
        self.detail = detail
        extra = f" {detail}" if detail else ""
        super().__init__(
            f"I stopped before {step}: that step is not available in this installation.{extra} "
            "Your brief and plan are saved in this thread."
        )


class JobFailed(VykeError):
    """A job failed; the message is the job's own sentence, already written for the user."""

    def __init__(self, step: str, sentence: str) -> None:
        self.step = step
        self.sentence = sentence
        super().__init__(sentence)


class WeightsUnavailable(VykeError):
    """The Demucs weights are neither in the weights folder, nor cached, nor downloadable now.

    A ``VykeError``: its message tells the operator what to run, and a job that meets it is
    not retried (the weights will not appear by themselves).
    """

    def __init__(self, *, model: str, weights_dir: Path | None) -> None:
        self.model = model
        self.weights_dir = weights_dir
        where = f"the weights folder {weights_dir}" if weights_dir else "the local cache"
        super().__init__(
            f"The {model} separation weights are not in {where} and this machine cannot reach "
            f"the download servers, so run `vyke models fetch` on a machine that is online "
            f"(or copy {model}.yaml and its .th files into the weights folder)."
        )


class QueueUnavailable(VykeError):
    """The job queue (Redis) cannot be reached; productions are safe in the store."""

    def __init__(self) -> None:
        super().__init__(
            "The job queue is unavailable right now, so I can't start that work. "
            "Your production is safe; say the same again in a minute and I'll carry on."
        )


class IllegalTransition(RuntimeError):
    """A bug: the Maestro tried a state transition that its table does not allow."""

    def __init__(self, source: str, target: str) -> None:
        self.source = source
        self.target = target
        super().__init__(f"illegal Maestro transition {source} -> {target}")


# --- Audio intake errors (raised by jobs/audio_io.py; each names what to send instead) ---------
#
#   AudioError
#   ├── EmptyAudio          zero-length file, or a file with no audio frames
#   ├── NotAudio            the bytes are not audio at all (e.g. a PDF renamed to .mp3)
#   ├── CorruptAudio        an audio file that cannot be decoded to the end (truncated, damaged)
#   ├── UnsupportedFormat   a format this installation cannot decode
#   ├── AudioTooLong        longer than the duration limit from the settings
#   ├── AudioTooLarge       bigger than the file-size limit from the settings
#   └── SilentAudio         decodes fine but holds only silence

_SEND_INSTEAD = "send a WAV, FLAC, MP3 or OGG file of the song instead"


class EmptyAudio(AudioError):
    """The file is empty (zero bytes) or holds no audio frames."""

    def __init__(self, *, filename: str) -> None:
        self.filename = filename
        super().__init__(f"'{filename}' is empty: it holds no audio, so please {_SEND_INSTEAD}.")


class NotAudio(AudioError):
    """The file's content is not audio, whatever its name says (e.g. a renamed PDF)."""

    def __init__(self, *, filename: str) -> None:
        self.filename = filename
        super().__init__(
            f"'{filename}' is not an audio file, whatever its name says, so please {_SEND_INSTEAD}."
        )


class CorruptAudio(AudioError):
    """The file looks like audio but cannot be decoded (truncated or damaged)."""

    def __init__(self, *, filename: str, detail: str = "") -> None:
        self.filename = filename
        self.detail = detail
        super().__init__(
            f"'{filename}' looks damaged or cut short and can't be decoded, so please export "
            "it again and send the new file (WAV, FLAC, MP3 or OGG)."
        )


class UnsupportedFormat(AudioError):
    """The format is one this installation cannot decode (M4A/AAC needs ffmpeg, for example)."""

    def __init__(self, *, filename: str, format_name: str, reason: str = "") -> None:
        self.filename = filename
        self.format_name = format_name
        self.reason = reason
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"I can't decode {format_name} files like '{filename}' on this installation{why}, "
            f"so please {_SEND_INSTEAD}."
        )


class AudioTooLong(AudioError):
    """The audio is longer than the duration limit from the settings."""

    def __init__(self, *, filename: str, duration_s: float, max_duration_s: float) -> None:
        self.filename = filename
        self.duration_s = duration_s
        self.max_duration_s = max_duration_s
        super().__init__(
            f"'{filename}' is {_minutes(duration_s)} long, over the {_minutes(max_duration_s)} "
            "limit, so please send a shorter edit or the part you want remixed."
        )


class AudioTooLarge(AudioError):
    """The file is bigger than the size limit from the settings."""

    def __init__(self, *, filename: str, size_bytes: int, max_size_bytes: int) -> None:
        self.filename = filename
        self.size_bytes = size_bytes
        self.max_size_bytes = max_size_bytes
        super().__init__(
            f"'{filename}' is {size_bytes / 1e6:.1f} MB, over the {max_size_bytes / 1e6:.1f} MB "
            "limit, so please send a compressed copy (MP3, OGG or FLAC) or a shorter edit."
        )


class SilentAudio(AudioError):
    """The file decodes but holds only silence (or sound far below any usable level)."""

    def __init__(self, *, filename: str, peak_dbfs: float) -> None:
        self.filename = filename
        self.peak_dbfs = peak_dbfs
        super().__init__(
            f"'{filename}' is silent (its loudest moment is {peak_dbfs:.0f} dBFS), so please "
            "check the export and send the file with the music in it."
        )


def _minutes(seconds: float) -> str:
    """``m:ss`` for a duration in seconds, as a musician reads it."""
    total = max(0, round(seconds))
    return f"{total // 60}:{total % 60:02d} min"
