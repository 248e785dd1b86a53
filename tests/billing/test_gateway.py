from decimal import Decimal

import pytest

from redenvelope.billing.gateway import GatewayError, SimulatedGateway, luhn_ok


def card(gw, number):
    return gw.tokenize_card(number, 12, 2030)


def test_luhn():
    assert luhn_ok("4242424242424242") and not luhn_ok("4242424242424241")


def test_approve_decline_and_validation():
    gw = SimulatedGateway()
    ok = gw.charge(card(gw, "4242 4242 4242 4242"), "16.99")
    assert ok.ok and ok.reference.startswith("ch_")
    declined = gw.charge(card(gw, "4000 0000 0000 9995"), "16.99")
    assert not declined.ok and declined.decline_code == "insufficient_funds"
    assert gw.charge(card(gw, "4000000000000069"), "1.00").decline_code == "expired_card"
    with pytest.raises(GatewayError):
        gw.tokenize_card("4242424242424241", 12, 2030)
    with pytest.raises(GatewayError):
        gw.charge(card(gw, "4242424242424242"), "0")


def test_refunds_never_exceed_the_charge():
    gw = SimulatedGateway()
    ref = gw.charge(card(gw, "5555555555554444"), "10.00").reference
    assert gw.refund(ref, "4.00").ok
    assert not gw.refund(ref, "6.01").ok
    assert gw.refund(ref).ok  # the remaining 6.00
    assert gw.charges[ref].refunded == Decimal("10.00")
    assert not gw.refund(ref, "0.01").ok


def test_bank_debits_and_chargebacks():
    gw = SimulatedGateway()
    assert gw.charge(gw.tokenize_bank("110000000", "000123450000"), "8.99").ok
    returned = gw.charge(gw.tokenize_bank("110000000", "000123451116"), "8.99")
    assert not returned.ok and returned.decline_code == "R01"
    disputed = gw.charge(card(gw, "4000000000000259"), "16.99")
    assert disputed.ok and gw.disputes() == [disputed.reference]
