"""Progress-based receive deadlines (DESIGN.md 1.4: slow links work, trickles are cut).

:class:`TransferClock` keeps, for one association, when bytes last arrived and, while a PDU or
message is arriving, when it started and how many bytes the current rate window brought. The
blocking driver asks it for the deadline of each read and for a verdict when a read returns
or times out; no sockets here.
"""

from __future__ import annotations

import time


class TransferClock:
    """``max_transfer_time`` bounds one message (None: no bound); a message must bring at
    least ``minimum_rate`` bytes per second over each ``window`` seconds (0: no minimum)."""

    def __init__(self, max_transfer_time: float | None, minimum_rate: float, window: float):
        self.max_transfer_time = max_transfer_time
        self.minimum_rate = minimum_rate
        self.window = window
        self.last_recv = time.monotonic()
        self._started: float | None = None  # a message (or PDU) is arriving since then
        self._window_start = 0.0
        self._window_bytes = 0

    def received(self, count: int) -> None:
        self.last_recv = time.monotonic()
        if self._started is not None:
            self._window_bytes += count

    def deadline(self, wait: float | None, in_progress: bool, stall: float | None) -> float | None:
        """The next read's deadline: ``wait``, and while a message arrives also ``stall``
        seconds after the last byte, the end of the rate window and the transfer bound."""
        if not in_progress:
            self._started = None
            return wait
        if self._started is None:
            self._started = self._window_start = time.monotonic()
            self._window_bytes = 0
        deadlines = [wait]
        if stall is not None:
            deadlines.append(self.last_recv + stall)
        if self.max_transfer_time is not None:
            deadlines.append(self._started + self.max_transfer_time)
        if self.minimum_rate > 0 and self.window > 0:
            deadlines.append(self._window_start + self.window)
        return min((d for d in deadlines if d is not None), default=None)

    def verdict(self) -> str | None:
        """Why the message arriving must be given up (too slow, too long), or None. Starts a
        new rate window when one has passed with enough bytes."""
        if self._started is None:
            return None
        now = time.monotonic()
        limit = self.max_transfer_time
        if limit is not None and now >= self._started + limit:
            return f"the message took longer than the maximum transfer time ({limit:g} s)"
        rate, window = self.minimum_rate, self.window
        if rate > 0 and window > 0 and now >= self._window_start + window:
            if self._window_bytes < rate * window:
                return (
                    f"the peer is too slow: {self._window_bytes} bytes in {window:g} s "
                    f"(minimum {rate:g} bytes/s)"
                )
            self._window_start = now
            self._window_bytes = 0
        return None
