"""Sampled kits from free libraries the system installed, each with a licence we checked.

A sample ends up inside the director's music, so a kit is used only when its licence allows
that without conditions on the music: CC0, CC-BY (the export credits the author), MIT, or the
GPL with an exception for compositions. The licences come from Debian's copyright files,
read by a person and written down here (:data:`HYDROGEN_KITS`, :data:`SOUNDFONTS`); a kit
that is installed but not reviewed, or reviewed and refused, is never played.

Two kinds of library are found:

- Hydrogen drum kits (``hydrogen-drumkits``): folders of WAV/FLAC with a ``drumkit.xml`` that
  names each instrument; the names map to the vault's one-shot roles (``kick``, ``snare``,
  ``hat_closed`` …, see :func:`role_of`).
- General MIDI SoundFonts (``fluid-soundfont-gm``, ``musescore-general-soundfont``): their
  percussion bank holds congas, bongos, maracas, agogo, claves, timbales. Each note is rendered
  once through the ``fluidsynth`` command into a WAV in the cache and reused afterwards.

Everything here is discovery and bookkeeping; :mod:`jobs.sampler` plays the samples.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "HYDROGEN_DIRS",
    "HYDROGEN_KITS",
    "ROLES",
    "SOUNDFONTS",
    "SOUNDFONT_DIRS",
    "GenreSamples",
    "KitLicence",
    "Sample",
    "SampleKit",
    "find_hydrogen_kits",
    "find_soundfont_kits",
    "genre_samples",
    "read_hydrogen_kit",
    "role_of",
]

logger = logging.getLogger(__name__)

HYDROGEN_DIRS = ("/usr/share/hydrogen/data/drumkits",)
"""Where Debian's ``hydrogen-drumkits`` puts its kits."""

SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3")
"""Where Debian's General MIDI SoundFont packages put their files."""

ROLES = (
    "kick", "snare", "clap", "rim", "clave", "hat_closed", "hat_pedal", "hat_open", "ride",
    "crash", "shaker", "tambourine", "cowbell", "agogo_high", "agogo_low", "conga_high",
    "conga_low", "bongo", "tom_high", "tom_mid", "tom_low", "tamborim", "surdo",
)
"""The vault's one-shot roles a sample can stand in for (every kick voice plays ``kick``)."""


@dataclass(frozen=True, slots=True)
class KitLicence:
    """A library's licence, as read from its copyright file, and whether music may use it."""

    spdx: str  #: SPDX-style identifier, e.g. ``CC0-1.0``
    author: str
    allowed: bool  #: may a sample of it be mixed into the director's music?
    reason: str  #: why it is allowed or refused, in one sentence
    package: str  #: the Debian package that installs it
    url: str = ""

    @property
    def attribution(self) -> str:
        """The credit line the export's README carries."""
        where = f" ({self.url})" if self.url else ""
        return f"{self.author}{where}, {self.spdx}"


_GPL_EXCEPTION = "GPL-2.0-or-later WITH composition exception"
_NO_CONDITIONS = "allows use in music with no conditions on the music"
HYDROGEN_KITS: dict[str, KitLicence] = {
    "Audiophob": KitLicence("CC0-1.0", "soundcloud.com/audiophobdubstep", True,
                            "CC0: " + _NO_CONDITIONS, "hydrogen-drumkits"),
    "rumpf_kit_z01_h2": KitLicence(
        "CC-BY-3.0", "Emanuel Rumpf, rumpf_kit_z01", True,
        "CC BY 3.0: allowed with attribution, which the export's README gives",
        "hydrogen-drumkits", "https://sf.net/projects/rumpf-kit/"),
    "ColomboAcousticDrumkit": KitLicence(
        _GPL_EXCEPTION, "Marcos Guglielmetti", True,
        "GPL-2+ with an exception: a composition using the samples is not covered by the GPL",
        "hydrogen-drumkits", "http://www.musix.org.ar"),
    "belofilms_GuitarStrums": KitLicence(
        "CC-BY-3.0", "Gabriel Verdugo Soto (belofilms.com)", True,
        "CC BY 3.0: allowed with attribution, which the export's README gives (guitar strums: "
        "no drum roles, so never played as a kit)", "hydrogen-drumkits"),
    "circAfrique v4": KitLicence(
        "CC-BY-SA-3.0", "Jim Harney", False,
        "CC BY-SA 3.0: share-alike would bind the director's music to the same licence",
        "hydrogen-drumkits"),
    "BJA_Pacific": KitLicence(
        "CC-BY-SA-3.0-US", "Luc Tunguay", False,
        "CC BY-SA 3.0 US: share-alike would bind the director's music to the same licence",
        "hydrogen-drumkits"),
    **{name: KitLicence("GPL-2.0", author, False,
                        "GPL without a composition exception: unclear for music that uses it",
                        "hydrogen-drumkits")
       for name, author in (("ElectricEmpireKit", "Artemiy Pavlov"),
                            ("HardElectro1", "Artemiy Pavlov"), ("VariBreaks", "Artemiy Pavlov"),
                            ("Millo-Drums_v.1", "Emiliano Grilli"),
                            ("Millo_MultiLayered2", "Emiliano Grilli"),
                            ("Millo_MultiLayered3", "Emiliano Grilli"),
                            ("Gimme A Hand 1.0", "Glen MacArthur"),
                            ("The Black Pearl 1.0", "Glen MacArthur"),
                            ("ForzeeStereo", "Vladimir Sadovnikov, Alexander Belokurov"),
                            ("GMRockKit", "The Hydrogen team"),
                            ("TR808EmulationKit", "The Hydrogen team"))},
}
"""Every Hydrogen kit Debian ships, by folder name, with its reviewed licence
(``/usr/share/doc/hydrogen-drumkits/copyright`` and ``…/hydrogen-data/copyright``)."""

SOUNDFONTS: dict[str, KitLicence] = {
    "FluidR3_GM.sf2": KitLicence("MIT", "Frank Wen, FluidR3_GM", True, "MIT: " + _NO_CONDITIONS,
                                 "fluid-soundfont-gm"),
    "MuseScore_General.sf3": KitLicence(
        "MIT", "S. Christian Collins, MuseScore_General", True, "MIT: " + _NO_CONDITIONS,
        "musescore-general-soundfont"),
}
"""General MIDI SoundFonts we reviewed (``/usr/share/doc/<package>/copyright``), by file name."""

# General MIDI percussion note of each role a SoundFont can play
_GM_NOTES = {
    "kick": 36, "rim": 37, "snare": 38, "clap": 39, "tom_low": 41, "hat_closed": 42,
    "hat_pedal": 44, "tom_mid": 47, "hat_open": 46, "crash": 49, "tom_high": 50, "ride": 51,
    "tambourine": 54, "cowbell": 56, "bongo": 60, "conga_high": 63, "conga_low": 64,
    "tamborim": 65, "agogo_high": 67, "agogo_low": 68, "shaker": 70, "clave": 75, "surdo": 41,
}
_GM_HIT_S = 2.5  # seconds between notes in the rendered SoundFont sheet (and each note's room)

# instrument name in a drumkit.xml -> role; the first matching pattern wins
_NAME_ROLES = (
    (r"kick|bass ?drum|\bbd\b", "kick"),
    (r"clap", "clap"),
    (r"rim|stick", "rim"),
    (r"snare|\bsd\b", "snare"),
    (r"(hi-?hat|\bhh\b|hat).*(pedal|foot)|pedal.*h", "hat_pedal"),
    (r"(hi-?hat|\bhh\b|hat).*open|open.*(hh|hat)", "hat_open"),
    (r"hi-?hat|\bhh\b|hat", "hat_closed"),
    (r"crash|splash|china", "crash"),
    (r"ride", "ride"),
    (r"(tom).*(low|floor|lo\b)|(low|floor).*tom", "tom_low"),
    (r"(tom).*(mid|med)|mid.*tom", "tom_mid"),
    (r"(tom).*(hi|high)|(hi|high).*tom", "tom_high"),
    (r"cowbell", "cowbell"),
    (r"tambourine|tamb\b", "tambourine"),
    (r"shaker|maraca|cabasa", "shaker"),
    (r"clave", "clave"),
    (r"conga.*(lo|low)", "conga_low"),
    (r"conga", "conga_high"),
    (r"bongo", "bongo"),
)


def role_of(instrument_name: str) -> str | None:
    """The one-shot role a kit instrument plays, from its name (``"Closed HH"`` → ``hat_closed``).

    Examples
    --------
    >>> role_of("Snare Rock"), role_of("a#3 - hi-hat open"), role_of("Guitar")
    ('snare', 'hat_open', None)
    """
    name = instrument_name.lower()
    for pattern, role in _NAME_ROLES:
        if re.search(pattern, name):
            return role
    return None


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample file standing in for a role, with where it came from and its licence."""

    path: Path
    role: str  #: one of :data:`ROLES`
    kit: str  #: the kit or SoundFont it belongs to, or "Sound Vault"
    licence: KitLicence
    name: str = ""  #: the instrument's name in its kit


@dataclass(frozen=True, slots=True)
class SampleKit:
    """A kit's usable samples by role (several per role: round robin or velocity layers)."""

    name: str
    licence: KitLicence
    samples: dict[str, tuple[Sample, ...]] = field(default_factory=dict)

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.samples)


def read_hydrogen_kit(folder: Path, licence: KitLicence) -> SampleKit:
    """A Hydrogen kit's samples by role, from its ``drumkit.xml`` (with or without namespace).

    Instruments whose names say nothing about a role (``"Guitar"``, ``"Sample: x.flac"``) and
    layers whose file is missing are left out.
    """
    from lxml import etree

    root = etree.parse(str(folder / "drumkit.xml"), etree.XMLParser(resolve_entities=False,
                                                                    no_network=True)).getroot()
    by_role: dict[str, list[Sample]] = {}
    for instrument in root.iter("{*}instrument"):
        name = (instrument.findtext("{*}name") or "").strip()
        role = role_of(name)
        if role is None:
            continue
        files = [layer.findtext("{*}filename") for layer in instrument.iter("{*}layer")]
        files += [instrument.findtext("{*}filename")]  # the pre-0.9.4 layout: no layers
        for file_name in files:
            if not file_name:
                continue
            path = folder / Path(file_name.strip()).name  # never outside the kit's folder
            if path.is_file():
                by_role.setdefault(role, []).append(Sample(path, role, folder.name, licence, name))
    return SampleKit(folder.name, licence, {r: tuple(s) for r, s in sorted(by_role.items())})


def find_hydrogen_kits(dirs: tuple[str, ...] | list[str] = HYDROGEN_DIRS) -> list[SampleKit]:
    """Every installed Hydrogen kit whose licence allows use in music, in folder-name order.

    Kits that are installed but refused (share-alike, GPL without exception) or not reviewed
    are logged once and skipped.
    """
    kits = []
    for directory in dirs:
        root = Path(directory)
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if (p / "drumkit.xml").is_file()):
            licence = HYDROGEN_KITS.get(folder.name)
            if licence is None or not licence.allowed:
                logger.info("not using the %s kit: %s", folder.name,
                            licence.reason if licence else "its licence has not been reviewed")
                continue
            try:
                kit = read_hydrogen_kit(folder, licence)
            except Exception as exc:  # a damaged kit is skipped, never fatal
                logger.warning("could not read the %s kit: %s", folder.name, exc)
                continue
            if kit.samples:
                kits.append(kit)
    return kits


def find_soundfonts(dirs: tuple[str, ...] | list[str] = SOUNDFONT_DIRS) -> list[tuple[Path, KitLicence]]:
    """Installed SoundFonts we reviewed, FluidR3 first (the MuseScore one is compressed .sf3)."""
    found = []
    for name, licence in SOUNDFONTS.items():
        for directory in dirs:
            path = Path(directory) / name
            if path.is_file() and licence.allowed:
                found.append((path, licence))
                break
    return found


def _render_soundfont(soundfont: Path, roles: list[str], out_dir: Path, fluidsynth: str) -> None:
    """Render each role's General MIDI note once (velocity 110) into ``out_dir/<role>.wav``."""
    import numpy as np
    import pretty_midi
    import soundfile as sf

    from jobs.audio_io import write_wav

    midi = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    for i, role in enumerate(roles):
        drums.notes.append(pretty_midi.Note(velocity=110, pitch=_GM_NOTES[role],
                                            start=i * _GM_HIT_S, end=i * _GM_HIT_S + 0.3))
    midi.instruments.append(drums)
    with tempfile.TemporaryDirectory(prefix="vyke-sf-") as tmp:
        mid, wav = Path(tmp) / "sheet.mid", Path(tmp) / "sheet.wav"
        midi.write(str(mid))
        # -R 0 -C 0: no reverb or chorus, the mix adds its own; -g 1: unity gain
        subprocess.run([fluidsynth, "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", "44100",
                        "-F", str(wav), str(soundfont), str(mid)],
                       check=True, capture_output=True, timeout=120)
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    hop = round(_GM_HIT_S * rate)
    for i, role in enumerate(roles):
        hit = audio[i * hop:(i + 1) * hop]
        if float(np.max(np.abs(hit), initial=0.0)) < 1e-4:
            continue  # the SoundFont has no sound for this note
        # atomic (a unique temporary name, then rename: two workers rendering the same
        # SoundFont never clash), and a full disk is said as one
        write_wav(out_dir / f"{role}.wav", np.ascontiguousarray(hit.T), sample_rate=int(rate))


def find_soundfont_kits(cache_dir: Path, *, dirs: tuple[str, ...] | list[str] = SOUNDFONT_DIRS,
                        names: frozenset[str] | None = None,
                        fluidsynth: str | None = None) -> list[SampleKit]:
    """The reviewed SoundFonts' percussion as one-shot kits, rendered once into ``cache_dir``.

    Parameters
    ----------
    cache_dir : Path
        Where the rendered notes are kept (``soundfont/<name>-<hash>/<role>.wav``).
    dirs : sequence of str
        Where to look for the SoundFont files.
    names : frozenset of str, optional
        Only these SoundFonts (by stem, e.g. ``FluidR3_GM``): rendering one the first time takes
        a few seconds, so the palette asks only for the ones it will play.
    fluidsynth : str, optional
        The ``fluidsynth`` command (found on ``PATH`` by default). Without it, or when
        rendering fails, SoundFonts are skipped with a log line and the synth vault plays.
    """
    tool = fluidsynth or shutil.which("fluidsynth")
    kits = []
    for path, licence in find_soundfonts(dirs):
        if names is not None and path.stem not in names:
            continue
        stat = path.stat()
        tag = hashlib.sha256(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()
        folder = cache_dir / "soundfont" / f"{path.stem}-{tag[:12]}"
        roles = sorted(_GM_NOTES)
        if not all((folder / f"{role}.wav").is_file() for role in roles) \
                and not (folder / ".rendered").is_file():
            if tool is None:
                logger.info("not using %s: the fluidsynth command is not installed", path.name)
                continue
            try:
                _render_soundfont(path, roles, folder, tool)
                (folder / ".rendered").touch()
            except (OSError, subprocess.SubprocessError) as exc:
                logger.warning("could not render %s with fluidsynth: %s", path.name, exc)
                continue
        samples = {role: (Sample(folder / f"{role}.wav", role, path.stem, licence,
                                 f"GM note {_GM_NOTES[role]}"),)
                   for role in roles if (folder / f"{role}.wav").is_file()}
        kits.append(SampleKit(path.stem, licence, samples))
    return kits


@dataclass(frozen=True, slots=True)
class GenreSamples:
    """A genre's sample choices: kits in order of preference per role group, and its words.

    ``drums`` kits play the kit roles (kick, snare, clap, hats, cymbals, toms), ``percussion``
    kits the hand percussion; ``synth_roles`` stay the vault's synthesised voices (a tuned
    808-style kick suits techno better than any acoustic sample); ``words`` rank the
    director's own Sound Vault samples (``tribal`` picks a file under ``Tribal Perc/``).
    """

    drums: tuple[str, ...] = ()
    percussion: tuple[str, ...] = ()
    synth_roles: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


_GENRE_FILE = Path(__file__).with_name("sample_genres.toml")


def genre_samples(genre: str) -> GenreSamples:
    """The sample choices of ``genre`` (an id such as ``afro_house``) from ``sample_genres.toml``;
    unknown genres get the ``default`` table."""
    with _GENRE_FILE.open("rb") as f:
        data = tomllib.load(f)
    table = data.get(genre) or data["default"]
    return GenreSamples(**{k: tuple(v) for k, v in table.items()})
