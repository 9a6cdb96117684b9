"""Standard MIDI files of the patterns, one per pattern track, written with pretty_midi.

Notes come from the export model (beats from bar 1), so the files hold exactly what the
Live set's MIDI clips hold; each file carries the spec's tempo and time signature, so a
DAW that imports it lands every note on the same beat.
"""

from __future__ import annotations

import io

import pretty_midi

from jobs.export.model import ExportModel, MidiPart

__all__ = ["midi_file_bytes"]


def midi_file_bytes(model: ExportModel, part: MidiPart) -> bytes:
    """One pattern as a type-1 MIDI file: its notes, tempo and time signature."""
    tempo = model.spec.tempo_bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    num, den = model.spec.time_signature
    midi.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
    instrument = pretty_midi.Instrument(program=part.program, is_drum=part.is_drum,
                                        name=part.name)
    seconds_per_beat = 60.0 / tempo
    for note in part.absolute_notes():
        start = note.start_beats * seconds_per_beat
        instrument.notes.append(pretty_midi.Note(
            velocity=note.velocity, pitch=note.pitch, start=start,
            end=start + note.duration_beats * seconds_per_beat))
    midi.instruments.append(instrument)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()
