"""The Vocal Chef: key and tempo moves with formants kept, where the vocal sings, stutters and
chops."""

from __future__ import annotations

from core.brain import Aspect, Domain, Feedback
from core.brief import Brief
from core.chef import Chef, bar_span
from core.genre import GenreProfile
from core.measurements import Measurements
from core.music import parse_key
from core.patch import (
    AddStutter,
    ExpectedEffect,
    Operation,
    SetVocalMode,
    SetVocalParts,
    SetVocalShift,
    SpecPatch,
    apply_patch,
    spoken_list,
)
from core.spec import VOCAL_PART_BY_KIND, VOCAL_PART_WORDS, ProductionSpec, Stutter, TrackRole

__all__ = ["VocalChef"]

_FAMILY = {"drop": ("drop", "chorus"), "chorus": ("drop", "chorus")}
"""Section kinds a director means together: "the drops" of a song built of choruses are its
choruses."""



class VocalChef(Chef):
    """Keeps the vocal natural after a key or tempo move, places its phrases through the
    arrangement, and adds rhythmic vocal effects."""

    name = "VocalChef"
    domain = Domain.VOCAL

    def plan(self, *, brief: Brief, spec: ProductionSpec, genre: GenreProfile) -> SpecPatch | None:
        """Stutters on the sections the director named (the seed's stutter in the build), and
        the vocal's arrangement said in words."""
        if spec.vocal is None or brief.vocal is None:
            return None
        treatment = brief.vocal.value
        ops: list[Operation] = []
        for kind in treatment.stutter_sections:
            span = spec.section_named(kind)
            if span is not None:
                ops.append(AddStutter(stutter=Stutter(start_bar=span[1], end_bar=span[2],
                                                      grid=treatment.stutter_grid)))
        shift = spec.vocal.semitones
        move = (f"shifted {shift:+d} semitones into {spec.key}" if shift
                else f"kept in pitch for {spec.key}")
        stutters = (f"; it stutters on a {treatment.stutter_grid} grid in the "
                    + " and ".join(treatment.stutter_sections) if ops else "")
        placed = _arrangement_words(spec)
        return SpecPatch(
            chef=self.name, ops=ops,
            rationale=f"The vocal is {move} with formants preserved, so it keeps the singer's "
                      f"character instead of sounding like a chipmunk{stutters}."
                      + (f" It is arranged like a remix: {placed}." if placed else ""),
        )

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: Measurements,
                genre: GenreProfile) -> SpecPatch:
        if spec.vocal is None:
            return SpecPatch(chef=self.name, request=request.text,
                             rationale="This production has no vocal, so there is nothing to "
                                       "stutter, chop, place or shift.")
        vocals = spec.tracks_with_role(TrackRole.VOCALS)
        if request.aspect in (Aspect.VOCAL_PLACEMENT, Aspect.VOCAL_ONLY) and vocals:
            return self._placed(spec, request, vocals[0].name)
        if request.aspect is Aspect.HOOK and vocals:
            return self._hook(spec, request, measurements, vocals[0].name)
        if request.aspect is Aspect.VOCAL_SHIFT and vocals:
            return self._shift(spec, request, measurements, vocals[0].name)
        if request.aspect is Aspect.STUTTER:
            start, end = bar_span(spec, request, default_kind="build")
            stutter = Stutter(start_bar=start, end_bar=end, grid="1/16")
            return SpecPatch(chef=self.name, request=request.text, ops=[AddStutter(stutter=stutter)],
                             rationale=f"The vocal re-triggers on a 1/16 grid over bars {start}–{end}, "
                                       "a classic build-up tension trick.",
                             expected=[_onsets(t.name, start, end, up=True,
                                               text=f"{t.name} stutter over bars {start}–{end}: "
                                                    "more re-triggers per bar")
                                       for t in vocals[:1]])
        if request.aspect is Aspect.CHOPS:
            on = request.direction != "remove"
            # chops replace the vocal in the drops and choruses it sings in
            span = next(((first, last) for section, first, last in spec.section_bars()
                         if section.kind in ("drop", "chorus") and vocals
                         and vocals[0].name in section.layers), None)
            expected = [] if span is None or on == spec.vocal.chops else [
                _onsets(vocals[0].name, *span, up=on,
                        text=f"{vocals[0].name} chops {'on' if on else 'off'}: "
                             f"{'more' if on else 'fewer'} slices per bar in bars {span[0]}–{span[1]}")]
            return SpecPatch(chef=self.name, request=request.text, ops=[SetVocalMode(chops=on)],
                             rationale="Chops slice the vocal at its syllables and replay them on the "
                                       "grid as a hook." if on else "Back to the full vocal line.",
                             expected=expected)
        return super().consult(spec=spec, request=request, measurements=measurements, genre=genre)

    def _placed(self, spec: ProductionSpec, request: Feedback, track: str) -> SpecPatch:
        """"No vocal in the intro", "put the vocal in the outro too", "vocal only in the drops"."""
        kinds = tuple(kind for said in (request.section, *request.more_sections)
                      for kind in _FAMILY.get(said, (said,)))
        named = [s for s, _, _ in spec.section_bars() if s.kind in kinds]
        if not request.section or not named:
            where = f"no {request.section} in this arrangement" if request.section else \
                "no section named"
            return SpecPatch(chef=self.name, request=request.text,
                             rationale=f"There is {where}, so I didn't move the vocal: name one "
                                       f"of {', '.join(s.name for s in spec.sections)}.")
        parts: dict[str, str] = {}
        for section, _, _ in spec.section_bars():
            sings = track in section.layers
            wanted = section.kind in kinds if request.aspect is Aspect.VOCAL_ONLY else (
                request.direction != "remove" if section.kind in kinds else sings)
            if wanted and not sings:
                parts[section.name] = VOCAL_PART_BY_KIND[section.kind]
            elif sings and not wanted:
                parts[section.name] = "none"
        if not parts:
            state = "sings only in" if request.aspect is Aspect.VOCAL_ONLY else (
                "is already out of" if request.direction == "remove" else "already sings in")
            return SpecPatch(chef=self.name, request=request.text,
                             rationale=f"The vocal {state} the {spoken_list([s.name for s in named])}"
                                       ", so I didn't change anything.")
        return _parts_patch(self.name, spec, request, track, parts)

    def _hook(self, spec: ProductionSpec, request: Feedback, measurements: Measurements,
              track: str) -> SpecPatch:
        """"More of the hook" sings it where the vocal sings something else (the builds keep
        their chops of it); "less of the hook" leaves it to the first drop or chorus and sings
        the song's other phrases in the rest."""
        heard = measurements.vocal
        if request.direction == "down" and heard is not None and heard.hook and not heard.phrases:
            return SpecPatch(chef=self.name, request=request.text,
                             rationale="The song's vocal is all one line, its hook: there is "
                                       "no other phrase to sing instead, so I didn't change "
                                       "anything.")
        spans = spec.section_bars()
        parts: dict[str, str] = {}
        if request.direction == "down":
            first = next((s.name for s, _, _ in spans if s.kind in ("drop", "chorus")
                          and track in s.layers and s.vocal_part == "hook"), None)
            parts = {s.name: "verse" for s, _, _ in spans if track in s.layers
                     and s.vocal_part == "hook" and s.name != first}
        elif request.section:
            kinds = _FAMILY.get(request.section, (request.section,))
            parts = {s.name: "hook" for s, _, _ in spans if s.kind in kinds
                     and (track not in s.layers or s.vocal_part != "hook")}
        else:
            parts = {s.name: "hook" for s, _, _ in spans if track in s.layers
                     and s.vocal_part in ("verse", "tag")}
            if not parts:  # it already sings the hook wherever it sings: sing it in more places
                parts = {s.name: "hook" for s, _, _ in spans if track not in s.layers
                         and s.kind != "intro"}
        if not parts:
            return SpecPatch(chef=self.name, request=request.text,
                             rationale="The hook already plays "
                                       + ("only in the first drop" if request.direction == "down"
                                          else "wherever the vocal sings")
                                       + ", so I didn't change anything.")
        up = request.direction != "down"
        patch = _parts_patch(self.name, spec, request, track, parts, levels=False)
        patch.expected.append(ExpectedEffect(
            metric="hook_by_bar", track=track, start_bar=1, end_bar=spec.total_bars,
            direction="up" if up else "down",
            text=f"{'more' if up else 'less'} of the hook: it is sung in "
                 f"{'more' if up else 'fewer'} bars"))
        return patch

    def _shift(self, spec: ProductionSpec, request: Feedback, measurements: Measurements,
               track: str) -> SpecPatch:
        """"The vocal is out of key" moves it from where the render heard it into the key's
        notes; "pitch the vocal up a semitone" moves it by hand."""
        assert spec.vocal is not None
        heard = measurements.vocal
        current = heard.applied_shift if heard is not None and heard.applied_shift is not None \
            else spec.vocal.semitones
        reading = parse_key(heard.key) if heard is not None and heard.key else None
        if request.direction == "add":  # fix it
            if reading is None:
                return SpecPatch(chef=self.name, request=request.text,
                                 rationale="I have no key reading of the rendered vocal yet, so "
                                           "I can't tell which way it is off: say \"shift the "
                                           "vocal up a semitone\" (or down) to move it by hand.")
            if reading.fits(spec.key):
                return SpecPatch(chef=self.name, request=request.text,
                                 rationale=f"The rendered vocal reads as {reading.long_name}, in "
                                           f"{spec.key.long_name}'s notes, so I didn't move it; "
                                           "say \"shift the vocal up a semitone\" (or down) to "
                                           "move it by hand.")
            target = current + reading.transposition_to(spec.key)
        else:
            step = round(request.amount) if request.amount else 1
            target = current + (step if request.direction == "up" else -step)
        target = max(-12, min(12, target))
        if target == current:
            return SpecPatch(chef=self.name, request=request.text,
                             rationale=f"The vocal is already shifted {target:+d} semitones, as "
                                       "far as I move it (an octave either way).")
        expected = [ExpectedEffect(metric="sung_pitch", track=track, change=target - current,
                                   direction="up" if target > current else "down",
                                   text=f"{track} {target - current:+d} semitones: its sung "
                                        "pitch moves with it")]
        if reading is not None:
            lands = reading.transposed(target - current)
            if lands.fits(spec.key) != reading.fits(spec.key):
                expected.append(ExpectedEffect(
                    metric="in_key_share", track=track,
                    direction="up" if lands.fits(spec.key) else "down",
                    text=f"{track} {'into' if lands.fits(spec.key) else 'out of'} "
                         f"{spec.key.long_name}'s notes"))
        heard_as = f" It read as {reading.long_name}; moved, it sits in " \
                   f"{reading.transposed(target - current).long_name}." if reading else ""
        return SpecPatch(
            chef=self.name, request=request.text, ops=[SetVocalShift(semitones=target)],
            rationale=f"The vocal moves {target - current:+d} semitones: {target:+d} from the "
                      f"song's pitch in all, formants preserved.{heard_as}",
            expected=expected)


def _parts_patch(chef: str, spec: ProductionSpec, request: Feedback, track: str,
                 parts: dict[str, str], *, levels: bool = True) -> SpecPatch:
    """The patch that sets ``parts``; each section the vocal enters or leaves is expected to
    be heard louder or quieter on the vocal track (``levels``)."""
    spans = {s.name: (s, first, last) for s, first, last in spec.section_bars()}
    expected = []
    for name, part in parts.items():
        section, first, last = spans[name]
        if not levels or (part != "none") == (track in section.layers):
            continue
        inside = part != "none"
        expected.append(ExpectedEffect(
            metric="level_by_bar_db", track=track, start_bar=first, end_bar=last,
            direction="up" if inside else "down",
            text=f"{track} {'in' if inside else 'out of'} the {name} (bars {first}–{last})"))
    op = SetVocalParts(parts=parts)
    said = op.describe()
    now = _arrangement_words(apply_patch(spec, SpecPatch(chef=chef, ops=[op])))
    return SpecPatch(chef=chef, request=request.text, ops=[op],
                     rationale=f"{said[:1].upper()}{said[1:]}. Each phrase starts on a bar line "
                               "and fades in and out at its edges."
                               + (f" It now sings {now}." if now else " It no longer sings."),
                     expected=expected)


def _arrangement_words(spec: ProductionSpec) -> str:
    """"the hook in drop 1 and drop 2, chops in the build, a tag in the outro"."""
    vocals = spec.tracks_with_role(TrackRole.VOCALS)
    if not vocals:
        return ""
    groups: dict[str, list[str]] = {}
    for section in spec.sections:
        if vocals[0].name in section.layers:
            part = section.vocal_part
            if part == "hook" and spec.vocal is not None and spec.vocal.chops:
                part = "chops"
            groups.setdefault(part, []).append(section.name)
    return ", ".join(f"{VOCAL_PART_WORDS[part]} in the {spoken_list(names)}"
                     for part, names in groups.items())



def _onsets(track: str, start: int, end: int, *, up: bool, text: str) -> ExpectedEffect:
    """Chops and stutters are heard as a denser vocal: more onsets per bar over their bars."""
    return ExpectedEffect(metric="onsets_by_bar", track=track, start_bar=start, end_bar=end,
                          direction="up" if up else "down", text=text)
