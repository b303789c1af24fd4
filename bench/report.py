#!/usr/bin/env python3
"""Renders docs/benchmarks.md from bench/results/*.json (written by `./usher bench`) and,
after each benchmark's figures, the analysis kept in bench/notes/<name>.md.

Usage: report.py RESULTS_DIR COMMAND > docs/benchmarks.md
"""
import datetime
import glob
import json
import os
import platform
import subprocess
import sys

ORDER = ["bulk", "accept", "rpc", "email"]


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {mem_kib / 1048576:.0f} GiB, "
            f"{platform.system()} {platform.release()}, {pg}")


def commit(root):
    out = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return out + (" (with uncommitted changes)" if dirty else "")


def cell(v):
    if isinstance(v, float):
        return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"
    return str(v)


def render(result, notes_dir):
    lines = [f"## {result['bench']}", "", result.get("summary", ""), ""]
    table = result.get("table")
    if table:
        lines.append("| " + " | ".join(table["columns"]) + " |")
        lines.append("|" + "---|" * len(table["columns"]))
        for row in table["rows"]:
            lines.append("| " + " | ".join(cell(v) for v in row) + " |")
        lines.append("")
    goals = result.get("goals", [])
    if goals:
        lines.append("| goal | measured | met |")
        lines.append("|---|---|---|")
        for g in goals:
            lines.append(f"| {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |")
        lines.append("")
    notes = os.path.join(notes_dir, result["bench"] + ".md")
    if os.path.exists(notes):
        with open(notes) as f:
            lines += [f.read().strip(), ""]
    return lines


def main():
    results_dir, command = sys.argv[1], sys.argv[2]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = {}
    for path in glob.glob(os.path.join(results_dir, "*.json")):
        with open(path) as f:
            r = json.load(f)
        results[r["bench"]] = r
    out = [
        "# Benchmarks",
        "",
        "Produced by `./usher bench` (release build, no sanitizers, a private durable Postgres",
        "cluster started for the run); never part of the pass/fail tests. Each section's goal",
        "comes from the issue that set it.",
        "",
        f"- command: `{command}`",
        f"- commit: {commit(root)}",
        f"- machine: {machine()}",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
    ]
    notes_dir = os.path.join(root, "bench", "notes")
    for name in ORDER + sorted(set(results) - set(ORDER)):
        if name in results:
            out += render(results[name], notes_dir)
    print("\n".join(out))


if __name__ == "__main__":
    main()
