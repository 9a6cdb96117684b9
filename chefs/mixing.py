"""The Mixing Chef: levels, EQ, compression, sidechain and sends."""

from __future__ import annotations

from typing import Any

from core.brain import Aspect, Domain, Feedback
from core.brief import Brief
from core.chef import Chef, tracks_for
from core.genre import GenreProfile
from core.patch import (
    AdjustGain,
    ExpectedEffect,
    Operation,
    SetCompression,
    SetEQBand,
    SetSend,
    SetSidechain,
    SpecPatch,
)
from core.spec import Compression, EQBand, ProductionSpec, Sidechain

__all__ = ["MixingChef"]

DEFAULT_STEP_DB = 3.0
"""A change a listener clearly hears without wrecking the balance."""

SIDECHAIN_STEP_DB = 3.0


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

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: dict[str, Any],
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
        return handler(spec, request)

    def _level(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        step = min(request.amount or DEFAULT_STEP_DB, 12.0)
        delta = -step if request.direction == "down" else step
        tracks = tracks_for(spec, request.target)
        ops: list[Operation] = [AdjustGain(track=t.name, delta_db=delta) for t in tracks]
        names = ", ".join(t.name for t in tracks) or request.target
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops,
            rationale=f"{'Lowered' if delta < 0 else 'Raised'} {names} by {abs(delta):g} dB: "
                      "enough to hear the balance change without losing the groove.",
            expected=[ExpectedEffect(metric="track_level_db", track=t.name, change=delta,
                                     direction="down" if delta < 0 else "up",
                                     text=f"{t.name} {delta:+g} dB") for t in tracks],
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

    def _eq(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
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
        ops: list[Operation] = [SetEQBand(track=t.name, band=band) for t in tracks]
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops, rationale=why,
            expected=[ExpectedEffect(metric=metric, track=t.name, direction=direction,
                                     text=f"{t.name} {band.kind.replace('_', ' ')} "
                                          f"{band.gain_db:+g} dB at {band.freq_hz:g} Hz")
                      for t in tracks],
        )

    def _punch(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        tracks = tracks_for(spec, request.target, default="drums")
        comp = Compression(threshold_db=-20, ratio=4, attack_ms=30, release_ms=80)
        ops: list[Operation] = []
        for t in tracks:
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
        for t in tracks:
            before = t.sends_db.get(bus, -40.0)  # type: ignore[call-overload]
            after = min(0.0, before + 5) if up else max(-60.0, before - 6)
            ops.append(SetSend(track=t.name, bus=bus, level_db=after))
        what = "space and width" if request.aspect is Aspect.WIDTH else f"more {bus}"
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops,
            rationale=f"Sending more to the {bus} return adds {what} without smearing the dry "
                      "signal." if up else f"Less {bus} brings the sound forward and drier.",
        )
