import pytest

from redenvelope.billing.gateway import (
    GatewayError,
    GatewayTimeout,
    SimulatedGateway,
    luhn_ok,
    parse_faults,
)


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
    assert gw.refunded_cents(ref) == 1000
    assert not gw.refund(ref, "0.01").ok


def test_bank_debits_and_chargebacks():
    gw = SimulatedGateway()
    assert gw.charge(gw.tokenize_bank("110000000", "000123450000"), "8.99").ok
    returned = gw.charge(gw.tokenize_bank("110000000", "000123451116"), "8.99")
    assert not returned.ok and returned.decline_code == "R01"
    disputed = gw.charge(card(gw, "4000000000000259"), "16.99")
    assert disputed.ok and gw.disputes() == [disputed.reference]


def test_a_repeated_key_returns_the_first_answer_and_moves_no_more_money(tmp_path):
    store = tmp_path / "provider.sqlite3"
    gw = SimulatedGateway(store)
    token = card(gw, "4242424242424242")
    first = gw.charge(token, "9.89", key="charge:1:1")
    again = gw.charge(token, "9.89", key="charge:1:1")
    assert first.ok and again.reference == first.reference
    # Another process (another client on the same books) sees the same answer.
    other = SimulatedGateway(store)
    assert other.lookup("charge:1:1").reference == first.reference
    assert other.charge(token, "9.89", key="charge:1:1").reference == first.reference
    assert len(other.charged()) == 1
    with pytest.raises(GatewayError, match="other parameters"):
        other.charge(token, "9.90", key="charge:1:1")
    assert other.lookup("never-sent") is None
    # A declined key stays declined.
    bad = card(gw, "4000000000000002")
    assert not gw.charge(bad, "1.00", key="k2").ok and not gw.charge(bad, "1.00", key="k2").ok


def test_refund_keys_refund_once(tmp_path):
    gw = SimulatedGateway(tmp_path / "p.sqlite3")
    ref = gw.charge(card(gw, "4242424242424242"), "10.00", key="c").reference
    r1 = gw.refund(ref, "4.00", key="r1")
    assert gw.refund(ref, "4.00", key="r1").reference == r1.reference
    assert gw.refunded_cents(ref) == 400
    with pytest.raises(GatewayError):
        gw.refund(ref, "5.00", key="r1")


def test_faults_timeouts_and_lost_answers(tmp_path):
    with pytest.raises(GatewayError):
        parse_faults("explode=1")
    token = SimulatedGateway().tokenize_card("4242424242424242", 12, 2030)
    # A timeout before arrival: nothing charged.
    gw = SimulatedGateway(tmp_path / "a.sqlite3", faults="timeout=1")
    with pytest.raises(GatewayTimeout):
        gw.charge(token, "5.00", key="t1")
    assert gw.lookup("t1") is None
    # The answer lost after charging: the books hold the charge, the key finds it.
    gw = SimulatedGateway(tmp_path / "b.sqlite3", faults="lost_answer=1")
    with pytest.raises(GatewayTimeout):
        gw.charge(token, "5.00", key="t2")
    assert gw.lookup("t2").ok
    answers = gw.charge_many([("t3", token, 500), ("t4", token, 700)])
    assert answers == [None, None] and gw.lookup("t4").ok
    # Half the answers lost, at random but repeatably (seed).
    gw = SimulatedGateway(tmp_path / "c.sqlite3", faults="lost_answer=0.5,seed=4")
    answers = gw.charge_many([(f"k{i}", token, 100) for i in range(200)])
    lost = sum(a is None for a in answers)
    assert 60 < lost < 140 and len(gw.charged()) == 200
