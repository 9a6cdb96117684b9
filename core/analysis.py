"""What analysis learned about a piece of audio, as data the Maestro and the Chefs read.

Jobs write these reports; ``core`` and ``chefs`` never import ``jobs``: they only see this data.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.music import Key

__all__ = [
    "ASK_BELOW_CONFIDENCE",
    "AnalysisReport",
    "KeyEstimate",
    "SectionEstimate",
    "TempoEstimate",
]

ASK_BELOW_CONFIDENCE = 0.8
"""Below this calibrated confidence a key or tempo reading is ``ambiguous`` and the Maestro asks.

Chosen on the development half of ``bench.corpus`` so that readings at or above it are right
at least 95 % of the time; ``bench.analysis`` reports how that holds on the test half.
"""


class TempoEstimate(BaseModel):
    """Tempo with a calibrated confidence and the half/double-time reading it competes with."""

    bpm: float = Field(gt=0)
    confidence: float = Field(ge=0, le=1)  #: about the share of such readings that are right
    alternative_bpm: float | None = None  #: half- or double-time reading
    ambiguous: bool = False  #: the alternative is plausible too: the Maestro asks


class KeyEstimate(BaseModel):
    """Key with a calibrated confidence and the runner-up (often the relative or parallel key)."""

    key: Key
    confidence: float = Field(ge=0, le=1)  #: about the share of such readings that are right
    runner_up: Key | None = None
    ambiguous: bool = False  #: confidence below :data:`ASK_BELOW_CONFIDENCE`: the Maestro asks


class SectionEstimate(BaseModel):
    """A coarse section of the song by energy."""

    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    energy: float = Field(ge=0, le=1)  #: relative energy, 1 = loudest section
    label: str = ""


class AnalysisReport(BaseModel):
    """One typed report per analysed file (``vyke analyze FILE --json`` prints it)."""

    duration_s: float = Field(ge=0)
    sample_rate_hz: int = Field(gt=0)
    channels: int = Field(ge=1)
    tempo: TempoEstimate
    key: KeyEstimate
    beat_times_s: list[float] = Field(default_factory=list)
    downbeat_times_s: list[float] = Field(default_factory=list)
    integrated_lufs: float
    true_peak_dbtp: float
    loudness_range_lu: float = Field(ge=0)
    sections: list[SectionEstimate] = Field(default_factory=list)
    energy_curve: list[float] = Field(default_factory=list)  #: one value per second, 0–1
    #: tonal balance: slope of the long-term spectrum, dB per octave over 100 Hz–10 kHz
    #: (about −3 to −6 for most mixes; higher is brighter)
    spectral_tilt_db_per_oct: float | None = None
