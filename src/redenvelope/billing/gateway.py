"""Payment providers. `SimulatedGateway` behaves like a real card and bank-debit processor, so
the demo and the tests exercise every path: authorisation, capture (settlement), declines chosen
by test numbers, refunds (full or partial, never more than captured) and chargebacks.

Test numbers (as the big processors publish theirs):
    4242 4242 4242 4242   card, approved          5555 5555 5555 4444   card, approved
    4000 0000 0000 0002   card, declined          4000 0000 0000 9995   insufficient funds
    4000 0000 0000 0069   expired card            4000 0000 0000 0259   approved, then charged back
    bank account ending 0000 (routing 110000000): debit approved; ending 1116: returned (R01)
Anything else fails validation (Luhn check for cards).

Like a real provider it honours idempotency keys: a request repeated with its key returns the
first answer and moves no more money (the same key with other parameters is refused), and it can
be asked later what became of a key (`lookup`). It keeps what it did in its own store (a SQLite
file outside the project's database, as a real provider's books are outside ours), so the
answer is the same from every process and survives a crash of ours. Faults can be injected for
tests and drills (setting PAYMENT_PROVIDER_FAULTS, e.g. "timeout=0.05,lost_answer=0.05"):
`timeout` fails a request before it reaches the provider, `lost_answer` charges and then loses
the answer (the caller sees a timeout either way), `latency_ms` slows every request."""

from __future__ import annotations

import hashlib
import random
import secrets
import sqlite3
import time
from dataclasses import dataclass

from redenvelope.ledger.money import to_cents

DECLINES = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
}
CHARGEBACK = {"4000000000000259"}


class GatewayError(Exception):
    """The request was malformed (not a decline: declines are results)."""


class GatewayTimeout(Exception):
    """No answer came: whether the provider acted is unknown until it is asked by key."""


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digest(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()[:12]


# The processor knows its test cards by their token (as a real one knows the card behind it).
_BEHAVIOUR = {_digest(n): code for n, code in DECLINES.items()} | {
    _digest(n): "chargeback" for n in CHARGEBACK
}


@dataclass
class Result:
    ok: bool
    reference: str = ""
    decline_code: str = ""
    message: str = ""


def _behaviour(token: str) -> str:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] not in ("card", "bank"):
        raise GatewayError("Unknown payment token.")
    if parts[0] == "bank":
        return "R01" if parts[2] == "1116" else ""
    return _BEHAVIOUR.get(parts[1], "")


def parse_faults(text: str) -> dict[str, float]:
    """ "timeout=0.05,lost_answer=0.02,latency_ms=1,seed=3" → a dict (unknown names refused)."""
    out: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in ("timeout", "lost_answer", "latency_ms", "seed"):
            raise GatewayError(f"Unknown fault {name!r}.")
        out[name] = float(value)
    return out


_SCHEMA = """
CREATE TABLE IF NOT EXISTS charge (
    key TEXT PRIMARY KEY, reference TEXT NOT NULL, token TEXT NOT NULL, cents INTEGER NOT NULL,
    ok INTEGER NOT NULL, decline_code TEXT NOT NULL, message TEXT NOT NULL,
    refunded INTEGER NOT NULL DEFAULT 0, disputed INTEGER NOT NULL DEFAULT 0,
    at REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS charge_reference ON charge (reference);
CREATE TABLE IF NOT EXISTS refund (
    key TEXT PRIMARY KEY, reference TEXT NOT NULL, charge TEXT NOT NULL, cents INTEGER NOT NULL,
    ok INTEGER NOT NULL, decline_code TEXT NOT NULL, message TEXT NOT NULL, at REAL NOT NULL);
"""


class SimulatedGateway:
    """An in-process processor with the behaviour of a real one. What a token does is decided by
    the card or account behind it (the test numbers above); what was charged and refunded, by
    key, is kept in the provider's own store (`store`: a SQLite file, shared by every process
    that names it; ":memory:" for a throw-away one)."""

    def __init__(self, store: str = ":memory:", faults: str | dict | None = None):
        self.store = str(store)
        faults = parse_faults(faults) if isinstance(faults, str) else dict(faults or {})
        self.faults = faults
        self._rng = random.Random(faults.get("seed"))
        self._db: sqlite3.Connection | None = None

    # --- the provider's books ------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.store, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- tokens --------------------------------------------------------------------------------

    def tokenize_card(self, number: str, exp_month: int, exp_year: int) -> str:
        number = number.replace(" ", "").replace("-", "")
        if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
            raise GatewayError("That card number is not valid.")
        if not 1 <= int(exp_month) <= 12:
            raise GatewayError("Expiry month must be 1-12.")
        if not 2000 <= int(exp_year) <= 2100:
            raise GatewayError("Expiry year is four digits.")
        return "card_" + _digest(number) + "_" + number[-4:]

    def verify(self, token: str) -> Result:
        """A zero-amount authorisation, as a processor runs when a card is saved: the card's
        issuer says whether it would pay. Moves no money, so it needs no key and leaves
        nothing to reconcile."""
        self._arrive()
        code = _behaviour(token)
        if code == "R01":
            code = ""  # a bank debit is only returned later, when it is charged
        if code and code != "chargeback":
            return self._answer(
                Result(False, decline_code=code, message=code.replace("_", " ").capitalize())
            )
        return self._answer(Result(True, message="Approved"))

    def tokenize_bank(self, routing: str, account: str) -> str:
        if not (
            routing.isdigit()
            and len(routing) == 9
            and account.isdigit()
            and 4 <= len(account) <= 17
        ):
            raise GatewayError("Routing number is 9 digits; account 4-17 digits.")
        return "bank_" + _digest(routing + account) + "_" + account[-4:]

    # --- faults --------------------------------------------------------------------------------

    def _arrive(self) -> None:
        """The request travels to the provider: it may be slow, or never arrive."""
        if self.faults.get("latency_ms"):
            time.sleep(self.faults["latency_ms"] / 1000)
        if self._rng.random() < self.faults.get("timeout", 0):
            raise GatewayTimeout("The payment provider did not answer.")

    def _answer(self, result: Result) -> Result:
        """The answer travels back: it may be lost after the provider acted."""
        if self._rng.random() < self.faults.get("lost_answer", 0):
            raise GatewayTimeout("The payment provider did not answer.")
        return result

    # --- charges -------------------------------------------------------------------------------

    def _decide(self, token: str, cents: int) -> tuple[bool, str, str, bool]:
        if cents <= 0:
            raise GatewayError("A charge is a positive amount.")
        code = _behaviour(token)
        if code == "R01":
            return False, "R01", "Insufficient funds (returned debit).", False
        if code and code != "chargeback":
            return False, code, code.replace("_", " ").capitalize(), False
        return True, "", "Approved", code == "chargeback"

    def _known(self, keys: list[str]) -> dict[str, tuple]:
        """The requests already acted on, by key: (reference, token, cents, ok, code, message)."""
        marks = ",".join("?" * len(keys))
        return {
            r[0]: r[1:]
            for r in self.db.execute(
                "SELECT key, reference, token, cents, ok, decline_code, message FROM charge "  # noqa: S608
                f"WHERE key IN ({marks})",
                keys,
            )
        }

    def _act(self, key: str, token: str, cents: int, known: tuple | None):
        """The answer to one request, and the row to keep for it (None: a known key, which
        returns its first answer; the same key for another amount or card is refused)."""
        if known is not None:
            reference, was_token, was_cents, ok, code, message = known
            if (was_token, was_cents) != (token, cents):
                raise GatewayError(f"Idempotency key {key!r} was used with other parameters.")
            return Result(bool(ok), reference if ok else "", code, message), None
        ok, code, message, disputed = self._decide(token, cents)
        reference = f"ch_{secrets.token_hex(10)}" if ok else f"fail_{secrets.token_hex(10)}"
        row = (key, reference, token, cents, int(ok), code, message, int(disputed), time.time())
        return Result(ok, reference if ok else "", code, message), row

    def _charge_row(self, key: str, token: str, cents: int) -> Result:
        """Act on one request (inside the store's transaction)."""
        result, row = self._act(key, token, cents, self._known([key]).get(key))
        if row is not None:
            self.db.execute(
                "INSERT INTO charge (key, reference, token, cents, ok, decline_code, message, "
                "disputed, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return result

    def charge(self, token: str, amount, *, key: str | None = None) -> Result:
        """Authorise and capture at once (a subscription charge). `key`: the idempotency key
        (a random one when none is given, as a provider's client library does)."""
        cents = to_cents(amount)
        key = key or "auto_" + secrets.token_hex(12)
        self._decide(token, cents)  # malformed requests are refused before anything travels
        self._arrive()
        with self._transaction():
            result = self._charge_row(key, token, cents)
        return self._answer(result)

    def charge_many(self, requests: list[tuple[str, str, int]]) -> list[Result | None]:
        """Many charges (key, token, cents) in one round trip, as a batch endpoint makes them:
        the provider acts on the batch at once (one transaction of its books: all of the
        requests that arrived are kept, or, if it fails, none). Each gets its own answer, or
        None where the request or its answer was lost (ask by key). A malformed request is
        answered as a failure, not raised."""
        arrived: list[int] = []
        out: list[Result | None] = [None] * len(requests)
        for j in range(len(requests)):
            try:
                self._arrive()
                arrived.append(j)
            except GatewayTimeout:
                pass
        with self._transaction():
            for c in range(0, len(arrived), 500):
                part = arrived[c : c + 500]
                done = self._known([requests[j][0] for j in part])
                rows = []
                for j in part:
                    key, token, cents = requests[j]
                    try:  # a refused request is refused before anything of it is written
                        out[j], row = self._act(key, token, int(cents), done.get(key))
                    except GatewayError as exc:
                        out[j], row = Result(False, "", "invalid_request", str(exc)[:200]), None
                    if row is not None:
                        done[key] = row[1:7]  # the same key twice in one batch: one charge
                        rows.append(row)
                self.db.executemany(
                    "INSERT INTO charge (key, reference, token, cents, ok, decline_code, "
                    "message, disputed, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        for j in arrived:
            try:
                out[j] = self._answer(out[j])
            except GatewayTimeout:
                out[j] = None
        return out

    def lookup(self, key: str) -> Result | None:
        """What became of a request, by its key: its answer, or None if it never arrived."""
        row = self.db.execute(
            "SELECT reference, ok, decline_code, message FROM charge WHERE key = ? UNION ALL "
            "SELECT reference, ok, decline_code, message FROM refund WHERE key = ?",
            (key, key),
        ).fetchone()
        if row is None:
            return None
        return Result(bool(row[1]), row[0] if row[1] else "", row[2], row[3])

    def refund(
        self, reference: str, amount=None, *, key: str | None = None, captured=None, refunded="0"
    ) -> Result:
        """Refund part or all of a charge. A charge the provider's books do not hold (made
        before they were kept, e.g. by a bulk demo load) is described by the caller
        (`captured`, `refunded` so far: the domain's payment record)."""
        key = key or "auto_" + secrets.token_hex(12)
        self._arrive()
        with self._transaction():
            done = self.db.execute(
                "SELECT reference, ok, decline_code, message, charge, cents FROM refund "
                "WHERE key = ?",
                (key,),
            ).fetchone()
            if done is not None:
                if done[4] != reference or (amount is not None and done[5] != to_cents(amount)):
                    raise GatewayError(f"Idempotency key {key!r} was used with other parameters.")
                return self._answer(Result(bool(done[1]), done[0], done[2], done[3]))
            row = self.db.execute(
                "SELECT cents, refunded FROM charge WHERE reference = ? AND ok = 1", (reference,)
            ).fetchone()
            if row is None:
                if captured is None:
                    raise GatewayError(f"No charge {reference}.")
                row = (to_cents(captured), to_cents(refunded))
                self.db.execute(
                    "INSERT INTO charge (key, reference, token, cents, ok, decline_code, "
                    "message, refunded, at) VALUES (?, ?, '', ?, 1, '', 'Approved', ?, ?)",
                    ("import_" + reference, reference, row[0], row[1], time.time()),
                )
            cents = row[0] - row[1] if amount is None else to_cents(amount)
            if cents <= 0 or row[1] + cents > row[0]:
                result = Result(
                    False, "", "over_refund", "A refund cannot exceed what was charged."
                )
            else:
                self.db.execute(
                    "UPDATE charge SET refunded = refunded + ? WHERE reference = ?",
                    (cents, reference),
                )
                result = Result(True, f"re_{secrets.token_hex(10)}", "", "Refunded")
            self.db.execute(
                "INSERT INTO refund (key, reference, charge, cents, ok, decline_code, message, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    result.reference,
                    reference,
                    cents,
                    int(result.ok),
                    result.decline_code,
                    result.message,
                    time.time(),
                ),
            )
        return self._answer(result)

    def _transaction(self):
        gateway = self

        class _Tx:
            def __enter__(self):
                gateway.db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                gateway.db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    # --- what the provider's books say ---------------------------------------------------------

    def charged(self, token_prefix: str = "") -> list[tuple[str, str, int, int]]:
        """Successful charges (key, reference, cents, refunded), for audits and tests."""
        return self.db.execute(
            "SELECT key, reference, cents, refunded FROM charge WHERE ok = 1 AND token <> '' "
            "AND token LIKE ? ORDER BY at",
            (token_prefix + "%",),
        ).fetchall()

    def refunded_cents(self, reference: str) -> int:
        row = self.db.execute(
            "SELECT refunded FROM charge WHERE reference = ?", (reference,)
        ).fetchone()
        return int(row[0]) if row else 0

    def disputed_tokens(self) -> set[str]:
        """The dispute feed: cards whose holders' banks reverse charges made to them."""
        return {"card_" + _digest(n) + "_" + n[-4:] for n in CHARGEBACK}

    def disputes(self) -> list[str]:
        """Charges the issuer has reversed (chargebacks)."""
        return [r[0] for r in self.db.execute("SELECT reference FROM charge WHERE disputed = 1")]


def get_gateway() -> SimulatedGateway:
    """The configured provider (settings PAYMENT_PROVIDER, PAYMENT_PROVIDER_STORE,
    PAYMENT_PROVIDER_FAULTS), one per process."""
    global _gateway
    if _gateway is None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        conf = settings.REDENVELOPE
        _gateway = import_string(conf["PAYMENT_PROVIDER"])(
            store=conf.get("PAYMENT_PROVIDER_STORE", ":memory:"),
            faults=conf.get("PAYMENT_PROVIDER_FAULTS", ""),
        )
    return _gateway


def reset_gateway() -> None:
    """Forget this process's provider client (tests, after changing its settings)."""
    global _gateway
    if _gateway is not None:
        _gateway.close()
    _gateway = None


_gateway: SimulatedGateway | None = None
