"""Transfer-syntax choices of the commands: what an SCU proposes (``--propose-ts`` and DCMTK's
``-x=``, ``-xe``, ``-xb``, ``-xi``, ``-xd``) and what an SCP accepts (``--prefer-ts`` and
DCMTK's ``+x=``, ``+xe``, ``+xb``, ``+xd``, ``+xi``, ``+xa``).

The presets are DCMTK's lists (its ``--help`` and documentation):

========  ==================================================================================
``-x=``   Explicit VR Little Endian, Explicit VR Big Endian, Implicit VR Little Endian
``-xe``   the same (DCMTK's "local byte order" is little endian on every machine we run on)
``-xb``   Explicit VR Big Endian, Explicit VR Little Endian, Implicit VR Little Endian
``-xi``   Implicit VR Little Endian only
``-xd``   Deflated Explicit VR Little Endian, then the ``-x=`` list
========  ==================================================================================

An SCP's ``+x…`` options accept the same lists, preferring the first; ``+xa`` accepts every
transfer syntax we know and keeps the one the sender proposed first in each context (DCMTK's
``+xa`` picks from its own list, compressed syntaxes first: with a sender that proposes one
syntax per context, as DCMTK's ``storescu`` does, both keep the sender's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dicomnet._record import record
from dicomnet.cli._console import EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from dicomnet.ae import AE

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"

UNCOMPRESSED = (EXPLICIT_LE, EXPLICIT_BE, IMPLICIT)
#: DCMTK's presets by their short option.
PRESETS: dict[str, tuple[str, ...]] = {
    "=": UNCOMPRESSED,
    "e": UNCOMPRESSED,
    "b": (EXPLICIT_BE, EXPLICIT_LE, IMPLICIT),
    "i": (IMPLICIT,),
    "d": (DEFLATED, *UNCOMPRESSED),
}

#: Short names --propose-ts and --prefer-ts take besides UIDs and keywords.
SHORT_NAMES = {
    "implicit": IMPLICIT,
    "explicit": EXPLICIT_LE,
    "little": EXPLICIT_LE,
    "big": EXPLICIT_BE,
    "deflated": DEFLATED,
    "jpeg-baseline": "1.2.840.10008.1.2.4.50",
    "jpeg-extended": "1.2.840.10008.1.2.4.51",
    "jpeg-lossless": "1.2.840.10008.1.2.4.70",
    "jpeg-ls": "1.2.840.10008.1.2.4.80",
    "jpeg-ls-lossy": "1.2.840.10008.1.2.4.81",
    "j2k": "1.2.840.10008.1.2.4.90",
    "j2k-lossless": "1.2.840.10008.1.2.4.90",
    "j2k-lossy": "1.2.840.10008.1.2.4.91",
    "rle": "1.2.840.10008.1.2.5",
}


def resolve(name: str, option: str) -> str:
    """A transfer syntax UID from a UID, a keyword (``ExplicitVRLittleEndian``, any case) or
    a short name (``implicit``, ``big``, ``jpeg-ls``, ...); CommandError (exit 2) otherwise."""
    from dicomnet.sop_class import AllTransferSyntaxes
    from dicomnet.ul.codec import is_valid_uid

    text = name.strip()
    if text.lower() in SHORT_NAMES:
        return SHORT_NAMES[text.lower()]
    for syntax in AllTransferSyntaxes:
        if text.lower() in (syntax.keyword.lower(), str(syntax)):
            return str(syntax)
    if text[:1].isdigit() and is_valid_uid(text):
        return text
    raise CommandError(
        f"{option}: unknown transfer syntax {name!r} (a UID, a keyword such as "
        f"ExplicitVRLittleEndian, or one of {', '.join(SHORT_NAMES)})",
        EXIT_USAGE,
    )


def _combine(
    listed: Sequence[str] | None, presets: dict[str, bool], option: str
) -> tuple[list[str], str | None]:
    """The syntaxes of ``listed`` (resolved) then those of the one preset given (``presets``:
    option -> given), in order, without repeats; and that preset's option. Two presets:
    CommandError (exit 2)."""
    chosen = [name for name, given in presets.items() if given]
    if len(chosen) > 1:
        raise CommandError(f"{' and '.join(chosen)} are alternatives: give one", EXIT_USAGE)
    preset = chosen[0] if chosen else None
    syntaxes = [resolve(name, option) for name in listed or ()]
    if preset is not None and preset[-1] in PRESETS:
        syntaxes += PRESETS[preset[-1]]
    return list(dict.fromkeys(syntaxes)), preset


def proposal(listed: Sequence[str] | None, presets: dict[str, bool]) -> list[str] | None:
    """What an SCU proposes: ``--propose-ts`` values, then the ``-x…`` preset given; None when
    neither was given (each command's default)."""
    syntaxes, preset = _combine(listed, presets, "--propose-ts")
    return syntaxes if syntaxes or preset else None


@record(frozen=True)
class Acceptance:
    """What an SCP accepts: ``syntaxes`` in its order of preference (None: the AE's default,
    the uncompressed ones), or with ``keep_proposed`` the sender's first proposed one of them
    after any of ``preferred`` (``+xa``)."""

    syntaxes: list[str] | None = None
    keep_proposed: bool = False
    preferred: tuple[str, ...] = ()

    def describe(self) -> str:
        """For the start-up line."""
        if self.keep_proposed:
            return "all transfer syntaxes (the sender's first proposed)"
        if self.syntaxes is None:
            return "uncompressed transfer syntaxes"
        from dicomnet.sop_class import uid_name

        return "transfer syntaxes " + ", ".join(uid_name(s) for s in self.syntaxes)

    def apply(self, ae: AE) -> None:
        ae.keep_proposed_transfer_syntax = self.keep_proposed
        ae.preferred_transfer_syntaxes = list(self.preferred)


def acceptance(listed: Sequence[str] | None, presets: dict[str, bool]) -> Acceptance:
    """What an SCP accepts from ``--prefer-ts`` values and the ``+x…`` preset given (``+xa``
    or --accept-all: every transfer syntax, the sender's first proposed kept)."""
    syntaxes, preset = _combine(listed, presets, "--prefer-ts")
    if preset is not None and preset[-1] == "a":
        from dicomnet.sop_class import AllTransferSyntaxes

        every = list(dict.fromkeys([*syntaxes, *(str(t) for t in AllTransferSyntaxes)]))
        return Acceptance(every, keep_proposed=True, preferred=tuple(syntaxes))
    if preset is None:
        if not syntaxes:
            return Acceptance()
        from dicomnet.sop_class import UncompressedTransferSyntaxes

        syntaxes = list(dict.fromkeys([*syntaxes, *(str(t) for t in UncompressedTransferSyntaxes)]))
    return Acceptance(syntaxes)
