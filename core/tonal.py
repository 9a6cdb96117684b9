"""Tonal balance and stereo image targets: what a genre's master should measure, as data.

A master's tonal balance is read as the power of its mid signal in octave bands (centres 63 Hz
to 8 kHz), in dB relative to the 1 kHz octave, over the whole song. The reference is the mean
of 12,345 commercial tracks measured that way (Elowsson & Friberg 2017, AES 142nd Convention,
paper 9762, loudness-normalised with BS.1770; octave levels integrated from their fitted mean
curve). Each genre's target sits within a few dB of that mean; :func:`honesty_problems` says
how far it may stray, so a genre file cannot quietly move the goalposts.

The stereo image is read as the side/mid RMS *amplitude* ratio (for two equal channels with
correlation r it is √((1 − r)/(1 + r)): 0.16 at r = 0.95, 0.23 at r = 0.9) and the correlation
of left and right below 120 Hz (1 = mono bass). PLR is the peak-to-loudness ratio, true peak
(dBTP) minus integrated loudness (LUFS).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

__all__ = [
    "BAND_LABELS",
    "COMMERCIAL_MEAN_DB",
    "LOW_MONO_HZ",
    "OCTAVE_CENTRES_HZ",
    "TonalTarget",
    "band_label",
    "honesty_problems",
]

OCTAVE_CENTRES_HZ: tuple[int, ...] = (63, 125, 250, 500, 2000, 4000, 8000)
"""Octave-band centres (Hz) a target names; the 1 kHz octave is the 0 dB reference."""

COMMERCIAL_MEAN_DB: dict[int, float] = {
    63: -4.1, 125: 1.2, 250: 2.1, 500: 1.7, 2000: -3.0, 4000: -7.2, 8000: -12.8,
}
"""Mean octave levels re 1 kHz of 12,345 commercial tracks (Elowsson & Friberg 2017)."""

LOW_MONO_HZ = 120.0
"""Below this the mix is kept mono (club and vinyl practice) and its correlation is measured."""

_MAX_BASS_LIFT_DB = 8.0  # a bass-led genre may sit this far above the mean below 160 Hz
_MAX_UPPER_OFFSET_DB = 3.0  # from 500 Hz up a genre stays this close to the mean
_MAX_LOW_TOLERANCE_DB = 6.0  # tolerance at 63–250 Hz: bass levels vary a lot between tracks
_MAX_HIGH_TOLERANCE_DB = 4.0


def band_label(centre_hz: int) -> str:
    """"63 Hz", "2 kHz": how a band is named in tables and pictures."""
    return f"{centre_hz // 1000} kHz" if centre_hz >= 1000 else f"{centre_hz} Hz"


BAND_LABELS: tuple[str, ...] = tuple(band_label(c) for c in OCTAVE_CENTRES_HZ)
"""Names of :data:`OCTAVE_CENTRES_HZ`, in order."""


class TonalTarget(BaseModel):
    """A genre's target tonal balance, stereo width and dynamics, with where the figures come from.

    ``bands_db`` and ``tolerance_db`` are keyed by octave centre in Hz (as strings in TOML, e.g.
    ``"63"``); a master is in range in a band when it lies within ``bands_db ± tolerance_db``.
    """

    bands_db: dict[int, float]  #: octave level re 1 kHz, dB, for every OCTAVE_CENTRES_HZ
    tolerance_db: dict[int, float]  #: allowed deviation either side, dB
    side_mid_min: float = Field(default=0.15, ge=0, le=2)  #: side/mid RMS amplitude ratio
    side_mid_max: float = Field(default=0.6, ge=0, le=2)
    low_correlation_min: float = Field(default=0.9, ge=-1, le=1)  #: L/R correlation < 120 Hz
    plr_min_db: float = Field(default=7.0, ge=0, le=30)  #: peak-to-loudness ratio
    plr_max_db: float = Field(default=14.0, ge=0, le=30)
    sources: list[str] = Field(default_factory=list)  #: where each offset comes from

    @model_validator(mode="after")
    def _complete(self) -> TonalTarget:
        for name, table in (("bands_db", self.bands_db), ("tolerance_db", self.tolerance_db)):
            missing = [c for c in OCTAVE_CENTRES_HZ if c not in table]
            if missing:
                raise ValueError(f"{name} lacks the octaves {missing}")
        if self.side_mid_min > self.side_mid_max or self.plr_min_db > self.plr_max_db:
            raise ValueError("a range's minimum is above its maximum")
        return self

    def low_db(self, centre_hz: int) -> float:
        """Lowest level in range for a band, dB re 1 kHz."""
        return self.bands_db[centre_hz] - self.tolerance_db[centre_hz]

    def high_db(self, centre_hz: int) -> float:
        """Highest level in range for a band, dB re 1 kHz."""
        return self.bands_db[centre_hz] + self.tolerance_db[centre_hz]

    def out_of_range(self, levels_db: dict[int, float]) -> dict[int, float]:
        """Bands outside the range and by how much (dB, + too loud, − too quiet)."""
        out = {}
        for centre in OCTAVE_CENTRES_HZ:
            level = levels_db.get(centre)
            if level is None:
                continue
            if level > self.high_db(centre):
                out[centre] = level - self.high_db(centre)
            elif level < self.low_db(centre):
                out[centre] = level - self.low_db(centre)
        return out


def honesty_problems(target: TonalTarget) -> list[str]:
    """Ways a target strays from the commercial mean further than the rules allow (empty if none).

    The rules: within +8 dB of the mean below 160 Hz (and not below it by more than 8), within
    ±3 dB of it from 500 Hz up, tolerance at most ±6 dB below 250 Hz and ±4 dB above.
    """
    problems = []
    for centre in OCTAVE_CENTRES_HZ:
        offset = target.bands_db[centre] - COMMERCIAL_MEAN_DB[centre]
        tolerance = target.tolerance_db[centre]
        if centre < 160 and abs(offset) > _MAX_BASS_LIFT_DB:
            problems.append(f"{band_label(centre)} is {offset:+.1f} dB from the commercial mean")
        if centre >= 500 and abs(offset) > _MAX_UPPER_OFFSET_DB:
            problems.append(f"{band_label(centre)} is {offset:+.1f} dB from the commercial mean")
        limit = _MAX_LOW_TOLERANCE_DB if centre < 250 else _MAX_HIGH_TOLERANCE_DB
        if not 0 < tolerance <= limit:
            problems.append(f"{band_label(centre)} tolerance ±{tolerance:g} dB (at most ±{limit:g})")
    return problems
