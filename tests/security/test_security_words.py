"""A remediation every finding of a group shares is said once, above the group."""

from __future__ import annotations

from sitekeeper.security.templatetags.security_words import shared_action


def test_a_shared_action_is_returned_once_for_two_or_more_findings():
    same = [{"action": "Restore the file or approve the baseline."}] * 3
    assert shared_action(same) == "Restore the file or approve the baseline."


def test_different_actions_or_a_single_finding_keep_the_column():
    assert shared_action([{"action": "update to 5.0.3"}, {"action": "update to 4.17.21"}]) == ""
    assert shared_action([{"action": "update to 5.0.3"}]) == ""
    assert shared_action([]) == ""
