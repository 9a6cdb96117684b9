"""Export: a version as an Ableton Live project zip, with a DAWproject, MIDI files and stems.

``export_project`` writes the zip (and refuses to when the Live set breaks a rule Live
enforces); ``export_task`` is the worker job around it.
"""

from __future__ import annotations

from jobs.export.checker import CheckReport, SampleInfo, check_live_set
from jobs.export.project import ExportCheckFailed, ExportResult, export_project
from jobs.export.task import export_task

__all__ = [
    "CheckReport",
    "ExportCheckFailed",
    "ExportResult",
    "SampleInfo",
    "check_live_set",
    "export_project",
    "export_task",
]
