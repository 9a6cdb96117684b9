"""Live's native devices as parameter tables, and the one builder that turns a table into XML.

Each device is a table of (name, kind, default, min, max) in Live's own units, so a later
diff against a set saved by Live is a diff of data. Units (from Live-saved sets):

- ``Eq8`` band ``Freq`` Hz 10–22000, ``Gain`` dB ±15, ``Q`` 0.1–18, ``Mode`` 0 low cut 48,
  1 low cut 12, 2 low shelf, 3 bell, 4 notch, 5 high shelf, 6 high cut 12, 7 high cut 48.
- ``Compressor2`` ``Threshold`` linear amplitude (10^(dB/20)), ``Attack``/``Release`` ms,
  ``Gain``/``Knee`` dB, ``DryWet`` 0–1, ``Model`` 0 peak, 1 RMS, 2 expand.
- ``AutoFilter`` ``Cutoff`` on the MIDI-note scale 20–135 (Hz = 440·2^((v−69)/12)),
  ``FilterType`` 0 low-pass, 1 high-pass, 2 band-pass, 3 notch.
- ``StereoGain`` (Utility) ``Gain`` linear (1 = 0 dB), ``StereoWidth`` 0–4 (1 = as is).
- Mixer ``Volume`` and sends linear (1 = 0 dB), ``Pan`` −1…1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree

from core.units import db_to_gain, hz_to_midi
from jobs.export._xml import IdAllocator, sub, value

__all__ = [
    "MIN_GAIN",
    "Param",
    "auto_filter",
    "compressor",
    "cutoff_to_live",
    "device_header",
    "eq_eight",
    "gain_to_live",
    "param",
    "utility",
]

_Element = etree._Element
Kind = Literal["bool", "enum", "float"]

MIN_GAIN = 0.0003162277571
"""−70 dB, the bottom of Live's faders, sends and thresholds (as linear amplitude)."""
_MAX_FADER = 1.99526238  # +6 dB
_MAX_RATIO = 340282326356119256160033759537265639424.0  # Live's "inf:1"


@dataclass(frozen=True, slots=True)
class Param:
    """One device parameter in Live's units."""

    name: str
    kind: Kind
    default: float | bool
    low: float = 0.0
    high: float = 1.0


def param(parent: _Element, spec: Param, ids: IdAllocator, *,
          manual: float | bool | None = None) -> int:
    """Write a parameter node and return its ``AutomationTarget`` id (for envelopes).

    Continuous parameters carry a controller range and a modulation target; switches
    carry MIDI on/off thresholds; enums carry neither.
    """
    node = etree.SubElement(parent, spec.name)
    value(node, "LomId", 0)
    val = spec.default if manual is None else manual
    if spec.kind == "float":
        val = min(max(float(val), spec.low), spec.high)
    elif spec.kind == "enum":
        val = int(val)
    else:
        val = bool(val)
    value(node, "Manual", val)
    if spec.kind == "float":
        rng = etree.SubElement(node, "MidiControllerRange")
        value(rng, "Min", spec.low)
        value(rng, "Max", spec.high)
    target = ids.pointee()
    value(sub(node, "AutomationTarget", Id=target), "LockEnvelope", 0)
    if spec.kind == "float":
        value(sub(node, "ModulationTarget", Id=ids.pointee()), "LockEnvelope", 0)
    if spec.kind == "bool":
        thresholds = etree.SubElement(node, "MidiCCOnOffThresholds")
        value(thresholds, "Min", 64)
        value(thresholds, "Max", 127)
    return target


def device_header(el: _Element, ids: IdAllocator, *, on: bool = True,
                  is_device: bool = True) -> dict[str, int]:
    """The elements every device (and the mixer) starts with; returns ``{"On": target}``."""
    value(el, "LomId", 0)
    value(el, "LomIdView", 0)
    value(el, "IsExpanded", True)
    targets = {"On": param(el, Param("On", "bool", True), ids, manual=on)}
    value(el, "ModulationSourceCount", 0)
    sub(el, "ParametersListWrapper", LomId=0)
    sub(el, "Pointee", Id=ids.pointee())
    value(el, "LastSelectedTimeableIndex", 0)
    value(el, "LastSelectedClipEnvelopeIndex", 0)
    etree.SubElement(etree.SubElement(el, "LastPresetRef"), "Value")
    etree.SubElement(el, "LockedScripts")
    value(el, "IsFolded", False)
    value(el, "ShouldShowPresetName", False)
    value(el, "UserName", "")
    value(el, "Annotation", "")
    etree.SubElement(etree.SubElement(el, "SourceContext"), "Value")
    if is_device:
        value(el, "OverwriteProtectionNumber", 2816)
    return targets


def gain_to_live(db: float, *, high: float = _MAX_FADER) -> float:
    """A level in dB as Live's linear amplitude, floored at −70 dB."""
    return min(max(db_to_gain(db), MIN_GAIN), high)


def cutoff_to_live(hz: float) -> float:
    """Auto Filter's cutoff scale: the MIDI note of ``hz``, clamped to 20–135."""
    return min(max(hz_to_midi(max(hz, 1.0)), 20.0), 135.0)


# ---------------------------------------------------------------- EQ Eight
_EQ_MODES = {"highpass": 1, "low_shelf": 2, "peak": 3, "high_shelf": 5}
_EQ_IDLE_FREQS = (40.0, 80.0, 160.0, 400.0, 1000.0, 2500.0, 6000.0, 12000.0)


def eq_eight(devices: _Element, index: int, ids: IdAllocator,
             bands: list[tuple[str, float, float, float]]) -> dict[str, int]:
    """An EQ Eight; ``bands`` are (kind, freq_hz, gain_db, q), at most eight, in order.

    Returns the automation targets of each used band's frequency, keyed ``"band<i>.freq"``.
    """
    el = sub(devices, "Eq8", Id=index)
    targets = device_header(el, ids)
    for i in range(8):
        band = sub(el, f"Bands.{i}")
        for side in ("ParameterA", "ParameterB"):
            holder = etree.SubElement(band, side)
            used = side == "ParameterA" and i < len(bands)
            kind, freq, gain, q = bands[i] if used else ("peak", _EQ_IDLE_FREQS[i], 0.0, 0.71)
            param(holder, Param("IsOn", "bool", False), ids, manual=used)
            param(holder, Param("Mode", "enum", 3), ids, manual=_EQ_MODES[kind])
            freq_target = param(holder, Param("Freq", "float", 1000.0, 10.0, 22000.0), ids,
                                manual=freq)
            param(holder, Param("Gain", "float", 0.0, -15.0, 15.0), ids, manual=gain)
            param(holder, Param("Q", "float", 0.71, 0.1, 18.0), ids, manual=q)
            if used:
                targets[f"band{i}.freq"] = freq_target
    return targets


# ---------------------------------------------------------------- Compressor
def compressor(devices: _Element, index: int, ids: IdAllocator, *, threshold_db: float,
               ratio: float, attack_ms: float, release_ms: float,
               sidechain: tuple[int, str] | None = None) -> dict[str, int]:
    """A Compressor; ``sidechain`` = (source track id, source name) keys it from that track."""
    el = sub(devices, "Compressor2", Id=index)
    targets = device_header(el, ids)
    targets["Threshold"] = param(el, Param("Threshold", "float", 1.0, MIN_GAIN, _MAX_FADER),
                                 ids, manual=gain_to_live(threshold_db))
    param(el, Param("Ratio", "float", 4.0, 1.0, _MAX_RATIO), ids, manual=ratio)
    param(el, Param("Attack", "float", 1.0, 0.01, 1000.0), ids, manual=attack_ms)
    param(el, Param("Release", "float", 30.0, 1.0, 3000.0), ids, manual=release_ms)
    param(el, Param("Gain", "float", 0.0, -36.0, 36.0), ids)
    param(el, Param("Knee", "float", 6.0, 0.0, 18.0), ids)
    param(el, Param("DryWet", "float", 1.0, 0.0, 1.0), ids)
    param(el, Param("Model", "enum", 0), ids, manual=1 if sidechain is None else 0)
    chain = etree.SubElement(el, "SideChain")
    param(chain, Param("OnOff", "bool", False), ids, manual=sidechain is not None)
    routed = etree.SubElement(chain, "RoutedInput")
    routable = etree.SubElement(routed, "Routable")
    if sidechain is None:
        routing = ("AudioIn/None", "No Input", "")
    else:
        routing = (f"AudioIn/Track.{sidechain[0]}/PostFxOut", sidechain[1], "Post FX")
    value(routable, "Target", routing[0])
    value(routable, "UpperDisplayString", routing[1])
    value(routable, "LowerDisplayString", routing[2])
    mpe = etree.SubElement(routable, "MpeSettings")
    value(mpe, "ZoneType", 0)
    value(mpe, "FirstNoteChannel", 1)
    value(mpe, "LastNoteChannel", 15)
    param(routed, Param("Volume", "float", 1.0, MIN_GAIN, 15.8489322662), ids)
    param(chain, Param("DryWet", "float", 1.0, 0.0, 1.0), ids)
    eq = etree.SubElement(el, "SideChainEq")
    param(eq, Param("On", "bool", False), ids)
    param(eq, Param("Mode", "enum", 5), ids)
    param(eq, Param("Freq", "float", 80.0, 30.0, 15000.0), ids)
    param(eq, Param("Q", "float", 0.71, 0.1, 12.0), ids)
    param(eq, Param("Gain", "float", 0.0, -15.0, 15.0), ids)
    return targets


# ---------------------------------------------------------------- Auto Filter
def auto_filter(devices: _Element, index: int, ids: IdAllocator, *, cutoff_hz: float,
                filter_type: int = 0) -> dict[str, int]:
    """An Auto Filter (low-pass by default) whose ``Cutoff`` target is returned for sweeps."""
    el = sub(devices, "AutoFilter", Id=index)
    targets = device_header(el, ids)
    param(el, Param("FilterType", "enum", 0), ids, manual=filter_type)
    targets["Cutoff"] = param(el, Param("Cutoff", "float", 135.0, 20.0, 135.0), ids,
                              manual=cutoff_to_live(cutoff_hz))
    param(el, Param("Resonance", "float", 0.0, 0.0, 1.25), ids)
    return targets


# ---------------------------------------------------------------- Utility
def utility(devices: _Element, index: int, ids: IdAllocator, *, gain_db: float = 0.0,
            width: float = 1.0, mute: bool = False) -> dict[str, int]:
    """A Utility: gain (automatable), stereo width, mute."""
    el = sub(devices, "StereoGain", Id=index)
    targets = device_header(el, ids)
    param(el, Param("PhaseInvertL", "bool", False), ids)
    param(el, Param("PhaseInvertR", "bool", False), ids)
    param(el, Param("StereoWidth", "float", 1.0, 0.0, 4.0), ids, manual=width)
    param(el, Param("Mono", "bool", False), ids, manual=width == 0)
    param(el, Param("Balance", "float", 0.0, -1.0, 1.0), ids)
    targets["Gain"] = param(el, Param("Gain", "float", 1.0, 0.0, 56.2341327), ids,
                            manual=gain_to_live(gain_db, high=56.2341327))
    param(el, Param("Mute", "bool", False), ids, manual=mute)
    return targets
