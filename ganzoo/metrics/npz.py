""".npz files read member by member: each array's shape and dtype come from its .npy header first, so an
array is refused (or never read) before a byte of its data is decompressed.

``np.load`` of an .npz reads any array it is asked for in full; a 1 MB file can hold a deflated
array of gigabytes beside the ones wanted. Here only the named members are opened, their headers
(numpy.lib.format) are checked against the caller's limits and the member's stored size, and the
data is read to the member's end, so zipfile checks its CRC.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

__all__ = ["NpzError", "ArrayHeader", "open_npz", "read_header", "read_array"]

NPY_MAGIC = b"\x93NUMPY"
BAD_MEMBER = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


class NpzError(ValueError):
    """An .npz file, or one of its arrays, that cannot be read as declared; the message says why."""


class ArrayHeader:
    """What an .npy header declares: shape, dtype, memory order, and the bytes its data takes."""

    def __init__(self, shape: tuple[int, ...], fortran: bool, dtype: np.dtype, offset: int):
        self.shape, self.fortran, self.dtype = shape, fortran, dtype
        self.offset = offset  # where the data starts in the member
        self.count = 1
        for side in shape:
            self.count *= side  # Python ints: a declared (10**13, 10**13) does not overflow
        self.nbytes = self.count * dtype.itemsize


def open_npz(path: str | Path) -> zipfile.ZipFile:
    """The zip archive of an .npz; NpzError says what the file is when it is not one (a bare .npy, say)."""
    path = Path(path)
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        with open(path, "rb") as f:
            start = f.read(len(NPY_MAGIC))
        if start == NPY_MAGIC:
            raise NpzError(f"{path} is a single .npy array renamed .npz, not an .npz archive of named arrays") from None
        raise NpzError(f"{path} is not an .npz (zip) archive: truncated, damaged or another format") from None
    except (OSError, ValueError, EOFError) as exc:
        raise NpzError(f"{path} cannot be opened as an .npz archive: {exc}") from None


def read_header(archive: zipfile.ZipFile, name: str) -> ArrayHeader | None:
    """The header of array ``name`` (member ``name.npy``), or None when the archive has no such array."""
    member = f"{name}.npy"
    try:
        info = archive.getinfo(member)
    except KeyError:
        return None
    try:
        with archive.open(info) as f:
            version = npformat.read_magic(f)
            reader = {(1, 0): npformat.read_array_header_1_0, (2, 0): npformat.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"npy format version {version} is not supported")
            shape, fortran, dtype = reader(f)
            offset = f.tell()
    except BAD_MEMBER as exc:
        raise NpzError(f"{archive.filename}: array {name!r} is damaged or not an .npy array ({exc})") from None
    header = ArrayHeader(tuple(int(s) for s in shape), bool(fortran), np.dtype(dtype), offset)
    if dtype.hasobject:
        raise NpzError(
            f"{archive.filename} is not a readable .npz of plain arrays: array {name!r} holds Python objects (pickles)"
        )
    if info.file_size != offset + header.nbytes:
        raise NpzError(
            f"{archive.filename}: array {name!r} declares shape {header.shape} of {dtype} "
            f"({header.nbytes:,} bytes) but its member holds {info.file_size - offset:,} bytes"
        )
    return header


def read_array(archive: zipfile.ZipFile, name: str, header: ArrayHeader) -> np.ndarray:
    """Array ``name`` as its (checked) header declares it; reads the member to its end, so a bad CRC is found."""
    try:
        with archive.open(f"{name}.npy") as f:
            f.read(header.offset)  # the header again: no seek, which would skip the CRC check
            data = f.read(header.nbytes)
            if len(data) != header.nbytes or f.read(1):
                raise ValueError("the array's data is shorter or longer than its header says")
    except BAD_MEMBER as exc:
        raise NpzError(f"{archive.filename}: array {name!r} is damaged ({exc})") from None
    array = np.frombuffer(data, dtype=header.dtype, count=header.count)
    return array.reshape(header.shape, order="F" if header.fortran else "C").copy()
