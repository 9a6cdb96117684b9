"""The strict checker catches each rule Live enforces, on a real set with one thing broken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from jobs.export.als import build_live_set
from jobs.export.checker import SampleInfo, check_live_set
from jobs.export.model import build_model
from tests.jobs.export.conftest import tiny_midi, tiny_spec

Breaker = Callable[[etree._Element], None]


@pytest.fixture
def live_set(stems: dict[str, Path]) -> tuple[etree._Element, dict[str, SampleInfo]]:
    model = build_model(tiny_spec(), tracks=stems, midi=tiny_midi())
    samples = {s.relative_path: SampleInfo(s.frames, s.sample_rate) for s in model.stems}
    return build_live_set(model), samples


def test_the_writer_passes_every_rule(live_set) -> None:
    root, samples = live_set
    report = check_live_set(root, samples=samples)
    assert report.ok, report.problems
    assert len(report.rules) == 11


def _dup_pointee(root):
    targets = list(root.iter("AutomationTarget"))
    targets[-1].set("Id", targets[-2].get("Id"))


def _low_next_id(root):
    root.find("LiveSet/NextPointeeId").set("Value", "100")


def _extra_return(root):
    tracks = root.find("LiveSet/Tracks")
    tracks.append(etree.fromstring(etree.tostring(tracks[-1])))


def _missing_slot(root):
    slots = root.find("LiveSet/Tracks/AudioTrack/DeviceChain/MainSequencer/ClipSlotList")
    slots.remove(slots[-1])


def _no_value(root):
    del root.find("LiveSet/Tracks/AudioTrack/TrackUnfolded").attrib["Value"]


def _note_id_past_counter(root):
    clip = next(root.iter("MidiClip"))
    clip.find("Notes/NoteIdGenerator/NextId").set("Value", "2")


def _overlapping_notes(root):
    note = next(root.iter("MidiNoteEvent"))
    note.set("Duration", "100")


def _escaping_sample(root):
    next(root.iter("RelativePath")).set("Value", "Samples/Imported/../../../etc/passwd.wav")


def _wrong_sample_length(root):
    next(root.iter("DefaultDuration")).set("Value", "12")


def _tempo_disagrees(root):
    root.find("LiveSet/MasterTrack/DeviceChain/Mixer/Tempo/Manual").set("Value", "121")


def _exponent(root):
    next(root.iter("CurrentEnd")).set("Value", "1e-05")


def _dangling_sidechain(root):
    for target in root.iter("Target"):
        if "PostFxOut" in target.get("Value", ""):
            target.set("Value", "AudioIn/Track.999/PostFxOut")


def _return_before_player(root):
    tracks = root.find("LiveSet/Tracks")
    tracks.insert(0, tracks[-1])


def _ms_mod_date(root):
    next(root.iter("LastModDate")).set("Value", "1732406400000")


@pytest.mark.parametrize(("breaker", "expected"), [
    (_dup_pointee, "used 2 times"),
    (_low_next_id, "is not above the largest id"),
    (_extra_return, "sends for 3 return tracks"),
    (_missing_slot, "7 clip slots for 8 scenes"),
    (_no_value, "<TrackUnfolded>"),
    (_note_id_past_counter, "not below the clip's next id 2"),
    (_overlapping_notes, "overlap"),
    (_escaping_sample, "must stay in Samples/Imported"),
    (_wrong_sample_length, "set says 12 frames"),
    (_tempo_disagrees, "tempo 121 disagrees"),
    (_exponent, "not a plain decimal"),
    (_dangling_sidechain, "names no track"),
    (_return_before_player, "return tracks must come after"),
    (_ms_mod_date, "not 10-digit seconds"),
])
def test_each_rule_catches_its_breakage(live_set, breaker: Breaker, expected: str) -> None:
    root, samples = live_set
    breaker(root)
    report = check_live_set(etree.tostring(root), samples=samples)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems
