"""The common websocket frames, read and written without autobahn's general machinery.

Nearly every frame a live-scoring connection carries is one whole text message: a client's frame
(RFC 6455 5.2: FIN set, no reserved bits, opcode 1, masked, at most 65,535 bytes) and the server's
answer (FIN, opcode 1, unmasked). Autobahn handles every frame through a chain of per-frame and
per-message callbacks, counters and a masker object, which made up much of the server's time per
keystroke. `BoundedWebSocketProtocol` (`core.server`) reads and writes those common frames with the
two functions here, and hands anything else to autobahn exactly where it starts (a fragment, a
control frame, a binary or compressed frame, one over the size limit, one not yet wholly received,
invalid UTF-8), so autobahn still decides everything unusual: pings, closes and protocol errors.
"""

from __future__ import annotations

_TEXT_FIN = 0x81  # FIN, no reserved bits, opcode 1 (text)
_MASKED = 0x80
_SHORT_MAX = 125  # a payload length that fits the second header byte
_MEDIUM = 126  # the next two bytes hold the length
_MEDIUM_MAX = 0xFFFF


def unmasked(payload: bytes, mask: bytes) -> bytes:
    """`payload` XOR-ed with the 4-byte `mask` repeated (RFC 6455 5.3), as one big-integer XOR in C."""
    size = len(payload)
    if not size:
        return payload
    key = (mask * ((size >> 2) + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(size, "little")


def client_text_frame(data: bytes, start: int, max_payload: int) -> tuple[str, int] | None:
    """(the text, where the frame ends) for a whole, masked, unfragmented text frame at `data[start:]`.

    None when the bytes there are anything else, or not all there yet: the caller hands them, from
    `start`, to the general parser. `max_payload` is the largest payload taken (0: no limit).
    """
    end_of_data = len(data)
    if end_of_data - start < 6 or data[start] != _TEXT_FIN:
        return None
    second = data[start + 1]
    if not second & _MASKED:
        return None
    length = second & 0x7F
    header = 6
    if length == _MEDIUM:
        if end_of_data - start < 8:
            return None
        length = int.from_bytes(data[start + 2 : start + 4], "big")
        if length <= _SHORT_MAX:
            return None  # not the minimal encoding: the general parser refuses it
        header = 8
    elif length > _MEDIUM:
        return None  # 64-bit lengths are left to the general parser
    if max_payload and length > max_payload:
        return None
    end = start + header + length
    if end > end_of_data:
        return None
    payload = unmasked(data[start + header : end], data[start + header - 4 : start + header])
    try:
        return payload.decode("utf-8"), end
    except UnicodeDecodeError:
        return None  # the general parser fails the connection with the right close code


def server_text_frame(payload: bytes) -> bytes | None:
    """The unmasked, unfragmented text frame carrying `payload` (UTF-8), or None past 65,535 bytes."""
    size = len(payload)
    if size <= _SHORT_MAX:
        return bytes((_TEXT_FIN, size)) + payload
    if size <= _MEDIUM_MAX:
        return bytes((_TEXT_FIN, _MEDIUM)) + size.to_bytes(2, "big") + payload
    return None
