"""The exception raised for dataset files that cannot be inspected."""


class InspectionError(Exception):
    """Raised when a dataset file's content is corrupt, truncated or malformed.

    The message is one plain sentence for the person who uploaded the file:
    what is wrong with it and, where possible, how to fix it. Errors in the
    caller's arguments (a missing path, a non-seekable stream) raise the
    standard exceptions instead, because they are not the file's fault.
    """
