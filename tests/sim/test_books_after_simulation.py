"""The issue's own check, through the commands an operator runs: a demo business, then
`redenvelope simulate --days 35` (billing every day, dunning, lost-disc fees, recognition),
then `redenvelope ledger trial-balance` exits 0 (balanced to the cent) and `redenvelope check`
is clean — on SQLite and, with DATABASE_URL, PostgreSQL."""

from tests.trials import business


def test_trial_balance_after_35_simulated_days(tmp_path_factory):
    b = business(tmp_path_factory, "sim-books", members=400, seed=5, today="2026-10-01")
    try:
        shop = b.copy()
        shop.run("simulate", "--days", "35", "--seed", "2", timeout=900)
        balance = shop.run("ledger", "trial-balance", check=False)
        assert balance.returncode == 0, balance.stdout + balance.stderr
        assert "Balanced" in balance.stdout
        checked = shop.run("check", check=False)
        assert checked.returncode == 0, checked.stdout
        shop.drop()
    finally:
        b.drop()
