"""Version ordering and range semantics (sitekeeper.core.versions): table tests plus Hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper.core.versions import (
    Interval,
    VersionError,
    affected,
    compare,
    complement,
    key,
    osv_intervals,
    wordfence_intervals,
)


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("6.1", "6.1.1"),
        ("6.1.9", "6.2"),
        ("5.0.2", "5.0.3"),
        ("1.9", "1.10"),
        ("2.0.0-beta1", "2.0.0"),
        ("2.0.0-alpha", "2.0.0-beta"),
        ("2.0.0-beta", "2.0.0-rc1"),
        ("2.0.0-rc1", "2.0.0-rc2"),
        ("2.0.0-rc.1", "2.0.0"),
        ("1.0.dev1", "1.0a1"),
        ("1.0a1", "1.0b1"),
        ("1.0b2", "1.0rc1"),
        ("1.0", "1.0.post1"),
        ("1.0.post1.dev1", "1.0.post1"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("4.0.0-RC1", "4.0.0"),
        ("1.0.0-patch1", "1.0.1"),
        ("1.0", "1!0.1"),
        ("6.1-RC1", "6.1"),
    ],
)
def test_order(older: str, newer: str) -> None:
    assert compare(older, newer) == -1
    assert compare(newer, older) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("6.1", "6.1.0"),
        ("6.1", "6.1.0.0"),
        ("v1.2.3", "1.2.3"),
        ("1.2.3+build.7", "1.2.3"),
        ("1.0.0-beta2", "1.0.0-beta.2"),
        ("1.0b2", "1.0.0-beta2"),
        ("1.0a", "1.0-alpha.0"),
        ("2.0-stable", "2.0"),
        ("1.0rc1", "1.0-RC1"),
    ],
)
def test_equal(a: str, b: str) -> None:
    assert compare(a, b) == 0
    assert key(a) == key(b)


@pytest.mark.parametrize("bad", ["", "dev-master", "latest", "*", "abc1.0"])
def test_not_a_version(bad: str) -> None:
    with pytest.raises(VersionError, match="not a version"):
        key(bad)


def test_wordfence_ranges() -> None:
    first = {"from_version": "*", "from_inclusive": True, "to_version": "5.0.2", "to_inclusive": True}
    second = {"from_version": "6.0", "from_inclusive": True, "to_version": "6.0.5", "to_inclusive": False}
    ranges = wordfence_intervals({"* - 5.0.2": first, "6.0 - 6.0.4": second})
    assert affected("5.0.2", ranges)
    assert affected("1.0", ranges)
    assert not affected("5.0.3", ranges)
    assert affected("6.0.0", ranges)
    assert affected("6.0.4", ranges)
    assert not affected("6.0.5", ranges)
    assert not affected("5.9", ranges)
    with pytest.raises(VersionError, match=r"affected_versions\[0\]"):
        wordfence_intervals([{"from_version": "*", "to_version": "later"}])


def test_osv_ranges() -> None:
    entry = {
        "ranges": [
            {
                "type": "SEMVER",
                "events": [
                    {"introduced": "0"},
                    {"fixed": "1.2.3"},
                    {"introduced": "2.0.0"},
                    {"last_affected": "2.1.0"},
                ],
            },
            {"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}]},
            {"type": "GIT", "events": [{"introduced": "abc123"}]},
        ],
        "versions": ["1.5.0"],
    }
    ranges = osv_intervals(entry)
    assert affected("0.1", ranges)
    assert affected("1.2.3-beta", ranges)
    assert not affected("1.2.3", ranges)
    assert affected("1.5.0", ranges)  # explicit versions list
    assert not affected("1.5.1", ranges)
    assert affected("2.0.0", ranges)
    assert affected("2.1.0", ranges)
    assert not affected("2.1.1", ranges)
    assert affected("3.0", ranges)
    assert affected("99", ranges)
    # events in any order are sorted first, as the OSV spec says
    shuffled = {"ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "2.0"}, {"introduced": "1.0"}]}]}
    assert affected("1.5", osv_intervals(shuffled))
    assert not affected("2.0", osv_intervals(shuffled))
    with pytest.raises(VersionError, match=r"events\[0\]: unknown event 'broken'"):
        osv_intervals({"ranges": [{"type": "SEMVER", "events": [{"broken": "1"}]}]})


# Versions built from small numbers and the usual tags, so collisions (equal versions spelled differently)
# and neighbours are frequent.
_numbers = st.lists(st.integers(0, 4), min_size=1, max_size=4).map(lambda ns: ".".join(map(str, ns)))
_tags = st.sampled_from(
    ["", "-alpha", "-beta1", "b2", "-rc.1", "rc2", ".dev1", ".post1", "-patch2", "-canary"]
)
versions = st.builds(lambda n, t, pad: n + (".0" if pad else "") + t, _numbers, _tags, st.booleans())


@given(versions, versions, versions)
def test_total_order(a: str, b: str, c: str) -> None:
    assert compare(a, b) == -compare(b, a)
    if compare(a, b) <= 0 and compare(b, c) <= 0:
        assert compare(a, c) <= 0


@given(st.lists(st.integers(0, 9), min_size=1, max_size=4), st.integers(0, 3))
def test_padding_is_equality(numbers: list[int], zeros: int) -> None:
    plain = ".".join(map(str, numbers))
    assert compare(plain, plain + ".0" * zeros) == 0


@given(_numbers, st.sampled_from(["-dev", "-alpha", "a1", "-beta.2", "rc3", "-next"]))
def test_prerelease_below_release_below_post(release: str, tag: str) -> None:
    assert compare(release + tag, release) == -1
    assert compare(release, release + ".post1") == -1


@given(versions, versions, versions, st.booleans(), st.booleans())
def test_range_and_complement_partition(v: str, low: str, high: str, low_inc: bool, high_inc: bool) -> None:
    for interval in (Interval(low, low_inc, high, high_inc), Interval(None, True, high, high_inc),
                     Interval(low, low_inc, None, False)):  # fmt: skip
        inside = interval.contains(v)
        outside = affected(v, complement(interval))
        assert inside != outside, (v, interval)


@given(versions, versions, versions)
def test_osv_matches_wordfence(v: str, low: str, high: str) -> None:
    if compare(low, high) >= 0:
        return
    osv = osv_intervals({"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": low}, {"fixed": high}]}]})
    wordfence = wordfence_intervals(
        [{"from_version": low, "from_inclusive": True, "to_version": high, "to_inclusive": False}]
    )
    assert affected(v, osv) == affected(v, wordfence) == (compare(low, v) <= 0 < compare(high, v))
