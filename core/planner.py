"""The first spec of a production, built from the brief and the genre's template.

The Chefs then refine it through their ``plan`` hooks, each a SpecPatch, so the first version
is made the same way every later one is.
"""

from __future__ import annotations

import hashlib
import re

from core.analysis import AnalysisReport
from core.brief import Brief, VocalMode, Workflow
from core.genre import GenreProfile
from core.music import Key
from core.spec import (
    VOCAL_PART_BY_KIND,
    MasterSpec,
    PatternSpec,
    ProductionSpec,
    Section,
    TrackRole,
    TrackSpec,
    VocalProcessing,
    VoiceSpec,
)
from core.units import bar_seconds

__all__ = ["DESIGN_GAIN_DB", "arrange_vocal", "base_spec", "production_title", "sections_like"]

DESIGN_GAIN_DB: dict[TrackRole, float] = {
    TrackRole.KICK: 0.0, TrackRole.DRUMS: -3.0, TrackRole.PERCUSSION: -6.0,
    TrackRole.BASS: -4.0, TrackRole.MUSIC: -8.0, TrackRole.VOCALS: -2.0, TrackRole.FX: -8.0,
}
"""Each role's fader as the production is laid out: a level the director changes is measured
from here (gain staging balances the designed levels, never the director's own moves)."""

_SAFE_TITLE = re.compile(r"[^A-Za-z0-9 _-]+")


def production_title(brief: Brief, genre: GenreProfile) -> str:
    """``Afro Circuit Remix``, ``Madonna Afro Circuit Remix``: safe for file names."""
    label = brief.genre_label or genre.name
    kind = {
        Workflow.REMIX: "Remix",
        Workflow.TEXT_TO_TRACK: "Track",
        Workflow.REPRODUCE: "Reproduction",
    }[brief.workflow.value if brief.workflow else Workflow.TEXT_TO_TRACK]
    title = " ".join(part for part in (brief.source_description, label, kind) if part)
    return _SAFE_TITLE.sub("", title).strip()[:60] or "Vyke Production"


def _seed(production_id: str) -> int:
    return int(hashlib.sha256(production_id.encode()).hexdigest()[:8], 16)


def base_spec(
    *,
    production_id: str,
    brief: Brief,
    genre: GenreProfile,
    source_key: Key | None,
    source_tempo_bpm: float | None,
    stems: dict[str, str],
    reference: AnalysisReport | None = None,
) -> ProductionSpec:
    """The production as the genre would lay it out, before any Chef has refined it.

    For *reproduce*, ``reference`` (the analysed upload) replaces the genre's structure with
    the reference's own sections and its loudness becomes the master's target.
    """
    seed = _seed(production_id)
    workflow = brief.workflow.value if brief.workflow else Workflow.TEXT_TO_TRACK
    has_vocal = (
        workflow is Workflow.REMIX
        and (brief.vocal is None or brief.vocal.value.mode is not VocalMode.INSTRUMENTAL)
    )
    tracks = [
        TrackSpec(name="kick", role=TrackRole.KICK, source="pattern",
                  pattern=PatternSpec(style=f"{genre.drum_grammar}_kick", seed=seed),
                  voice=VoiceSpec(name=genre.kick_voice)),
        TrackSpec(name="drums", role=TrackRole.DRUMS, source="pattern",
                  gain_db=DESIGN_GAIN_DB[TrackRole.DRUMS],
                  pattern=PatternSpec(style=genre.drum_grammar, seed=seed + 1, swing=genre.swing),
                  voice=VoiceSpec(name="drum_kit")),
        TrackSpec(name="percussion", role=TrackRole.PERCUSSION, source="pattern",
                  gain_db=DESIGN_GAIN_DB[TrackRole.PERCUSSION],
                  pattern=PatternSpec(style=genre.percussion or "shaker_16ths", seed=seed + 2,
                                      swing=genre.swing),
                  voice=VoiceSpec(name="percussion_kit"), sends_db={"reverb": -20}),
        TrackSpec(name="bass", role=TrackRole.BASS, source="pattern",
                  gain_db=DESIGN_GAIN_DB[TrackRole.BASS],
                  pattern=PatternSpec(style=genre.bass_style, seed=seed + 3),
                  voice=VoiceSpec(name=genre.bass_voice)),
        TrackSpec(name="music", role=TrackRole.MUSIC, source="pattern",
                  gain_db=DESIGN_GAIN_DB[TrackRole.MUSIC],
                  pattern=PatternSpec(style="chords", seed=seed + 4),
                  voice=VoiceSpec(name="pad"), sends_db={"reverb": -14, "delay": -22}),
    ]
    if has_vocal:
        tracks.append(
            TrackSpec(name="vocals", role=TrackRole.VOCALS, source="stem", stem="vocals",
                      gain_db=DESIGN_GAIN_DB[TrackRole.VOCALS], highpass_hz=120, sends_db={"reverb": -16, "delay": -20})
        )
    names = {t.role.value: t.name for t in tracks}
    sections: list[Section] = []
    counts: dict[str, int] = {}
    for template in genre.structure:
        counts[template.kind] = counts.get(template.kind, 0) + 1
        total = sum(1 for s in genre.structure if s.kind == template.kind)
        name = template.kind if total == 1 else f"{template.kind} {counts[template.kind]}"
        layers = [names[layer] for layer in template.layers if layer in names]
        sections.append(
            Section(name=name, kind=template.kind, bars=template.bars,
                    layers=layers, energy=template.energy)
        )
    if brief.structure is not None:  # the director asked for their own bar counts
        sections = [
            s.model_copy(update={"bars": bars})
            for s, (_, bars) in zip(sections, brief.structure.value, strict=False)
        ] or sections
    key = brief.key.value if brief.key else genre.key_near(source_key)
    tempo = brief.bpm.value if brief.bpm else genre.default_bpm
    vocal = None
    if has_vocal:
        sections = arrange_vocal(sections, "vocals")
        vocal = VocalProcessing(
            semitones=source_key.transposition_to(key) if source_key else 0,
            preserve_formants=brief.vocal.value.preserve_formants if brief.vocal else True,
            chops=bool(brief.vocal and brief.vocal.value.mode is VocalMode.CHOPS),
        )
    if workflow is Workflow.REPRODUCE and reference is not None:
        sections = sections_like(reference, tempo_bpm=tempo, template=sections) or sections
    master = MasterSpec()
    if workflow is Workflow.REPRODUCE and reference is not None:
        master = MasterSpec(target_lufs=min(-6.0, max(-30.0, round(reference.integrated_lufs, 1))))
    if brief.destination is not None:
        master = MasterSpec(target_lufs=brief.destination.value.target_lufs,
                            ceiling_dbtp=brief.destination.value.ceiling_dbtp)
    master.tonal_target = genre.tonal
    return ProductionSpec(
        title=production_title(brief, genre),
        genre=genre.id,
        tempo_bpm=tempo,
        key=key,
        seed=seed,
        source_tempo_bpm=source_tempo_bpm,
        source_key=source_key,
        sources=dict(stems),
        sections=sections,
        tracks=tracks,
        vocal=vocal,
        master=master,
    )


_VOCAL_ALWAYS = ("drop", "chorus", "build", "outro")
"""Where a remix always has the vocal, whatever the genre's template plays: the hook in the
drops and choruses, chops in the builds, a tag in the outro. Verses, breakdowns and intros
keep the template's choice."""


def arrange_vocal(sections: list[Section], track: str) -> list[Section]:
    """``sections`` with the vocal ``track`` placed the way a remixer would place it.

    The hook goes in every drop and chorus, chops of it in the builds, a tag (the hook once)
    in the outro; verses and breakdowns that have the vocal sing the song's other phrases, an
    intro that has it a tag. Each section says what it sings (:attr:`Section.vocal`), so a
    director's "vocal only in the drops" or "more of the hook" is a change to the spec like
    any other. (Chops asked for instead of the lyrics are :attr:`VocalProcessing.chops`: the
    render sings chops wherever the hook would be, and "chops off" brings the hook back.)
    """
    out = []
    for section in sections:
        plays = track in section.layers or section.kind in _VOCAL_ALWAYS
        if not plays:
            out.append(section)
            continue
        part = VOCAL_PART_BY_KIND[section.kind]
        layers = section.layers if track in section.layers else [*section.layers, track]
        out.append(section.model_copy(update={"layers": layers, "vocal": part}))
    return out


def fit_sections(sections: list[Section], max_bars: int) -> list[Section]:
    """``sections`` scaled down to about ``max_bars`` in whole 4-bar phrases, shape kept.

    A host may cap the length of its arrangements (``VYKE_MAX_BARS``: a small machine, a free
    tier, quick sketches); every section shrinks in proportion, to whole phrases so the fills
    and drops still land on phrase boundaries, and none below one phrase. Sections already
    within the cap are returned as they are.
    """
    total = sum(s.bars for s in sections)
    if max_bars <= 0 or total <= max_bars:
        return sections
    return [s.model_copy(update={"bars": max(4, 4 * round(s.bars * max_bars / total / 4))})
            if s.bars >= 4 else s for s in sections]


_KIND_BY_LABEL = {"intro": "intro", "outro": "outro", "low": "breakdown", "mid": "build",
                  "high": "drop"}


def sections_like(reference: AnalysisReport, *, tempo_bpm: float,
                  template: list[Section]) -> list[Section]:
    """The reference's sections in whole 4-bar phrases at ``tempo_bpm``, with the genre's layers.

    Each section takes the layers of the genre's first section of the same kind (a drop plays
    what the genre's drop plays), so the reproduction follows the reference's shape with the
    genre's instruments.
    """
    bar_s = bar_seconds(tempo_bpm)
    layers_by_kind: dict[str, list[str]] = {}
    for section in template:
        layers_by_kind.setdefault(section.kind, section.layers)
    fallback = max(template, key=lambda s: len(s.layers)).layers if template else []
    out: list[Section] = []
    counts: dict[str, int] = {}
    for estimate in reference.sections:
        bars = 4 * round((estimate.end_s - estimate.start_s) / bar_s / 4)
        if bars < 4:
            if out:  # too short for a phrase: it belongs to the section before
                continue
            bars = 4
        kind = _KIND_BY_LABEL.get(estimate.label, "drop" if estimate.energy > 0.66 else "build")
        if out and out[-1].kind == kind:
            out[-1] = out[-1].model_copy(update={"bars": min(256, out[-1].bars + bars)})
            continue
        counts[kind] = counts.get(kind, 0) + 1
        out.append(Section(name=f"{kind} {counts[kind]}", kind=kind,
                           bars=min(256, bars), layers=list(layers_by_kind.get(kind, fallback)),
                           energy=round(max(0.0, min(1.0, estimate.energy)), 2)))
    for section in out:  # "drop 1" alone reads better as "drop"
        if counts.get(section.kind) == 1:
            section.name = section.kind
    return out
