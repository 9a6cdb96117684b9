"""What crosses between a chat platform and the Maestro: turns in, replies out.

Adapters build :class:`Turn` values from platform events and turn :class:`Reply` values into
platform messages (buttons, embeds, uploads, a numbered prompt in the terminal).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Attachment",
    "AttachmentKind",
    "Author",
    "ButtonPress",
    "FileReply",
    "Option",
    "ProgressReply",
    "Question",
    "QuestionReply",
    "Reply",
    "TextReply",
    "Turn",
    "replies_text",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class Author(BaseModel):
    """Who spoke: a platform-scoped id and the name to address them by."""

    id: str
    name: str = ""

    @property
    def display(self) -> str:
        return self.name or self.id


class AttachmentKind(StrEnum):
    """What an attachment is, so each platform can present it natively."""

    AUDIO = "audio"  #: plays inline (preview MP3, comparison clips)
    IMAGE = "image"  #: arrangement picture
    ARCHIVE = "archive"  #: project zip
    LINK = "link"  #: a signed download link when a file is over the platform's limit
    DOCUMENT = "document"  #: anything else (transcript, JSON)


class Attachment(BaseModel):
    """A file a person uploaded, or one the product posts back."""

    name: str
    path: str = ""  #: a local file on this host (an upload as saved, a fetched artifact)
    key: str = ""  #: its artifact key once stored (``core.artifacts``): what every process reads
    url: str = ""  #: where the platform or our download server serves it
    size_bytes: int = Field(default=0, ge=0)
    content_type: str = ""
    kind: AttachmentKind = AttachmentKind.DOCUMENT


class ButtonPress(BaseModel):
    """A press on one of the options of a question (a button, a reaction, a number typed)."""

    question_id: str
    option_id: str


class Turn(BaseModel):
    """One thing a person did in a thread: a message (with files) or a button press."""

    conversation_id: str  #: ``discord:<guild>:<thread>``, ``slack:<team>:<channel>:<ts>``, ``local:<name>``
    author: Author
    text: str = ""
    attachments: list[Attachment] = Field(default_factory=list)
    press: ButtonPress | None = None
    #: the platform command that started this turn (``/remix``, ``/produce``, ``/reproduce``):
    #: the director chose the recipe explicitly, so it overrides what the words suggest
    command: Literal["remix", "produce", "reproduce"] | None = None
    at: datetime = Field(default_factory=utcnow)


class Option(BaseModel):
    """One answer to a question, shown as a button."""

    id: str
    label: str
    suggested: bool = False  #: the Maestro's suggestion (primary button style)


class Question(BaseModel):
    """A short clarifying question with its options; free text is always accepted too."""

    id: str
    text: str
    options: list[Option]
    topic: str  #: what it settles (``key_bpm``, ``vocal``, ``vote``…), for the brain's context


class TextReply(BaseModel):
    """A message in the thread."""

    kind: Literal["text"] = "text"
    text: str
    #: only the person it answers sees it (an ephemeral message where the platform has them):
    #: a refused button press is theirs to know about, not the thread's
    private: bool = False


class QuestionReply(BaseModel):
    """A question with buttons."""

    kind: Literal["question"] = "question"
    question: Question


class ProgressReply(BaseModel):
    """Progress of a running job; platforms edit one message in place per ``job_id``."""

    kind: Literal["progress"] = "progress"
    job_id: str
    step: str
    fraction: float | None = Field(default=None, ge=0, le=1)
    position: int | None = None
    eta_s: float | None = None
    done: bool = False


class FileReply(BaseModel):
    """A file posted into the thread (or a link to it when over the platform's limit)."""

    kind: Literal["file"] = "file"
    attachment: Attachment
    caption: str = ""


Reply = Annotated[TextReply | QuestionReply | ProgressReply | FileReply, Field(discriminator="kind")]


def replies_text(replies: list[Reply]) -> str:
    """What the thread reads of ``replies``: each text and each question, one per line.

    Files and progress are left out; the transcripts of benchmarks and tests are this.
    """
    return "\n".join(r.text if isinstance(r, TextReply) else r.question.text
                     for r in replies if isinstance(r, TextReply | QuestionReply))
