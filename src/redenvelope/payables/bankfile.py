"""ISO 20022 pain.001.001.03 (customer credit transfer initiation): the file a payment run hands
to the bank (pure: no Django). Chosen over NACHA because licensors and production vendors are
paid abroad as well as at home, and every bank that takes SEPA or cross-border credit transfers
takes pain.001 (US banks included, with the account and ABA routing number in Othr/ClrSysMmbId);
NACHA reaches only US accounts. See docs/decisions/0021-content-and-payables.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from xml.etree import ElementTree as ET

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"


@dataclass(frozen=True)
class Party:
    name: str
    iban: str = ""
    bic: str = ""
    account: str = ""
    routing: str = ""  # ABA routing number (US)


@dataclass(frozen=True)
class Transfer:
    end_to_end: str  # our reference, echoed back on the statement (the bill)
    cents: int
    creditor: Party
    remittance: str  # what the vendor sees: their invoice number


def _amount(cents: int) -> str:
    return str((Decimal(int(cents)) / 100).quantize(Decimal("0.01")))


def _sub(parent, tag: str, text: str | None = None, **attrs):
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _account(parent, tag: str, party: Party) -> None:
    acct = _sub(_sub(parent, tag), "Id")
    if party.iban:
        _sub(acct, "IBAN", party.iban)
    else:
        _sub(_sub(acct, "Othr"), "Id", party.account)


def _agent(parent, tag: str, party: Party) -> None:
    fin = _sub(_sub(parent, tag), "FinInstnId")
    if party.bic:
        _sub(fin, "BIC", party.bic)
    elif party.routing:
        mmb = _sub(fin, "ClrSysMmbId")
        _sub(_sub(mmb, "ClrSysId"), "Cd", "USABA")
        _sub(mmb, "MmbId", party.routing)
    else:
        _sub(_sub(fin, "Othr"), "Id", "NOTPROVIDED")


def pain001(
    *,
    message_id: str,
    created: dt.datetime,
    pay_on: dt.date,
    debtor: Party,
    transfers: list[Transfer],
    currency: str = "USD",
) -> str:
    """The XML document (UTF-8 text) for one batch of transfers from `debtor`'s account."""
    if not transfers:
        raise ValueError("a payment file needs at least one transfer")
    ET.register_namespace("", NS)
    doc = ET.Element(f"{{{NS}}}Document")
    root = _sub(doc, "CstmrCdtTrfInitn")
    total = _amount(sum(t.cents for t in transfers))
    hdr = _sub(root, "GrpHdr")
    _sub(hdr, "MsgId", message_id[:35])
    _sub(hdr, "CreDtTm", created.replace(microsecond=0).isoformat())
    _sub(hdr, "NbOfTxs", str(len(transfers)))
    _sub(hdr, "CtrlSum", total)
    _sub(_sub(hdr, "InitgPty"), "Nm", debtor.name[:70])
    info = _sub(root, "PmtInf")
    _sub(info, "PmtInfId", message_id[:35])
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "NbOfTxs", str(len(transfers)))
    _sub(info, "CtrlSum", total)
    _sub(info, "ReqdExctnDt", pay_on.isoformat())
    _sub(_sub(info, "Dbtr"), "Nm", debtor.name[:70])
    _account(info, "DbtrAcct", debtor)
    _agent(info, "DbtrAgt", debtor)
    _sub(info, "ChrgBr", "SLEV" if all(t.creditor.iban for t in transfers) else "SHAR")
    for t in transfers:
        tx = _sub(info, "CdtTrfTxInf")
        _sub(_sub(tx, "PmtId"), "EndToEndId", t.end_to_end[:35])
        _sub(_sub(tx, "Amt"), "InstdAmt", _amount(t.cents), Ccy=currency)
        _agent(tx, "CdtrAgt", t.creditor)
        _sub(_sub(tx, "Cdtr"), "Nm", t.creditor.name[:70])
        _account(tx, "CdtrAcct", t.creditor)
        _sub(_sub(tx, "RmtInf"), "Ustrd", t.remittance[:140])
    ET.indent(doc)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(doc, encoding="unicode")


def iban_ok(iban: str) -> bool:
    """ISO 13616: two letters, two check digits, up to 30 letters or digits; mod 97 == 1."""
    s = iban.replace(" ", "").upper()
    if not (15 <= len(s) <= 34) or not s[:2].isalpha() or not s[2:4].isdigit() or not s.isalnum():
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def aba_ok(routing: str) -> bool:
    """An ABA routing number: nine digits whose weighted sum (3, 7, 1, ...) is a multiple of 10."""
    if len(routing) != 9 or not routing.isdigit():
        return False
    d = [int(c) for c in routing]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0
