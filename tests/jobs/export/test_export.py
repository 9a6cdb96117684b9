"""The project zip: what a producer finds when they unzip it and open it in Live or another DAW."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pretty_midi
import pytest
import soundfile as sf
from lxml import etree

from core.jobs import JobKind, JobRequest
from jobs.audio_io import file_sha256, write_flac
from jobs.export import ExportCheckFailed, export_project, export_task
from jobs.export._devices import cutoff_to_live
from jobs.export._xml import safe_name
from jobs.export.project import safe_arcname
from tests.jobs.export.conftest import tiny_midi, tiny_spec, write_stems

SCHEMAS = Path(__file__).with_name("schemas")


def _export(tmp_path: Path, stems: dict[str, Path], **kwargs: object):
    spec = kwargs.pop("spec", tiny_spec())
    return export_project(spec, tracks=stems, midi=kwargs.pop("midi", tiny_midi()),
                          master=stems["vocals"], out_dir=tmp_path / "out",
                          provenance={"model": "htdemucs", "seed": 1})


def _read(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_zip_layout_is_a_live_project_folder(tmp_path: Path, stems: dict[str, Path]) -> None:
    result = _export(tmp_path, stems)
    names = set(_read(result.zip_path))
    folder = "Tiny Afro Remix Project"
    assert result.zip_path.name == f"{folder}.zip"
    assert {f"{folder}/Tiny Afro Remix.als", f"{folder}/Tiny Afro Remix.dawproject",
            f"{folder}/Samples/Imported/kick.flac", f"{folder}/Samples/Imported/bass.flac",
            f"{folder}/Samples/Imported/vocals.flac", f"{folder}/MIDI/kick.mid",
            f"{folder}/MIDI/bass.mid", f"{folder}/master.flac", f"{folder}/README.txt",
            f"{folder}/manifest.json"} <= names
    files = _read(result.zip_path)
    readme = files[f"{folder}/README.txt"].decode()
    assert "120 BPM" in readme and "F minor" in readme
    manifest = json.loads(files[f"{folder}/manifest.json"])
    assert manifest["provenance"]["model"] == "htdemucs"
    assert manifest["midi"]["MIDI/bass.mid"]["notes"] == 8
    assert result.report.ok and result.size_bytes == result.zip_path.stat().st_size


def test_live_set_reads_back_in_pyableton(tmp_path: Path, stems: dict[str, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that is not ours finds the tempo, every track and every MIDI note."""
    from pyableton import Ableton

    result = _export(tmp_path, stems)
    als = tmp_path / "set.als"
    als.write_bytes(_read(result.zip_path)["Tiny Afro Remix Project/Tiny Afro Remix.als"])
    monkeypatch.chdir(tmp_path)  # pyableton writes temp.xml into the working folder
    live_set = Ableton(str(als)).live_set
    assert live_set.master_track.device_chain.mixer.tempo.manual == 120
    kinds = [type(t).__name__ for t in live_set.tracks]
    # 3 audio tracks, 2 MIDI tracks (kick, bass), returns A-Reverb and B-Delay
    assert kinds == ["AudioTrack", "MidiTrack", "AudioTrack", "MidiTrack", "AudioTrack",
                     "ReturnTrack", "ReturnTrack"]
    midi_tracks = [t for t in live_set.tracks if type(t).__name__ == "MidiTrack"]
    read: list[tuple[float, int, int]] = []
    for track in midi_tracks:
        for clip in track.device_chain.main_sequencer.clip_timeable.arranger_automation.events:
            read += [(clip.time + note.time / 24, note.pitch, note.velocity)
                     for note in clip.notes.get_notes()]
    expected = [(n.start * 2, n.pitch, n.velocity)  # 120 BPM: 2 beats per second
                for inst in tiny_midi().instruments for n in inst.notes]
    assert sorted(read) == sorted(expected)
    assert not (tmp_path / "temp.xml").exists()


def test_live_set_mix_devices_sidechain_sweep_and_locators(tmp_path: Path,
                                                            stems: dict[str, Path]) -> None:
    result = _export(tmp_path, stems)
    root = etree.fromstring(gzip.decompress(
        _read(result.zip_path)["Tiny Afro Remix Project/Tiny Afro Remix.als"]))
    tracks = {t.find("Name/EffectiveName").get("Value"): t for t in root.find("LiveSet/Tracks")}
    assert list(tracks) == ["kick", "kick MIDI", "bass", "bass MIDI", "vocals", "A-Reverb",
                            "B-Delay"]
    bass = tracks["bass"]
    devices = [d.tag for d in bass.find("DeviceChain/DeviceChain/Devices")]
    assert devices == ["Eq8", "Compressor2", "AutoFilter", "Compressor2", "StereoGain"]
    ducker = bass.findall("DeviceChain/DeviceChain/Devices/Compressor2")[1]
    assert ducker.find("SideChain/OnOff/Manual").get("Value") == "true"
    kick_id = tracks["kick"].get("Id")
    assert ducker.find("SideChain/RoutedInput/Routable/Target").get("Value") == \
        f"AudioIn/Track.{kick_id}/PostFxOut"
    # Utility carries the track gain: −4 dB
    gain = float(bass.find("DeviceChain/DeviceChain/Devices/StereoGain/Gain/Manual").get("Value"))
    assert gain == pytest.approx(10 ** (-4 / 20), rel=1e-6)
    # the sweep: an envelope on the Auto Filter's cutoff, 200 Hz at bar 1 to 20 kHz at bar 2's end
    cutoff_target = bass.find("DeviceChain/DeviceChain/Devices/AutoFilter/Cutoff/"
                              "AutomationTarget").get("Id")
    envelope = next(e for e in bass.findall("AutomationEnvelopes/Envelopes/AutomationEnvelope")
                    if e.find("EnvelopeTarget/PointeeId").get("Value") == cutoff_target)
    events = [(float(e.get("Time")), float(e.get("Value")))
              for e in envelope.findall("Automation/Events/FloatEvent")]
    assert events[0][0] == -63072000
    assert (0.0, pytest.approx(cutoff_to_live(200))) in [(t, pytest.approx(v)) for t, v in events]
    assert events[-1] == (8.0, pytest.approx(cutoff_to_live(20000)))
    # reverb send −18 dB on the bass; sends count equals returns on every track
    send = bass.find("DeviceChain/Mixer/Sends/TrackSendHolder/Send/Manual").get("Value")
    assert float(send) == pytest.approx(10 ** (-18 / 20), rel=1e-6)
    locators = [(loc.find("Name").get("Value"), float(loc.find("Time").get("Value")))
                for loc in root.iter("Locator")]
    assert locators == [("intro", 0.0), ("drop", 8.0)]
    # the vocal stem: one warped clip from bar 1, markers at 0 s and 8 s = 16 beats
    clip = tracks["vocals"].find(".//AudioClip")
    assert clip.find("IsWarped").get("Value") == "true"
    assert clip.find("SampleRef/FileRef/RelativePath").get("Value") == \
        "Samples/Imported/vocals.flac"
    markers = [(float(m.get("SecTime")), float(m.get("BeatTime")))
               for m in clip.iter("WarpMarker")]
    assert markers == [(0.0, 0.0), (8.0, 16.0)]


def test_dawproject_matches_the_set_and_conforms_to_the_schemas(
        tmp_path: Path, stems: dict[str, Path]) -> None:
    result = _export(tmp_path, stems)
    container = _read(result.zip_path)["Tiny Afro Remix Project/Tiny Afro Remix.dawproject"]
    with zipfile.ZipFile(io.BytesIO(container)) as archive:
        project = etree.fromstring(archive.read("project.xml"))
        metadata = etree.fromstring(archive.read("metadata.xml"))
    etree.XMLSchema(etree.parse(str(SCHEMAS / "Project.xsd"))).assertValid(project)
    etree.XMLSchema(etree.parse(str(SCHEMAS / "MetaData.xsd"))).assertValid(metadata)
    assert project.find("Transport/Tempo").get("value") == "120"
    names = [t.get("name") for t in project.iter("Track")]
    assert names == ["kick", "bass", "vocals", "kick MIDI", "bass MIDI", "A-Reverb", "B-Delay",
                     "Master"]
    lanes = project.findall("Arrangement/Lanes/Lanes")
    clip_counts = [len(lane.findall("Clips/Clip")) for lane in lanes]
    assert clip_counts == [1, 1, 1, 2, 1]  # kick MIDI in both sections, bass MIDI in the drop
    files = {f.get("path") for f in project.iter("File")}
    assert files == {"Samples/Imported/kick.flac", "Samples/Imported/bass.flac",
                     "Samples/Imported/vocals.flac"}
    assert [m.get("name") for m in project.iter("Marker")] == ["intro", "drop"]


def test_midi_files_hold_the_patterns_notes(tmp_path: Path, stems: dict[str, Path]) -> None:
    files = _read(_export(tmp_path, stems).zip_path)
    source = {inst.name: inst for inst in tiny_midi().instruments}
    for name in ("kick", "bass"):
        midi = pretty_midi.PrettyMIDI(io.BytesIO(files[f"Tiny Afro Remix Project/MIDI/{name}.mid"]))
        assert midi.get_tempo_changes()[1][0] == pytest.approx(120)
        (inst,) = midi.instruments
        assert inst.is_drum == source[name].is_drum
        got = [(round(n.start, 3), n.pitch, n.velocity, round(n.end - n.start, 3))
               for n in inst.notes]
        want = [(round(n.start, 3), n.pitch, n.velocity, round(n.end - n.start, 3))
                for n in source[name].notes]
        assert got == want


def test_hostile_names_cannot_leave_the_project_folder(tmp_path: Path) -> None:
    hostile = "../../etc/passwd"
    spec = tiny_spec(title="../../../tmp/evil\\..\\x:y|z")
    spec = spec.model_copy(update={"tracks": [
        spec.tracks[0].model_copy(update={"name": hostile}), *spec.tracks[1:]]})
    folder = tmp_path / "render"
    paths = write_stems(folder, ["kick", "bass", "vocals"], seconds=8.0)
    stems = {hostile: paths["kick"], "bass": paths["bass"], "vocals": paths["vocals"]}
    midi = tiny_midi()
    midi.instruments[0].name = hostile
    result = export_project(spec, tracks=stems, midi=midi, master=None,
                            out_dir=tmp_path / "out", provenance={})
    assert result.zip_path.parent == tmp_path / "out"
    names = list(_read(result.zip_path))
    top = {n.split("/")[0] for n in names}
    assert len(top) == 1 and ".." not in next(iter(top))
    assert all(".." not in n.split("/") and "\\" not in n and ":" not in n for n in names)
    assert any(n.endswith("Samples/Imported/etc_passwd.flac") for n in names)
    unzip = tmp_path / "unzipped" / "here"
    with zipfile.ZipFile(result.zip_path) as archive:
        archive.extractall(unzip)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.is_relative_to(tmp_path / "out") or p.is_relative_to(unzip)
               or p.is_relative_to(folder) for p in written)
    assert not (tmp_path.parent / "etc").exists()


def test_safe_names() -> None:
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("CON") == "CON_"
    assert safe_name("...") == "untitled"
    assert safe_name("Café del Mar: remix?") == "Café del Mar_ remix"
    with pytest.raises(ValueError):
        safe_arcname("Project", "..", "x.wav")


def test_export_task_reads_only_the_rendered_artifacts(tmp_path: Path) -> None:
    """The task zips the FLAC tracks a render published as they are (nothing re-encoded), the
    checker accepts the set, and the manifest names the stems by file and content hash,
    never by where they lie on the server or in the store."""
    from jobs.files import JobFiles

    render = tmp_path / "render"
    paths = {name: write_flac(render / "tracks" / f"{name}.flac",
                              sf.read(path, dtype="float32", always_2d=True)[0].T,
                              sample_rate=44100)
             for name, path in write_stems(tmp_path / "wav", ["kick", "bass", "vocals"],
                                           seconds=8.0).items()}
    files = JobFiles.local(tmp_path / "data")
    rendered = {f"tracks/{name}.flac": files.publish("p1", f"v1/tracks/{name}.flac", path)
                for name, path in paths.items()}
    rendered["master.wav"] = files.publish("p1", "v1/master.wav", tmp_path / "wav" / "vocals.wav")
    rendered["../escape.wav"] = rendered["tracks/kick.flac"]  # a name never laid outside
    separated = {"vocals": files.publish("p1", "stems/vocals.flac", paths["vocals"])}
    request = JobRequest(job_id="export-v1", production_id="p1", kind=JobKind.EXPORT, version=1,
                         payload={"spec": tiny_spec().model_dump(mode="json"),
                                  "rendered": rendered,
                                  "provenance": {"stems_model": "demucs", "stems": separated,
                                                 "source": "song.wav"}})
    steps: list[str] = []
    result = export_task(request, lambda fraction, step: steps.append(step), files,
                         midi_source=lambda spec: tiny_midi())
    zip_path = files.fetch(result.artifacts["project.zip"])
    assert not (tmp_path / "data" / "work" / "escape.wav").exists()
    assert zip_path.is_file() and result.size_bytes == zip_path.stat().st_size
    assert all(check.passed for check in result.checks)
    assert {c.name for c in result.checks} >= {"pointee ids", "sends and returns",
                                                    "clip slots and scenes", "notes", "samples"}
    zipped = _read(zip_path)
    folder = "Tiny Afro Remix Project"
    for name, path in paths.items():  # the render's FLAC, byte for byte
        assert zipped[f"{folder}/Samples/Imported/{name}.flac"] == path.read_bytes()
    assert sf.info(io.BytesIO(zipped[f"{folder}/master.flac"])).format == "FLAC"
    als = gzip.decompress(zipped[f"{folder}/Tiny Afro Remix.als"]).decode()
    assert "Samples/Imported/vocals.flac" in als and ".wav" not in als
    text = zipped[f"{folder}/manifest.json"].decode()
    manifest = json.loads(text)
    assert manifest["provenance"] == {
        "production_id": "p1", "version": 1, "stems_model": "demucs", "source": "song.wav",
        "patch": [], "stems": {"vocals": {"file": "vocals.flac",
                                          "sha256": file_sha256(paths["vocals"])}}}
    assert manifest["master"] == "master.flac"
    assert str(tmp_path) not in text and '"/' not in text  # no server path anywhere
    assert "blobs/" not in text  # nor where the store keeps them
    assert steps[-1] == "project ready"


def test_a_new_version_s_zip_replaces_the_earlier_ones(tmp_path: Path) -> None:
    """A production keeps one project zip: the newest version's export makes the store forget
    the zips it replaces (and deletes their bytes), never its own, and never a file that is
    not a zip."""
    from jobs.files import JobFiles

    files = JobFiles.local(tmp_path / "data")
    tracks = write_stems(tmp_path / "v2" / "tracks", ["kick", "bass", "vocals"], seconds=2.0)
    rendered = {f"tracks/{name}.wav": files.publish("p1", f"v2/tracks/{name}.wav", path)
                for name, path in tracks.items()}
    earlier = files.store.put_bytes("p1", "v1/project.zip", b"PK earlier").key
    not_a_zip = files.store.put_bytes("p1", "v1/master.wav", b"RIFF").key
    request = JobRequest(job_id="export-v2", production_id="p1", kind=JobKind.EXPORT, version=2,
                         payload={"spec": tiny_spec().model_dump(mode="json"),
                                  "rendered": rendered, "replaces": [earlier, not_a_zip]})
    result = export_task(request, lambda fraction, step: None, files,
                         midi_source=lambda spec: tiny_midi())
    kept = files.store.artifacts("p1")
    assert kept["v2/project.zip"].key == result.artifacts["project.zip"]
    assert files.fetch(result.artifacts["project.zip"]).is_file()
    assert "v1/project.zip" not in kept
    with pytest.raises(FileNotFoundError):
        files.fetch(earlier)  # its bytes went with it
    assert kept["v1/master.wav"].key == not_a_zip and files.fetch(not_a_zip).is_file()


def test_a_missing_stem_is_reported_not_faked(tmp_path: Path, stems: dict[str, Path]) -> None:
    partial = export_project(tiny_spec(), tracks={"kick": stems["kick"]}, midi=None, master=None,
                             out_dir=tmp_path / "partial", provenance={})
    assert "track 'vocals' has no rendered audio" in partial.skipped
    assert not any("vocals" in n for n in _read(partial.zip_path))


def test_export_refuses_a_set_that_breaks_a_rule(tmp_path: Path, stems: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import jobs.export.project as project

    real = project.build_live_set

    def broken(model):  # a writer bug: a second send knob on the first track
        root = real(model)
        sends = root.find("LiveSet/Tracks/AudioTrack/DeviceChain/Mixer/Sends")
        sends.append(etree.fromstring(etree.tostring(sends[0])))
        return root

    monkeypatch.setattr(project, "build_live_set", broken)
    with pytest.raises(ExportCheckFailed, match="3 sends for 2 return tracks"):
        _export(tmp_path, stems)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_full_remix_spec_passes_the_checker_and_pyableton(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed scenario's shape: six tracks, six sections, sidechain, sweep, 96 bars at 122 BPM."""
    from pyableton import Ableton

    from bench.export import _midi, _remix_spec

    spec = _remix_spec()
    stems = write_stems(tmp_path / "tracks", [t.name for t in spec.tracks], seconds=2.0)
    midi = _midi(spec, seconds=spec.total_bars * 4 * 60 / spec.tempo_bpm)
    result = export_project(spec, tracks=stems, midi=midi, master=None,
                            out_dir=tmp_path / "out", provenance={})
    assert result.report.ok
    als = tmp_path / "remix.als"
    als.write_bytes(next(data for name, data in _read(result.zip_path).items()
                         if name.endswith(".als")))
    monkeypatch.chdir(tmp_path)
    live_set = Ableton(str(als)).live_set
    assert live_set.master_track.device_chain.mixer.tempo.manual == 122
    assert len(live_set.tracks) == 6 + 5 + 2  # audio, MIDI, returns
    notes = sum(len(clip.notes.get_notes()) for t in live_set.tracks
                if type(t).__name__ == "MidiTrack"
                for clip in t.device_chain.main_sequencer.clip_timeable.arranger_automation.events)
    assert notes == sum(len(i.notes) for i in midi.instruments)
