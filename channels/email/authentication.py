"""Whether a sender's From address can be believed.

Anyone can write any From address into an email, so an email address is unverified by default.
It becomes verified only on the word of our own MTA: the Authentication-Results header (RFC 8601)
that the MTA which received the message for us adds after checking DMARC, DKIM or SPF. The account
names that MTA by its authserv-id (``trusted_authserv_id``); headers from anyone else, including
ones the sender wrote into the message, are ignored. RFC 8601 §5 requires an MTA to remove
headers carrying its own authserv-id from incoming mail, and we read only the topmost one (the
MTA adds its own above everything it received).

A pass counts only when it is aligned with the From domain: the same domain or a parent of it
(stricter than DMARC's relaxed alignment, which would need the public-suffix list). A DKIM
signature of some other domain proves nothing about From.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class _Result:
    method: str
    result: str
    properties: dict[str, str]


def _without_comments(value: str) -> str:
    # Comments nest ("(a (b) c)"): remove innermost ones until none is left.
    previous = None
    while previous != value:
        previous, value = value, _COMMENT.sub(" ", value)
    return value


def _parse(header: str) -> tuple[str, list[_Result]]:
    """``(authserv-id, results)`` of one Authentication-Results header."""
    first, *rest = _without_comments(header).split(";")
    authserv_id = first.strip().split(" ")[0].lower() if first.strip() else ""
    results: list[_Result] = []
    for clause in rest:
        tokens = clause.split()
        if not tokens or "=" not in tokens[0]:
            continue  # "none", or a clause we cannot read
        method, _, result = tokens[0].partition("=")
        properties = {}
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if sep:
                properties[key.lower()] = value.strip('"').lower()
        results.append(_Result(method.lower(), result.lower(), properties))
    return authserv_id, results


def _aligned(domain: str, from_domain: str) -> bool:
    domain = domain.rpartition("@")[2].strip(".")
    # A bare top-level domain ("com") aligns with nothing.
    return "." in domain and (from_domain == domain or from_domain.endswith("." + domain))


def _passing_check(result: _Result, from_domain: str) -> bool:
    if result.result != "pass":
        return False
    props = result.properties
    if result.method == "dmarc":
        return _aligned(props.get("header.from", from_domain), from_domain)
    if result.method == "dkim":
        return _aligned(props.get("header.d") or props.get("header.i", ""), from_domain)
    if result.method == "spf":
        return _aligned(props.get("smtp.mailfrom", ""), from_domain)
    return False


def sender_verdict(headers: Iterable[str], from_address: str, trusted_authserv_id: str | None) -> str | None:
    """The check that vouches for ``from_address`` ("dmarc=pass", "dkim=pass", "spf=pass"), or
    None when the address stays unverified.

    ``headers`` are the message's Authentication-Results values, top first.
    """
    if not trusted_authserv_id:
        return None
    from_domain = from_address.rpartition("@")[2].lower()
    for header in headers:
        authserv_id, results = _parse(header)
        if authserv_id != trusted_authserv_id.lower():
            continue
        for result in results:
            if _passing_check(result, from_domain):
                return f"{result.method}=pass"
        return None  # only the topmost header of our MTA counts
    return None
