"""pydicom without its pixel-data packages, for the console scripts that never touch pixel data.

``import pydicom`` imports, through its pixel data handlers, every pixel package it finds
installed: numpy, Pillow, pylibjpeg and its plugins, pyjpegls, GDCM. With the ``codecs`` extra
(the README's set-up) that is about a third of pydicom's import (~300 million of ~850 million
instructions measured with callgrind; 60-100 ms of wall-clock time), paid by every ``findscu``,
``getscu`` and ``movescu`` run, although none of them decodes or encodes pixel data: a query
builds and reads identifiers, a retrieve writes the received bytes as they came.

:func:`pydicom_without_pixels` makes those packages unimportable for the rest of the process,
the way Python documents it (``None`` in :data:`sys.modules`): pydicom then starts as it does
where they are not installed, a configuration it supports. It acts only where that is safe:

* in a console-script process (:func:`console_script`, called by the entry points in
  :mod:`dicomnet.cli.app`), never in a program that imported dicomnet as a library or runs the
  app in-process (tests), whose other code may want numpy;
* before anything imported pydicom (afterwards it would change nothing);
* when the command runs no user code: the caller passes whether ``--handler`` was given, and a
  handler may well use ``pixel_array``. The commands that transcode (``storescu``) or run as
  servers (``storescp``, ``qrscp``) do not call it.
"""

from __future__ import annotations

import sys

#: Top-level packages that pydicom imports for pixel data only.
PIXEL_PACKAGES = ("numpy", "PIL", "pylibjpeg", "openjpeg", "libjpeg", "rle", "jpeg_ls", "gdcm")

_console_script = False


def console_script() -> None:
    """Mark this process as a console script's (see the module's docstring)."""
    global _console_script
    _console_script = True


def pydicom_without_pixels(user_code: bool) -> bool:
    """Keep pydicom from importing the pixel packages, where that is safe; True if done."""
    if not _console_script or user_code or "pydicom" in sys.modules:
        return False
    for name in PIXEL_PACKAGES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    return True
