"""Versions and version ranges as WordPress, Composer, npm and PyPI write them — pure, no Django.

One ordering serves all four ecosystems, because the feeds we match against (Wordfence, OSV) only need
"is this installed version inside that range":
- the release is the leading dotted numbers, trailing zeros ignored ("6.1" == "6.1.0" == "6.1.0.0");
- an optional PEP 440 epoch ("1!2.0") sorts before everything else;
- after the release, words mark pre- and post-releases: dev < alpha (a) < beta (b) < rc (c, pre, preview)
  < any other word (npm allows arbitrary tags; they sort by text) < the release itself < post (p, pl, patch);
  numbers following a word belong to it ("beta2" == "beta.2" == "b2");
- "v" prefixes, "+build" metadata and words meaning "the release" (stable, final, ga) are ignored.
A bare number after a hyphen ("1.0.0-1") is a pre-release as in npm (PyPI would call it a post-release; no
feed we import uses that spelling).

Ranges: Wordfence Intelligence v3 `affected_versions` entries ({from_version, from_inclusive, to_version,
to_inclusive}, "*" unbounded) and OSV ranges (SEMVER / ECOSYSTEM events introduced, fixed, last_affected,
plus an explicit `versions` list) both become `Interval`s, so one `contains` decides for both formats.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class VersionError(ValueError):
    """A version string or a range that cannot be read; the message quotes it."""


_WORDS = {
    "dev": -5, "snapshot": -5,
    "alpha": -4, "a": -4,
    "beta": -3, "b": -3,
    "rc": -2, "c": -2, "pre": -2, "preview": -2,
    "post": 1, "p": 1, "pl": 1, "patch": 1, "rev": 1, "r": 1,
}  # fmt: skip
_RELEASE_WORDS = {"stable", "final", "ga", "release"}
_OTHER = -1  # an unknown word (npm "-canary", "-next"): a pre-release, ordered among its kind by text
_END = (0, "", ())  # closes every suffix, so "1.0-beta" < "1.0" < "1.0-post1"
_HEAD = re.compile(r"^\s*[vV]?\s*(?:(\d+)!)?(\d+(?:\.\d+)*)(.*)$", re.DOTALL)
_TOKEN = re.compile(r"[a-z]+|\d+")

Segment = tuple[int, str, tuple[int, ...]]
Key = tuple[int, tuple[int, ...], tuple[Segment, ...]]


def _strip_zeros(numbers: Sequence[int]) -> tuple[int, ...]:
    end = len(numbers)
    while end and numbers[end - 1] == 0:
        end -= 1
    return tuple(numbers[:end])


@functools.lru_cache(maxsize=8192)
def key(version: str) -> Key:
    """The sort key of a version: equal keys mean the same version."""
    match = _HEAD.match(version.split("+", 1)[0])
    if not match:
        raise VersionError(f"not a version: {version!r} (expected dotted numbers like 6.1.2 or 2.0.0-beta1)")
    epoch, release, rest = match.groups()
    segments: list[Segment] = []
    for token in _TOKEN.findall(rest.lower()):
        if token.isdigit():
            if segments:
                rank, text, numbers = segments[-1]
                segments[-1] = (rank, text, (*numbers, int(token)))
            else:
                segments.append((_OTHER, "", (int(token),)))
        elif token in _RELEASE_WORDS:
            continue
        elif token in _WORDS:
            segments.append((_WORDS[token], "", ()))
        else:
            segments.append((_OTHER, token, ()))
    suffix = tuple((rank, text, _strip_zeros(numbers)) for rank, text, numbers in segments)
    release_numbers = _strip_zeros([int(part) for part in release.split(".")])
    return (int(epoch or 0), release_numbers, (*suffix, _END))


def is_valid(version: str) -> bool:
    try:
        key(version)
    except VersionError:
        return False
    return True


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, the same as, or newer than `b`."""
    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)


@dataclass(frozen=True)
class Interval:
    """Versions between `low` and `high`; None is unbounded on that side."""

    low: str | None = None
    low_inclusive: bool = True
    high: str | None = None
    high_inclusive: bool = False

    def contains(self, version: str) -> bool:
        k = key(version)
        if self.low is not None:
            low = key(self.low)
            if k < low or (k == low and not self.low_inclusive):
                return False
        if self.high is not None:
            high = key(self.high)
            if k > high or (k == high and not self.high_inclusive):
                return False
        return True

    def describe(self) -> str:
        if self.low is not None and self.low == self.high and self.low_inclusive and self.high_inclusive:
            return f"= {self.low}"
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self.low_inclusive else '>'} {self.low}")
        if self.high is not None:
            parts.append(f"{'<=' if self.high_inclusive else '<'} {self.high}")
        return ", ".join(parts) or "all versions"

    def as_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "low_inclusive": self.low_inclusive,
            "high": self.high,
            "high_inclusive": self.high_inclusive,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Interval:
        return cls(data.get("low"), bool(data.get("low_inclusive", True)), data.get("high"),
                   bool(data.get("high_inclusive", False)))  # fmt: skip


def exactly(version: str) -> Interval:
    return Interval(version, True, version, True)


def affected(version: str, intervals: Iterable[Interval]) -> bool:
    return any(interval.contains(version) for interval in intervals)


def complement(interval: Interval) -> list[Interval]:
    """The versions outside `interval`, as at most two intervals."""
    outside = []
    if interval.low is not None:
        outside.append(Interval(None, True, interval.low, not interval.low_inclusive))
    if interval.high is not None:
        outside.append(Interval(interval.high, not interval.high_inclusive, None, False))
    return outside


def _bound(value: Any, what: str) -> str | None:
    if value in (None, "", "*"):
        return None
    text = str(value).strip()
    if not is_valid(text):
        raise VersionError(f"{what}: not a version: {text!r}")
    return text


def wordfence_interval(entry: Mapping[str, Any], what: str = "affected_versions entry") -> Interval:
    """One Wordfence v3 `affected_versions` value:
    {from_version, from_inclusive, to_version, to_inclusive}."""
    if not isinstance(entry, Mapping) or "to_version" not in entry:
        raise VersionError(f"{what}: expected an object with from_version/to_version, got {entry!r}")
    return Interval(
        _bound(entry.get("from_version"), what),
        bool(entry.get("from_inclusive", True)),
        _bound(entry.get("to_version"), what),
        bool(entry.get("to_inclusive", True)),
    )


def wordfence_intervals(affected_versions: Any, what: str = "affected_versions") -> list[Interval]:
    """Wordfence keys `affected_versions` by a label ("* - 5.0.2"); some exports give a plain list."""
    values = affected_versions.values() if isinstance(affected_versions, Mapping) else affected_versions
    if not isinstance(values, Iterable) or isinstance(values, str | bytes):
        raise VersionError(f"{what}: expected an object or a list, got {type(affected_versions).__name__}")
    return [wordfence_interval(value, f"{what}[{n}]") for n, value in enumerate(values)]


def osv_intervals(affected_entry: Mapping[str, Any], what: str = "affected") -> list[Interval]:
    """The intervals of one OSV `affected` entry: its SEMVER/ECOSYSTEM ranges walked as the OSV spec says
    (sorted events; introduced opens, fixed closes exclusive, last_affected closes inclusive; an unclosed
    introduced runs to the end) plus its explicit `versions`. GIT ranges name commits, not versions: skipped
    (the `versions` list, when present, carries the same information)."""
    intervals: list[Interval] = []
    for n, rng in enumerate(affected_entry.get("ranges") or []):
        if not isinstance(rng, Mapping):
            raise VersionError(f"{what}.ranges[{n}]: expected an object, got {rng!r}")
        if rng.get("type") in {"SEMVER", "ECOSYSTEM"}:
            intervals += _walk(_osv_events(rng.get("events") or [], f"{what}.ranges[{n}]"))
    intervals += [exactly(str(v)) for v in affected_entry.get("versions") or [] if is_valid(str(v))]
    return intervals


_ZERO: Key = (-1, (), ())  # OSV's introduced "0": below every version


def _osv_events(events: Sequence[Any], what: str) -> list[tuple[Key, str, str | None]]:
    out: list[tuple[Key, str, str | None]] = []
    for m, event in enumerate(events):
        if not isinstance(event, Mapping) or len(event) != 1:
            raise VersionError(
                f"{what}.events[{m}]: expected one of introduced/fixed/last_affected/limit, got {event!r}"
            )
        ((kind, value),) = event.items()
        if kind == "limit":  # bounds a GIT-style search, never membership
            continue
        if kind not in {"introduced", "fixed", "last_affected"}:
            raise VersionError(f"{what}.events[{m}]: unknown event {kind!r}")
        bound = None if (kind == "introduced" and str(value) == "0") else _bound(value, f"{what}.events[{m}]")
        out.append((_ZERO if bound is None else key(bound), kind, bound))
    out.sort(key=lambda e: (e[0], e[1] != "introduced"))
    return out


def _walk(events: Sequence[tuple[Key, str, str | None]]) -> list[Interval]:
    intervals = []
    opened: tuple[str | None] | None = None
    for _, kind, bound in events:
        if kind == "introduced":
            if opened is None:
                opened = (bound,)
        elif opened is not None:
            intervals.append(Interval(opened[0], True, bound, kind == "last_affected"))
            opened = None
    if opened is not None:
        intervals.append(Interval(opened[0], True, None, False))
    return intervals
