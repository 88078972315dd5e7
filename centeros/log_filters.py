"""Logging filters applied to every CenterOS log handler."""

import logging
import re

# Signed upload and download URLs carry their credential in the path, and
# Django's request logger writes the path of every 4xx and 5xx response.
_SIGNED_PATH = re.compile(r"(/api/(?:uploads|downloads)/+)[^\s/'\"?]+", re.I)


class RedactSignedUrlsFilter(logging.Filter):
    """Replace the token in signed upload and download paths with [redacted]."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SIGNED_PATH.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True
