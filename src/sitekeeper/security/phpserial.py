"""PHP `serialize()` values read as plain data — never instantiated, nothing executed. WordPress keeps
options (active plugins, capabilities, cron) in this form; both the inventory and the suspicious-activity scan
read them through this one reader."""

from __future__ import annotations

from typing import Any


class _Reader:
    """PHP's serialize() format: s:<bytes>:"…"; i:…; d:…; b:…; N; a:<n>:{…}. Objects (O:) become a dict of
    their properties plus "__class__" — read as data, never instantiated; references and custom
    serialization (r:, R:, C:) are refused."""

    def __init__(self, data: bytes, *, objects: bool) -> None:
        self.data, self.pos, self.objects = data, 0, objects

    def _until(self, stop: bytes) -> bytes:
        end = self.data.index(stop, self.pos)
        chunk, self.pos = self.data[self.pos : end], end + len(stop)
        return chunk

    def _expect(self, token: bytes) -> None:
        if self.data[self.pos : self.pos + len(token)] != token:
            raise ValueError(f"expected {token!r} at byte {self.pos}")
        self.pos += len(token)

    def value(self) -> Any:  # noqa: PLR0911 (one branch per PHP type)
        tag = self.data[self.pos : self.pos + 2]
        if tag == b"N;":
            self.pos += 2
            return None
        self.pos += 2
        if tag == b"b:":
            return self._until(b";") == b"1"
        if tag == b"i:":
            return int(self._until(b";"))
        if tag == b"d:":
            return float(self._until(b";"))
        if tag == b"s:":
            return self._string()
        if tag == b"a:":
            return self._array(int(self._until(b":")))
        if tag == b"O:" and self.objects:
            self._until(b":")  # class name length
            name = self._until(b":").strip(b'"').decode("utf-8", "replace")
            props = self._array(int(self._until(b":")))
            return {"__class__": name, **{str(k): v for k, v in props.items()}}
        raise ValueError(f"unsupported PHP serialized type {tag!r} at byte {self.pos - 2}")

    def _string(self) -> str:
        length = int(self._until(b":"))
        self._expect(b'"')
        text = self.data[self.pos : self.pos + length]
        self.pos += length
        self._expect(b'";')
        return text.decode("utf-8", "replace")

    def _array(self, count: int) -> dict[Any, Any]:
        self._expect(b"{")
        out: dict[Any, Any] = {}
        for _ in range(count):
            key = self.value()
            out[key] = self.value()
        self._expect(b"}")
        return out


def php_unserialize(text: str | bytes, *, objects: bool = False) -> Any:
    """A PHP-serialized value as Python data; ValueError if it is not one. Objects are refused unless
    `objects` (then a dict of their properties plus "__class__")."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    reader = _Reader(data, objects=objects)
    try:
        value = reader.value()
    except (IndexError, ValueError) as error:
        raise ValueError(f"not a PHP-serialized value: {error}") from error
    if reader.pos != len(data.rstrip()):
        raise ValueError(f"trailing data after byte {reader.pos}")
    return value
