"""``qrscp index DIR``: (re)build the index from the files under a directory, such as those
``storescp`` wrote. Every readable DICOM Part-10 file is indexed with its path; a file that
cannot be read (not DICOM, truncated, no SOP Instance UID) is reported and skipped. The
database files themselves and our temporary files (``.dicomnet-*``) are left alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from dicomnet._record import field, record
from dicomnet.archive.handlers import read_for_index
from dicomnet.archive.index import DEFAULT_DB_NAME, Index, IndexUnavailable

LOG = logging.getLogger("dicomnet.archive")


@record
class RebuildReport:
    indexed: int = 0
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


def candidate_files(directory: Path) -> Iterator[Path]:
    """Every file under ``directory`` (sorted, for a stable order) but ours."""
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        dirs[:] = [d for d in dirs if not d.startswith(".dicomnet")]
        for name in sorted(files):
            if name.startswith(DEFAULT_DB_NAME) or name.startswith(".dicomnet"):
                continue
            yield Path(root) / name


def _syntax_of(path: Path) -> str:
    from dicomnet.part10 import read_file_meta

    with open(path, "rb") as handle:
        return read_file_meta(handle).transfer_syntax_uid


def rebuild(
    index: Index,
    directory: Path,
    *,
    clear: bool = True,
    on_file: Callable[[Path, str | None], None] | None = None,
) -> RebuildReport:
    """Index every file under ``directory``; ``clear`` forgets the old rows first.
    ``on_file(path, problem)`` is called per file (problem None when indexed)."""
    report = RebuildReport()
    if clear:
        index.clear()
    for path in candidate_files(directory):
        try:
            syntax = _syntax_of(path)
            ds = read_for_index(path)
            if "SOPInstanceUID" not in ds:
                raise ValueError("no SOP Instance UID")
            index.add(ds, path, syntax)
        except IndexUnavailable:
            raise
        except Exception as exc:
            # Anything a file can do wrong (not DICOM, truncated, bad values) skips that file.
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            report.unreadable.append((path, problem))
            LOG.debug("cannot index %s", path, exc_info=True)
            if on_file is not None:
                on_file(path, problem)
            continue
        report.indexed += 1
        if on_file is not None:
            on_file(path, None)
    return report
