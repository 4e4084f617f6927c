"""PHP serialize() values read as data: the one reader of the inventory and the suspicious-activity scan."""

from __future__ import annotations

import pytest

from sitekeeper.security.phpserial import php_unserialize


def test_arrays_strings_numbers_booleans_null() -> None:
    value = php_unserialize(b'a:2:{i:0;s:19:"akismet/akismet.php";i:1;s:9:"hello.php";}')
    assert list(value.values()) == ["akismet/akismet.php", "hello.php"]
    assert php_unserialize(b'a:3:{s:1:"a";b:1;s:1:"b";N;s:1:"c";d:1.5;}') == {"a": True, "b": None, "c": 1.5}
    assert php_unserialize("a:3:{i:0;N;i:1;d:1.5;i:2;i:-3;}") == {0: None, 1: 1.5, 2: -3}
    caps = 'a:2:{s:13:"administrator";b:1;s:6:"editor";b:0;}'
    assert php_unserialize(caps) == {"administrator": True, "editor": False}


def test_string_lengths_count_bytes() -> None:
    assert php_unserialize('s:5:"héll";'.encode()) == "héll"
    assert php_unserialize('a:1:{i:0;s:5:"café";}') == {0: "café"}


def test_objects_are_refused_unless_asked_for_and_then_only_data() -> None:
    evil = 'O:8:"Exploit":1:{s:3:"cmd";s:2:"id";}'
    with pytest.raises(ValueError, match="unsupported"):
        php_unserialize(evil)
    assert php_unserialize(evil, objects=True) == {"__class__": "Exploit", "cmd": "id"}


@pytest.mark.parametrize("bad", ['s:9:"short";', "a:1:{i:0;}", "r:1;", 'C:3:"Foo":0:{}', "b:1;junk", ""])
def test_malformed_or_refused_input_is_a_clear_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match=r"PHP-serialized|trailing"):
        php_unserialize(bad, objects=True)
