"""The one value benchmarks return: a titled table with optional notes, printed as Markdown."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Table", "machine"]


@dataclass
class Table:
    """A benchmark result table."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        """The table as GitHub-flavoured Markdown, title first, notes after."""
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join("---" for _ in self.columns) + "|"]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def machine() -> str:
    """The machine a benchmark ran on, for its results file: cores, CPU model and Python."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()}-core {platform.machine()} ({cpu}), Python {platform.python_version()}"
