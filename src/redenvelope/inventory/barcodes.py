"""Copy barcodes: "RE", nine serial digits and one check digit (printed as Code 128).

The check digit (UPC-style weights 3,1) catches a misread or mistyped digit at the scan desk.
"""

from __future__ import annotations

from redenvelope.core.errors import DomainError

from .models import BARCODE_RE


def check_digit(serial: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(serial))
    return (10 - total % 10) % 10


def make_barcode(serial: int) -> str:
    if not 0 < serial < 10**9:
        raise ValueError("serial out of range")
    digits = f"{serial:09d}"
    return f"RE{digits}{check_digit(digits)}"


def parse_barcode(raw: str) -> str:
    """Normalise what a scanner or a person typed; raise DomainError if it cannot be a copy's."""
    code = (raw or "").strip().upper().replace(" ", "").replace("-", "")
    if not BARCODE_RE.match(code):
        raise DomainError(
            f"Malformed barcode {raw!r}: expected RE followed by 10 digits.", code="bad_barcode"
        )
    if check_digit(code[2:11]) != int(code[11]):
        raise DomainError(
            f"Barcode {code} fails its check digit: rescan or type it again.", code="bad_barcode"
        )
    return code
