"""Small pieces every writer shares: Live-style numbers, value elements, the id allocator, names.

Live writes plain decimals (never ``1e-05``), lowercase booleans, and a ``Value`` attribute
on every value element; these helpers are the only place numbers become text, so the
checker's rules hold by construction.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable

from lxml import etree

__all__ = [
    "IdAllocator",
    "fmt",
    "safe_name",
    "sub",
    "unique_names",
    "value",
    "values",
]

_Element = etree._Element


def fmt(number: float | int | bool | str) -> str:
    """A value as Live writes it: ``true``/``false``, ``120``, ``0.5``; never an exponent.

    >>> fmt(120.0), fmt(0.0003162277571), fmt(True), fmt(-0.0)
    ('120', '0.0003162277571', 'true', '0')
    """
    if isinstance(number, bool):
        return "true" if number else "false"
    if isinstance(number, str):
        return number
    if isinstance(number, int):
        return str(number)
    if not math.isfinite(number):
        raise ValueError(f"cannot write a non-finite number ({number}) into a Live set")
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    text = f"{number:.13f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def sub(parent: _Element, tag: str, **attrs: float | int | bool | str) -> _Element:
    """A child element with formatted attributes."""
    return etree.SubElement(parent, tag, {k: fmt(v) for k, v in attrs.items()})


def value(parent: _Element, tag: str, val: float | int | bool | str) -> _Element:
    """A value element: ``<tag Value="…"/>``."""
    return etree.SubElement(parent, tag, {"Value": fmt(val)})


def values(parent: _Element, **fields: float | int | bool | str) -> None:
    """Value elements in the order given: a Live set lists a node's settings as such runs."""
    for tag, val in fields.items():
        value(parent, tag, val)


class IdAllocator:
    """The one source of ids in a Live set.

    Pointee ids (automation and modulation targets, pointees, MIDI controller targets) come
    from one global pool starting at ``pointee_base``, above Live's fixed master ids (1–27);
    track ids come from their own counter. ``next_pointee_id`` is computed last, from every
    id handed out, so it is always above all of them.
    """

    def __init__(self, *, pointee_base: int = 30000, track_base: int = 8) -> None:
        self._next_pointee = pointee_base
        self._next_track = track_base
        self._used: set[int] = set()

    def pointee(self) -> int:
        """A fresh id from the global pointee pool."""
        while self._next_pointee in self._used:
            self._next_pointee += 1
        pid = self._next_pointee
        self._used.add(pid)
        self._next_pointee += 1
        return pid

    def fixed(self, pid: int) -> int:
        """Reserve one of Live's fixed ids (tempo 8, its modulation 9, time signature 10)."""
        if pid in self._used:
            raise ValueError(f"pointee id {pid} is already in use")
        self._used.add(pid)
        return pid

    def track(self) -> int:
        """A fresh track id (its own namespace, shared by MIDI, audio and return tracks)."""
        tid = self._next_track
        self._next_track += 1
        return tid

    @property
    def next_pointee_id(self) -> int:
        """``max(all pointee ids) + 1``: what ``LiveSet/NextPointeeId`` must hold."""
        return max(self._used, default=0) + 1


_UNSAFE = re.compile(r"[^\w\-. ()&+,'#!]+", re.UNICODE)
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
             *(f"LPT{i}" for i in range(10))}


def safe_name(text: str, *, fallback: str = "untitled", max_length: int = 60) -> str:
    """A file or folder name that is safe on every OS and cannot leave its folder.

    Path separators, ``..``, control characters and Windows-illegal characters become
    ``_``; leading dots and spaces go (no hidden files, no ``..``); Windows device names
    (``CON``, ``NUL`` …) get a ``_`` suffix. ``"../../etc/passwd"`` becomes ``"etc_passwd"``.
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else "_" for ch in text)
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\.{2,}", "_", text)
    text = re.sub(r"_+", "_", text)
    text = text.strip(" ._")[:max_length].strip(" ._")
    if not text:
        text = fallback
    if text.split(".")[0].upper() in _RESERVED:
        text += "_"
    return text


def unique_names(names: Iterable[str], *, fallback: str = "untitled") -> list[str]:
    """:func:`safe_name` of each, made unique case-insensitively with `` 2``, `` 3`` …"""
    seen: set[str] = set()
    out: list[str] = []
    for raw in names:
        base = safe_name(raw, fallback=fallback)
        name, n = base, 1
        while name.lower() in seen:
            n += 1
            name = f"{base} {n}"
        seen.add(name.lower())
        out.append(name)
    return out
