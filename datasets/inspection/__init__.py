"""Inspection of uploaded robot datasets: format detection and metadata.

Pure Python with no Django imports, so it runs in workers, scripts and
benchmarks alike. The returned metadata is described in
docs/dataset-metadata.md.
"""

from .errors import InspectionError
from .filetypes import FileType, detect_file_type
from .inspector import inspect_file
from .metadata import DatasetMetadata

__all__ = [
    "DatasetMetadata",
    "FileType",
    "InspectionError",
    "detect_file_type",
    "inspect_file",
]
