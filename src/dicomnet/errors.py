"""Errors that cross layers: raised below, caught above (the protocol errors of the sans-IO
core are in :mod:`dicomnet.ul.errors`)."""


class TransportLost(Exception):
    """The connection failed (or was closed) while we were sending."""


class NoContextError(ValueError):
    """No accepted presentation context can carry this message or data set."""


class ConversionError(ValueError):
    """A data set cannot be converted exactly to the transfer syntax asked for (raised by
    :mod:`dicomnet.convert`, which also exports it; defined here so that catching it does not
    import the conversion code)."""


class SourceFailed(OSError):
    """A data set being sent could not be read to its end (its command has gone out)."""


__all__ = ["ConversionError", "NoContextError", "SourceFailed", "TransportLost"]
