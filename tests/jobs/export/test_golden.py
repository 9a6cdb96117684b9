"""Golden snapshots of the generated XML for a tiny fixed spec: every writer change is a diff.

When a change is intended, regenerate and review the diff in git::

    VYKE_UPDATE_GOLDEN=1 .venv/bin/pytest -q -p no:xdist tests/jobs/export/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from jobs.export.als import live_set_xml
from jobs.export.dawproject import metadata_xml, project_xml
from jobs.export.model import build_model
from tests.jobs.export.conftest import tiny_midi, tiny_spec, write_stems

GOLDEN = Path(__file__).with_name("golden")
FIXED_MTIME_S = 1_767_225_600  # 2026-01-01: LastModDate in the set comes from the file


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    stems = write_stems(tmp_path_factory.mktemp("golden"), ["kick", "bass", "vocals"],
                        seconds=8.0)
    for path in stems.values():
        os.utime(path, (FIXED_MTIME_S, FIXED_MTIME_S))
    return build_model(tiny_spec(), tracks=stems, midi=tiny_midi())


def _compare(name: str, produced: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("VYKE_UPDATE_GOLDEN") == "1":
        path.write_bytes(produced)
        return
    expected = path.read_text(encoding="utf-8").splitlines()
    diff = list(difflib.unified_diff(expected, produced.decode("utf-8").splitlines(),
                                     f"golden/{name}", "generated", lineterm="", n=2))
    if diff:
        shown = "\n".join(diff[:80]) + ("\n…" if len(diff) > 80 else "")
        pytest.fail(f"{name} changed ({len(diff)} diff lines); if intended, regenerate with "
                    f"VYKE_UPDATE_GOLDEN=1 and review:\n{shown}", pytrace=False)


def test_live_set_xml_matches_golden(model) -> None:
    _compare("tiny.als.xml", live_set_xml(model))


def test_dawproject_xml_matches_golden(model) -> None:
    _compare("tiny.project.xml", project_xml(model))
    _compare("tiny.metadata.xml", metadata_xml(model))
