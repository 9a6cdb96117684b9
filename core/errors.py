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

__all__ = [
    "AudioError",
    "IllegalTransition",
    "JobFailed",
    "LimitExceeded",
    "NothingProducedYet",
    "QueueUnavailable",
    "RequestError",
    "StepUnavailable",
    "UnknownTrack",
    "VersionNotFound",
    "VykeError",
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
