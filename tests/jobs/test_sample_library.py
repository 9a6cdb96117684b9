"""Free sample libraries: kits are found with their reviewed licences, refused or unreviewed kits
never play, instrument names map to roles, and every genre's kit choice names reviewed kits."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from chefs import load_genres
from jobs.sample_library import (
    HYDROGEN_KITS,
    ROLES,
    SOUNDFONTS,
    find_hydrogen_kits,
    find_soundfont_kits,
    genre_samples,
    read_hydrogen_kit,
    role_of,
)

_ALLOWED = re.compile(r"^(CC0-1\.0|CC-BY-3\.0|MIT|GPL-2\.0-or-later WITH composition exception)$")


def write_kit(folder: Path, instruments: dict[str, str], *, namespaced: bool = True) -> Path:
    """A Hydrogen kit made of short generated noise bursts: ``{instrument name: file name}``."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(instruments))
    t = np.arange(2205) / 44100
    body = []
    for i, (name, file_name) in enumerate(instruments.items()):
        hit = (rng.standard_normal((t.size, 2)) * np.exp(-t / 0.01)[:, None] * 0.5).astype(np.float32)
        sf.write(folder / file_name, hit, 44100)
        body.append(f"<instrument><id>{i}</id><name>{name}</name>"
                    f"<layer><filename>{file_name}</filename><min>0</min><max>1</max></layer>"
                    "</instrument>")
    xmlns = ' xmlns="http://www.hydrogen-music.org/drumkit"' if namespaced else ""
    (folder / "drumkit.xml").write_text(
        f'<?xml version="1.0"?><drumkit_info{xmlns}><name>{folder.name}</name>'
        f"<instrumentList>{''.join(body)}</instrumentList></drumkit_info>", encoding="utf-8")
    return folder


@pytest.mark.parametrize(("name", "role"), [
    ("Kick", "kick"), ("c3 - bass drum 1", "kick"), ("Snare Jazz", "snare"), ("Hand Clap", "clap"),
    ("Closed HH", "hat_closed"), ("Pedal HH", "hat_pedal"), ("a#3 - hi-hat open", "hat_open"),
    ("Open HH", "hat_open"), ("Stick", "rim"), ("Tom Low", "tom_low"), ("middle tom", "tom_mid"),
    ("Tom Hi", "tom_high"), ("Ride Jazz", "ride"), ("Crash", "crash"), ("Cowbell", "cowbell"),
    ("Guitar strum", None), ("Sample: beats_08-37.flac", None),
])
def test_instrument_names_map_to_roles(name: str, role: str | None) -> None:
    assert role_of(name) == role


def test_only_licences_that_allow_use_in_music_are_accepted() -> None:
    for table in (HYDROGEN_KITS, SOUNDFONTS):
        for name, licence in table.items():
            assert bool(_ALLOWED.match(licence.spdx)) == licence.allowed, name
            assert licence.reason and licence.author and licence.package
    assert not HYDROGEN_KITS["circAfrique v4"].allowed  # share-alike would bind the music
    assert HYDROGEN_KITS["rumpf_kit_z01_h2"].attribution.startswith("Emanuel Rumpf")


def test_every_kit_debian_ships_has_been_reviewed() -> None:
    copyright_file = Path("/usr/share/doc/hydrogen-drumkits/copyright")
    if not copyright_file.is_file():
        pytest.skip("hydrogen-drumkits is not installed here")
    shipped = re.findall(r"drumkits/(\S+)\.h2drumkit", copyright_file.read_text(encoding="utf-8"))
    reviewed = {re.sub(r"\W", "", name.lower()) for name in HYDROGEN_KITS}
    for archive in shipped:
        # the archives' names differ a little from the folders (spaces as "?", a version suffix)
        stem = re.sub(r"\W", "", archive.lower())
        assert any(stem.startswith(r[:8]) for r in reviewed), archive


def test_refused_and_unreviewed_kits_never_play(tmp_path: Path) -> None:
    root = tmp_path / "drumkits"
    write_kit(root / "Audiophob", {"Kick": "k.wav", "Snare Rock": "s.wav", "Closed HH": "h.wav",
                                   "Guitar": "g.wav"})
    write_kit(root / "circAfrique v4", {"Djembe1 Bass": "d.wav"})
    write_kit(root / "Someone Elses Kit", {"Kick": "k.wav"}, namespaced=False)
    kits = find_hydrogen_kits([str(root), str(tmp_path / "missing")])
    assert [k.name for k in kits] == ["Audiophob"]
    (kit,) = kits
    assert kit.roles == {"kick", "snare", "hat_closed"}
    assert kit.licence.spdx == "CC0-1.0"
    assert all(s.path.parent == root / "Audiophob" for s in kit.samples["kick"])


def test_a_kit_file_naming_a_path_outside_its_folder_is_not_followed(tmp_path: Path) -> None:
    kit_dir = write_kit(tmp_path / "Audiophob", {"Kick": "k.wav"})
    secret = tmp_path / "secret.wav"
    shutil.copy(kit_dir / "k.wav", secret)
    xml = (kit_dir / "drumkit.xml").read_text().replace("k.wav", "../secret.wav")
    (kit_dir / "drumkit.xml").write_text(xml)
    kit = read_hydrogen_kit(kit_dir, HYDROGEN_KITS["Audiophob"])
    assert kit.samples == {}  # only files inside the kit's own folder are read


def test_without_fluidsynth_soundfonts_are_skipped(tmp_path: Path) -> None:
    fonts = tmp_path / "sf2"
    fonts.mkdir()
    (fonts / "FluidR3_GM.sf2").write_bytes(b"RIFF not really a soundfont")
    kits = find_soundfont_kits(tmp_path / "cache", dirs=[str(fonts)],
                               fluidsynth=str(tmp_path / "no-fluidsynth"))
    assert kits == []


def test_an_installed_soundfont_renders_its_percussion_once(tmp_path: Path) -> None:
    font = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    if shutil.which("fluidsynth") is None or not font.is_file():
        pytest.skip("fluidsynth and fluid-soundfont-gm are not installed here")
    (kit,) = find_soundfont_kits(tmp_path, dirs=[str(font.parent)], names=frozenset({"FluidR3_GM"}))
    assert kit.licence.spdx == "MIT"
    assert {"conga_low", "conga_high", "bongo", "shaker", "clave", "agogo_high"} <= kit.roles
    audio, rate = sf.read(kit.samples["conga_low"][0].path, always_2d=True)
    assert rate == 44100 and audio.shape[1] == 2 and np.abs(audio).max() > 0.05
    stamp = kit.samples["conga_low"][0].path.stat().st_mtime_ns
    (again,) = find_soundfont_kits(tmp_path, dirs=[str(font.parent)], names=frozenset({"FluidR3_GM"}))
    assert again.samples["conga_low"][0].path.stat().st_mtime_ns == stamp  # not rendered again


def test_every_genre_chooses_reviewed_kits() -> None:
    for genre in load_genres():
        prefs = genre_samples(genre.id)
        assert prefs == genre_samples(genre.id)
        assert prefs.drums and prefs.percussion, genre.id
        for name in prefs.drums + prefs.percussion:
            licence = HYDROGEN_KITS.get(name) or SOUNDFONTS.get(f"{name}.sf2") \
                or SOUNDFONTS.get(f"{name}.sf3")
            assert licence is not None and licence.allowed, (genre.id, name)
        assert set(prefs.synth_roles) <= set(ROLES)
    assert "tribal" in genre_samples("afro_house").words
    assert genre_samples("no_such_genre") == genre_samples("default")
