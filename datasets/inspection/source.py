"""Uniform access to an uploaded file given as a path or a binary file object."""

import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

TEMPORARY_PREFIX = "centeros-inspect-"


class Source:
    """A readable, seekable view of the file being inspected.

    Inspectors read small pieces through ``read_at`` and hand ``stream`` to
    libraries that accept file objects. The stream's original position is
    restored by ``close`` when the caller passed a file object, and the file
    is closed when this object opened it from a path.
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO) -> None:
        if isinstance(source, str | os.PathLike):
            self.path: Path | None = Path(source)
            if not self.path.is_file():
                raise FileNotFoundError(f"No file to inspect at {str(self.path)!r}.")
            self.stream: BinaryIO = open(self.path, "rb")  # noqa: SIM115
            self._owns_stream = True
            self._start_position = 0
        else:
            _check_file_object(source)
            self.path = None
            self._caller_stream = source
            self._owns_stream = False
            self._start_position = source.tell()
            # Libraries such as mcap wrap a raw stream in a BufferedReader of
            # their own, which closes the caller's stream when it is garbage
            # collected. A buffer held here, detached in close(), prevents that.
            if isinstance(source, io.RawIOBase):
                self.stream = io.BufferedReader(source)
            else:
                self.stream = source

        self.size = self.stream.seek(0, io.SEEK_END)
        self.stream.seek(0)

    def read_at(self, offset: int, length: int) -> bytes:
        """Read up to ``length`` bytes at ``offset`` and rewind to the start."""
        self.stream.seek(offset)
        data = self.stream.read(length)
        self.stream.seek(0)
        return data

    def head(self, length: int = 512) -> bytes:
        """Return the first ``length`` bytes (fewer for a shorter file)."""
        return self.read_at(0, length)

    def tail(self, length: int) -> bytes:
        """Return the last ``length`` bytes (fewer for a shorter file)."""
        return self.read_at(max(self.size - length, 0), length)

    @contextmanager
    def as_path(self) -> Iterator[Path]:
        """Yield a filesystem path holding the file's bytes.

        A source given as a path is yielded as it is. A file object is copied
        to a temporary file, which is removed when the context exits, for
        readers that accept only paths.
        """
        if self.path is not None:
            yield self.path
            return

        with tempfile.TemporaryDirectory(prefix=TEMPORARY_PREFIX) as folder:
            spooled = Path(folder) / "upload"
            self.stream.seek(0)
            with open(spooled, "wb") as output:
                shutil.copyfileobj(self.stream, output, length=1024 * 1024)
            self.stream.seek(0)
            logger.debug(
                "Copied %d bytes to %s for a path-only reader", self.size, spooled
            )
            yield spooled

    def close(self) -> None:
        """Close a stream this object opened, or rewind a caller's stream."""
        if self._owns_stream:
            self.stream.close()
            return

        if self.stream is not self._caller_stream:
            self.stream.detach()
        self._caller_stream.seek(self._start_position)


def _check_file_object(source: object) -> None:
    """Raise TypeError unless ``source`` is a readable, seekable binary stream."""
    for method in ("read", "seek", "tell"):
        if not callable(getattr(source, method, None)):
            raise TypeError(
                "source must be a path or a binary file object with read(), "
                f"seek() and tell(), got {type(source).__name__}"
            )

    seekable = getattr(source, "seekable", None)
    if callable(seekable) and not seekable():
        raise TypeError(
            "source must be seekable; copy the upload to a temporary file "
            "before inspecting it"
        )

    if isinstance(source, io.TextIOBase):
        raise TypeError("source must be opened in binary mode ('rb'), not text mode")
