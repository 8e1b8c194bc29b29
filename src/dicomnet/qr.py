"""Query/Retrieve information models (PS3.4 C.6, K.6): their SOP classes, query levels and unique
keys, and the checks an SCU makes on an identifier before sending it.

Models: Patient Root, Study Root, Patient/Study Only (retired, still met in old PACS) and the
Modality Worklist. ``query_model`` arguments take a model's SOP class UID (for the operation at
hand), an :class:`InformationModel`, or pynetdicom 1.x's letters: ``"P"`` Patient Root, ``"S"``
Study Root, ``"O"`` Patient/Study Only, ``"W"`` Modality Worklist (C-FIND only).

What :func:`validate_identifier` enforces (hierarchical, baseline behaviour; PS3.4 C.4.1-C.4.3):

* QueryRetrieveLevel (0008,0052) is present and one of the model's levels (not for worklists).
* C-FIND: the unique key of every level *above* the query level holds exactly one value (no
  list, no wildcard); the unique key of the query level itself is present (empty asks for it);
  no unique key of a level *below* the query level is present.
* C-GET / C-MOVE: the unique keys of every level from the top down to the retrieve level are
  present and non-empty, without wildcards; only the retrieve level's key may be a list of UIDs
  (never Patient ID); no unique key of a lower level.

Other attributes are not checked against their level: many SCUs send patient attributes in
study-level queries, and SCPs answer them; refusing would break habits without helping anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dicomnet._record import record

__all__ = [
    "LEVELS",
    "MODALITY_WORKLIST",
    "MODELS",
    "PATIENT_ROOT",
    "PATIENT_STUDY_ONLY",
    "STUDY_ROOT",
    "UNIQUE_KEYS",
    "InformationModel",
    "model_for_uid",
    "normalise_operation",
    "resolve_query_model",
    "validate_identifier",
]

#: Query/Retrieve levels, top to bottom.
LEVELS: tuple[str, ...] = ("PATIENT", "STUDY", "SERIES", "IMAGE")

#: The unique key of each level: (keyword, tag text).
UNIQUE_KEYS: dict[str, tuple[str, str]] = {
    "PATIENT": ("PatientID", "(0010,0020)"),
    "STUDY": ("StudyInstanceUID", "(0020,000D)"),
    "SERIES": ("SeriesInstanceUID", "(0020,000E)"),
    "IMAGE": ("SOPInstanceUID", "(0008,0018)"),
}

_OPERATIONS = ("find", "get", "move")


def normalise_operation(operation: str) -> str:
    """ "find", "get" or "move" from e.g. "C-FIND", "c_get", "Move"; ValueError otherwise."""
    op = str(operation).strip().lower().replace("_", "-").removeprefix("c-")
    if op not in _OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}: use 'find', 'get' or 'move'")
    return op


@record(frozen=True)
class InformationModel:
    """A Q/R information model: its SOP classes per operation and its levels (top first)."""

    name: str
    letter: str
    find: str | None
    get: str | None
    move: str | None
    levels: tuple[str, ...]

    def sop_class(self, operation: str) -> str | None:
        """The SOP class UID for ``operation`` ("find", "get", "move"), None if it has none."""
        op = normalise_operation(operation)
        uid: str | None = getattr(self, op)
        return uid

    @property
    def is_hierarchical(self) -> bool:
        """True for the Q/R models with levels (not worklists)."""
        return bool(self.levels)

    def __str__(self) -> str:
        return self.name


PATIENT_ROOT = InformationModel(
    "Patient Root",
    "P",
    "1.2.840.10008.5.1.4.1.2.1.1",
    "1.2.840.10008.5.1.4.1.2.1.3",
    "1.2.840.10008.5.1.4.1.2.1.2",
    ("PATIENT", "STUDY", "SERIES", "IMAGE"),
)
STUDY_ROOT = InformationModel(
    "Study Root",
    "S",
    "1.2.840.10008.5.1.4.1.2.2.1",
    "1.2.840.10008.5.1.4.1.2.2.3",
    "1.2.840.10008.5.1.4.1.2.2.2",
    ("STUDY", "SERIES", "IMAGE"),
)
PATIENT_STUDY_ONLY = InformationModel(
    "Patient/Study Only",
    "O",
    "1.2.840.10008.5.1.4.1.2.3.1",
    "1.2.840.10008.5.1.4.1.2.3.3",
    "1.2.840.10008.5.1.4.1.2.3.2",
    ("PATIENT", "STUDY"),
)
MODALITY_WORKLIST = InformationModel(
    "Modality Worklist", "W", "1.2.840.10008.5.1.4.31", None, None, ()
)

#: Every model we know, by letter.
MODELS: dict[str, InformationModel] = {
    m.letter: m for m in (PATIENT_ROOT, STUDY_ROOT, PATIENT_STUDY_ONLY, MODALITY_WORKLIST)
}

_BY_UID: dict[str, tuple[InformationModel, str]] = {
    uid: (model, op)
    for model in MODELS.values()
    for op in _OPERATIONS
    if (uid := model.sop_class(op)) is not None
}


def model_for_uid(uid: str) -> tuple[InformationModel, str] | None:
    """(model, operation) for a Q/R SOP class UID we know, else None."""
    return _BY_UID.get(str(uid).strip())


def _model_name(uid: str) -> str:
    from dicomnet.sop_class import uid_name

    return uid_name(uid)


def resolve_query_model(query_model: Any, operation: str) -> tuple[str, InformationModel | None]:
    """The SOP class UID to use for ``operation`` and its model (None for a Q/R SOP class we do
    not model, such as Composite Instance Root Retrieve, which is passed through unchecked).

    Raises ValueError for an unknown letter, a model without that operation (worklists are
    C-FIND only), or a known SOP class of another operation.
    """
    op = normalise_operation(operation)
    wanted = f"C-{op.upper()}"
    if isinstance(query_model, InformationModel):
        model = query_model
    else:
        text = str(query_model).strip()
        if not text:
            raise ValueError("query_model is empty: give a SOP class UID or 'P', 'S', 'O', 'W'")
        if len(text) == 1:
            found = MODELS.get(text.upper())
            if found is None:
                raise ValueError(
                    f"unknown query model {text!r}: use 'P' (Patient Root), 'S' (Study Root), "
                    "'O' (Patient/Study Only), 'W' (Modality Worklist) or a SOP class UID"
                )
            model = found
        else:
            known = model_for_uid(text)
            if known is None:
                if not all(part.isdigit() for part in text.split(".")):
                    raise ValueError(f"query model {text!r} is neither a letter nor a UID")
                return text, None
            model, its_op = known
            if its_op != op:
                right = model.sop_class(op)
                hint = f"; use {_model_name(right)} ({right})" if right else ""
                raise ValueError(
                    f"{_model_name(text)} ({text}) is a C-{its_op.upper()} SOP class, not "
                    f"{wanted}{hint}"
                )
            return text, model
    uid = model.sop_class(op)
    if uid is None:
        raise ValueError(f"the {model.name} information model supports C-FIND only, not {wanted}")
    return uid, model


# --- identifiers ------------------------------------------------------------------------------


def _values(identifier: Any, keyword: str) -> list[str] | None:
    """The values of ``keyword`` as strings (empty list for zero length), None when absent."""
    if keyword not in identifier:
        return None
    value = identifier[keyword].value
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes):
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        return [v.strip().rstrip("\x00") for v in text.split("\\")]
    if isinstance(value, Sequence):
        return [str(v).strip().rstrip("\x00") for v in value]
    return [str(value).strip()]


def _joined(values: list[str]) -> str:
    return "\\".join(values)


def _has_wildcard(values: list[str]) -> bool:
    return any("*" in v or "?" in v for v in values)


def _key_text(level: str) -> str:
    keyword, tag = UNIQUE_KEYS[level]
    return f"{keyword} {tag}"


def validate_identifier(
    identifier: Any, model: Any, operation: str, *, relational: bool = False
) -> None:
    """Check ``identifier`` (a pydicom Dataset) for ``operation`` in ``model`` (an
    :class:`InformationModel`, a SOP class UID or a letter); raise ValueError saying what is
    wrong and how to fix it. See the module docstring for the rules.

    ``relational`` (C-FIND only): allow a relational query (PS3.4 C.4.1.2.2), which needs no
    unique keys of the levels above the query level; many archives answer them."""
    from pydicom.dataset import Dataset

    op = normalise_operation(operation)
    wanted = f"C-{op.upper()}"
    if not isinstance(identifier, Dataset):
        raise ValueError(
            f"the {wanted} identifier must be a pydicom Dataset, not {type(identifier).__name__}"
        )
    if not isinstance(model, InformationModel):
        _uid, resolved = resolve_query_model(model, op)
        if resolved is None:
            return  # a Q/R SOP class we do not model: nothing to check
        model = resolved
    elif model.sop_class(op) is None:
        raise ValueError(f"the {model.name} information model supports C-FIND only, not {wanted}")
    if not model.is_hierarchical:
        return  # worklist: any matching and return keys

    levels = model.levels
    choices = ", ".join(levels)
    found = _values(identifier, "QueryRetrieveLevel")
    if found is None:
        raise ValueError(
            f"the {wanted} identifier has no QueryRetrieveLevel (0008,0052); set it to one of "
            f"{choices} ({model.name})"
        )
    if len(found) != 1 or found[0] not in levels:
        shown = _joined(found)
        raise ValueError(
            f"QueryRetrieveLevel {shown!r} is not valid for {model.name}: use one of {choices}"
        )
    level = found[0]
    index = levels.index(level)
    what = f"a {level}-level {wanted} in {model.name}"

    for above in levels[:index] if not (relational and op == "find") else ():
        values = _values(identifier, UNIQUE_KEYS[above][0])
        if values is None or not values or not values[0]:
            raise ValueError(f"{what} needs {_key_text(above)} with exactly one value")
        if len(values) != 1 or _has_wildcard(values):
            raise ValueError(
                f"{what} needs {_key_text(above)} with exactly one value (no list and no "
                f"wildcard), got {_joined(values)!r}"
            )

    own = _values(identifier, UNIQUE_KEYS[level][0])
    if op == "find":
        if own is None:
            raise ValueError(
                f"{what} needs the unique key {_key_text(level)}: give a value to match, or "
                "leave it empty to have it returned"
            )
    else:
        if own is None or not own or not all(own):
            raise ValueError(f"{what} needs {_key_text(level)} with a value")
        if _has_wildcard(own):
            raise ValueError(
                f"{what}: {_key_text(level)} must not contain wildcards (* or ?), got "
                f"{_joined(own)!r}"
            )
        if level == "PATIENT" and len(own) > 1:
            raise ValueError(f"{what}: {_key_text(level)} must be a single value, not a list")

    for below in LEVELS[LEVELS.index(level) + 1 :]:
        if below in levels and UNIQUE_KEYS[below][0] in identifier:
            raise ValueError(
                f"{what} must not contain {_key_text(below)}: it belongs to the {below} level, "
                f"below {level}; set QueryRetrieveLevel to {below} to use it"
            )
