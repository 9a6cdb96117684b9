"""Interactive ``vyke chat`` in a real terminal (a pseudo-terminal): each run is a new
conversation named after its song, ``--resume`` continues one, ``--list`` shows them, and the
log stays out of the conversation.

Kept cheap: two 6-second songs, and each conversation stops at the Maestro's first question
(the song's analysis runs, nothing is rendered).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """One ``vyke chat`` process on a pseudo-terminal: type lines, wait for text."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        controller, replica = os.openpty()
        # 120 columns by 40 rows, as a terminal window would say
        fcntl.ioctl(replica, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self._fd = controller
        self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat", *args],
                                        cwd=ROOT, env=env, stdin=replica, stdout=replica,
                                        stderr=replica, close_fds=True, start_new_session=True)
        os.close(replica)
        self.screen = ""
        self._seen = 0  #: where the next :meth:`expect` starts looking

    def expect(self, pattern: str, *, timeout_s: float = 120.0) -> re.Match[str]:
        """Read until ``pattern`` (a regex) appears after what earlier calls consumed."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = re.compile(pattern).search(self.screen, self._seen)
            if found:
                self._seen = found.end()
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} did not appear; the screen:\n{self.screen}")
            ready, _, _ = select.select([self._fd], [], [], min(left, 1.0))
            if ready:
                try:
                    chunk = os.read(self._fd, 65536)
                except OSError:  # the process ended and the terminal closed
                    chunk = b""
                if not chunk and self.process.poll() is not None:
                    raise AssertionError(f"vyke chat ended before {pattern!r}:\n{self.screen}")
                self.screen += chunk.decode("utf-8", "replace")

    def type(self, line: str) -> None:
        os.write(self._fd, (line + "\n").encode())

    def finish(self, *, timeout_s: float = 60.0) -> int:
        """Wait for the process to exit (reading what it prints meanwhile)."""
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self._fd], [], [], 0.5)
            if ready:
                try:
                    self.screen += os.read(self._fd, 65536).decode("utf-8", "replace")
                except OSError:
                    break
        return self.process.wait(timeout=max(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._fd)


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from jobs.demo_song import make_demo_song

    folder = tmp_path_factory.mktemp("songs")
    return (make_demo_song(folder / "First Song.wav", duration_s=6.0),
            make_demo_song(folder / "second-song.wav", duration_s=6.0, seed=5))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    environment = {**os.environ, "VYKE_DATA_DIR": str(tmp_path / "data"), "TERM": "xterm"}
    for name in ("ANTHROPIC_API_KEY", "REDIS_URL", "VYKE_LOG_LEVEL"):
        environment.pop(name, None)
    yield environment


def _run(*args: str, env: dict[str, str], cwd: Path) -> Terminal:
    return Terminal(*args, "--out", str(cwd / f"out{len(list(cwd.glob('out*')))}"), env=env)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_each_run_is_a_new_conversation_and_resume_continues_one(
        songs: tuple[Path, Path], env: dict[str, str], tmp_path: Path) -> None:
    first, second = songs
    terminals: list[Terminal] = []
    try:
        # run 1: the first song
        run = _run("--audio", str(first), env=env, cwd=tmp_path)
        terminals.append(run)
        name_1 = run.expect(r"A new conversation: (first-song-\d{4}-\d\d-\d\d-\d{4})\.")[1]
        run.expect(r"Tell me what to make")
        run.expect(r"You: ")
        run.type("Remix this to Afro Circuit")
        run.expect(r"Listening to the song first")  # the key it suggests sits near the song's
        run.expect(r"Analysing the song: done")  # its progress, drawn in place
        run.expect(r"Analysed the song")
        run.expect(r"\(type a number, or answer in your own words\)")
        run.expect(r"You: ")
        run.type("quit")
        assert run.finish() == 0, run.screen

        # run 2: another song is another conversation, and the song is taken
        run = _run("--audio", str(second), env=env, cwd=tmp_path)
        terminals.append(run)
        name_2 = run.expect(r"A new conversation: (second-song-\d{4}-\d\d-\d\d-\d{4})\.")[1]
        run.expect(r"You: ")
        run.type("Remix this to Afro Circuit")
        run.expect(r"Analysed the song")
        run.expect(r"You: ")
        run.type("quit")
        assert run.finish() == 0, run.screen
        assert "built on" not in run.screen  # the old conversation did not refuse the new song

        # run 3: --resume continues the first one where it stopped
        run = _run("--resume", name_1, env=env, cwd=tmp_path)
        terminals.append(run)
        run.expect(rf"Continuing the conversation {name_1} \(First Song\.wav")
        run.expect(r"You: ")
        run.type("1")  # answers the first conversation's open question with its suggestion
        run.expect(r"Maestro: ")
        run.type("quit")
        assert run.finish() == 0, run.screen
        assert "You can't" not in run.screen and "no open question" not in run.screen.lower()

        listing = subprocess.run([sys.executable, "-m", "bot.cli", "chat", "--list"], cwd=ROOT,
                                 env=env, capture_output=True, text=True, timeout=60)
        assert listing.returncode == 0, listing.stderr
        names = [line.split()[0] for line in listing.stdout.splitlines()[:-1]]
        assert names == [name_1, name_2]  # the resumed one was saved last
        assert "First Song.wav" in listing.stdout and "second-song.wav" in listing.stdout

        for terminal in terminals:  # the log went to its file, not into the conversation
            assert " INFO " not in terminal.screen and "Traceback" not in terminal.screen
        assert " INFO " in (Path(env["VYKE_DATA_DIR"]) / "logs" / "vyke.log").read_text()
    finally:
        for terminal in terminals:
            terminal.close()


def test_resume_and_name_mistakes_are_sentences(env: dict[str, str], tmp_path: Path) -> None:
    def vyke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    listed = vyke("chat", "--list")
    assert listed.returncode == 0 and "No conversations yet" in listed.stdout
    missing = vyke("chat", "--resume", "nope")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "There is no conversation called nope; vyke chat --list shows them."
    script = tmp_path / "s.txt"
    script.write_text("hello\n")
    assert vyke("chat", "--script", str(script), "--name", "mine", "--out",
                str(tmp_path / "o")).returncode == 0
    again = vyke("chat", "--script", str(script), "--name", "mine", "--out", str(tmp_path / "o"))
    assert again.returncode == 2 and "vyke chat --resume mine" in again.stderr
    absent = vyke("analyze", str(tmp_path / "missing.wav"))
    assert absent.returncode == 2
    assert absent.stderr.strip() == f"There is no file at {tmp_path / 'missing.wav'}."
    for result in (listed, missing, again, absent):
        assert "Traceback" not in result.stdout + result.stderr
