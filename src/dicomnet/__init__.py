"""dicomnet: DICOM network utilities on a networking core of their own.

``from dicomnet import AE, evt`` gives the library API; names are loaded on first use so that
importing the package (and starting the command line tools) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dicomnet._version import __version__

if TYPE_CHECKING:
    from dicomnet import evt
    from dicomnet.ae import AE
    from dicomnet.association import Association
    from dicomnet.presentation import PresentationContext, build_context
    from dicomnet.transport.server import AssociationServer

__all__ = [
    "AE",
    "Association",
    "AssociationServer",
    "PresentationContext",
    "__version__",
    "build_context",
    "evt",
]

_LAZY = {
    "AE": ("dicomnet.ae", "AE"),
    "Association": ("dicomnet.association", "Association"),
    "AssociationServer": ("dicomnet.transport.server", "AssociationServer"),
    "PresentationContext": ("dicomnet.presentation", "PresentationContext"),
    "build_context": ("dicomnet.presentation", "build_context"),
    "evt": ("dicomnet.evt", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'dicomnet' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value
