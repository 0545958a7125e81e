"""The zip container of torch's checkpoint format: a writer that stores every entry
uncompressed with its data aligned to 64 bytes (so storages can be memory-mapped), and a
reader that finds each entry's bytes without trusting its declared sizes.

The writer is ember's own (Python's ``zipfile`` cannot pad local headers for alignment);
the reader parses the central directory with ``zipfile`` and reads stored entries straight
into the destination buffer.
"""
from __future__ import annotations

import mmap
import struct
import zipfile
import zlib

from ember._backend import np

ALIGNMENT = 64
_ZIP64_LIMIT = 0xFFFFFFFF
# A DEFLATE stream expands at most ~1032 times; a larger declared ratio is a lie.
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 24
# below this many bytes in all, a checksum thread costs more than it saves
_THREADED_BYTES = 1 << 22


class CheckpointError(RuntimeError):
    """A checkpoint file that is not a valid archive, or whose entries do not agree."""


class ZipWriter:
    """Writes a zip archive to ``fp`` (a binary file object, need not be seekable):
    ``write(name, data)`` for each entry (``write_all`` for many), then ``close()``.
    ``zip64_threshold`` lowers the size at which ZIP64 records are used (tests exercise that
    path with small files)."""

    def __init__(self, fp, zip64_threshold: int = _ZIP64_LIMIT) -> None:
        self.fp = fp
        self.offset = 0
        self.entries: list = []
        self.zip64_threshold = zip64_threshold

    def _emit(self, data) -> None:
        self.fp.write(data)
        self.offset += memoryview(data).nbytes

    def write(self, name: str, data) -> None:
        """Append entry ``name`` holding ``data`` (bytes or a buffer such as a contiguous
        NumPy array, written without a copy)."""
        view = memoryview(data).cast("B")
        self._write(name, view, zlib.crc32(view))

    def write_all(self, entries) -> None:
        """Append the ``(name, data)`` entries in order, as ``write`` does each.

        NOTE [Checksums beside the writes]
        A local header carries its entry's CRC-32, so the checksum of each entry is needed
        before its bytes are written; computed inline it adds a second pass over the data
        to the write. Here a worker thread runs ahead computing the checksums in order
        while this thread writes: ``zlib.crc32`` and ``write`` both release the GIL on
        large buffers, so checksumming entry ``i + 1`` overlaps writing entry ``i`` and
        only the first entry's checksum is paid in full. The file is byte for byte what
        ``write`` gives, and ``fp`` need not be seekable.
        """
        views = [(name, memoryview(data).cast("B")) for name, data in entries]
        if sum(view.nbytes for _, view in views) < _THREADED_BYTES:
            for name, view in views:
                self._write(name, view, zlib.crc32(view))
            return
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="ember-crc32")
        try:
            crcs = [pool.submit(zlib.crc32, view) for _, view in views]
            for (name, view), crc in zip(views, crcs):
                self._write(name, view, crc.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _write(self, name: str, view: memoryview, crc: int) -> None:
        size = view.nbytes
        encoded = name.encode("utf-8")
        header_offset = self.offset
        big = size >= self.zip64_threshold or header_offset >= self.zip64_threshold
        zip64 = struct.pack("<HHQQ", 0x0001, 16, size, size) if big else b""
        base = header_offset + 30 + len(encoded) + len(zip64)
        # torch pads with an extra field of id "FB" whose payload is 'Z's.
        pad = (-(base + 4)) % ALIGNMENT
        extra = zip64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        shown = _ZIP64_LIMIT if big else size
        self._emit(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if big else 20, 0x0800, 0, 0,
                               0x21, crc, shown, shown, len(encoded), len(extra)))
        self._emit(encoded)
        self._emit(extra)
        self._emit(view)
        self.entries.append((encoded, crc, size, header_offset))

    def close(self) -> None:
        """Write the central directory and the end records."""
        start = self.offset
        for encoded, crc, size, header_offset in self.entries:
            big = size >= self.zip64_threshold or header_offset >= self.zip64_threshold
            extra = struct.pack("<HHQQQ", 0x0001, 24, size, size, header_offset) if big else b""
            shown = _ZIP64_LIMIT if big else size
            self._emit(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if big else 20,
                                   45 if big else 20, 0x0800, 0, 0, 0x21, crc, shown, shown,
                                   len(encoded), len(extra), 0, 0, 0, 0,
                                   _ZIP64_LIMIT if big else header_offset))
            self._emit(encoded)
            self._emit(extra)
        size = self.offset - start
        count = len(self.entries)
        if (count >= 0xFFFF or start >= self.zip64_threshold
                or size >= self.zip64_threshold
                or any(e[2] >= self.zip64_threshold or e[3] >= self.zip64_threshold
                       for e in self.entries)):
            end64 = self.offset
            self._emit(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count,
                                   size, start))
            self._emit(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))
            self._emit(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF,
                                   _ZIP64_LIMIT, _ZIP64_LIMIT, 0))
        else:
            self._emit(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start,
                                   0))


class ZipReader:
    """Reads entries of a zip archive from the seekable binary file object ``fp``."""

    def __init__(self, fp) -> None:
        self.fp = fp
        fp.seek(0, 2)
        self.length = fp.tell()
        fp.seek(0)
        try:
            self.zip = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
                struct.error) as exc:
            raise CheckpointError(
                f"PytorchStreamReader failed reading zip archive: {exc}. The checkpoint file "
                "is corrupted or is not a checkpoint.") from None
        names = self.zip.namelist()
        records = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if len(records) != 1:
            raise CheckpointError(
                "PytorchStreamReader failed locating file data.pkl: file not found"
                if not records else "the archive holds more than one data.pkl record")
        self.prefix = records[0][:-len("data.pkl")]
        self.infos = {n: self.zip.getinfo(n) for n in names}

    def has(self, name: str) -> bool:
        return self.prefix + name in self.infos

    def info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self.infos[self.prefix + name]
        except KeyError:
            raise CheckpointError(
                f"PytorchStreamReader failed locating file {name}: file not found") from None

    def size(self, name: str) -> int:
        return self.info(name).file_size

    def data_offset(self, name: str) -> int:
        """Where a stored entry's bytes start in the file, checked against its bounds."""
        info = self.info(name)
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"entry {name} is compressed; it cannot be memory-mapped")
        fp = self.fp
        if info.header_offset < 0 or info.header_offset + 30 > self.length:
            raise CheckpointError(f"entry {name} has a local header outside the file")
        fp.seek(info.header_offset)
        header = fp.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise CheckpointError(f"entry {name} has a bad local header")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        if info.compress_size != info.file_size or start + info.file_size > self.length:
            raise CheckpointError(
                f"entry {name} declares {info.file_size} bytes but the file holds fewer")
        return start

    def read(self, name: str, limit: int | None = None) -> bytes:
        """The bytes of a (small) entry."""
        size = self.size(name)
        if limit is not None and size > limit:
            raise CheckpointError(f"entry {name} is larger than {limit} bytes")
        out = bytearray(size)
        self.read_into(name, memoryview(out))
        return bytes(out)

    def read_into(self, name: str, out: memoryview) -> None:
        """Fill ``out`` (exactly the entry's size) with the entry's bytes."""
        info = self.info(name)
        size = info.file_size
        if out.nbytes != size:
            raise CheckpointError(f"entry {name} holds {size} bytes, expected {out.nbytes}")
        if info.compress_type == zipfile.ZIP_STORED:
            start = self.data_offset(name)
            self.fp.seek(start)
            done = 0
            while done < size:
                n = self.fp.readinto(out[done:])
                if not n:
                    raise CheckpointError(f"entry {name} is truncated")
                done += n
            return
        if info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
            raise CheckpointError(
                f"entry {name} declares {info.file_size} bytes from {info.compress_size} "
                "compressed bytes, more than any compression gives (a zip bomb?)")
        try:
            with self.zip.open(info) as stream:
                done = 0
                while done < size:
                    chunk = stream.read(min(_CHUNK, size - done))
                    if not chunk:
                        raise CheckpointError(f"entry {name} is truncated")
                    out[done:done + len(chunk)] = chunk
                    done += len(chunk)
                if stream.read(1):
                    raise CheckpointError(f"entry {name} holds more bytes than it declares")
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError,
                OSError) as exc:
            raise CheckpointError(f"entry {name} cannot be read: {exc}") from None

    def memmap(self, path, name: str, np_dtype, count: int):
        """A copy-on-write NumPy map of a stored entry (``count`` elements)."""
        start = self.data_offset(name)
        if count == 0:
            return np.empty(0, np_dtype)
        # one map of the whole file, sliced per storage: a map per storage costs a syscall
        # and an open each
        # and an open each. Each storage's array has the map object itself as its base (not
        # a whole-file array), so saving it again saves only that storage.
        if getattr(self, "_map", None) is None:
            with open(path, "rb") as fp:
                self._map = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_COPY)
        return np.ndarray((count,), np_dtype, buffer=self._map, offset=start)
