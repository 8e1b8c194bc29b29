"""dicomnet: DICOM network utilities on a networking core of their own."""

from dicomnet._version import __version__

__all__ = ["__version__"]
