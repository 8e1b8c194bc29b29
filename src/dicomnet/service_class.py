"""pynetdicom's service class names, for :func:`dicomnet.register_uid` only.

In pynetdicom these classes implement the services; here the services are chosen by the DIMSE
message (see :mod:`dicomnet.services`), so these are markers naming the service a registered
SOP class belongs to: ``register_uid(uid, "FooStorage", StorageServiceClass)``.
"""

from __future__ import annotations


class ServiceClass:
    """Base of the markers."""


class VerificationServiceClass(ServiceClass):
    """C-ECHO."""


class StorageServiceClass(ServiceClass):
    """C-STORE: a registered class joins ``AllStoragePresentationContexts``."""


class QueryRetrieveServiceClass(ServiceClass):
    """C-FIND, C-GET, C-MOVE (``register_uid`` then needs ``dimse_msg_type``)."""


class BasicWorklistManagementServiceClass(ServiceClass):
    """Worklist C-FIND."""


__all__ = [
    "BasicWorklistManagementServiceClass",
    "QueryRetrieveServiceClass",
    "ServiceClass",
    "StorageServiceClass",
    "VerificationServiceClass",
]
