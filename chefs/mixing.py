"""The Mixing Chef: levels, EQ, compression, sidechain and sends."""

from __future__ import annotations

import math

from core.brain import Aspect, Domain, Feedback
from core.brief import Brief
from core.chef import Chef, tracks_for
from core.genre import GenreProfile
from core.measurements import Measurements
from core.patch import (
    AdjustGain,
    ExpectedEffect,
    Operation,
    SetCompression,
    SetEQBand,
    SetMaster,
    SetSend,
    SetSidechain,
    SpecPatch,
)
from core.spec import Compression, EQBand, ProductionSpec, Sidechain, TrackRole

__all__ = ["MixingChef"]

DEFAULT_STEP_DB = 3.0
"""A change a listener clearly hears without wrecking the balance."""

SIDECHAIN_STEP_DB = 3.0

HEARD_STEP_DB = 3.0
"""How far a bass change should move the master's bass region between the kicks (2–4 dB asked)."""

_MAKEUP_DB = 0.3
"""How far past :data:`HEARD_STEP_DB` the bass is sized. The master is limited to its loudness
target, so a quieter bass is partly made up (0.5–0.9 dB on 8-bar renders); sizing past half of
that lands the bass region 2.3–2.9 dB down (house, techno, drum & bass, lo-fi, tech house,
Afro House) and keeps a bass that owns the band within about 3.6 dB on its fader."""

MAX_BASS_STEP_DB = 9.0
"""The most a bass fader moves for one "too loud"/"too quiet" with no amount named."""


def bass_step_db(share: float | None, *, down: bool) -> float:
    """The bass fader move (dB, positive) that moves the master's bass region by
    :data:`HEARD_STEP_DB` (past the master's makeup, :data:`_MAKEUP_DB`), given the bass's
    share of that band between the kicks.

    Other parts in the band (a kick's tail, a rumble) do not move with the bass: with a share
    ``s`` the band changes by ``1 + s (g − 1)`` in power for a fader gain ``g``. At least
    :data:`DEFAULT_STEP_DB`, at most :data:`MAX_BASS_STEP_DB`; the default without a share.

    >>> round(bass_step_db(1.0, down=True), 1), round(bass_step_db(0.8, down=True), 1)
    (3.3, 4.8)
    """
    if share is None or share <= 0:
        return DEFAULT_STEP_DB
    aim = HEARD_STEP_DB + _MAKEUP_DB
    wanted = 10.0 ** ((-aim if down else aim) / 10.0)
    gain = 1.0 + (wanted - 1.0) / min(1.0, share)
    if gain <= 10.0 ** (-MAX_BASS_STEP_DB / 10.0):
        return MAX_BASS_STEP_DB
    return float(min(MAX_BASS_STEP_DB, max(DEFAULT_STEP_DB, abs(10.0 * math.log10(gain)))))


class MixingChef(Chef):
    """Balances the tracks and makes them sit together; designs the sidechain pump."""

    name = "MixingChef"
    domain = Domain.MIXING

    def plan(self, *, brief: Brief, spec: ProductionSpec, genre: GenreProfile) -> SpecPatch:
        """Duck bass and music under the kick by the genre's depth; gentle glue on the drums."""
        ops: list[Operation] = []
        depth = genre.sidechain_depth_db
        for track in spec.tracks:
            if track.name in ("bass", "music"):
                ops.append(SetSidechain(track=track.name,
                                        depth_db=depth if track.name == "bass" else depth / 2))
        if spec.track("drums"):
            ops.append(SetCompression(track="drums", compression=Compression(
                threshold_db=-16, ratio=2.5, attack_ms=20, release_ms=90)))
        if spec.track("vocals"):
            ops.append(SetEQBand(track="vocals", band=EQBand(kind="peak", freq_hz=300,
                                                             gain_db=-2, q=1.0)))
        return SpecPatch(
            chef=self.name,
            ops=ops,
            rationale=(
                f"{genre.name} lives on the pump: the bass ducks {depth:g} dB on every kick so the "
                "low end never fights, the music half as much; the drums get light glue and the "
                "vocal loses a little low-mid boxiness."
            ),
            expected=[ExpectedEffect(metric="ducking_depth_db", track="bass", change=depth,
                                     text=f"bass ducks {depth:g} dB on kick hits")],
        )

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: Measurements,
                genre: GenreProfile) -> SpecPatch:
        handler = {
            Aspect.LEVEL: self._level,
            Aspect.SIDECHAIN: self._sidechain,
            Aspect.THIN: self._eq,
            Aspect.MUDDY: self._eq,
            Aspect.HARSH: self._eq,
            Aspect.BRIGHTNESS: self._eq,
            Aspect.PUNCH: self._punch,
            Aspect.WIDTH: self._sends,
            Aspect.REVERB: self._sends,
            Aspect.DELAY: self._sends,
        }.get(request.aspect)
        if handler is None:
            return super().consult(spec=spec, request=request, measurements=measurements,
                                   genre=genre)
        if request.aspect is Aspect.PUNCH:
            return self._punch(spec, request, measurements)
        if request.aspect is Aspect.LEVEL:
            return self._level(spec, request, measurements)
        if request.aspect in (Aspect.BRIGHTNESS, Aspect.HARSH):
            return self._eq(spec, request, measurements)
        if request.aspect is Aspect.WIDTH and request.target in ("", "master"):
            return self._master_width(spec, request)
        return handler(spec, request)

    def _master_width(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        """"Wider" with no track named is about the whole mix: the master's stereo width."""
        up = request.direction == "up"
        before = spec.master.width
        width = min(2.0, before + 0.2) if up else max(0.0, before - 0.2)
        return SpecPatch(
            chef=self.name, request=request.text, ops=[SetMaster(width=width)],
            rationale="Widening the sides of the whole mix spreads it out; the low end stays "
                      "mono so it still hits on a club system." if up else
                      "Narrowing the sides of the whole mix pulls it towards the centre.",
            expected=[ExpectedEffect(metric="stereo_width", direction="up" if up else "down",
                                     text=f"stereo width {before:.0%} → {width:.0%}")],
        )

    def _level(self, spec: ProductionSpec, request: Feedback,
               measurements: Measurements | None = None) -> SpecPatch:
        tracks = tracks_for(spec, request.target)
        down = request.direction == "down"
        share = _measured(measurements, "", "bass_share_between_kicks")
        sized = (not request.amount and share is not None
                 and any(t.role is TrackRole.BASS for t in tracks))
        # "bass too loud" is about what the director hears: where the kick's tail or another
        # part shares the bass region between the kicks, the bass moves further so the master
        # does (a named amount is kept as named)
        step = bass_step_db(share, down=down) if sized else DEFAULT_STEP_DB
        step = min(request.amount or step, 12.0)
        delta = round(-step if down else step, 1)
        if not tracks:  # honest: nothing to move, and what there is
            have = ", ".join(t.name for t in spec.tracks)
            return SpecPatch(chef=self.name, request=request.text, ops=[], rationale=(
                f"This production has no {request.target or 'such'} track to turn "
                f"{'down' if delta < 0 else 'up'}; its tracks are {have}."))
        ops: list[Operation] = [AdjustGain(track=t.name, delta_db=delta) for t in tracks]
        names = ", ".join(t.name for t in tracks)
        expected = [ExpectedEffect(metric="track_level_db", track=t.name, change=delta,
                                   direction="down" if delta < 0 else "up",
                                   text=f"{t.name} {delta:+g} dB") for t in tracks]
        if any(t.role is TrackRole.BASS for t in tracks):
            # the fader is not what the director hears: check the master's bass region too.
            # Judged by direction only: where the kick's tail or a low pad shares that band the
            # master moves less than the fader, and the card shows by how much
            aim = -HEARD_STEP_DB if delta < 0 else HEARD_STEP_DB
            expected.append(ExpectedEffect(
                metric="low_between_kicks_db", direction="down" if delta < 0 else "up",
                text=f"the master's bass region between the kicks {'down' if delta < 0 else 'up'}"
                     f" (aim {aim if sized else delta:+g} dB)"))
        why = "enough to hear the balance change without losing the groove."
        if sized and share is not None:
            why = (f"the bass is {share:.0%} of the low end between the kicks (the kick's tail "
                   f"and the other parts are the rest) and the master makes up part of a "
                   f"{'quieter' if delta < 0 else 'louder'} bass, so {DEFAULT_STEP_DB:g} dB on "
                   f"its fader would move what you hear there by less than about "
                   f"{abs(_heard_db(share, DEFAULT_STEP_DB, down=delta < 0)):.1f} dB; this "
                   f"aims at {HEARD_STEP_DB:g} dB.")
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops,
            rationale=f"{'Lowered' if delta < 0 else 'Raised'} {names} by {abs(delta):g} dB: "
                      + why,
            expected=expected,
        )

    def _sidechain(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        tracks = tracks_for(spec, request.target, default="bass")
        ops: list[Operation] = []
        expected = []
        for track in tracks:
            before = (track.sidechain or Sidechain(depth_db=0)).depth_db
            step = request.amount or SIDECHAIN_STEP_DB
            after = before + step if request.direction == "up" else max(0.0, before - step)
            after = min(after, 24.0)
            ops.append(SetSidechain(track=track.name, depth_db=after))
            expected.append(ExpectedEffect(
                metric="ducking_depth_db", track=track.name, change=after - before,
                direction="up" if after > before else "down",
                text=f"{track.name} ducking depth {before:g} → {after:g} dB on kick hits"))
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops, expected=expected,
            rationale="Deeper ducking opens space for every kick and gives the classic pump; "
                      "the release stays tied to the groove so it breathes in time."
            if request.direction == "up" else
            "Lighter ducking keeps the low end steadier between kicks.",
        )

    def _eq(self, spec: ProductionSpec, request: Feedback,
            measurements: Measurements | None = None) -> SpecPatch:
        aspect = request.aspect
        default = {Aspect.THIN: "bass", Aspect.MUDDY: "music", Aspect.HARSH: "vocals",
                   Aspect.BRIGHTNESS: "music"}[aspect]
        target = "" if request.target == "master" else request.target
        tracks = tracks_for(spec, target, default=default) or tracks_for(spec, "music")
        if aspect is Aspect.THIN:
            band = EQBand(kind="low_shelf", freq_hz=150, gain_db=3, q=0.7)
            why = "A low shelf adds body under 150 Hz where a thin sound is missing weight."
            metric, direction = "low_end_db", "up"
        elif aspect is Aspect.MUDDY:
            band = EQBand(kind="peak", freq_hz=300, gain_db=-3.5, q=1.2)
            why = "Mud is low-mid build-up around 250–400 Hz; a cut there clears it."
            metric, direction = "low_end_db", "down"
        elif aspect is Aspect.HARSH:
            band = EQBand(kind="peak", freq_hz=3500, gain_db=-3, q=1.5)
            why = "Harshness sits around 2.5–5 kHz; a gentle cut there softens the bite."
            metric, direction = "spectral_centroid_hz", "down"
        else:
            up = request.direction == "up"
            band = EQBand(kind="high_shelf", freq_hz=8000, gain_db=3 if up else -3, q=0.7)
            why = ("A high shelf from 8 kHz adds air and sparkle." if up
                   else "A high shelf cut from 8 kHz darkens and warms the sound.")
            metric, direction = "spectral_centroid_hz", "up" if up else "down"
        ops: list[Operation] = [
            SetEQBand(track=t.name, band=_harshness_cut_for(band, t.name, measurements)
                      if aspect is Aspect.HARSH else _shelf_for(band, t.name, measurements))
            for t in tracks]
        if aspect is Aspect.HARSH and any(
                op.band.freq_hz != band.freq_hz for op in ops if isinstance(op, SetEQBand)):
            why += (" A bright part (hats, cymbals) bites higher, where most of its sound is, "
                    "so its cut follows its own spectrum.")
        if aspect is Aspect.BRIGHTNESS and any(
                op.band.freq_hz != band.freq_hz for op in ops if isinstance(op, SetEQBand)):
            why += (" A dark sound has little up there, so the shelf starts where its own top "
                    "end is (about four times its spectral centroid).")
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops, rationale=why,
            expected=[ExpectedEffect(metric=metric, track=op.track, direction=direction,
                                     text=f"{op.track} {op.band.kind.replace('_', ' ')} "
                                          f"{op.band.gain_db:+g} dB at {op.band.freq_hz:g} Hz")
                      for op in ops if isinstance(op, SetEQBand)],
        )

    def _punch(self, spec: ProductionSpec, request: Feedback,
               measurements: Measurements | None = None) -> SpecPatch:
        tracks = tracks_for(spec, request.target, default="drums")
        ops: list[Operation] = []
        for t in tracks:
            # the threshold sits a few dB over the track's measured level, so the compressor
            # shapes the hits instead of squashing a loud track (a kick at −12 LUFS under a
            # −20 dB threshold lost 6 dB); −20 dB when the track was not measured
            level = _measured(measurements, t.name, "track_level_db")
            threshold = -20.0 if level is None else max(-40.0, min(-6.0, level + 4.0))
            comp = Compression(threshold_db=round(threshold, 1), ratio=4, attack_ms=30,
                               release_ms=80)
            ops.append(SetCompression(track=t.name, compression=comp))
            ops.append(AdjustGain(track=t.name, delta_db=1.5))
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops,
            rationale="A slow 30 ms attack lets each transient through before the compressor "
                      "grabs the tail, so hits snap harder; 1.5 dB more level makes up for it.",
            expected=[ExpectedEffect(metric="track_level_db", track=t.name, change=1.5,
                                     text=f"{t.name} +1.5 dB, transients kept") for t in tracks],
        )

    def _sends(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        bus = "delay" if request.aspect is Aspect.DELAY else "reverb"
        target = "" if request.target == "master" else request.target
        tracks = tracks_for(spec, target, default="vocals") or tracks_for(spec, "music")
        up = request.direction == "up"
        ops: list[Operation] = []
        expected: list[ExpectedEffect] = []
        for t in tracks:
            sent = t.sends_db.get(bus)  # type: ignore[call-overload]
            before = -40.0 if sent is None else sent
            after = min(0.0, before + 5) if up else max(-60.0, before - 6)
            if after == before:
                continue
            ops.append(SetSend(track=t.name, bus=bus, level_db=after))
            # a return is linear: its share of the track moves by exactly the send's change
            # (a track that sent nothing had no share to move from: then only which way)
            expected.append(ExpectedEffect(
                metric="delay_wet_db" if bus == "delay" else "reverb_wet_db", track=t.name,
                change=0.0 if sent is None else after - before,
                direction="up" if up else "down",
                text=f"{t.name} {bus} send {before:g} → {after:g} dB: its {bus} "
                     f"{'up' if up else 'down'} re the dry sound"))
            if request.aspect is Aspect.WIDTH:
                expected.append(ExpectedEffect(
                    metric="side_mid_ratio", track=t.name, direction="up" if up else "down",
                    text=f"{t.name} heard wider (side/mid with its {bus})" if up
                    else f"{t.name} heard narrower (side/mid with its {bus})"))
        what = "space and width" if request.aspect is Aspect.WIDTH else f"more {bus}"
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops, expected=expected,
            rationale=f"Sending more to the {bus} return adds {what} without smearing the dry "
                      "signal." if up else f"Less {bus} brings the sound forward and drier.",
        )


def _heard_db(share: float, step_db: float, *, down: bool) -> float:
    """How far the bass region between the kicks moves for ``step_db`` on a bass with ``share``."""
    gain = 10.0 ** ((-step_db if down else step_db) / 10.0)
    return 10.0 * math.log10(max(1e-6, 1.0 + share * (gain - 1.0)))


def _measured(measurements: Measurements | None, track: str, metric: str) -> float | None:
    """A track's measured number; measurements read from a render's JSON are validated first."""
    if measurements is None:
        return None
    return Measurements.model_validate(measurements).value(metric, track)


def _harshness_cut_for(band: EQBand, track: str, measurements: Measurements | None) -> EQBand:
    """The cut for a harsh track, placed above its spectral centroid so the bite goes down.

    A 3.5 kHz cut on hats whose centroid is 10 kHz takes out what sits under their bite and
    leaves them brighter (their centroid rose). A track whose centroid is past 5 kHz gets a
    high shelf from half its centroid; one in the upper mids a peak half an octave above it;
    a darker one (most vocals) the 3.5 kHz cut.
    """
    centroid = _measured(measurements, track, "spectral_centroid_hz")
    if centroid is None or centroid <= 0:
        return band
    if centroid >= 5000:
        return EQBand(kind="high_shelf", freq_hz=float(min(8000.0, round(centroid / 2, -2))),
                      gain_db=band.gain_db, q=0.7)
    return band.model_copy(update={"freq_hz": float(max(band.freq_hz,
                                                        round(1.5 * centroid, -2)))})


def _shelf_for(band: EQBand, track: str, measurements: Measurements | None) -> EQBand:
    """A brightening shelf moved down to where a dark track's top end is (never below 1.5 kHz).

    An 8 kHz shelf on a pad whose centroid is 330 Hz changes nothing audible or measurable.
    """
    centroid = _measured(measurements, track, "spectral_centroid_hz")
    if band.kind != "high_shelf" or band.gain_db <= 0 or centroid is None or centroid <= 0:
        return band
    return band.model_copy(update={"freq_hz": float(min(band.freq_hz, max(1500.0, round(4 * centroid, -2))))})
