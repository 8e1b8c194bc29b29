"""What getscu and movescu share: Q/R models, the storage classes a C-GET accepts, progress from
pending responses, and the final outcome (a summary always; any failed sub-operation → 6)."""

from __future__ import annotations

import sys
from typing import Any

from dicomnet._record import record
from dicomnet.cli._console import EXIT_ABORTED, EXIT_FAILURE_STATUS, EXIT_USAGE, CommandError

GET_MODELS = {
    "S": "1.2.840.10008.5.1.4.1.2.2.3",
    "P": "1.2.840.10008.5.1.4.1.2.1.3",
    "O": "1.2.840.10008.5.1.4.1.2.3.3",
}
MOVE_MODELS = {
    "S": "1.2.840.10008.5.1.4.1.2.2.2",
    "P": "1.2.840.10008.5.1.4.1.2.1.2",
    "O": "1.2.840.10008.5.1.4.1.2.3.2",
}

#: Contexts for storage classes in one C-GET association (the C-GET context takes the 128th).
MAX_STORAGE_CLASSES = 127


def model_letter(patient: bool, study: bool, patient_study: bool) -> str:
    chosen = [k for k, v in (("P", patient), ("S", study), ("O", patient_study)) if v]
    if len(chosen) > 1:
        raise CommandError("choose one information model (-P, -S or -O)", EXIT_USAGE)
    return chosen[0] if chosen else "S"


def storage_classes(extra: list[str] | None, *, defaults: bool = True) -> list[str]:
    """UIDs of the storage classes a C-GET proposes: the --storage-class values (keywords or
    UIDs) first, then :data:`dicomnet.sop_class.RetrieveStorageClasses` (127 of every storage
    class we know) up to the 127 that fit, the last defaults giving way (``defaults`` False:
    the values only)."""
    from dicomnet import sop_class

    uids: list[str] = []
    for name in extra or []:
        value = getattr(sop_class, name, None)
        uid = str(value) if value is not None else name
        if not uid.replace(".", "").isdigit():
            raise CommandError(f"unknown storage class {name!r}", EXIT_USAGE)
        if uid not in uids:
            uids.append(uid)
    if len(uids) > MAX_STORAGE_CLASSES:
        raise CommandError(
            f"at most {MAX_STORAGE_CLASSES} storage classes fit in one association", EXIT_USAGE
        )
    for default in sop_class.RetrieveStorageClasses if defaults else ():
        if len(uids) >= MAX_STORAGE_CLASSES:
            break
        if str(default) not in uids:
            uids.append(str(default))
    return uids


@record
class Counts:
    remaining: int | None = None
    completed: int = 0
    failed: int = 0
    warning: int = 0

    def update(self, status: Any) -> None:
        for name, attr in (
            ("NumberOfRemainingSuboperations", "remaining"),
            ("NumberOfCompletedSuboperations", "completed"),
            ("NumberOfFailedSuboperations", "failed"),
            ("NumberOfWarningSuboperations", "warning"),
        ):
            value = getattr(status, name, None)
            if value is not None:
                setattr(self, attr, int(value))


class Progress:
    """A progress bar from pending responses on a terminal (stderr); nothing otherwise."""

    def __init__(self, label: str, *, enabled: bool) -> None:
        self._bar: Any = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from dicomnet.cli._console import console

        self._bar = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task(label, total=None, detail="")
        self._bar.start()

    def update(self, counts: Counts) -> None:
        if self._bar is None:
            return
        done = counts.completed + counts.failed + counts.warning
        total = done + counts.remaining if counts.remaining is not None else None
        self._bar.update(
            self._task,
            completed=done,
            total=total,
            detail=f"failed {counts.failed}, warning {counts.warning}",
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def finish(prog: str, final: Any, counts: Counts, assoc: Any, quiet: bool, service: str) -> None:
    """Summary line, then the exit code: 5 if no final response, 6 on failures."""
    from dicomnet.dimse.status import status_category, status_meaning

    if final is not None:
        counts.update(final)
    if not quiet:
        sys.stderr.write(
            f"{prog}: completed {counts.completed}, failed {counts.failed}, "
            f"warning {counts.warning}\n"
        )
    code = getattr(final, "Status", None)
    if code is None:
        reason = assoc.failure_reason or "no final response"
        raise CommandError(f"the retrieve did not complete: {reason}", EXIT_ABORTED)
    category = status_category(code)
    if category in ("Failure", "Cancel") or counts.failed:
        comment = getattr(final, "ErrorComment", None)
        meaning = status_meaning(code, service) + (f" ({comment})" if comment else "")
        raise CommandError(f"{service}: 0x{code:04X} {meaning}", EXIT_FAILURE_STATUS)
