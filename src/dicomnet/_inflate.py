"""Bounded incremental raw-deflate decompression: the one place a Deflated data set is inflated
(the structure validator while it arrives, readers of naming fields and ``dataset`` later).

Output comes in steps of at most 1 MiB and is checked against two limits after every step: an
absolute size, and a ratio to the bytes fed once past a floor (blank images deflate 1000:1).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

#: Default absolute limit (AE.maximum_inflated_size).
MAX_INFLATED_SIZE = 4 * 1024**3
#: The ratio limit applies once this much has been inflated.
RATIO_FLOOR = 64 * 1024 * 1024
#: The most output one zlib call may produce.
INFLATE_STEP = 1024 * 1024


class InflateLimitError(ValueError):
    """A Deflated data set inflates past a limit (size or ratio)."""


class Inflater:
    """Incremental raw-deflate decompression with limits; output in bounded steps."""

    def __init__(
        self,
        max_inflated: int | None = MAX_INFLATED_SIZE,
        max_ratio: float | None = None,
        ratio_floor: int = RATIO_FLOOR,
    ) -> None:
        self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        self.max_inflated = max_inflated
        self.max_ratio = max_ratio
        self.ratio_floor = ratio_floor
        self.compressed = 0
        self.inflated = 0

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[bytes]:
        """The inflated bytes of ``data``, in pieces of at most 1 MiB; InflateLimitError when
        a limit is passed (checked after every piece)."""
        self.compressed += len(data)
        pending: bytes | bytearray | memoryview = data
        full = True
        # A full step may leave output waiting even when every input byte was taken (a long
        # run of zeros): go on until the input is used up and a step comes out short.
        while (pending or full) and not self._zlib.eof:
            piece = self._zlib.decompress(pending, INFLATE_STEP)
            pending = self._zlib.unconsumed_tail
            full = len(piece) == INFLATE_STEP
            self.inflated += len(piece)
            self._check()
            if piece:
                yield piece

    def _check(self) -> None:
        if self.max_inflated is not None and self.inflated > self.max_inflated:
            raise InflateLimitError(
                f"the Deflated data set inflates to more than {self.max_inflated} bytes"
            )
        ratio = self.max_ratio
        if (
            ratio is not None
            and self.inflated > self.ratio_floor
            and self.inflated > ratio * max(self.compressed, 1)
        ):
            raise InflateLimitError(
                f"the Deflated data set inflates more than {ratio:g} times "
                f"({self.compressed} bytes inflated to over {self.inflated})"
            )

    def flush(self) -> bytes:
        """What the stream still holds once the input has ended (counted and checked)."""
        rest = self._zlib.flush()
        self.inflated += len(rest)
        self._check()
        return rest

    @property
    def eof(self) -> bool:
        """The deflate stream has ended."""
        return self._zlib.eof

    @property
    def unused_data(self) -> bytes:
        """Bytes fed after the end of the deflate stream."""
        return self._zlib.unused_data
