"""Processed tracks on disk: memory-mapped ``.npy`` files that spend no bytes on silence.

The render cache keeps each track's chain output as float32 ``(channels, samples)`` arrays,
read back memory-mapped so a clip of a few bars reads only those bars. Most tracks are silent
for whole sections (a layer plays in some of them) and many are mono (a kick, a bass: both
channels equal), so two things make an entry smaller without changing a sample:

- a stereo array whose channels are equal is stored as one channel and read back as a
  broadcast view of two;
- runs of zeros are left as holes in a sparse file: the file system allocates no blocks for
  them and reads them back as zeros, so a track silent for half the song takes half the disk
  (on a file system without sparse files the zeros are simply written).

What is read back equals what was stored (a ``-0.0`` reads back as ``0.0``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_array", "save_array"]

_CHUNK = 16_384
"""Elements per chunk tested for silence: 64 KiB of float32, sixteen file system blocks."""


def save_array(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` to ``path`` as ``.npy``, one channel when both are equal, zeros as holes."""
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[0] == 2 and np.array_equal(array[0], array[1]):
        array = array[:1]
    array = np.ascontiguousarray(array)
    # open_memmap sizes the file by writing its last byte: every page not written stays a hole
    out = np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype, shape=array.shape)
    flat_in, flat_out = array.reshape(-1), out.reshape(-1)
    whole = flat_in.size - flat_in.size % _CHUNK
    sounding = np.flatnonzero(flat_in[:whole].reshape(-1, _CHUNK).any(axis=1)) if whole else \
        np.zeros(0, dtype=np.int64)
    if whole < flat_in.size:
        sounding = np.append(sounding, whole // _CHUNK)  # the short last chunk: always written
    # consecutive sounding chunks are copied in one slice
    starts = sounding[np.r_[True, np.diff(sounding) != 1]] if sounding.size else sounding
    ends = sounding[np.r_[np.diff(sounding) != 1, True]] if sounding.size else sounding
    for first, last in zip(starts, ends, strict=True):
        a, b = int(first) * _CHUNK, min(flat_in.size, (int(last) + 1) * _CHUNK)
        flat_out[a:b] = flat_in[a:b]
    out.flush()
    del out
    return path


def load_array(path: Path) -> np.ndarray:
    """An array written by :func:`save_array`, memory-mapped; a one-channel 2-D array comes
    back as a read-only view of two equal channels."""
    array = np.load(path, mmap_mode="r")
    if array.ndim == 2 and array.shape[0] == 1:
        return np.broadcast_to(array, (2, array.shape[1]))
    return array
