"""Syslog over TCP: cutting a byte stream into messages (RFC 6587).

Two framings exist and senders do not say which they use, so each connection is read by the one
its first byte shows: a digit starts octet counting (``LEN SP MSG``, §3.4.1; RFC 5425 over TLS
too), anything else (a ``<``) is the common trailing-LF framing (§3.4.2, rsyslog omfwd's default).
"""

from __future__ import annotations

MAX_FRAME = 64 * 1024  # the longest message kept whole; an LF frame beyond it is cut there
_MAX_LENGTH_DIGITS = 9


class FramingError(ValueError):
    """The stream cannot be cut into messages (a bad octet count): the connection is closed."""


class Framer:
    """Feed it what a connection delivers, get whole messages back."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self.octet_counted: bool | None = None  # decided by the connection's first byte
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        self._buffer += data
        if self.octet_counted is None:
            self.octet_counted = self._buffer[:1].isdigit()
        return self._counted() if self.octet_counted else self._lines()

    def close(self) -> list[bytes]:
        """What is left when the sender closes: a last line without its LF is still a message."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        if self.octet_counted or not rest.strip():
            return []  # an octet-counted frame cut short is not a message
        return [rest]

    @property
    def waiting(self) -> int:
        return len(self._buffer)

    def _lines(self) -> list[bytes]:
        buffer = self._buffer
        frames = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                if len(buffer) - start > self.max_frame:
                    frames.append(bytes(buffer[start:start + self.max_frame]))
                    start += self.max_frame
                    continue
                break
            line = buffer[start:end]
            if line.strip():
                frames.append(bytes(line))
            start = end + 1
        del buffer[:start]
        return frames

    def _counted(self) -> list[bytes]:
        buffer = self._buffer
        frames = []
        start = 0
        while start < len(buffer):
            space = buffer.find(b" ", start, start + _MAX_LENGTH_DIGITS + 1)
            if space < 0:
                if len(buffer) - start > _MAX_LENGTH_DIGITS or not buffer[start:].isdigit():
                    raise FramingError(f"octet counting: no length at {bytes(buffer[start:start + 12])!r}")
                break
            digits = buffer[start:space]
            if not digits.isdigit():
                # RFC 6587 lets a receiver cope with senders that mix in LF; MUTT does not guess
                raise FramingError(f"octet counting: {bytes(digits)!r} is not a length")
            length = int(digits)
            if length > self.max_frame:
                raise FramingError(f"octet counting: a {length}-byte message; at most {self.max_frame}")
            if len(buffer) - space - 1 < length:
                break
            frame = bytes(buffer[space + 1:space + 1 + length])
            if frame.strip():
                frames.append(frame)
            start = space + 1 + length
            while start < len(buffer) and buffer[start] in b"\r\n":  # some senders add one anyway
                start += 1
        del buffer[:start]
        return frames
