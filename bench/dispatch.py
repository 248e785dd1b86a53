"""Dispatch engine benchmark: quality against the exact optimum, speed, and growth with size.

    redenvelope bench dispatch --members 100000            # engine vs OR-Tools vs greedy
    redenvelope bench dispatch --scaling 10000,100000,1000000,2000000
    redenvelope bench dispatch --sweep --members 100000     # every shape of the family

Every engine figure comes with its certificate: an upper bound on the optimum from the engine's
own prices, and the certified gap 1 - objective / bound, printed beside the exact gap.

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
from redenvelope.engine.generate import SWEEP, generate, generate_shape


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def _warm() -> None:
    """Compile the kernels (cached on disk after the first run): the exact path of small days,
    and the auction's path with its second opinion, so that no shape's time includes compiling."""
    small = generate(300, seed=99)
    solve(small)
    solve(small, Params(exact_below_entries=0, second_opinion_gap=-1.0))


def make(members: int, seed: int, shape: str | None):
    """The bench's generator (shape None) or one shape of the family (generate.SWEEP)."""
    if shape is None or shape == "base":
        return generate(members, seed=seed)
    return generate_shape(members, seed=seed, **SWEEP[shape])


def run_one(
    members: int,
    seed: int,
    *,
    exact: bool,
    greedy: bool,
    validate: bool,
    shape: str | None = None,
) -> dict:
    _warm()
    t = time.perf_counter()
    inst = make(members, seed, shape)
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
        "shape": shape or "base",
        "bound": res.stats["bound"],
        "certified_gap": res.stats["gap"],
        "grow_rounds": res.stats["grow_rounds"],
        "second_opinion": res.stats.get("second_opinion", 0),
        "shift_scans": res.stats.get("shift_scans", 0),
        "shift_gain": res.stats.get("shift_gain", 0.0),
        "bound_dc_moves": res.stats.get("bound_dc_moves", 0),
        "repaired": res.stats.get("repaired", 0),
        "kinds": res.stats.get("kinds", 0),
        "repair_s": res.timings.get("repair", 0.0),
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
    line = (
        f"certificate: the optimum is at most {r['bound']:,.0f}; certified gap "
        f"{100 * r['certified_gap']:.3f}% (target <= 0.300%)"
    )
    if opt:
        line += f", exact gap {100 * (1 - r['engine_objective'] / opt):.3f}%"
    console.print(line + f"; candidates grown {r['grow_rounds']} time(s)")
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
            f"quality {100 * q:.2f}% of optimum (target >= 99.8%): "
            f"{'met' if q >= 0.998 else 'NOT met'}; time {tr:.3f} of the exact "
            f"solver's (target <= 0.100): {'met' if tr <= 0.1 else 'NOT met'}"
        )
    console.print(
        "members short of slots or top title, by reason: "
        + ", ".join(f"{k} {v:,}" for k, v in r["reasons"].items())
    )


def sweep(members: int, seed: int, console, shapes: list[str] | None = None) -> list[dict]:
    """Every shape of the family at one size: quality against the exact optimum, certified and
    exact gaps side by side, time against OR-Tools'; then the worst and the median."""
    from rich.table import Table

    console.width = max(console.width, 150)
    shapes = shapes or ["base", *SWEEP]
    rows = []
    for name in shapes:
        console.print(f"{name}: generating and solving {members:,} members (engine, exact) ...")
        rows.append(run_one(members, seed, exact=True, greedy=False, validate=False, shape=name))
    table = Table(title=f"Dispatch over the family of shapes, {members:,} members, seed {seed}")
    for col in (
        "shape",
        "queue entries",
        "slots",
        "% of optimum",
        "certified gap",
        "exact gap",
        "engine s",
        "exact s",
        "time ratio",
        "grown",
        "kinds",
        "2nd",
        "shift",
        "DC moves",
        "repair",
    ):
        table.add_column(col, justify="left" if col == "shape" else "right")
    for r in rows:
        opt = r["exact_objective"]
        table.add_row(
            r["shape"],
            f"{r['queue_entries']:,}",
            f"{r['open_slots']:,}",
            f"{100 * r['engine_objective'] / opt:.3f}%",
            f"{100 * r['certified_gap']:.3f}%",
            f"{100 * (1 - r['engine_objective'] / opt):.3f}%",
            f"{r['engine_s']:.2f}",
            f"{r['exact_s']:.2f}",
            f"{r['engine_s'] / r['exact_s']:.3f}",
            str(r["grow_rounds"]),
            f"{r['kinds']:,}" if r["kinds"] else "",
            {0: "", 1: "kept", -1: "tried"}[r["second_opinion"]],
            f"{r['shift_scans']} (+{100 * r['shift_gain'] / r['engine_objective']:.3f}%)"
            if r["shift_scans"]
            else "",
            str(r["bound_dc_moves"] or ""),
            {0: "", 1: "kept", -1: "no gain", -2: "gave up"}[r["repaired"]]
            + (f" {r['repair_s']:.1f} s" if r["repaired"] else ""),
        )
    console.print(table)
    q = np.array([r["engine_objective"] / r["exact_objective"] for r in rows])
    g = np.array([r["certified_gap"] for r in rows])
    t = np.array([r["engine_s"] / r["exact_s"] for r in rows])
    console.print(
        f"quality worst {100 * q.min():.3f}% / median {100 * np.median(q):.3f}% of the optimum "
        f"(target >= 99.8% on every shape: {'met' if q.min() >= 0.998 else 'NOT met'}); "
        f"certified gap worst {100 * g.max():.3f}% / median {100 * np.median(g):.3f}% "
        f"(target <= 0.3%: {'met' if g.max() <= 0.003 else 'NOT met'}); time ratio worst "
        f"{t.max():.3f} / median {np.median(t):.3f} (target <= 0.1: "
        f"{'met' if t.max() <= 0.1 else 'NOT met'})"
    )
    return rows


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
        "certified gap",
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
            f"{100 * r['certified_gap']:.3f}%",
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
