"""The bot process stays light: its entry points import no audio engine.

DESIGN.md: the bot never blocks its event loop and imports no torch, librosa or pedalboard;
heavy work is the workers'. Checked in a fresh interpreter, so what another test imported
cannot hide a regression. (The package layering itself is checked by ``lint-imports``.)
"""

from __future__ import annotations

import json
import subprocess
import sys

ENTRY_POINTS = ("bot.cli", "bot.app", "bot.chat", "bot.discord_bot", "bot.slack_bot", "bot.web",
                "bot.inline_queue", "bot.redis_queue", "adapters.discord", "adapters.slack",
                "adapters.terminal")
HEAVY = ("torch", "librosa", "pedalboard", "demucs", "numba", "jobs")


def test_the_bot_entry_points_import_no_audio_engine() -> None:
    code = (f"import importlib, json, sys\n"
            f"for name in {ENTRY_POINTS!r}: importlib.import_module(name)\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
