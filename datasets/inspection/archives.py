"""Read-only access to the members of an uploaded zip or tar archive.

Members are read in place through ``zipfile`` and ``tarfile``. Nothing is
extracted unless an inspector needs a file on disk (``extract``). Only
regular files are listed: directories, symbolic links and device entries are
skipped, so no member can point outside the archive.
"""

import logging
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import InspectionError
from .filetypes import content_hint
from .source import Source

logger = logging.getLogger(__name__)

# Exceptions zipfile and tarfile raise on damaged or truncated archives. A
# truncated gzip stream raises EOFError and a bad one gzip.BadGzipFile, an
# OSError. Unsupported zip compression raises NotImplementedError, and an
# encrypted member raises RuntimeError.
ARCHIVE_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    NotImplementedError,
    RuntimeError,
)


class Archive:
    """The regular-file members of a zip or tar archive, by normalized name.

    Names use forward slashes without a leading ``./`` or ``/``. macOS
    resource-fork entries (``__MACOSX/``, ``._*``) are left out.
    """

    # Extraction to disk stops past this many times the archive's size (and
    # at least MIN_EXTRACT_BUDGET): recordings compress a few times at most,
    # so anything that expands far more is a compression bomb that would
    # fill the disk.
    EXPANSION_LIMIT = 20
    MIN_EXTRACT_BUDGET = 256 * 1024**2

    def __init__(self, source: Source, filename: str) -> None:
        self.filename = filename
        self._extract_budget = max(
            self.MIN_EXTRACT_BUDGET, self.EXPANSION_LIMIT * source.size
        )
        self.kind = "zip" if filename.strip().lower().endswith(".zip") else "tar"
        self.sizes: dict[str, int] = {}
        self._zip: zipfile.ZipFile | None = None
        self._zip_members: dict[str, zipfile.ZipInfo] = {}
        self._tar: tarfile.TarFile | None = None
        self._tar_members: dict[str, tarfile.TarInfo] = {}

        try:
            if self.kind == "zip":
                self._open_zip(source)
            else:
                self._open_tar(source)
        except ARCHIVE_READ_ERRORS as error:
            hint = content_hint(source.head(), filename)
            message = _open_error_message(self.kind, filename, error, hint)
            raise InspectionError(message) from error

        logger.debug("Archive %r lists %d files", filename, len(self.sizes))

    def _open_zip(self, source: Source) -> None:
        self._zip = zipfile.ZipFile(source.stream)
        for info in self._zip.infolist():
            name = _normalize(info.filename)
            if name is not None and not info.is_dir():
                self.sizes[name] = info.file_size
                self._zip_members[name] = info

    def _open_tar(self, source: Source) -> None:
        self._tar = tarfile.open(fileobj=source.stream, mode="r:*")
        for info in self._tar.getmembers():
            name = _normalize(info.name)
            if name is not None and info.isfile():
                self.sizes[name] = info.size
                self._tar_members[name] = info

    @property
    def names(self) -> list[str]:
        """Return the member names in archive order."""
        return list(self.sizes)

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        """Open a member as a seekable binary stream.

        Errors while opening become InspectionError. Wrap reads from the
        stream in ``reading(name)`` to translate errors found later, when a
        damaged or truncated part of the member is reached.
        """
        with self.reading(name):
            if self._zip is not None:
                stream: BinaryIO = self._zip.open(self._zip_members[name])
            else:
                assert self._tar is not None
                extracted = self._tar.extractfile(self._tar_members[name])
                assert extracted is not None, "only regular files are listed"
                stream = extracted
        with stream:
            yield stream

    @contextmanager
    def reading(self, name: str) -> Iterator[None]:
        """Turn archive read errors raised inside the block into InspectionError."""
        try:
            yield
        except ARCHIVE_READ_ERRORS as error:
            detail = " ".join(str(error).split()) or type(error).__name__
            raise InspectionError(
                f"The archive {self.filename!r} is damaged or truncated: reading "
                f"{name!r} from it failed ({detail})."
            ) from error

    def read_bytes(self, name: str, limit: int) -> bytes:
        """Read a whole member, rejecting members larger than ``limit`` bytes."""
        size = self.sizes[name]
        if size > limit:
            raise InspectionError(
                f"The archive member {name!r} is {size} bytes, more than the "
                f"{limit} bytes allowed for a metadata file."
            )
        with self.open(name) as stream, self.reading(name):
            return stream.read(limit)

    def extract(self, name: str, destination: Path) -> None:
        """Copy one member's bytes to the file ``destination``.

        Only reads from the archive are translated to InspectionError, so a
        full disk still raises OSError.
        """
        with self.open(name) as stream, open(destination, "wb") as output:
            while True:
                with self.reading(name):
                    block = stream.read(1024 * 1024)
                if not block:
                    break
                self._extract_budget -= len(block)
                if self._extract_budget < 0:
                    raise InspectionError(
                        f"The archive {self.filename!r} expands to far more than "
                        f"{self.EXPANSION_LIMIT} times its size, which no recording "
                        "does; it looks like a compression bomb and was not read."
                    )
                output.write(block)

    def close(self) -> None:
        """Close the underlying zip or tar reader (not the source stream)."""
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_error_message(kind: str, filename: str, error: Exception, hint: str) -> str:
    """Explain why an archive could not be opened, in one sentence."""
    if isinstance(error, zipfile.BadZipFile) and "not a zip file" in str(error):
        reason = (
            "it has no zip central directory, so it is truncated or not a zip archive"
        )
    elif isinstance(error, EOFError) or "unexpected end of data" in str(error):
        reason = "it ends in the middle of its contents, so it is truncated"
    elif isinstance(error, tarfile.ReadError) and kind == "tar":
        # tarfile's own message lists each compression it tried, one a line.
        reason = (
            "it is neither a plain tar archive nor one compressed with gzip, "
            "bzip2 or xz"
        )
    else:
        detail = " ".join(str(error).split()) or type(error).__name__
        reason = f"it is damaged ({detail})"
    return f"The file {filename!r} is not a readable {kind} archive: {reason}{hint}."


def _normalize(name: str) -> str | None:
    """Return a member name in normal form, or None for names to skip."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = [part for part in path.parts if part not in ("", ".", "/")]
    if not parts or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
        return None
    return "/".join(parts)


def find_roots(names: list[str], marker: str) -> list[str]:
    """Return the folders (``""`` or ending in ``/``) that contain ``marker``.

    ``marker`` is a relative path such as ``meta/info.json``; a member named
    ``bag/meta/info.json`` yields the root ``bag/``.
    """
    roots = []
    for name in names:
        if name == marker:
            roots.append("")
        elif name.endswith("/" + marker):
            roots.append(name[: -len(marker)])
    return sorted(roots)
