"""Personal data in free text: e-mail addresses, phone numbers, payment cards, IBANs.

Used on notebook outputs (and reusable on any text, e.g. data files). Every detector validates
what the pattern found: card numbers need a valid issuer prefix and length and the Luhn checksum,
IBANs their country's length and the ISO 7064 mod-97 checksum, so random digit runs in a printed
array are not personal data. Evidence is masked: a report never repeats the value.

>>> [m.kind for m in find_personal_data("pay with 4539 1488 0343 6467 or mail ana@corp.io")]
['card', 'email']
>>> find_personal_data("IBAN GB82 WEST 1234 5698 7654 32")[0].evidence
'GB82 •••• 5432'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_EMAIL = re.compile(
    r"(?<![\w.+:/%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])"
)
_PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net", "localhost", "test.com")
_PLACEHOLDER_TLDS = (".example", ".invalid", ".test", ".local", ".localhost")
_PHONE = re.compile(
    r"(?<![\w.+/-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,4}"
    r"|\(\d{3}\) ?\d{3}-\d{4}"
    r"|\d{3}-\d{3}-\d{4}"
    r")(?![\w.-]*\d)"
)
_CARD = re.compile(r"(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(
    r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Z0-9])"
)
#: Official IBAN lengths (SWIFT registry) of the countries that use it most.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip
#: Publicly documented test card numbers (processors' sandboxes): not personal data.
_TEST_CARDS = frozenset(
    {
        "4111111111111111",
        "4242424242424242",
        "4012888888881881",
        "4000056655665556",
        "5555555555554444",
        "5105105105105100",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "3530111333300000",
    }
)


@dataclass(frozen=True)
class PersonalData:
    """One match: its kind, span in the text and masked evidence."""

    kind: str  # "email" | "phone" | "card" | "iban"
    start: int
    end: int
    evidence: str


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum of a digit string."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if i % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The card network from the issuer prefix and length (``None`` if not a card number)."""
    n, head2, head4 = len(digits), int(digits[:2]), int(digits[:4])
    if digits[0] == "4" and n in (13, 16, 19):
        return "Visa"
    if (51 <= head2 <= 55 or 2221 <= head4 <= 2720) and n == 16:
        return "Mastercard"
    if head2 in (34, 37) and n == 15:
        return "American Express"
    if (digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649) and n in (16, 19):
        return "Discover"
    if 3528 <= head4 <= 3589 and n in (16, 19):
        return "JCB"
    if head2 in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return "Diners Club" if n in (14, 16, 19) else None
    return None


def iban_valid(compact: str) -> bool:
    """Country length and the ISO 7064 mod-97-10 checksum of an IBAN without spaces."""
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is None or len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _emails(text: str) -> Iterator[PersonalData]:
    for match in _EMAIL.finditer(text):
        value = match.group()
        local, _, domain = value.rpartition("@")
        domain = domain.lower()
        if domain.endswith(_PLACEHOLDER_DOMAINS) or domain.endswith(_PLACEHOLDER_TLDS):
            continue
        if domain.rsplit(".", 1)[-1] in {"png", "jpg", "gif", "svg", "py", "js", "css"}:
            continue  # retina image names (icon@2x.png), not addresses
        yield PersonalData("email", match.start(), match.end(), f"{local[:1]}***@{domain}")


def _phones(text: str) -> Iterator[PersonalData]:
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if not 10 <= len(digits) <= 15 or len(set(digits)) < 4:
            continue
        yield PersonalData("phone", match.start(), match.end(), f"•••{digits[-2:]}")


def _cards(text: str) -> Iterator[PersonalData]:
    for match in _CARD.finditer(text):
        raw = match.group()
        digits = raw.replace(" ", "").replace("-", "")
        if digits in _TEST_CARDS or len(set(digits)) < 4 or not luhn_valid(digits):
            continue
        brand = card_brand(digits)
        if brand is None:
            continue
        if raw.isdigit() and not _card_context(text, match.start()):
            continue  # an unformatted digit run needs a hint that it is a card number
        yield PersonalData("card", match.start(), match.end(), f"{brand} •••• {digits[-4:]}")


_CARD_WORDS = ("card", "visa", "mastercard", "amex", "credit", "payment", "pan", "cc_", "ccn")


def _card_context(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    window = text[max(line_start, start - 120) : start].lower()
    return any(word in window for word in _CARD_WORDS)


def _ibans(text: str) -> Iterator[PersonalData]:
    for match in _IBAN.finditer(text):
        compact = match.group().replace(" ", "")
        if iban_valid(compact):
            evidence = f"{compact[:4]} •••• {compact[-4:]}"
            yield PersonalData("iban", match.start(), match.end(), evidence)


_DETECTORS: tuple[Callable[[str], Iterator[PersonalData]], ...] = (
    _cards,
    _ibans,
    _emails,
    _phones,
)


def find_personal_data(text: str, limit: int = 1000) -> list[PersonalData]:
    """Validated personal-data matches in text order, a span claimed once, at most ``limit``."""
    candidates: list[tuple[int, int, PersonalData]] = []
    for priority, detector in enumerate(_DETECTORS):
        for item in detector(text):
            candidates.append((item.start, priority, item))
            if len(candidates) >= 4 * limit:
                break
    candidates.sort(key=lambda c: (c[0], c[1]))
    found: list[PersonalData] = []
    for _, _, item in candidates:
        if found and item.start < found[-1].end:
            continue
        found.append(item)
        if len(found) >= limit:
            break
    return found
