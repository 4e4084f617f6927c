"""Is an incoming mail really from the address in its From: header? And the confirmation link for one that
we could not tell.

Anyone can write any From: address. Two sources can vouch for it:

1. the receiving MTA's `Authentication-Results` header (RFC 8601: its SPF, DKIM and DMARC results), read
   only when a trusted authserv-id is configured (SITEKEEPER_MAIL_AUTHSERV_ID) and only from the topmost
   run of headers carrying that id — every header below the receiving MTA's own came with the message
   and is written by whoever sent it;
2. our own DKIM check (dkimpy), when SITEKEEPER_MAIL_DKIM is on (the default): a valid signature whose
   d= domain is aligned with the From: domain (DMARC's relaxed alignment: the same domain, or one is a
   subdomain of the other).

A pass from either makes the sender *verified*; otherwise the mail is *unverified* (desk.mail files it
without starting its clocks and asks the contact to confirm it). SITEKEEPER_MAIL_ACCEPT_UNVERIFIED turns a
*missing* verdict (no usable result at all) into acceptance, as before this check existed; it is off by
default and never overrides an explicit failure.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import authres
import dkim
from django.conf import settings
from django.core import signing

logger = logging.getLogger("sitekeeper.desk.mailauth")

PASS, FAIL, NONE = "pass", "fail", "none"
DnsFunc = Callable[..., Any]
CONFIRM_SALT = "sitekeeper.desk.confirm-sender"


# --- settings -------------------------------------------------------------------------------------------


def trusted_authserv_ids() -> frozenset[str]:
    """SITEKEEPER_MAIL_AUTHSERV_ID: the authserv-id(s) of our own receiving MTA (a list in settings.py)."""
    return frozenset(part.strip().lower() for part in settings.SITEKEEPER_MAIL_AUTHSERV_ID if part.strip())


def own_dkim_check() -> bool:
    """SITEKEEPER_MAIL_DKIM (default on): verify DKIM signatures ourselves (needs DNS for the keys)."""
    return bool(settings.SITEKEEPER_MAIL_DKIM)


def accept_without_verdict() -> bool:
    """SITEKEEPER_MAIL_ACCEPT_UNVERIFIED (default off): file mail with no verdict at all as before."""
    return bool(settings.SITEKEEPER_MAIL_ACCEPT_UNVERIFIED)


def confirm_hours() -> int:
    """SITEKEEPER_MAIL_CONFIRM_HOURS (default 72): how long a confirmation link works."""
    return int(settings.SITEKEEPER_MAIL_CONFIRM_HOURS)


# --- the verdict ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """pass / fail / none, how we know, and a line for staff (what the check said, never a secret)."""

    result: str
    method: str = ""
    detail: str = ""

    @property
    def verified(self) -> bool:
        return self.result == PASS

    def as_data(self) -> dict[str, str]:
        return {"result": self.result, "method": self.method, "detail": self.detail[:500]}


def aligned(signer: str, from_domain: str) -> bool:
    """DMARC-style relaxed alignment without a public-suffix list: the same domain, or one a subdomain of
    the other. (Only a domain's owner can publish a DKIM key or SPF record under it, so a signer like
    "co.uk" cannot be used to pass as every domain below it.)"""
    signer, from_domain = signer.strip().strip(".").lower(), from_domain.strip().strip(".").lower()
    if not signer or not from_domain or "." not in signer:
        return False
    return signer == from_domain or from_domain.endswith("." + signer) or signer.endswith("." + from_domain)


def check(
    raw: bytes, header_items: Iterable[tuple[str, str]], from_domain: str, dnsfunc: DnsFunc | None = None
) -> Verdict:
    """The verdict on one message: the trusted MTA's results and our own DKIM check, a pass from either
    wins; a failure from either (with no pass) is a failure; otherwise there is no verdict."""
    verdicts: list[Verdict] = []
    ids = trusted_authserv_ids()
    if ids:
        verdicts.append(from_mta(header_items, from_domain, ids))
    if own_dkim_check():
        verdicts.append(own_dkim(raw, from_domain, dnsfunc))
    for wanted in (PASS, FAIL):
        found = [verdict for verdict in verdicts if verdict.result == wanted]
        if found:
            return found[0]
    detail = "; ".join(v.detail for v in verdicts if v.detail) or "no authentication configured"
    return Verdict(NONE, "", detail)


# --- Authentication-Results of the receiving MTA --------------------------------------------------------

_FOLD = re.compile(r"\r?\n[ \t]+")


def trusted_results(header_items: Iterable[tuple[str, str]], ids: frozenset[str]) -> list[Any]:
    """The parsed Authentication-Results headers our MTA added: from the topmost one with a trusted
    authserv-id down to (not including) the first Received: header or Authentication-Results of another
    id below it. Headers further down came with the message: whoever sent it wrote them."""
    found: list[Any] = []
    for name, value in header_items:
        lowered = name.strip().lower()
        if lowered == "received" and found:
            break
        if lowered != "authentication-results":
            continue
        parsed = _parse_results(value)
        trusted = parsed is not None and str(parsed.authserv_id).lower() in ids
        if trusted:
            found.append(parsed)
        elif found:
            break
    return found


def _parse_results(value: str) -> Any:
    try:
        return authres.AuthenticationResultsHeader.parse(
            "Authentication-Results: " + _FOLD.sub(" ", str(value)).strip()
        )
    except (authres.AuthResError, ValueError, IndexError, TypeError):  # unreadable = absent
        logger.info("unreadable Authentication-Results header ignored")
        return None


def _prop(result: Any, ptype: str, name: str) -> str:
    for prop in getattr(result, "properties", []) or []:
        if str(prop.type).lower() == ptype and str(prop.name).lower() == name:
            return str(prop.value or "")
    return ""


def from_mta(header_items: Iterable[tuple[str, str]], from_domain: str, ids: frozenset[str]) -> Verdict:
    headers = trusted_results(header_items, ids)
    if not headers:
        return Verdict(NONE, "", "no Authentication-Results from " + ", ".join(sorted(ids)))
    said: list[str] = []
    failed = ""
    for header in headers:
        for result in header.results:
            method, outcome = str(result.method).lower(), str(result.result).lower()
            said.append(f"{method}={outcome}")
            if outcome == PASS and _vouches(result, method, from_domain):
                return Verdict(PASS, method, f"{header.authserv_id}: {method}=pass for {from_domain}")
            if outcome in {"fail", "softfail", "permerror"} and method in {"dmarc", "dkim", "spf"}:
                failed = failed or method
    summary = f"{headers[0].authserv_id}: " + (", ".join(said) or "no results")
    return Verdict(FAIL if failed else NONE, failed, summary)


def _vouches(result: Any, method: str, from_domain: str) -> bool:
    """A passing result speaks for the From: domain (DMARC is about the From: domain itself)."""
    if method == "dmarc":
        named = _prop(result, "header", "from")
        return not named or named.lower().strip(".") == from_domain
    if method == "dkim":
        signer = _prop(result, "header", "d") or _prop(result, "header", "i").rpartition("@")[2]
        return aligned(signer, from_domain)
    if method == "spf":
        envelope = _prop(result, "smtp", "mailfrom").rpartition("@")[2] or _prop(result, "smtp", "helo")
        return aligned(envelope, from_domain)
    return False


# --- our own DKIM check ---------------------------------------------------------------------------------


def own_dkim(raw: bytes, from_domain: str, dnsfunc: DnsFunc | None = None) -> Verdict:
    """Each DKIM-Signature verified with dkimpy; a valid one aligned with the From: domain passes."""
    try:
        checker = dkim.DKIM(raw, timeout=5)
        count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    except (dkim.DKIMException, ValueError, IndexError, TypeError) as exc:  # malformed input
        return Verdict(NONE, "dkim", f"DKIM: unreadable message ({type(exc).__name__})")
    if not count:
        return Verdict(NONE, "dkim", "DKIM: not signed")
    seen: list[str] = []
    for index in range(count):
        ok, signer = _verify_one(raw, index, dnsfunc)
        seen.append(f"{signer or '?'}={'pass' if ok else 'fail'}")
        if ok and aligned(signer, from_domain):
            return Verdict(PASS, "dkim", f"DKIM signature of {signer} verified")
    failed = any(item.endswith("=fail") for item in seen)
    detail = "DKIM: " + ", ".join(seen) + f" (none valid for {from_domain})"
    return Verdict(FAIL if failed else NONE, "dkim", detail)


def _verify_one(raw: bytes, index: int, dnsfunc: DnsFunc | None) -> tuple[bool, str]:
    checker = dkim.DKIM(raw, timeout=5)
    try:
        ok = checker.verify(idx=index, dnsfunc=dnsfunc) if dnsfunc else checker.verify(idx=index)
    # A DNS failure, a malformed signature or key — dkimpy and the resolver raise many kinds: not a pass.
    except Exception as exc:  # noqa: BLE001
        logger.info("DKIM signature %d not verified: %s", index, type(exc).__name__)
        ok = False
    domain = checker.domain.decode("ascii", "replace") if isinstance(checker.domain, bytes) else ""
    return bool(ok), domain.lower()


# --- the confirmation link -----------------------------------------------------------------------------


class LinkError(ValueError):
    """A confirmation link that does not work; `expired` says whether it once did."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def confirmation_token(ticket_pk: int, ticket_token: str) -> str:
    """A signed, timestamped token naming the request (and its secret token, so a guessed number with a
    leaked signing key for another purpose is still useless). URL-safe."""
    return signing.dumps([ticket_pk, ticket_token], salt=CONFIRM_SALT, compress=False)


def read_token(token: str) -> tuple[int, str]:
    """(ticket pk, ticket token) of a valid link; LinkError when forged or expired."""
    max_age = dt.timedelta(hours=confirm_hours())
    try:
        value = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise LinkError("the link has expired", expired=True) from exc
    except signing.BadSignature as exc:
        raise LinkError("the link is not valid") from exc
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        raise LinkError("the link is not valid")
    return value[0], str(value[1])
