"""Dispatch engine benchmark: quality against the exact optimum, speed, and growth with size.

    redenvelope bench dispatch --members 100000            # engine vs OR-Tools vs greedy
    redenvelope bench dispatch --scaling 10000,100000,1000000,2000000

Each size of a scaling run is solved in a fresh process, so its peak memory is its own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np

from redenvelope.engine import Params, solve
from redenvelope.engine.generate import generate


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def _warm() -> None:
    solve(generate(300, seed=99))  # compile the kernels (cached on disk after the first run)


def run_one(members: int, seed: int, *, exact: bool, greedy: bool, validate: bool) -> dict:
    _warm()
    t = time.perf_counter()
    inst = generate(members, seed=seed)
    gen_s = time.perf_counter() - t
    params = Params()
    t = time.perf_counter()
    res = solve(inst, params)
    engine_s = time.perf_counter() - t
    out = {
        "members": members,
        "seed": seed,
        "queue_entries": int(len(inst["queue"]["member_id"])),
        "open_slots": int(inst["members"]["open_slots"].sum()),
        "dcs": int(len(inst["dcs"]["dc_id"])),
        "generate_s": gen_s,
        "engine_s": engine_s,
        "engine_objective": res.objective,
        "engine_shipments": int(len(res.member_id)),
        "engine_phases": {**res.timings, **res.stats["timing"]},
        "reasons": {
            k: int(v)
            for k, v in zip(*np.unique(res.reason.astype(str), return_counts=True), strict=True)
        },
        "peak_gb_after_engine": peak_gb(),
    }
    if validate:
        from redenvelope.engine.validate import validate as check

        v = check(inst, res.member_id, res.title_id, res.dc_id, params)
        out["valid"] = v.ok
        out["violations"] = v.violations
    if greedy:
        from redenvelope.engine import kernels
        from redenvelope.engine.problem import build_problem
        from redenvelope.engine.solve import result_from

        t = time.perf_counter()
        prob = build_problem(inst, params)
        g = result_from(prob, kernels.greedy(prob))
        out["greedy_s"] = time.perf_counter() - t
        out["greedy_objective"] = g.objective
    if exact:
        from redenvelope.engine.exact import solve_exact

        t = time.perf_counter()
        x = solve_exact(inst, params)
        out["exact_s"] = time.perf_counter() - t
        out["exact_objective"] = x.objective
    out["peak_gb"] = peak_gb()
    return out


def report(r: dict, console) -> None:
    from rich.table import Table

    console.width = max(console.width, 130)  # figures must not be cut when piped to a file
    table = Table(
        title=f"Dispatch, {r['members']:,} members with open slots "
        f"({r['open_slots']:,} slots, {r['queue_entries']:,} queue entries, "
        f"{r['dcs']} DCs), seed {r['seed']}"
    )
    for col in ("solver", "objective", "% of optimum", "seconds", "shipments"):
        table.add_column(col, justify="right" if col != "solver" else "left")
    opt = r.get("exact_objective")

    def pct(v):
        return f"{100 * v / opt:.2f}%" if opt else "-"

    table.add_row(
        "engine (auction + exchange)",
        f"{r['engine_objective']:,.0f}",
        pct(r["engine_objective"]),
        f"{r['engine_s']:.2f}",
        f"{r['engine_shipments']:,}",
    )
    if "greedy_objective" in r:
        table.add_row(
            "per-member greedy",
            f"{r['greedy_objective']:,.0f}",
            pct(r["greedy_objective"]),
            f"{r['greedy_s']:.2f}",
            "",
        )
    if opt:
        table.add_row(
            "exact (OR-Tools min-cost flow)", f"{opt:,.0f}", "100.00%", f"{r['exact_s']:.2f}", ""
        )
    console.print(table)
    phases = ", ".join(f"{k} {v:.2f}s" for k, v in r["engine_phases"].items())
    console.print(f"engine phases: {phases}")
    console.print(f"peak memory: {r['peak_gb']:.2f} GB (process, generator included)")
    if "valid" in r:
        console.print(
            "validator: "
            + ("all constraints hold" if r["valid"] else f"VIOLATIONS {r['violations']}")
        )
    if opt:
        q = r["engine_objective"] / opt
        tr = r["engine_s"] / r["exact_s"]
        console.print(
            f"quality {100 * q:.2f}% of optimum (target >= 99.5%): "
            f"{'met' if q >= 0.995 else 'NOT met'}; time {tr:.3f} of the exact "
            f"solver's (target <= 0.100): {'met' if tr <= 0.1 else 'NOT met'}"
        )
    console.print(
        "members short of slots or top title, by reason: "
        + ", ".join(f"{k} {v:,}" for k, v in r["reasons"].items())
    )


def scaling(sizes: list[int], seed: int, console) -> list[dict]:
    from rich.table import Table

    console.width = max(console.width, 130)
    rows = []
    for n in sizes:
        console.print(f"solving {n:,} members in a fresh process ...")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.dispatch",
                "--members",
                str(n),
                "--seed",
                str(seed),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    table = Table(title="Dispatch engine growth (one process per size)")
    for col in (
        "members",
        "open slots",
        "queue entries",
        "build s",
        "solve s",
        "engine s",
        "peak GB",
        "shipments",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        ph = r["engine_phases"]
        table.add_row(
            f"{r['members']:,}",
            f"{r['open_slots']:,}",
            f"{r['queue_entries']:,}",
            f"{ph['build']:.2f}",
            f"{ph['solve']:.2f}",
            f"{r['engine_s']:.2f}",
            f"{r['peak_gb']:.2f}",
            f"{r['engine_shipments']:,}",
        )
    console.print(table)
    return rows


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    r = run_one(args.members, args.seed, exact=False, greedy=False, validate=False)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
