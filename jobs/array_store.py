"""Processed tracks on disk: memory-mapped ``.npy`` files that spend no bytes on silence.

The render cache keeps each track's chain output as float32 ``(channels, samples)`` arrays,
read back memory-mapped so a clip of a few bars reads only those bars. Most tracks are silent
for whole sections (a layer plays in some of them) and many are mono (a kick, a bass: both
channels equal), so two things make an entry smaller without changing a sample:

- a stereo array whose channels are equal is stored as one channel and read back as a
  broadcast view of two;
- runs of zeros are left as holes in a sparse file: the file system allocates no blocks for
  them and reads them back as zeros, so a track silent for half the song takes half the disk
  (on a file system without sparse files the zeros are simply written). A large array's
  header is padded to one block, so each block of samples is a block of the file and a
  silence as short as 23 ms (1024 samples) is a hole.

What is read back equals what was stored (a ``-0.0`` reads back as ``0.0``). Filters leave
silence as a tail of subnormal numbers (below 1.2e-38, some 750 dB under full scale) that
never reaches zero; :func:`flush_subnormals` makes it zero again before an array is stored
and used, so a filtered track's silence is a hole too.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

__all__ = ["flush_subnormals", "load_array", "save_array"]

_BLOCK_BYTES = 4096
"""A file system block: the unit a hole is made of (ext4, XFS and APFS all use 4 KiB)."""

_CHUNK = _BLOCK_BYTES // 4
"""Elements per chunk tested for silence: one block of float32."""


def flush_subnormals(array: np.ndarray) -> np.ndarray:
    """``array`` with its subnormal values set to zero (in place when it is writable).

    A sum or product with a subnormal is the same as with zero wherever any sound plays, and
    the 24-bit master cannot carry it: nothing audible changes, but the silence a filter
    leaves becomes zeros that :func:`save_array` stores as holes.
    """
    if array.dtype.kind != "f":
        return array
    tiny = np.finfo(array.dtype).tiny
    subnormal = np.abs(array) < tiny
    subnormal &= array != 0
    if not subnormal.any():
        return array
    out = array if array.flags.writeable else array.copy()
    out[subnormal] = 0
    return out


def _header(array: np.ndarray) -> bytes:
    """The ``.npy`` header of ``array``: numpy's own, padded to a whole block when the array
    spans several (a reader only reads its length; numpy pads with spaces too)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(array))
    header = buffer.getvalue()
    if array.nbytes < 4 * _BLOCK_BYTES:
        return header
    text = header[10:].rstrip(b" \n")  # after the magic, the version and the length
    text += b" " * (_BLOCK_BYTES - 10 - len(text) - 1) + b"\n"
    return header[:8] + struct.pack("<H", len(text)) + text


def save_array(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` to ``path`` as ``.npy``, one channel when both are equal, zeros as holes."""
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[0] == 2 and np.array_equal(array[0], array[1]):
        array = array[:1]
    array = np.ascontiguousarray(array)
    flat = array.reshape(-1)
    whole = flat.size - flat.size % _CHUNK
    sounding = np.flatnonzero(flat[:whole].reshape(-1, _CHUNK).any(axis=1)).tolist()
    if whole < flat.size:
        sounding.append(whole // _CHUNK)  # the short last chunk: always written
    # plain writes, not a memory map: a full disk is an OSError (ENOSPC), never a SIGBUS
    with open(path, "wb") as fh:
        fh.write(_header(array))
        offset = fh.tell()
        for first, last in _runs(sounding):  # consecutive sounding chunks in one write
            a, b = first * _CHUNK, min(flat.size, (last + 1) * _CHUNK)
            fh.seek(offset + a * flat.itemsize)
            fh.write(flat[a:b].data)
        fh.truncate(offset + flat.nbytes)  # the silence after the last sound: a hole too
    return path


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as (first, last) runs of consecutive ones: [1, 2, 3, 7] → [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def load_array(path: Path) -> np.ndarray:
    """An array written by :func:`save_array`, memory-mapped; a one-channel 2-D array comes
    back as a read-only view of two equal channels."""
    array = np.load(path, mmap_mode="r")
    if array.ndim == 2 and array.shape[0] == 1:
        return np.broadcast_to(array, (2, array.shape[1]))
    return array
