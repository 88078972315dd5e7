"""Inspection of MCAP recordings with the ``mcap`` library.

Counts and times come from the summary section's Statistics record when the
file has one. Reading it costs the footer and summary, a few kilobytes at the
end of the file. A file written without statistics is scanned record by
record, which reads (and decompresses) the whole file.
"""

import logging
import struct
from dataclasses import dataclass, field

import zstandard
from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import (
    Attachment,
    Channel,
    Chunk,
    McapRecord,
    Message,
    Metadata,
    Schema,
)
from mcap.stream_reader import StreamReader, breakup_chunk
from mcap.summary import Summary

from .errors import InspectionError
from .filetypes import MCAP_MAGIC, content_hint
from .metadata import (
    DatasetMetadata,
    nanoseconds_to_seconds,
    new_metadata,
    topics_from_counts,
)
from .source import Source

logger = logging.getLogger(__name__)

# Exceptions that escape mcap 1.6 on malformed input: its own errors, short
# reads inside struct unpacking, bad UTF-8 in strings (a ValueError), chunk CRC
# mismatches (a ValueError), and the zstandard and lz4 decompressors' errors
# (ZstdError, RuntimeError).
MCAP_READ_ERRORS = (
    McapError,
    struct.error,
    ValueError,
    RuntimeError,
    zstandard.ZstdError,
)


@dataclass
class McapCounts:
    """Counts and times gathered from the summary section or from a scan."""

    schemas: dict[int, Schema] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    channel_message_counts: dict[int, int] = field(default_factory=dict)
    message_count: int = 0
    start_time_ns: int | None = None
    end_time_ns: int | None = None
    chunk_count: int = 0
    attachment_count: int = 0
    metadata_count: int = 0


def inspect_mcap(source: Source, filename: str) -> DatasetMetadata:
    """Inspect an MCAP file and return its metadata.

    Raises InspectionError when the file is not MCAP, is truncated (it lacks
    the closing magic bytes) or its records cannot be parsed.
    """
    head = source.head()
    if not head.startswith(MCAP_MAGIC):
        raise InspectionError(
            f"The file {filename!r} is not an MCAP file: it does not start with "
            f"the MCAP magic bytes{content_hint(head, filename)}."
        )
    if source.size < 2 * len(MCAP_MAGIC) or source.tail(len(MCAP_MAGIC)) != MCAP_MAGIC:
        raise InspectionError(
            f"The MCAP file {filename!r} is truncated: it does not end with the "
            "MCAP magic bytes, so the recording was cut off before it was closed. "
            "Upload the complete file."
        )

    try:
        reader = make_reader(source.stream)
        header = reader.get_header()
        counts = _counts_from_summary(reader.get_summary())
        counted_from = "summary"
        if counts is None:
            logger.info(
                "MCAP file %r has no statistics; scanning all records", filename
            )
            counts = _counts_from_scan(source)
            counted_from = "scan"
    except MCAP_READ_ERRORS as error:
        raise InspectionError(
            f"The MCAP file {filename!r} is damaged: its records could not be "
            f"parsed ({error or type(error).__name__})."
        ) from error

    return _build_metadata(counts, header.profile, header.library, counted_from)


def _counts_from_summary(summary: Summary | None) -> McapCounts | None:
    """Take counts from a summary section, or None when it lacks statistics."""
    if summary is None or summary.statistics is None:
        return None

    statistics = summary.statistics
    counts = McapCounts(
        schemas=dict(summary.schemas),
        channels=dict(summary.channels),
        channel_message_counts=dict(statistics.channel_message_counts),
        message_count=statistics.message_count,
        chunk_count=statistics.chunk_count,
        attachment_count=statistics.attachment_count,
        metadata_count=statistics.metadata_count,
    )
    if statistics.message_count:
        counts.start_time_ns = statistics.message_start_time
        counts.end_time_ns = statistics.message_end_time
    return counts


def _counts_from_scan(source: Source) -> McapCounts:
    """Count schemas, channels and messages by reading every record."""
    counts = McapCounts()
    source.stream.seek(0)

    # Chunks are yielded whole so they can be counted, then decompressed here
    # with their CRC checked, since a scan reads every byte anyway.
    reader = StreamReader(source.stream, skip_magic=False, emit_chunks=True)
    for record in reader.records:
        if isinstance(record, Chunk):
            counts.chunk_count += 1
            for inner in breakup_chunk(record, validate_crc=True):
                _count_record(counts, inner)
        else:
            _count_record(counts, record)

    source.stream.seek(0)
    return counts


def _count_record(counts: McapCounts, record: McapRecord) -> None:
    """Add one record to the running counts of a scan."""
    if isinstance(record, Schema):
        counts.schemas[record.id] = record
    elif isinstance(record, Channel):
        counts.channels[record.id] = record
    elif isinstance(record, Message):
        counts.message_count += 1
        channel_id = record.channel_id
        counts.channel_message_counts[channel_id] = (
            counts.channel_message_counts.get(channel_id, 0) + 1
        )
        if counts.start_time_ns is None or record.log_time < counts.start_time_ns:
            counts.start_time_ns = record.log_time
        if counts.end_time_ns is None or record.log_time > counts.end_time_ns:
            counts.end_time_ns = record.log_time
    elif isinstance(record, Attachment):
        counts.attachment_count += 1
    elif isinstance(record, Metadata):
        counts.metadata_count += 1


def _build_metadata(
    counts: McapCounts, profile: str, library: str, counted_from: str
) -> DatasetMetadata:
    """Turn the counts into the metadata dictionary."""
    metadata = new_metadata("mcap", "mcap")

    # Channels on one topic with one schema (a topic with two publishers, for
    # example) are merged into one topic entry.
    topic_counts: dict[tuple[str, str | None], int] = {}
    for channel_id, channel in counts.channels.items():
        schema = counts.schemas.get(channel.schema_id)
        key = (channel.topic, schema.name if schema is not None else None)
        message_count = counts.channel_message_counts.get(channel_id, 0)
        topic_counts[key] = topic_counts.get(key, 0) + message_count
    metadata["topics"] = topics_from_counts(topic_counts)

    if counts.start_time_ns is not None and counts.end_time_ns is not None:
        span = counts.end_time_ns - counts.start_time_ns
        metadata["duration_s"] = nanoseconds_to_seconds(span)

    metadata["extra"].update(
        {
            "profile": profile,
            "library": library,
            "message_count": counts.message_count,
            "start_time_ns": counts.start_time_ns,
            "end_time_ns": counts.end_time_ns,
            "channel_count": len(counts.channels),
            "schema_count": len(counts.schemas),
            "chunk_count": counts.chunk_count,
            "attachment_count": counts.attachment_count,
            "metadata_count": counts.metadata_count,
            "message_encodings": sorted(
                {channel.message_encoding for channel in counts.channels.values()}
            ),
            "counted_from": counted_from,
        }
    )
    return metadata
