"""Markdown tables of back-test results (the tables of docs/models.md), and the goal check.

    wcs-forecast backtest --config benchmarks/skill/wuchangshi_daily.yaml \\
        --from 2015-10-01 --to 2016-03-31 --json > wcs.json
    python benchmarks/skill/table.py wcs.json                 # the skill table, leads 1-3
    python benchmarks/skill/table.py wcs.json other.json      # two runs side by side

Goal (issue 5): at lead days 1, 2 and 3, heavy-day CSI (daily PM2.5 > 150 µg/m³) at least
0.08 above persistence and RMSE at least 15 % below persistence.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

LEADS = ("1", "2", "3")
GOAL_CSI, GOAL_RMSE = 0.08, 0.15


def _f(value: Any, fmt: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt % value


def gain(scores: dict[str, Any]) -> float:
    """RMSE gain over persistence [1]: 1 − RMSE(model) / RMSE(persistence)."""
    return 1.0 - scores["model"]["rmse"] / scores["persistence"]["rmse"]


def skill_table(result: dict[str, Any]) -> str:
    head = (
        "| city | lead (d) | n | RMSE model | persistence | climatology | linear | RMSE gain "
        "| CSI150 model | persistence | linear | Δ | POD | FAR | Brier150 | goal |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [head]
    for city, block in result["cities"].items():
        for lead in LEADS:
            s = block["leads"].get(lead)
            if s is None or not s["model"]["n"]:
                continue
            m, p, c = s["model"], s["persistence"], s["climatology"]
            lin = s.get("linear", {})
            d_csi = m["csi_150"] - p["csi_150"] if p["csi_150"] is not None else float("nan")
            met = gain(s) >= GOAL_RMSE and d_csi >= GOAL_CSI
            rows.append(
                f"| {city} | {lead} | {m['n']} | {_f(m['rmse'], '%.1f')} | {_f(p['rmse'], '%.1f')} "
                f"| {_f(c['rmse'], '%.1f')} | {_f(lin.get('rmse'), '%.1f')} | {gain(s):+.0%} "
                f"| {_f(m['csi_150'], '%.2f')} | {_f(p['csi_150'], '%.2f')} "
                f"| {_f(lin.get('csi_150'), '%.2f')} | {_f(d_csi, '%+.2f')} "
                f"| {_f(m['pod_150'], '%.2f')} | {_f(m['far_150'], '%.2f')} "
                f"| {_f(m.get('brier_150'), '%.3f')} "
                f"| {'✔' if met else '✘'} |"
            )
    return "\n".join(rows)


def compare_table(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> str:
    a_name, b_name = names
    rows = [
        f"| city | lead (d) | RMSE gain {a_name} | {b_name} | ΔCSI150 {a_name} | {b_name} |",
        "|---|---|---|---|---|---|",
    ]
    for city in a["cities"]:
        for lead in LEADS:
            sa, sb = a["cities"][city]["leads"].get(lead), b["cities"][city]["leads"].get(lead)
            if not sa or not sb or not sa["model"]["n"]:
                continue
            da = sa["model"]["csi_150"] - sa["persistence"]["csi_150"]
            db = sb["model"]["csi_150"] - sb["persistence"]["csi_150"]
            rows.append(
                f"| {city} | {lead} | {gain(sa):+.0%} | {gain(sb):+.0%} | {da:+.2f} | {db:+.2f} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="backtest --json outputs")
    args = parser.parse_args(argv)
    results = [json.loads(p.read_text(encoding="utf-8")) for p in args.results]
    if len(results) == 1:
        print(skill_table(results[0]))
    else:
        print(compare_table(results[0], results[1], (args.results[0].stem, args.results[1].stem)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
