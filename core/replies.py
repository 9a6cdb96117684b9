"""Everything the Maestro says, defined once, as small functions of the facts.

Adapters never write wording; they render these replies natively. Numbers are always
ones that were decided or measured, with their units.
"""

from __future__ import annotations

from core.analysis import AnalysisReport
from core.brief import Brief, Provenance
from core.change_card import CardLine, card_lines
from core.conversation import (
    Attachment,
    AttachmentKind,
    FileReply,
    ProgressReply,
    Question,
    Reply,
    TextReply,
)
from core.genre import GenreProfile
from core.jobs import CompareResult, JobEvent, JobKind, JobStatus, SectionResult
from core.measurements import Measurements
from core.music import Key, parse_key
from core.patch import SpecPatch
from core.production import Production, Version
from core.spec import ProductionSpec
from core.units import seconds_to_timestamp

_STEP_NAMES = {
    JobKind.ANALYZE: "Analysing the song",
    JobKind.SEPARATE: "Separating stems",
    JobKind.RENDER: "Rendering",
    JobKind.EXPORT: "Exporting the project",
    JobKind.COMPARE: "Cutting comparison clips",
    JobKind.PREVIEW: "Mixing the changed bars",
}
AUDIO_FORMATS = "WAV, FLAC, MP3, OGG or M4A"


def help_text(genres: list[str]) -> str:
    return (
        "I'm the Maestro, your producer. Start with **/remix** and a song (\"Remix this to Afro "
        "Circuit\"), or describe a track (\"a 124 BPM deep house track in A minor\").\n"
        "Then talk to me like a producer: \"bass too loud, more sidechain\", \"add a filter sweep "
        "on bars 33-48\", \"brighter vocal\", \"louder master\", \"go back to v2\", "
        "\"compare v2 and v3\", \"drums from v2 with the vocal of v3\", \"versions\", "
        "\"status\", \"stop\", \"start over\".\n"
        f"Genres I know: {', '.join(genres)}."
    )


def stale_press() -> str:
    return "That question was already answered or belongs to an earlier step, so I ignored the press."


def owner_answers(owner_id: str, *, platform: str) -> str:
    """Why a press was refused: this server lets only the production's starter answer."""
    where = "workspace" if platform == "slack" else "server"
    return (f"In this {where} only <@{owner_id}>, who started this production, answers its "
            "questions. Tell them in the thread what you think!")


def not_audio(name: str) -> str:
    return f"'{name}' doesn't look like audio. Send the song as {AUDIO_FORMATS}."


def upload_too_large(attachment: Attachment, limit_bytes: int) -> str:
    return (f"'{attachment.name}' is {attachment.size_bytes / 1e6:.0f} MB; the most I accept is "
            f"{limit_bytes / 1e6:.0f} MB. Send a shorter or compressed version (an MP3 works).")


def need_song(brief: Brief) -> str:
    what = f"remix {brief.source_description}" if brief.source_description else "remix it"
    genre = f" into {brief.genre_label}" if brief.genre_label else ""
    return (f"I'd love to {what}{genre}, but I need the track itself: attach the song "
            f"({AUDIO_FORMATS}) to your next message and I'll start. I can't fetch songs from "
            "the internet.")


def send_another_file() -> str:
    return f"Send another file ({AUDIO_FORMATS}) and I'll carry on with the same brief."


def ask_genre() -> str:
    return "Which genre should I take it to? Pick one or name any genre."


def suggest_key_bpm(brief: Brief, genre: GenreProfile, *, song_key: Key | None = None) -> str:
    """The key and tempo suggestion; with the song's key, why this key: the move it takes
    (the shift said is the one the planner applies, :meth:`core.music.Key.move_in_words`)."""
    assert brief.key is not None and brief.bpm is not None
    key = brief.key.value
    why = ""
    if song_key is not None and brief.key.source is Provenance.SUGGESTED:
        why = (f", the {genre.name} key nearest the song's {song_key.long_name} "
               f"({song_key.move_in_words(key)})")
    return f"I suggest {key} at {brief.bpm.value:g} BPM for {genre.mood}{why}. Agree?"


def listening_first() -> str:
    return ("Listening to the song first (key and tempo), so the key I suggest sits near its "
            "own and the vocal moves as little as possible.")


def ask_free_text(topic: str) -> str:
    return {
        "key_bpm": "Tell me the key and tempo you want, e.g. \"Gm at 124 BPM\".",
        "vocal": "Tell me what to do with the vocal, e.g. \"keep the lyrics, stutter in the build\".",
        "genre": "Name the genre, e.g. \"tech house\" or \"amapiano\".",
        "source_key": "Tell me the song's key, e.g. \"G# minor\".",
        "source_tempo": "Tell me the song's tempo, e.g. \"174 BPM\".",
    }.get(topic, "Tell me in your own words.")


def ask_source_key(first: Key, second: Key) -> str:
    """Analysis is unsure of the uploaded song's key: the two readings it weighs."""
    return (f"I hear {first.long_name} or {second.long_name}: which is it? (It decides how far "
            "the vocal moves.)")


def ask_source_tempo(first_bpm: int, second_bpm: int) -> str:
    """Analysis is unsure of the uploaded song's tempo octave (half or double time)."""
    return f"Is this {first_bpm} or {second_bpm} BPM? (Half-time drums can sound like either.)"


def did_not_catch() -> str:
    return "I didn't catch that as an answer. Pick an option, or say it in your own words:"


def ask_vocal(production: Production) -> str:
    brief = production.brief
    target = brief.key.value if brief.key else None
    analysis = production.analysis
    if analysis is not None and target is not None:
        # the director's word when they were asked, else the reading and how sure it is
        told = brief.source_key
        song_key = told.value if told is not None else analysis.key.key
        sure = "" if told is not None else f" ({analysis.key.confidence:.0%} sure)"
        shift = song_key.transposition_to(target)
        words = song_key.move_in_words(target)
        move = (f"Original vocals are in {song_key.long_name}{sure}. For {target} they move "
                f"{words}, with formant preservation."
                if shift else f"Original vocals are in {song_key.long_name}{sure}, "
                + ("the production's key" if song_key == target
                   else f"the relative {song_key.mode.value} of {target.long_name}")
                + ": they keep their own pitch (no shift).")
    elif target is not None:
        move = (f"I'll pitch-shift the vocal to {target} with formant preservation once the "
                "analysis has found its key.")
    else:
        move = "I'll move the vocal to the new key with formant preservation."
    return f"{move} Keep the lyrics or make chops?"


def recorded(production: Production, topic: str) -> str:
    brief = production.brief
    if topic == "key_bpm" and brief.key and brief.bpm:
        return f"✓ Key: {brief.key.value}, BPM: {brief.bpm.value:g}"
    if topic == "vocal" and brief.vocal:
        return f"✓ Vocal treatment: {brief.vocal.value.describe()}"
    if topic == "genre" and brief.genre:
        return f"✓ Genre: {brief.genre_label or brief.genre.value}"
    if topic == "source_key" and brief.source_key:
        return f"✓ The song is in {brief.source_key.value.long_name}"
    if topic == "source_tempo" and brief.source_bpm:
        return f"✓ The song is at {brief.source_bpm.value:g} BPM"
    return "✓ Noted."


def plan_summary(production: Production, spec: ProductionSpec, consulted: list[str],
                 notes: list[str]) -> str:
    shape = " / ".join(str(s.bars) for s in spec.sections)
    length = seconds_to_timestamp(spec.total_bars * spec.bar_s)
    lines = [
        f"Plan v1 — **{spec.title}**: {spec.key} at {spec.tempo_bpm:g} BPM, {shape} bars ({length}).",
        f"Consulted: {', '.join(consulted)}.",
    ]
    lines += [f"• {note}" for note in notes]
    return "\n".join(lines)


def arrangement_capped(spec: ProductionSpec, cap: int) -> str:
    return (f"This server keeps arrangements to about {cap} bars, so the genre's "
            f"{spec.total_bars}-bar form is scaled down with its shape kept, in whole phrases.")


def slow_down(*, yours: bool) -> str:
    if yours:
        return ("You're sending messages faster than I can produce; give me a minute and say it "
                "again. Nothing was changed.")
    return ("This server is sending me more messages than I can take right now; try again in a "
            "minute. Nothing was changed.")


def song_already_set(production: Production, audio: Attachment) -> str:
    source = production.source.name if production.source else "the first song"
    return (f"This production is built on {source}, and its versions depend on it, so I didn't "
            f"swap in {audio.name}. Say \"start over\" and send it again to remix it (the "
            "versions here are replaced), or send it in a new thread.")


def waiting_for_reference() -> str:
    return ("I'm measuring the reference first (tempo, key, structure, loudness, tonal balance); "
            "the plan follows as soon as that is done.")


def waiting_for_stems() -> str:
    return "The plan is ready; I'll render as soon as the stems are separated."


def progress_queued(job_id: str, kind: JobKind, position: int) -> ProgressReply:
    return ProgressReply(job_id=job_id, step=f"{_STEP_NAMES[kind]} (queued)", position=position,
                         fraction=0.0)


def progress(event: JobEvent) -> ProgressReply:
    name = _STEP_NAMES[event.kind]
    if event.status is JobStatus.DONE:
        step, fraction = f"{name}: done", 1.0
    elif event.status is JobStatus.FAILED:
        step, fraction = f"{name}: failed", None
    elif event.status is JobStatus.CANCELLED:
        step, fraction = f"{name}: stopped", None
    else:
        step = f"{name}: {event.step}" if event.step else name
        fraction = event.fraction
    return ProgressReply(job_id=event.job_id, step=step, fraction=fraction,
                         position=event.position, eta_s=event.eta_s,
                         done=event.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED))


def analysed(report: AnalysisReport) -> str:
    """What analysis read, each reading with how sure it is (calibrated: 90 % sure readings
    are right about 9 times in 10) or, when unsure, the other reading."""
    tempo = f"{report.tempo.bpm:.1f} BPM"
    if report.tempo.ambiguous and report.tempo.alternative_bpm:
        tempo += f" (or {report.tempo.alternative_bpm:.1f} half/double time)"
    else:
        tempo += f" ({report.tempo.confidence:.0%} sure)"
    key = report.key.key.long_name
    if report.key.ambiguous and report.key.runner_up:
        key += f" (maybe {report.key.runner_up.long_name})"
    else:
        key += f" ({report.key.confidence:.0%} sure)"
    return (f"Analysed the song: {tempo}, {key}, {report.integrated_lufs:.1f} LUFS, "
            f"{seconds_to_timestamp(report.duration_s)} long.")


def separated(production: Production) -> str:
    stems = ", ".join(sorted(production.stems))
    if production.stems_fallback:
        return (f"Stems separated ({stems}) with the DSP fallback, because the Demucs weights "
                "aren't installed here: they are rough, with more bleed than Demucs would leave.")
    return f"Stems separated with Demucs: {stems}."


def rendered(production: Production, version: Version | None, *,
             previous: Version | None = None, level: str = "intermediate",
             page_url: str | None = None) -> list[Reply]:
    """The result post: what was measured, the change card, a tip, then the preview and picture."""
    if version is None:
        return []
    m = version.measurements
    spec = version.spec
    length = seconds_to_timestamp(spec.total_bars * spec.bar_s)
    key = m.key if m.key is not None else "?"
    if m.key_alternative:  # an unsure reading says both
        key = f"{key} or {m.key_alternative}"
    elif m.key == str(spec.key.relative) and m.vocal is not None and (
            m.vocal.key == m.key or m.vocal.fits is True):
        key = (f"{key} (the relative {spec.key.relative.mode.value} of {spec.key}: its vocal "
               "sings there)")
    lines = [f"✅ v{version.number} rendered ({length}). Measured on the master: "
             f"{key} at {_num(m.tempo_bpm)} BPM, "
             f"{_num(m.integrated_lufs)} LUFS, true peak {_num(m.true_peak_dbtp)} dBTP."]
    if version.patch is not None and previous is not None and previous.measurements:
        card = card_lines(version.patch.expected, before=previous.measurements, after=m)
        if card:
            lines.append(f"Change card, v{previous.number} → v{version.number} (measured on both renders):")
            lines += [f"• {card_line_text(line)}" for line in card]
            missed = [line for line in card if line.met is False]
            if missed:
                lines.append(_missed(missed, version.patch.request))
    elif version.patch is None:
        lines += _first_render_notes(spec, m, level)
    vocal = vocal_line(version, previous)
    if vocal:
        lines.append(vocal)
    for problem in m.mismatches:
        lines.append(f"⚠️ Not as planned: {problem}.")
    if m.master_note:
        lines.append(f"⚠️ {m.master_note}")
    instruments = instruments_line(production, version)
    if instruments:
        lines.append(instruments)
    if page_url:
        lines.append(f"Listen to the full master, compare versions and download: {page_url}")
    replies: list[Reply] = [TextReply(text="\n".join(lines))]
    for name in ("preview.mp3", "arrangement.png", "tonal.png"):
        stored = version.artifacts.get(name)
        if stored:
            kind = AttachmentKind.AUDIO if name.endswith(".mp3") else AttachmentKind.IMAGE
            replies.append(FileReply(
                attachment=Attachment(name=_artifact_name(spec, version, name), key=stored,
                                      kind=kind, content_type=_CONTENT_TYPES[name]),
                caption=f"v{version.number} {_CAPTIONS[name]}"))
    return replies


def vocal_line(version: Version, previous: Version | None = None) -> str:
    """What the render heard of the vocal: the key it sits in after its shift and where its
    hook sings (the first version), or that the render moved it again because it did not
    fit (whenever it did). Empty when there is nothing new to say."""
    heard = version.measurements.vocal
    if heard is None or heard.key is None or heard.applied_shift is None:
        return ""
    spec = version.spec
    reading = parse_key(heard.key)
    if reading is None:
        return ""
    if heard.fits is None and not reading.fits(spec.key):
        return (f"🎤 The vocal reads most like {reading.long_name}, outside "
                f"{spec.key.long_name}'s notes, but too unsurely to move it on that alone (a "
                "bare or noisy vocal reads poorly): listen, and say \"the vocal is out of key\" "
                "to have it moved.")
    where = ("the production's key" if reading == spec.key
             else f"the relative {reading.mode.value} of {spec.key.long_name}"
             if reading.fits(spec.key)
             else f"singing on {spec.key.long_name}'s notes" if heard.fits is True
             else f"outside {spec.key.long_name}'s notes")
    if heard.planned_reading:
        first = parse_key(heard.planned_reading)
        planned = heard.planned_shift or 0
        return (f"🎤 The vocal read as {first.long_name if first else heard.planned_reading} "
                + (f"after the planned {_semitones(planned)} shift" if planned
                   else "at the song's own pitch")
                + f", outside {spec.key.long_name}'s notes (the song's key was likely misread), "
                f"so I moved it {_semitones(heard.applied_shift)} from the song's pitch instead: "
                f"it now reads as {reading.long_name}, {where}.")
    before = previous.measurements.vocal if previous is not None else None
    if before is not None and before.applied_shift == heard.applied_shift:
        return ""
    hook = ""
    if heard.hook and version.patch is None:
        drops = [p.bar for p in heard.placements if p.part == "hook"]
        sections = [s.name for s, first, last in spec.section_bars()
                    if any(first <= bar <= last for bar in drops)]
        if sections:
            hook = (f" Its hook is the song's bars {heard.hook[0]}–{heard.hook[-1]}, sung in "
                    f"{' and '.join(dict.fromkeys(sections))}.")
    moved = (f"after its {_semitones(heard.applied_shift)} shift" if heard.applied_shift
             else "at the song's own pitch")
    return f"🎤 The vocal reads as {reading.long_name} {moved}, {where}.{hook}"


def _semitones(shift: int) -> str:
    return f"{shift:+d} semitone" + ("" if abs(shift) == 1 else "s")


def vocal_off_key(reading: Key, key: Key) -> str:
    """The render's vocal does not sit in the key, and the reading was too unsure to act on."""
    return (f"The vocal reads as {reading.long_name}, outside {key.long_name}'s notes. Shall I "
            f"move it {reading.move_in_words(key)} so it sits in them?")


def instruments_line(production: Production, version: Version) -> str:
    """Which vault played the drums, said when it changes: the sampled kits with their licences,
    or, once per thread, that the synthesised vault played because no sample library is here."""
    now = version.measurements.instruments
    if now is None:
        return ""
    earlier = [v.measurements.instruments for v in production.versions
               if v.number < version.number and v.rendered
               and v.measurements.instruments is not None]
    if now.vault == "samples":
        if earlier and earlier[-1] is not None and earlier[-1].kits == now.kits:
            return ""
        licences: dict[str, str] = {}
        for row in now.samples:
            licences.setdefault(row.kit, str(row.licence))
        kits = ", ".join(f"{kit} ({licence})" for kit, licence in sorted(licences.items()))
        synth = [r.replace("_", " ") for r in now.synth_roles]
        rest = f"; the {' and '.join(synth)} {'is' if len(synth) == 1 else 'are'} synthesised" \
            if synth else ""
        return (f"🥁 Drums and percussion play recorded samples: {kits}{rest}. Every sample and "
                "its licence is listed in the project's README and manifest.")
    if any(e is not None and e.vault == "synth" for e in earlier):
        return ""
    why = now.note or "no sample library is installed here"
    return (f"🥁 Drums and percussion are the synthesised sound vault's: {why}. Installing "
            "hydrogen-drumkits and fluid-soundfont-gm, or setting VYKE_SAMPLES_DIR to your own "
            "sample folder, gives recorded kits.")


def exported(version: Version, key: str, size_bytes: int) -> list[Reply]:
    name = _artifact_name(version.spec, version, "project.zip")
    return [FileReply(attachment=Attachment(name=name, key=key, size_bytes=size_bytes,
                                            kind=AttachmentKind.ARCHIVE,
                                            content_type="application/zip"),
                      caption=f"v{version.number} Ableton Live project (Live 11+), DAWproject, "
                              "MIDI and stems")]


_CAPTIONS = {"preview.mp3": "preview", "arrangement.png": "arrangement",
             "tonal.png": "tonal balance against the genre's range"}

_CONTENT_TYPES = {"preview.mp3": "audio/mpeg", "arrangement.png": "image/png",
                  "tonal.png": "image/png",
                  "project.zip": "application/zip"}


def _artifact_name(spec: ProductionSpec, version: Version, name: str) -> str:
    stem, _, ext = name.rpartition(".")
    title = "_".join(spec.title.split()) or "Vyke"
    return f"{title}_v{version.number}_{stem}.{ext}"


def _num(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "?"


def _missed(lines: list[CardLine], request: str) -> str:
    """Said plainly when a measured change fell short of what was asked; the way to push
    further is the director's own words again (a sidechain example under an EQ change misled)."""
    what = "; ".join(line.text for line in lines)
    again = f" (\"{request}\" again)" if request else ""
    return (f"I couldn't get all the way there ({what}): the render measured less than I "
            f"aimed for. Ask for it again{again} to push it further, or say \"go back\" to "
            "undo it.")


def card_line_text(line: CardLine) -> str:
    mark = {True: "✓", False: "✗ missed", None: "(could not measure)"}[line.met]
    if line.detail:
        return f"{line.text}: {line.detail} {mark}"
    if line.before is None or line.after is None:
        return f"{line.text} {mark}"
    unit = f" {line.unit}" if line.unit else ""
    delta = line.after - line.before
    return (f"{line.text}: {line.before:.1f} → {line.after:.1f}{unit} "
            f"({delta:+.1f}{unit}) {mark}")


def _first_render_notes(spec: ProductionSpec, m: Measurements, level: str) -> list[str]:
    """The seed's "Check the breakdown at 1:30": where to listen, with measured numbers."""
    notes = []
    ducked = [(t.name, depth) for t in spec.tracks if t.sidechain is not None
              and (depth := m.value("ducking_depth_db", t.name)) is not None]
    if ducked:
        name, depth = ducked[0]
        why = "" if level == "pro" else " (the pump: it makes room for every kick)"
        notes.append(f"Sidechain: the {name} ducks {depth:.1f} dB on kick hits{why}.")
    if spec.vocal is not None and spec.vocal.stutters:
        stutter = spec.vocal.stutters[0]
        at = seconds_to_timestamp(spec.bar_start_s(stutter.start_bar))
        notes.append(f"Check bar {stutter.start_bar} at {at}: vocal stutter on a {stutter.grid} grid.")
    breakdown = spec.section_named("breakdown")
    if breakdown is not None:
        at = seconds_to_timestamp(spec.bar_start_s(breakdown[1]))
        notes.append(f"Check the breakdown at {at}.")
    return notes


def job_failed(kind: JobKind) -> str:
    return f"{_STEP_NAMES[kind]} failed. Your earlier versions are safe; try again in a moment."


def nothing_changed(patches: list[SpecPatch]) -> str:
    reasons = " ".join(p.rationale for p in patches if p.rationale)
    return f"I didn't change anything. {reasons}".strip()


def change_summary(version: Version, patches: list[SpecPatch], level: str) -> str:
    lines = []
    previous = ""
    for patch in patches:
        if not patch.ops:  # said, so a change asked together with others is never lost
            why = f" — {patch.rationale}" if patch.rationale else ""
            lines.append(f"→ Not changed: “{patch.request}”{why}")
            previous = ""
            continue
        if patch.chef != previous:
            lines.append(f"→ Consulting {patch.chef}…")
            previous = patch.chef
        lines += [f"  • {line}" for line in patch.describe()]
        if level != "pro" and patch.rationale:
            lines.append(f"  {patch.rationale}")
    lines.append(f"This is v{version.number} (from v{version.parent}).")
    return "\n".join(lines)


def reverted(production: Production, number: int) -> str:
    version = production.version(number)
    assert version is not None
    return (f"Back on v{number} ({version.spec.key}, {version.spec.tempo_bpm:g} BPM). Changes from "
            f"here start a new version; v{len(production.versions)} and the others are kept.")


def compare(a: Version, b: Version) -> str:
    changes = b.patch.describe() if b.patch and b.parent == a.number else []
    if not changes:
        changes = _spec_differences(a.spec, b.spec)
    body = "\n".join(f"  • {c}" for c in changes) or "  • no differences in the plan"
    return f"v{a.number} → v{b.number}:\n{body}"


def compare_needs_renders(a: Version, b: Version) -> str:
    missing = [f"v{v.number}" for v in (a, b) if v.master_key is None]
    return (f"I can't play {' and '.join(missing)} side by side: "
            f"{'it has' if len(missing) == 1 else 'they have'} no render yet.")


def section_preview(version: Version, result: SectionResult) -> list[Reply]:
    """The changed bars ahead of the whole version, said to be level-matched to the one before."""
    level = f" at {result.lufs:.1f} LUFS" if result.lufs is not None else ""
    caption = (f"First listen to v{version.number} — {result.label}, level-matched to "
               f"v{result.parent}{level} (the whole version, its card and project follow)")
    return [FileReply(attachment=Attachment(name=f"v{version.number}-first-listen.mp3",
                                            key=result.key, kind=AttachmentKind.AUDIO,
                                            content_type="audio/mpeg"),
                      caption=caption)]


def comparison(result: CompareResult) -> list[Reply]:
    """The A/B post: the same section of both versions, at the same loudness, together."""
    clips = result.clips
    if len(clips) != 2:
        return []
    section = result.section or "the same section"
    lufs = clips[0].lufs
    level = f" at {lufs:.1f} LUFS" if lufs is not None else ""
    replies: list[Reply] = [TextReply(text=(
        f"Listen to {section} of v{clips[0].version} and v{clips[1].version}, matched{level} "
        "so the louder one doesn't win by default."))]
    for clip in clips:
        replies.append(FileReply(
            attachment=Attachment(name=clip.name or f"v{clip.version}.mp3", key=clip.key,
                                  kind=AttachmentKind.AUDIO, content_type="audio/mpeg"),
            caption=f"v{clip.version} — {section} ({clip.gain_db:+.1f} dB to match)"))
    return replies


def _spec_differences(a: ProductionSpec, b: ProductionSpec) -> list[str]:
    out = []
    if a.tempo_bpm != b.tempo_bpm:
        out.append(f"tempo {a.tempo_bpm:g} → {b.tempo_bpm:g} BPM")
    if a.key != b.key:
        out.append(f"key {a.key} → {b.key}")
    for ta in a.tracks:
        tb = b.track(ta.name)
        if tb is None or ta == tb:
            continue
        if ta.gain_db != tb.gain_db:
            out.append(f"{ta.name} {ta.gain_db:+g} → {tb.gain_db:+g} dB")
        if ta.sidechain != tb.sidechain and tb.sidechain:
            before = ta.sidechain.depth_db if ta.sidechain else 0
            out.append(f"{ta.name} ducking {before:g} → {tb.sidechain.depth_db:g} dB")
        if ta.automation != tb.automation:
            out.append(f"{ta.name} automation changed")
        if ta.eq != tb.eq:
            out.append(f"{ta.name} EQ changed")
    if a.master != b.master:
        out.append(f"master {a.master.target_lufs:g} → {b.master.target_lufs:g} LUFS")
    return out


def merged(version: Version, merge: dict[str, int]) -> str:
    parts = ", ".join(f"{role} from v{n}" for role, n in merge.items())
    return f"v{version.number}: {parts}, everything else from v{version.parent}."


def versions(production: Production) -> str:
    if not production.versions:
        return "No versions yet."
    lines = []
    for v in production.versions:
        what = "; ".join(v.patch.describe()) if v.patch else "first plan"
        mark = " ◀ current" if v.number == production.current else ""
        status = "rendered" if v.rendered else "not rendered"
        lines.append(f"v{v.number} ({status}): {what}{mark}")
    return "\n".join(lines)


def status(production: Production) -> str:
    state = production.state.value.replace("_", " ")
    jobs = ", ".join(j.kind for j in production.pending_jobs) or "none"
    question = f" Waiting for your answer: {production.pending_question.text}" \
        if production.pending_question else ""
    return (f"State: {state}. Versions: {len(production.versions)}. Running jobs: {jobs}."
            f"{question}")


def too_many_productions(limit: int, *, yours: bool) -> str:
    """Why new work was not started: a per-person or per-server limit on productions at once."""
    if yours:
        return (f"You already have {limit} production{'s' if limit != 1 else ''} working, the "
                "most one person can run at once. Nothing here was lost: say the same again "
                "when one of them is done and I'll start this one.")
    return (f"This server is already working on {limit} productions, the most it runs at "
            "once. Nothing here was lost: say the same again in a few minutes and I'll start.")


def stopped(steps: list[str], production: Production) -> str:
    if not steps:
        return "Nothing is running. Your versions are kept."
    return f"Stopped: {', '.join(steps)}. Your versions are kept."


def started_over(production: Production) -> str:
    kept = f" The {len(production.versions)} earlier versions are kept." if production.versions else ""
    return f"Starting over: tell me what you'd like to make.{kept}"


def level_set(level: str) -> str:
    return {"beginner": "Got it: I'll explain in plain words.",
            "pro": "Got it: numbers and settings only.",
            "intermediate": "Got it."}[level]


def approved(production: Production) -> str:
    return "Great! Say the word if you want anything else changed."


def noted(wanted: str, *, version: int, waiting: int) -> str:
    """A change asked for while a version is being made: kept, and when it will happen."""
    more = f" ({waiting} changes are waiting; they go in together)" if waiting > 1 else ""
    return (f"Noted: {wanted} — I'll apply it to v{version} as soon as it's rendered{more}. "
            "Say \"status\" to see where I am, or \"stop\".")


def applying_queued(texts: list[str]) -> str:
    """The kept changes are being applied now."""
    said = "; ".join(f"“{t}”" for t in texts)
    return f"Now applying what you asked while I was rendering: {said}."


def still_asking(question: Question) -> str:
    """The open question, in a line, without its buttons again (they are just above)."""
    labels = " / ".join(o.label for o in question.options if o.id != "other")
    return (f"I still need one answer before I start — {question.text.splitlines()[0]} "
            f"({labels}, or say it in your own words).")


def not_yet(wish: str, closest: str, *, offer: bool) -> str:
    """A request no Chef can do yet: said plainly, with the closest thing that is possible."""
    if offer:
        return f"I can't make {wish} yet. The closest I can do is {closest} — want that?"
    return (f"I can't make {wish} yet. The closest I can do is {closest}; ask for it once a "
            "version is out.")


def question_open(question: Question) -> str:
    """A bare yes or no where the open question wants one of its options."""
    labels = " / ".join(f"{n}. {o.label}" for n, o in enumerate(question.options, start=1))
    return f"Which one? {question.text.splitlines()[0]} ({labels})"


def already_at_tempo(bpm: float, version: int) -> str:
    """A tempo asked for that the current version already has: nothing to change."""
    return f"v{version} is already at {bpm:g} BPM, so I didn't change anything."


def nothing_to_answer(production: Production) -> str:
    """A yes or no when no question is open: said plainly, with what to say instead."""
    if not production.versions:
        return ("There's no question open right now. Tell me what to make, e.g. \"make a 124 BPM "
                "deep house track in A minor\", or attach a song and say \"remix this to techno\".")
    return (f"There's no question open right now; v{production.current} is the latest. Tell me "
            "what to change (\"bass too loud\", \"more reverb on the pads\"), or say \"versions\".")


def not_yet_no_vocal(wish: str) -> str:
    """A vocal wish not possible yet, on a production without a vocal to offer instead."""
    return (f"I can't make {wish} yet, and this production has no vocal for the closest things "
            "I can do (chops, a stutter). Remix a song with a vocal for those, or ask for "
            "another change.")


def not_yet_left_out(wish: str, closest: str) -> str:
    """A wish not possible yet, said in the same message as changes that are: those go ahead."""
    return (f"I can't make {wish} yet, so I left it out. The closest I can do is {closest}: "
            "ask for that in your own words whenever you want it.")


def offer_declined() -> str:
    return "OK, nothing changed. Tell me what you'd like instead."


def busy(production: Production) -> str:
    return "I'm still working on the last step; say \"status\" to see where it is, or \"stop\"."


def not_understood_idle() -> str:
    return ("I'm not sure what you'd like. Try \"Remix this to Afro House\" with a song attached, "
            "or \"make a 124 BPM deep house track in A minor\". Say \"help\" for more.")


def not_understood(complete: bool) -> str:
    return ("I didn't understand that as a change. You can say things like \"bass too loud\", "
            "\"more sidechain\", \"add a filter sweep on bars 33-48\", \"louder master\" or "
            "\"go back to v1\".")


def vote_question(*, first_name: str, first_change: SpecPatch, second_name: str,
                  second_change: SpecPatch, version: int) -> str:
    """Two directors asked for opposite changes: the thread picks one instead of a flip-flop."""
    first = "; ".join(first_change.describe()) or first_change.request
    second = "; ".join(second_change.describe()) or second_change.request
    return (f"{first_name} asked for v{version} ({first}) and {second_name} now asks for the "
            f"opposite ({second}). Rather than flip-flop, which one should stand?")


def vote_keep_label(name: str) -> str:
    return f"Keep {name}'s change"


def vote_apply_label(name: str) -> str:
    return f"Apply {name}'s change"


def vote_kept(name: str, version: int) -> str:
    return f"Keeping {name}'s change: v{version} stays as it is."


def file_link(caption: str, size_bytes: int, link: str | None) -> str:
    """A file too big to upload into the thread: its signed link, or why there is none."""
    size = f"{size_bytes / (1024 * 1024):.1f} MiB"
    if link is None:
        return (f"{caption} is {size}, over what I can upload here, and download links are "
                "not set up (the operator sets VYKE_LINK_SECRET).")
    return f"{caption} ({size}, over what I can upload here): {link}"
