"""Seeded fuzz cases: a valid association with C-STOREs (and C-ECHOs) and a release, mutated at
one or two of these levels, then cut into the chunks a client sends.

=========  ==============================================================================
level      what is mutated
=========  ==============================================================================
pdu        PDU type, reserved byte, length; PDUs truncated, dropped, repeated, swapped,
           inserted (A-RELEASE-RQ/RP, A-ABORT, a second A-ASSOCIATE-RQ/AC, garbage)
item       A-ASSOCIATE-RQ fields and items: AE titles, protocol version, application context,
           presentation contexts (IDs, syntaxes, counts), user information sub-items, raw
           item lengths
pdv        PDV headers: context ID, message control header bits, item length; empty PDVs,
           tiny fragments, several PDVs in one PDU, data before command
command    command set elements: missing, emptied, odd, out of order, repeated, other
           Command Field / Data Set Type / Message ID, hostile UIDs (long, ``..``, NUL,
           backslash, non-ASCII), wrong group length
dataset    data set element headers: lengths, VRs, tags; truncation, odd length, garbage,
           elements deleted, repeated or swapped
sequence   sequences and items: delimiters removed or wrong, item tags and lengths, undefined
           length where it is not allowed, deep nesting
=========  ==============================================================================

:func:`build_case` is deterministic in its seed: a failing seed replays exactly.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fuzz import wire

LEVELS = ("pdu", "item", "pdv", "command", "dataset", "sequence")


@dataclass
class Message:
    context_id: int
    elements: list[tuple[int, bytes]]
    dataset: bytes | None
    implicit: bool
    fragment: int  # bytes per data PDV, 0: one PDV
    pdvs: list[tuple[int, int, bytes]] = field(default_factory=list)  # after PDV mutations


@dataclass
class Case:
    seed: int
    chunks: list[bytes]
    wait_after: tuple[int, ...]
    mutations: list[str]
    delivery: str

    def describe(self) -> str:
        return f"seed {self.seed} ({self.delivery}): {'; '.join(self.mutations) or 'none'}"


_HOSTILE_UIDS = [
    "1.2." + "3" * 66,
    "../../../etc/x",
    "1.2\x00.3",
    "1.2\\3",
    "1.2.3\xe9",
    " ",
    "",
    ".",
    "1.02.3",
    "1.2.\x1b[31m3",
    "/tmp/x",
    "1." * 40,
]
_HOSTILE_TEXT = ["", " " * 16, "A\\B", "\x00\x01", "\xe9\xe8", "X" * 20, "..", "A B\t"]


def build_case(seed: int) -> Case:
    """The case of ``seed``: the stream, how it is delivered, and what was mutated."""
    rng = random.Random(seed)
    mutations: list[str] = []
    rq = wire.AssociateRQ(calling=f"FZ{seed % 10**8}")
    rq.contexts = [
        wire.Context(1, wire.VERIFICATION, [wire.IMPLICIT_LE]),
        wire.Context(3, wire.CT_IMAGE_STORAGE, [wire.EXPLICIT_LE]),
        wire.Context(5, wire.CT_IMAGE_STORAGE, [wire.IMPLICIT_LE]),
    ]
    messages: list[Message] = []
    for index in range(rng.choice([1, 1, 1, 2, 3])):
        if rng.random() < 0.15:
            messages.append(Message(1, wire.c_echo_rq(index + 1), None, True, 0))
            continue
        context_id = rng.choice([3, 5])
        implicit = context_id == 5
        uid = f"{wire.UID_ROOT}.{seed}.{index + 1}"
        sequences = rng.choice(["", "", "defined", "undefined"])
        dataset = wire.encode_dataset(
            wire.ct_dataset(uid, sequences=sequences),
            wire.IMPLICIT_LE if implicit else wire.EXPLICIT_LE,
        )
        fragment = rng.choice([0, 0, 0, 2, 64, 100, 256])
        elements = wire.c_store_rq(index + 1, wire.CT_IMAGE_STORAGE, uid)
        messages.append(Message(context_id, elements, dataset, implicit, fragment))
    release = rng.random() < 0.92

    levels = [] if rng.random() < 0.08 else rng.sample(LEVELS, rng.choice([1, 1, 1, 2]))
    for level in levels:
        if level == "item":
            mutations.append(_mutate_rq(rng, rq))
        elif level == "command":
            message = rng.choice(messages)
            mutations.append("command: " + _mutate_command(rng, message.elements))
        elif level in ("dataset", "sequence"):
            stores = [m for m in messages if m.dataset is not None]
            if not stores:
                continue
            message = rng.choice(stores)
            if level == "sequence" and not _has_sequence(message):
                uid = f"{wire.UID_ROOT}.{seed}.99"
                message.dataset = wire.encode_dataset(
                    wire.ct_dataset(uid, sequences=rng.choice(["defined", "undefined"])),
                    wire.IMPLICIT_LE if message.implicit else wire.EXPLICIT_LE,
                )
                message.elements = wire.c_store_rq(1, wire.CT_IMAGE_STORAGE, uid)
            mutate = _mutate_sequence if level == "sequence" else _mutate_dataset
            assert message.dataset is not None
            try:
                message.dataset, what = mutate(rng, message.dataset, message.implicit)
            except wire.StructureError:  # already broken by the other level: break it more
                message.dataset, what = _flip_bytes(rng, message.dataset)
            mutations.append(f"{level}: {what}")

    for message in messages:
        message.pdvs = _pdvs(message)
    if "pdv" in levels:
        mutations.append("pdv: " + _mutate_pdvs(rng, messages))

    pdus = [rq.encode()]
    pdus += _pdata_pdus(rng, messages, "pdv" in levels)
    if release:
        pdus.append(wire.release_rq())
    if "pdu" in levels:
        mutations.append("pdu: " + _mutate_pdus(rng, pdus))

    delivery = rng.choice(["pipelined", "conversational", "conversational", "chunked"])
    wait_after: tuple[int, ...]
    stream = b"".join(pdus[1:])
    if delivery == "conversational" and pdus:
        chunks, wait_after = [pdus[0], stream], (0,)
    elif delivery == "chunked":
        whole = b"".join(pdus)
        cuts = sorted(
            rng.sample(range(1, max(2, len(whole))), min(len(whole) - 1, rng.randint(1, 6)))
        )
        chunks = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
        wait_after = ()
    else:
        chunks, wait_after = [b"".join(pdus)], ()
    return Case(seed, [c for c in chunks if c], wait_after, mutations, delivery)


# --- PDU level ----------------------------------------------------------------------------


def _mutate_pdus(rng: random.Random, pdus: list[bytes]) -> str:
    index = rng.randrange(len(pdus))
    target = bytearray(pdus[index])
    choice = rng.randrange(10)
    if choice == 0:
        target[0] = rng.choice([0x00, 0x08, 0x09, 0x41, 0xFF, *range(1, 8)])
        pdus[index] = bytes(target)
        return f"PDU {index} type 0x{target[0]:02X}"
    if choice == 1:
        target[1] = rng.randrange(1, 256)
        pdus[index] = bytes(target)
        return f"PDU {index} reserved byte {target[1]}"
    if choice == 2:
        real = len(target) - 6
        length = rng.choice([0, 1, 3, 4, real - 1, real + 1, real + 1000, 0xFFFFFFFF, 0x7FFFFFFF])
        struct.pack_into(">I", target, 2, max(0, length) & 0xFFFFFFFF)
        pdus[index] = bytes(target)
        return f"PDU {index} length {length} (real {real})"
    if choice == 3:
        cut = rng.randrange(len(target))
        pdus[index] = bytes(target[:cut])
        return f"PDU {index} truncated to {cut} bytes"
    if choice == 4:
        pdus.insert(index, pdus[index])
        return f"PDU {index} repeated"
    if choice == 5 and len(pdus) > 1:
        del pdus[index]
        return f"PDU {index} dropped"
    if choice == 6 and index + 1 < len(pdus):
        pdus[index], pdus[index + 1] = pdus[index + 1], pdus[index]
        return f"PDUs {index} and {index + 1} swapped"
    if choice == 7:
        extra, name = rng.choice(
            [
                (wire.release_rq(), "A-RELEASE-RQ"),
                (wire.pdu(wire.RELEASE_RP, bytes(4)), "A-RELEASE-RP"),
                (wire.abort(rng.choice([0, 2]), rng.randrange(7)), "A-ABORT"),
                (pdus[0], "A-ASSOCIATE-RQ"),
                (wire.pdu(wire.ASSOCIATE_AC, pdus[0][6:]), "A-ASSOCIATE-AC"),
                (wire.pdu(wire.ASSOCIATE_RJ, bytes([0, 1, 1, 1])), "A-ASSOCIATE-RJ"),
                (rng.randbytes(rng.randrange(1, 64)), "garbage"),
                (wire.pdu(wire.P_DATA_TF, b""), "empty P-DATA-TF"),
            ]
        )
        where = rng.randrange(len(pdus) + 1)
        pdus.insert(where, extra)
        return f"{name} inserted at {where}"
    if choice == 8:
        for _ in range(rng.randint(1, 4)):
            target[rng.randrange(min(len(target), 16))] = rng.randrange(256)
        pdus[index] = bytes(target)
        return f"PDU {index} header bytes changed"
    whole = b"".join(pdus)
    cut = rng.randrange(len(whole))
    pdus[:] = [whole[:cut]]
    return f"stream cut at byte {cut}"


# --- item level (A-ASSOCIATE-RQ) ----------------------------------------------------------


def _mutate_rq(rng: random.Random, rq: wire.AssociateRQ) -> str:
    actions: list[Callable[[], str]] = [
        lambda: _set(rq, "called", rng.choice(_HOSTILE_TEXT)),
        lambda: _set(rq, "calling", rng.choice(_HOSTILE_TEXT)),
        lambda: _set(rq, "protocol_version", rng.choice([0, 2, 0x8000, 0xFFFF])),
        lambda: _set(rq, "application_context", rng.choice(["", "1.2.3", "1" * 70, "\x00\xff"])),
        lambda: _set(
            rq, "max_length", rng.choice([None, 0, 1, 6, 7, 8, 9, 100, 1023, 1024, 0xFFFFFFFF])
        ),
        lambda: _set(rq, "implementation_uid", rng.choice(["", "1" * 70, "\x00", "1.2.\\3"])),
        lambda: _set(rq, "version_name", rng.choice([None, "", "V" * 20, "\x00\x01"])),
        lambda: _contexts(rng, rq),
        lambda: _user_items(rng, rq),
        lambda: _top_items(rng, rq),
    ]
    return "item: " + rng.choice(actions)()


def _set(rq: wire.AssociateRQ, name: str, value: object) -> str:
    setattr(rq, name, value)
    return f"{name} = {value!r}"


def _contexts(rng: random.Random, rq: wire.AssociateRQ) -> str:
    choice = rng.randrange(8)
    contexts = rq.contexts
    if choice == 0:
        contexts[rng.randrange(len(contexts))].context_id = rng.choice([0, 2, 3, 255, 254])
        return "context ID changed: " + str([c.context_id for c in contexts])
    if choice == 1:
        contexts.clear()
        return "no presentation context"
    if choice == 2:
        contexts.extend(
            wire.Context((2 * i + 7) % 256, wire.CT_IMAGE_STORAGE, [wire.IMPLICIT_LE])
            for i in range(130)
        )
        return "133 presentation contexts"
    if choice == 3:
        target = rng.choice(contexts)
        target.abstract_syntax = rng.choice([*_HOSTILE_UIDS, "1.2.3.4", wire.VERIFICATION])
        return f"abstract syntax of {target.context_id} = {target.abstract_syntax!r}"
    if choice == 4:
        target = rng.choice(contexts)
        target.transfer_syntaxes = rng.choice(
            [[], [""], ["1.2.3"], [wire.IMPLICIT_LE] * 40, ["1" * 70], ["1.2.840.10008.1.2.4.50"]]
        )
        return f"transfer syntaxes of {target.context_id} = {target.transfer_syntaxes[:2]!r}"
    if choice == 5:
        contexts.append(
            wire.Context(contexts[0].context_id, wire.CT_IMAGE_STORAGE, [wire.IMPLICIT_LE])
        )
        return "context ID repeated"
    if choice == 6:
        rq.extra_items += item_raw(0x20, bytes([9, 0, 0, 0]) + item_raw(0x40, b"1.2.840.10008.1.2"))
        return "context without abstract syntax"
    rng.shuffle(contexts)
    return "contexts reordered"


def item_raw(item_type: int, body: bytes) -> bytes:
    return wire.item(item_type, body)


def _user_items(rng: random.Random, rq: wire.AssociateRQ) -> str:
    uid = wire.CT_IMAGE_STORAGE.encode()
    options = [
        (item_raw(0x54, struct.pack(">H", len(uid)) + uid + b"\x01\x01"), "role selection"),
        (item_raw(0x54, struct.pack(">H", 200) + uid + b"\x01"), "role selection, bad length"),
        (item_raw(0x53, b"\x00\x01"), "async ops, short"),
        (item_raw(0x53, b"\x00\x00\x00\x00"), "async ops 0/0"),
        (item_raw(0x58, b"\x02\x01\x00\x04user\x00\x04pass"), "user identity"),
        (item_raw(0x58, b"\x09\x00\xff\xff"), "user identity, bad"),
        (item_raw(0x56, struct.pack(">H", 500) + uid), "SOP class extended, bad length"),
        (item_raw(0x57, b"\x00\x02" + b"\x00" * 3), "SOP class common extended, bad"),
        (item_raw(0x5F, rng.randbytes(12)), "unknown sub-item"),
        (item_raw(0x51, b"\x00\x00\x40\x00"), "second maximum length"),
        (item_raw(0x51, b"\x00\x40"), "short maximum length"),
        (item_raw(0x52, b""), "empty implementation UID"),
    ]
    raw, name = rng.choice(options)
    rq.extra_user_items += raw
    return f"user information: {name}"


def _top_items(rng: random.Random, rq: wire.AssociateRQ) -> str:
    options = [
        (item_raw(0x99, rng.randbytes(8)), "unknown item"),
        (item_raw(0x10, wire.APPLICATION_CONTEXT.encode()), "second application context"),
        (item_raw(0x50, item_raw(0x51, b"\x00\x00\x10\x00")), "second user information"),
        (struct.pack(">BBH", 0x20, 0, 0xFFFF), "item claiming 65535 bytes"),
        (struct.pack(">BBH", 0x20, 0, 1) + b"\x01", "one-byte context item"),
        (b"\x30", "a lone byte"),
    ]
    raw, name = rng.choice(options)
    rq.extra_items += raw
    return name


# --- PDV level ----------------------------------------------------------------------------


def _pdvs(message: Message) -> list[tuple[int, int, bytes]]:
    command = wire.encode_elements(message.elements)
    out = [(message.context_id, 0x03, command)]
    if message.dataset is not None:
        data = message.dataset
        size = message.fragment or max(len(data), 1)
        starts = list(range(0, len(data), size)) or [0]
        for start in starts:
            last = start + size >= len(data)
            out.append((message.context_id, 0x02 if last else 0x00, data[start : start + size]))
    return out


def _mutate_pdvs(rng: random.Random, messages: list[Message]) -> str:
    message = rng.choice(messages)
    pdvs = message.pdvs
    index = rng.randrange(len(pdvs))
    context_id, control, data = pdvs[index]
    choice = rng.randrange(9)
    if choice == 0:
        new = rng.choice([0, 2, 7, 9, 255, 1 if context_id != 1 else 3])
        pdvs[index] = (new, control, data)
        return f"PDV {index} context ID {new}"
    if choice == 1:
        new = rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0xFC, 0xFF, control ^ 0x01, control ^ 0x02])
        pdvs[index] = (context_id, new, data)
        return f"PDV {index} control 0x{new:02X}"
    if choice == 2:
        pdvs.insert(index, (context_id, control & ~0x02, b""))
        return f"empty PDV before {index}"
    if choice == 3:
        pieces = [data[i : i + 2] for i in range(0, len(data), 2)] or [b""]
        last = control & 0x02
        pdvs[index : index + 1] = [
            (context_id, (control & ~0x02) | (last if i == len(pieces) - 1 else 0), piece)
            for i, piece in enumerate(pieces)
        ]
        return f"PDV {index} in 2-byte fragments"
    if choice == 4 and len(pdvs) > 1:
        pdvs.reverse()
        return "PDVs reversed (data before command)"
    if choice == 5:
        del pdvs[index]
        return f"PDV {index} dropped"
    if choice == 6:
        pdvs.insert(index, pdvs[index])
        return f"PDV {index} repeated"
    if choice == 7:
        pdvs[index] = (context_id, control, data + rng.randbytes(rng.choice([1, 3])))
        return f"PDV {index} odd-length data"
    message.fragment = -1  # tells _pdata_pdus to write a wrong PDV length
    return f"PDV lengths wrong in message {messages.index(message)}"


def _pdata_pdus(rng: random.Random, messages: list[Message], mutated: bool) -> list[bytes]:
    out: list[bytes] = []
    for message in messages:
        encoded = [wire.pdv(cid, control, data) for cid, control, data in message.pdvs]
        if message.fragment == -1:
            target = rng.randrange(len(encoded))
            raw = bytearray(encoded[target])
            real = len(raw) - 4
            length = rng.choice([0, 1, 2, real + 2, real - 1, real + 1000, 0xFFFFFFFF])
            struct.pack_into(">I", raw, 0, length & 0xFFFFFFFF)
            encoded[target] = bytes(raw)
        if mutated and len(encoded) > 1 and rng.random() < 0.3:
            out.append(wire.pdu(wire.P_DATA_TF, b"".join(encoded)))  # several PDVs in one PDU
        else:
            out.extend(wire.pdu(wire.P_DATA_TF, pdv) for pdv in encoded)
    return out


# --- command level ------------------------------------------------------------------------


def _mutate_command(rng: random.Random, elements: list[tuple[int, bytes]]) -> str:
    choice = rng.randrange(10)
    numbers = [elem for elem, _ in elements]
    if choice == 0:
        elem = rng.choice(numbers)
        elements[:] = [(e, v) for e, v in elements if e != elem]
        return f"(0000,{elem:04X}) removed"
    if choice == 1:
        index = rng.randrange(len(elements))
        elem, _ = elements[index]
        raw = rng.choice([b"", b"\x01", rng.randbytes(rng.randrange(1, 80)), b"\xff" * 3])
        elements[index] = (elem, raw)
        return f"(0000,{elem:04X}) = {raw[:8]!r}... ({len(raw)} bytes)"
    if choice == 2:
        value = rng.choice([0x0000, 0x8001, 0x0FFF, 0x0020, 0x0010, 0x0021, 0x0030, 0x0100, 0xFFFF])
        _replace(elements, 0x0100, wire.us(value))
        return f"Command Field 0x{value:04X}"
    if choice == 3:
        value = rng.choice([0x0101, 0x0000, 0x0102, 0xFFFF])
        _replace(elements, 0x0800, wire.us(value))
        return f"Command Data Set Type 0x{value:04X}"
    if choice == 4:
        uid = rng.choice(_HOSTILE_UIDS)
        _replace(elements, 0x1000, wire.text(uid))
        return f"Affected SOP Instance UID {uid!r}"
    if choice == 5:
        uid = rng.choice([*_HOSTILE_UIDS, wire.VERIFICATION, "1.2.840.10008.5.1.4.1.1.4", ""])
        _replace(elements, 0x0002, wire.text(uid))
        return f"Affected SOP Class UID {uid!r}"
    if choice == 6:
        if len(elements) > 1:
            i = rng.randrange(len(elements) - 1)
            elements[i], elements[i + 1] = elements[i + 1], elements[i]
        return "elements out of order"
    if choice == 7:
        elements.insert(rng.randrange(len(elements) + 1), rng.choice(elements))
        return "an element repeated"
    if choice == 8:
        extra = rng.choice(
            [
                (0x0001, b"\x00\x00\x00\x00"),  # retired Command Length
                (0x0600, wire.text("MOVEDEST", b" ")),
                (0x1030, wire.text("\x00\\" * 4, b" ")),
                (0x4000, b"abcd"),
                (0x0900, wire.us(0)),
            ]
        )
        elements.append(extra)
        elements.sort(key=lambda e: e[0])
        return f"extra element (0000,{extra[0]:04X})"
    value = rng.choice([0, 0xFFFF])
    _replace(elements, 0x0110, wire.us(value))
    return f"Message ID {value}"


def _replace(elements: list[tuple[int, bytes]], elem: int, value: bytes) -> None:
    for index, (e, _) in enumerate(elements):
        if e == elem:
            elements[index] = (elem, value)
            return
    elements.append((elem, value))
    elements.sort(key=lambda e: e[0])


# --- data set and sequence levels ---------------------------------------------------------


def _has_sequence(message: Message) -> bool:
    assert message.dataset is not None
    try:
        elements = wire.walk(message.dataset, message.implicit)
    except wire.StructureError:
        return False
    return any(e.depth > 0 for e in elements)


def _mutate_dataset(rng: random.Random, data: bytes, implicit: bool) -> tuple[bytes, str]:
    elements = [e for e in wire.walk(data, implicit) if e.depth == 0]
    target = rng.choice(elements)
    raw = bytearray(data)
    choice = rng.randrange(10)
    if choice == 0:
        real = target.length
        limit = 0xFFFF if target.length_size == 2 else 0xFFFFFFFF
        length = rng.choice([0, 1, real + 1, real + 2, max(0, real - 2), limit, len(data) * 2])
        _put_length(raw, target, min(length, limit))
        return bytes(raw), f"length of {_tag(target)} {real} -> {length}"
    if choice == 1 and target.vr is not None:
        vr = rng.choice([b"SQ", b"UN", b"OB", b"XX", b"sq", b"\x00\x00", b"UT", b"US"])
        raw[target.offset + 4 : target.offset + 6] = vr
        return bytes(raw), f"VR of {_tag(target)} -> {vr!r}"
    if choice == 2:
        group, elem = rng.choice(
            [
                (0x0000, 0x0000),
                (0x0002, 0x0010),
                (0xFFFE, 0xE000),
                (0x0009, 0x0010),
                (0xFFFF, 0xFFFF),
            ]
        )
        struct.pack_into("<HH", raw, target.offset, group, elem)
        return bytes(raw), f"tag of {_tag(target)} -> ({group:04X},{elem:04X})"
    if choice == 3:
        cut = rng.choice([target.offset, target.offset + 3, target.value_offset, len(data) - 1])
        return data[:cut], f"data set truncated at {cut} of {len(data)}"
    if choice == 4:
        return data + b"\x00", "one byte appended (odd length)"
    if choice == 5:
        end = _end(elements, target, len(data))
        return data[: target.offset] + data[end:], f"{_tag(target)} deleted"
    if choice == 6:
        end = _end(elements, target, len(data))
        return data + data[target.offset : end], f"{_tag(target)} repeated at the end"
    if choice == 7:
        where = rng.choice([target.offset, len(data)])
        junk = rng.randbytes(rng.choice([2, 8, 13, 64]))
        return data[:where] + junk + data[where:], f"{len(junk)} random bytes at {where}"
    if choice == 8:
        return b"", "empty data set"
    if target.length not in (0, wire.UNDEFINED) and target.vr != b"SQ":
        start = target.value_offset
        raw[start : start + target.length] = rng.randbytes(target.length)
        return bytes(raw), f"value of {_tag(target)} random"
    return data, "unchanged"


def _mutate_sequence(rng: random.Random, data: bytes, implicit: bool) -> tuple[bytes, str]:
    elements = wire.walk(data, implicit)
    delimiters = [e for e in elements if e.tag in (wire.ITEM_END, wire.SEQUENCE_END)]
    items = [e for e in elements if e.tag == wire.ITEM]
    sequences = [
        e for e in elements if e.vr == b"SQ" or (implicit and e.tag in wire._SEQUENCE_TAGS)
    ]
    raw = bytearray(data)
    choice = rng.randrange(8)
    if choice == 0 and delimiters:
        target = rng.choice(delimiters)
        return data[: target.offset] + data[target.offset + 8 :], f"{_tag(target)} removed"
    if choice == 1 and delimiters:
        target = rng.choice(delimiters)
        struct.pack_into("<I", raw, target.length_offset, rng.choice([2, 8, 0xFFFFFFFF]))
        return bytes(raw), f"{_tag(target)} given a length"
    if choice == 2 and items:
        target = rng.choice(items)
        struct.pack_into(
            "<HH",
            raw,
            target.offset,
            *rng.choice([(0xFFFE, 0xE0DD), (0xFFFE, 0xE00D), (0x0008, 0x0100)]),
        )
        return bytes(raw), f"item at {target.offset} retagged"
    if choice == 3 and items:
        target = rng.choice(items)
        length = (
            rng.choice([0, 2, 0xFFFFFFFE, len(data)])
            if target.length == wire.UNDEFINED
            else rng.choice([target.length + 8, max(0, target.length - 8), wire.UNDEFINED])
        )
        struct.pack_into("<I", raw, target.length_offset, length)
        return bytes(raw), f"item at {target.offset} length {target.length} -> {length}"
    if choice == 4 and sequences:
        target = rng.choice(sequences)
        new = wire.UNDEFINED if target.length != wire.UNDEFINED else rng.choice([0, 8, len(data)])
        _put_length(raw, target, new)
        return bytes(raw), f"sequence {_tag(target)} length {target.length} -> {new}"
    if choice == 5:
        depth = rng.choice([40, 200, 1000])
        return data + _nested(depth, implicit), f"{depth} nested sequences appended"
    if choice == 6:
        return data + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0), "sequence delimiter at top level"
    if choice == 7 and sequences:
        target = rng.choice(sequences)
        return data[: target.value_offset] + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF), (
            f"sequence {_tag(target)} cut inside its first item"
        )
    return data + struct.pack("<HHI", 0xFFFE, 0xE00D, 0), "item delimiter at top level"


def _nested(depth: int, implicit: bool) -> bytes:
    """``depth`` sequences of undefined length, each in an item of the one before, all closed,
    appended as (0040,A730) Content Sequence (sorts after everything we write)."""
    header = (
        struct.pack("<HHI", 0x0040, 0xA730, wire.UNDEFINED)
        if implicit
        else struct.pack("<HH2s2xI", 0x0040, 0xA730, b"SQ", wire.UNDEFINED)
    )
    item = struct.pack("<HHI", 0xFFFE, 0xE000, wire.UNDEFINED)
    end_item = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    end_seq = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return (header + item) * depth + (end_item + end_seq) * depth


def _flip_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    raw = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw), "random bytes changed"


def _put_length(raw: bytearray, element: wire.Element, length: int) -> None:
    if element.length_size == 2:
        struct.pack_into("<H", raw, element.length_offset, length & 0xFFFF)
    else:
        struct.pack_into("<I", raw, element.length_offset, length & 0xFFFFFFFF)


def _end(elements: list[wire.Element], target: wire.Element, total: int) -> int:
    later = [e.offset for e in elements if e.offset > target.offset]
    return min(later) if later else total


def _tag(element: wire.Element) -> str:
    return f"({element.tag[0]:04X},{element.tag[1]:04X})"
