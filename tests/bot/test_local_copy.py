"""Before a reply's file is posted, the bot fetches it from the artifact store to its own disk;
one no platform would take is left in the store, for the adapter to post as a link."""

from __future__ import annotations

from pathlib import Path

from bot.runtime import local_copy
from core.artifacts import LocalArtifactStore
from core.conversation import Attachment, FileReply, TextReply


async def test_a_stored_file_is_fetched_unless_it_can_only_be_linked(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    preview = store.put_bytes("discord:1:2", "v1/preview.mp3", b"\xff\xfb" * 100)
    posted = await local_copy(store, "discord:1:2", FileReply(attachment=Attachment(
        name="v1 preview.mp3", key=preview.key, size_bytes=preview.size_bytes)))
    assert isinstance(posted, FileReply)
    assert Path(posted.attachment.path).read_bytes() == b"\xff\xfb" * 100
    huge = FileReply(attachment=Attachment(name="Big Project.zip", key=preview.key,
                                           size_bytes=300 * 1024 * 1024))
    assert await local_copy(store, "discord:1:2", huge) == huge  # linked, never downloaded
    assert await local_copy(store, "local:chat", huge) != huge  # the terminal shows a file
    text = TextReply(text="hello")
    assert await local_copy(store, "discord:1:2", text) is text
