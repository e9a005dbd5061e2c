"""Disk-backed, append-only sequences for audit results, so memory stays flat.

An audit of a whole authority produces one `RecordResult` per record; keeping them all in a
list would make memory grow with the input. A `Store` writes each item as one line of JSON to
a temporary file as soon as it is produced and reads them back, in the order they were
added, every time it is iterated. Reports only ever iterate (and take `len`), so they work
the same on a store and on a list.

The file lives in the system temporary folder and is removed when the store is closed or
garbage-collected, or when the interpreter exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Generic, Protocol, TypeVar

from recaudit.records import Rejection
from recaudit.results import RecordResult

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Items(Protocol[T_co]):
    """What reports may rely on for `Audit.records` / `Audit.rejected`: iterate and count.

    A `Store` and a plain list both satisfy it.
    """

    def __iter__(self) -> Iterator[T_co]: ...

    def __len__(self) -> int: ...


# Read back in blocks; lines are re-assembled across block edges.
_BLOCK = 1 << 20


def _remove(owner: int, handle: IO[bytes], path: str) -> None:
    # A forked worker process holds a copy of this store: only the process that created the
    # file may delete it.
    if os.getpid() != owner:
        return
    handle.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class Store(Generic[T]):
    """An append-only sequence on disk: `append`, `len`, and iteration in insertion order.

    Each item is stored as one line (`encode` must never produce a newline byte; JSON does
    not). Iterating is allowed while appending: an iteration sees the items that were
    present when it started.
    """

    def __init__(
        self,
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
        *,
        directory: Path | None = None,
        prefix: str = "recaudit-",
    ) -> None:
        self._encode = encode
        self._decode = decode
        self._directory = directory
        self._prefix = prefix
        self._count = 0
        self._size = 0
        self._path: str | None = None
        self._handle: IO[bytes] | None = None
        self._finalizer: weakref.finalize | None = None

    def _open(self) -> IO[bytes]:
        # Created on first use, so an empty store (e.g. no rejections) touches no disk.
        fd, path = tempfile.mkstemp(prefix=self._prefix, suffix=".jsonl", dir=self._directory)
        # Unbuffered: every append is one write() call, so nothing sits in a buffer that a
        # forked worker process could flush into the file a second time.
        handle = os.fdopen(fd, "wb", buffering=0)
        self._path, self._handle = path, handle
        self._finalizer = weakref.finalize(self, _remove, os.getpid(), handle, path)
        return handle

    def append(self, item: T) -> None:
        self.append_encoded(self._encode(item))

    def append_encoded(self, line: bytes) -> None:
        """Add an item already encoded with this store's `encode` (e.g. by a worker process)."""
        if b"\n" in line:
            raise ValueError("an encoded item must be a single line")
        handle = self._handle if self._handle is not None else self._open()
        data = line + b"\n"
        written = handle.write(data)
        while written < len(data):  # a raw write may be short; finish it
            written += handle.write(data[written:])
        self._size += len(data)
        self._count += 1

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def encoded(self) -> Iterator[bytes]:
        """The stored lines, without decoding them."""
        if self._handle is None or self._path is None:
            return
        if self._handle.closed:
            raise ValueError("the store is closed")
        end, remaining = self._size, self._count
        with open(self._path, "rb") as reader:
            pending = b""
            read = 0
            while remaining and read < end:
                block = reader.read(min(_BLOCK, end - read))
                if not block:
                    break
                read += len(block)
                lines = (pending + block).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    yield line
                    remaining -= 1

    def __iter__(self) -> Iterator[T]:
        decode = self._decode
        for line in self.encoded():
            yield decode(line)

    def close(self) -> None:
        """Delete the file now (otherwise it goes when the store is garbage-collected)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Store[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._count} item(s)>"


def encode_result(record: RecordResult) -> bytes:
    return record.__pydantic_serializer__.to_json(record)


def decode_result(line: bytes) -> RecordResult:
    return RecordResult.model_validate_json(line)


def encode_rejection(rejection: Rejection) -> bytes:
    return json.dumps(
        [rejection.source, rejection.record_id, rejection.error], ensure_ascii=False
    ).encode("utf-8")


def decode_rejection(line: bytes) -> Rejection:
    source, record_id, error = json.loads(line)
    return Rejection(source, record_id, error)


def result_store(directory: Path | None = None) -> Store[RecordResult]:
    """A store of `RecordResult`s (one JSON line each)."""
    return Store(encode_result, decode_result, directory=directory, prefix="recaudit-records-")


def rejection_store(directory: Path | None = None) -> Store[Rejection]:
    return Store(
        encode_rejection, decode_rejection, directory=directory, prefix="recaudit-rejected-"
    )
