"""Errors that cross layers: raised below, caught above (the protocol errors of the sans-IO
core are in :mod:`dicomnet.ul.errors`)."""


class TransportLost(Exception):
    """The connection failed (or was closed) while we were sending."""


class NoContextError(ValueError):
    """No accepted presentation context can carry this message or data set."""


class SourceFailed(OSError):
    """A data set being sent could not be read to its end (its command has gone out)."""


__all__ = ["NoContextError", "SourceFailed", "TransportLost"]
