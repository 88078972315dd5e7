"""File types of uploaded recordings, detected from names and sniffed content."""

import enum

# Magic bytes at the start of a file. Error messages use them to name what a
# misnamed file contains, but detection itself goes by extension.
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MCAP_MAGIC = b"\x89MCAP0\r\n"
ROSBAG_MAGIC_PREFIX = b"#ROSBAG V"
ROSBAG_V2_MAGIC = b"#ROSBAG V2.0\n"

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
_HDF5_SUFFIXES = (".hdf5", ".h5", ".he5")

# The extensions that fit each kind of content describe_content recognizes,
# the one to suggest first.
_EXTENSIONS_BY_CONTENT = {
    "an HDF5 file": _HDF5_SUFFIXES,
    "an MCAP file": (".mcap",),
    "a ROS 1 bag": (".bag",),
    "a zip archive": (".zip",),
    "a gzip-compressed file": (".tar.gz", ".tgz"),
    "a tar archive": (".tar",),
}


class FileType(enum.StrEnum):
    """Kind of an uploaded dataset file.

    ``ARCHIVE`` exists only before inspection: inspecting an archive resolves
    it to ``LEROBOT`` or ``ROSBAG2`` from the files it contains.
    """

    HDF5 = "hdf5"
    LEROBOT = "lerobot"
    MCAP = "mcap"
    ROSBAG = "rosbag"
    ROSBAG2 = "rosbag2"
    ARCHIVE = "archive"
    OTHER = "other"


def detect_file_type(filename: str) -> str:
    """Return the FileType value for a file name, judged by its extension.

    The comparison ignores case. Names without a known extension are
    ``"other"``.
    """
    if not isinstance(filename, str) or not filename.strip():
        raise ValueError(f"filename must be a non-empty string, got {filename!r}")

    name = filename.strip().lower()
    if name.endswith(_ARCHIVE_SUFFIXES):
        return FileType.ARCHIVE
    if name.endswith(_HDF5_SUFFIXES):
        return FileType.HDF5
    if name.endswith(".mcap"):
        return FileType.MCAP
    if name.endswith(".bag"):
        return FileType.ROSBAG
    return FileType.OTHER


def describe_content(head: bytes) -> str | None:
    """Name the kind of file whose first bytes are ``head``, for error messages.

    Returns a phrase such as ``"an MCAP file"``, or None when the bytes match
    none of the formats listed here. ``head`` should contain at least 512
    bytes when the file is that long, because the tar magic sits at offset 257.
    """
    if head.startswith(HDF5_SIGNATURE):
        return "an HDF5 file"
    if head.startswith(MCAP_MAGIC):
        return "an MCAP file"
    if head.startswith(ROSBAG_MAGIC_PREFIX):
        return "a ROS 1 bag"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "a zip archive"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file"
    if head[257:262] == b"ustar":
        return "a tar archive"
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if head.startswith(b"SQLite format 3\x00"):
        return "an SQLite database"
    if head[4:8] == b"ftyp":
        return "an MP4 video"
    return None


def content_hint(head: bytes, filename: str) -> str:
    """Build the clause that names what a misnamed file looks like, or ``""``.

    The clause is empty when the content matches no known format or matches
    the format the file name already claims. Otherwise it starts with a
    semicolon, so callers append it to a sentence before its full stop.
    """
    kind = describe_content(head)
    if kind is None:
        return ""

    extensions = _EXTENSIONS_BY_CONTENT.get(kind)
    if extensions is None:
        return f"; its content looks like {kind}"
    if filename.strip().lower().endswith(extensions):
        return ""
    return (
        f"; its content looks like {kind}, so upload it with the "
        f"{extensions[0]} extension"
    )
