"""Decompressing a data set so that a peer that accepts only uncompressed transfer syntaxes can
receive it (``storescu --decompress``, the C-STORE of ``Association.store_instance`` and the
C-GET/C-MOVE sub-operations built on it).

Decoding goes through pydicom's pixel-data decoders; JPEG, JPEG-LS and JPEG 2000 need the
optional ``codecs`` extra (numpy and the pylibjpeg plugins, installed by the README's command),
RLE needs numpy only. The policy follows DCMTK's ``dcmsend``: lossless compression is undone
by default (the pixel values arrive exactly as compressed: nothing is lost), lossy compression
only when asked (``lossy``: the receiver gets the lossy image's pixels, marked Lossy Image
Compression "01"), never with ``never``. The SOP Instance UID is kept, as dcmsend does: the
instance is the same, only its encoding changes.

Memory: the decoder holds the compressed and the decoded pixel data at once (pydicom decodes a
whole data set); a data set is not decompressed above ``MAX_DECOMPRESSED`` bytes of pixel data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

Policy = Literal["never", "lossless", "lossy"]
POLICIES: tuple[Policy, ...] = ("never", "lossless", "lossy")

#: Transfer syntaxes whose decoding gives back exactly the pixels that were encoded.
LOSSLESS = frozenset(
    {
        "1.2.840.10008.1.2.5",  # RLE Lossless
        "1.2.840.10008.1.2.4.57",  # JPEG Lossless, Non-Hierarchical (Process 14)
        "1.2.840.10008.1.2.4.70",  # JPEG Lossless, First-Order Prediction (Process 14 SV1)
        "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 (Lossless Only)
        "1.2.840.10008.1.2.4.201",  # High-Throughput JPEG 2000 (Lossless Only)
        "1.2.840.10008.1.2.4.202",  # High-Throughput JPEG 2000 with RPCL Options (Lossless Only)
    }
)
#: Transfer syntaxes that may have lost information (decoded only with the ``lossy`` policy).
LOSSY = frozenset(
    {
        "1.2.840.10008.1.2.4.50",  # JPEG Baseline (Process 1)
        "1.2.840.10008.1.2.4.51",  # JPEG Extended (Process 2 & 4)
        "1.2.840.10008.1.2.4.81",  # JPEG-LS Lossy (Near-Lossless)
        "1.2.840.10008.1.2.4.91",  # JPEG 2000
        "1.2.840.10008.1.2.4.203",  # High-Throughput JPEG 2000
    }
)
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
#: What ``compress`` can encode (lossless only: nothing is lost on the way), by short name.
COMPRESSIONS = {
    "rle": "1.2.840.10008.1.2.5",
    "jpeg-ls": "1.2.840.10008.1.2.4.80",
    "j2k": "1.2.840.10008.1.2.4.90",
}
MAX_DECOMPRESSED = 2 * 1024**3


class TranscodeError(ValueError):
    """The data set cannot be decompressed (the policy forbids it, no decoder, a bad stream);
    the message says which and what to do."""


def can_decompress(transfer_syntax: str, policy: Policy) -> bool:
    """True when ``policy`` allows decompressing data in ``transfer_syntax``."""
    if policy == "never":
        return False
    return transfer_syntax in LOSSLESS or (policy == "lossy" and transfer_syntax in LOSSY)


def decompress(dataset: Dataset, policy: Policy) -> Dataset:
    """``dataset`` with its pixel data decoded, in Explicit VR Little Endian (in place; returned
    for convenience). Raises :class:`TranscodeError`."""
    from pydicom.uid import UID

    meta = getattr(dataset, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
    name = UID(syntax).name if syntax else "an unknown transfer syntax"
    if not can_decompress(syntax, policy):
        if policy != "never" and syntax in LOSSY:
            raise TranscodeError(
                f"the data set is lossy {name}: decompress it only when asked (--decompress lossy)"
            )
        if policy == "never":
            raise TranscodeError(f"the data set is {name} and decompression is off")
        raise TranscodeError(f"cannot decompress {name}")
    if "PixelData" not in dataset:
        raise TranscodeError(f"the {name} data set has no Pixel Data to decompress")
    rows = int(getattr(dataset, "Rows", 0) or 0)
    columns = int(getattr(dataset, "Columns", 0) or 0)
    samples = int(getattr(dataset, "SamplesPerPixel", 1) or 1)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    bits = int(getattr(dataset, "BitsAllocated", 8) or 8)
    if rows * columns * samples * frames * max(1, bits // 8) > MAX_DECOMPRESSED:
        raise TranscodeError(f"the decompressed pixel data would exceed {MAX_DECOMPRESSED} bytes")
    try:
        dataset.decompress(generate_instance_uid=False)
    except ImportError as exc:
        raise TranscodeError(
            f"cannot decompress {name}: a decoder is missing ({exc}; install dicomnet[codecs])"
        ) from None
    except Exception as exc:  # the decoders raise RuntimeError, ValueError, ...
        raise TranscodeError(f"cannot decompress {name}: {exc}".splitlines()[0]) from None
    return dataset


def compress(dataset: Dataset, transfer_syntax: str) -> Dataset:
    """``dataset`` (uncompressed) with its pixel data encoded losslessly in ``transfer_syntax``
    (one of :data:`COMPRESSIONS`), in place; the SOP Instance UID is kept. Raises
    :class:`TranscodeError`."""
    from pydicom.uid import UID

    name = UID(transfer_syntax).name
    if transfer_syntax not in COMPRESSIONS.values():
        raise TranscodeError(f"cannot compress to {name}: choose one of {', '.join(COMPRESSIONS)}")
    if "PixelData" not in dataset:
        raise TranscodeError(f"the data set has no Pixel Data to compress to {name}")
    try:
        dataset.compress(transfer_syntax, generate_instance_uid=False)
    except ImportError as exc:
        raise TranscodeError(
            f"cannot compress to {name}: an encoder is missing ({exc}; install dicomnet[codecs])"
        ) from None
    except Exception as exc:
        raise TranscodeError(f"cannot compress to {name}: {exc}".splitlines()[0]) from None
    return dataset


__all__ = [
    "COMPRESSIONS",
    "LOSSLESS",
    "LOSSY",
    "POLICIES",
    "Policy",
    "TranscodeError",
    "can_decompress",
    "compress",
    "decompress",
]
