"""dicomnet: DICOM network utilities on a networking core of their own.

``from dicomnet import AE, evt`` gives the library API; names are loaded on first use so that
importing the package (and starting the command line tools) stays cheap.

pynetdicom's top-level names are here too (``debug_logger``, ``build_role``, ``build_context``,
``register_uid``, ``ALL_TRANSFER_SYNTAXES``, ``DEFAULT_TRANSFER_SYNTAXES`` and every
``*PresentationContexts`` list), so its programs run after changing only their imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dicomnet._version import __version__

if TYPE_CHECKING:
    from dicomnet import evt
    from dicomnet._compat import DEFAULT_TRANSFER_SYNTAXES, debug_logger, register_uid
    from dicomnet.ae import AE
    from dicomnet.association import Association
    from dicomnet.presentation import PresentationContext, build_context, build_role
    from dicomnet.transport.server import AssociationServer

#: pynetdicom's ready-made context lists; each access gives a fresh list (see
#: :mod:`dicomnet.presentation`).
_CONTEXT_LISTS = (
    "AllStoragePresentationContexts",
    "ApplicationEventLoggingPresentationContexts",
    "BasicWorklistManagementPresentationContexts",
    "ColorPalettePresentationContexts",
    "DefinedProcedureProtocolPresentationContexts",
    "DisplaySystemPresentationContexts",
    "HangingProtocolPresentationContexts",
    "ImplantTemplatePresentationContexts",
    "InstanceAvailabilityPresentationContexts",
    "MediaCreationManagementPresentationContexts",
    "MediaStoragePresentationContexts",
    "ModalityPerformedPresentationContexts",
    "ModalityWorklistPresentationContexts",
    "NonPatientObjectPresentationContexts",
    "PrintManagementPresentationContexts",
    "ProcedureStepPresentationContexts",
    "ProtocolApprovalPresentationContexts",
    "QueryRetrievePresentationContexts",
    "RTMachineVerificationPresentationContexts",
    "RelevantPatientInformationPresentationContexts",
    "StorageCommitmentPresentationContexts",
    "StoragePresentationContexts",
    "SubstanceAdministrationPresentationContexts",
    "UnifiedProcedurePresentationContexts",
    "VerificationPresentationContexts",
)

__all__ = [
    "AE",
    "ALL_TRANSFER_SYNTAXES",
    "DEFAULT_TRANSFER_SYNTAXES",
    "Association",
    "AssociationServer",
    "PresentationContext",
    "__version__",
    "build_context",
    "build_role",
    "debug_logger",
    "evt",
    "register_uid",
    *_CONTEXT_LISTS,
]

_LAZY = {
    "AE": ("dicomnet.ae", "AE"),
    "ALL_TRANSFER_SYNTAXES": ("dicomnet._compat", "ALL_TRANSFER_SYNTAXES"),
    "DEFAULT_TRANSFER_SYNTAXES": ("dicomnet._compat", "DEFAULT_TRANSFER_SYNTAXES"),
    "Association": ("dicomnet.association", "Association"),
    "AssociationServer": ("dicomnet.transport.server", "AssociationServer"),
    "PresentationContext": ("dicomnet.presentation", "PresentationContext"),
    "build_context": ("dicomnet.presentation", "build_context"),
    "build_role": ("dicomnet.presentation", "build_role"),
    "debug_logger": ("dicomnet._compat", "debug_logger"),
    "evt": ("dicomnet.evt", None),
    "register_uid": ("dicomnet._compat", "register_uid"),
}


def __getattr__(name: str) -> Any:
    if name in _CONTEXT_LISTS:  # not cached: a fresh list each time
        return getattr(importlib.import_module("dicomnet.presentation"), name)
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'dicomnet' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    if name != "ALL_TRANSFER_SYNTAXES":  # computed: a fresh list each time
        globals()[name] = value
    return value
