#!/usr/bin/env python3
"""Merges each benchmark's runs and renders docs/benchmarks.md.

`./usher bench` runs every benchmark BENCH_RUNS times (default 3); each run writes
bench/results/<name>.run<N>.json (bench/result.c's format: measures with goal, floor and
ratio). This script merges a benchmark's runs into bench/results/<name>.json: per measure
the median of the runs' values, of their floors and of their ratios (each run's ratio is
against the floor of that same run), and the values of every run. Then it renders one
table per benchmark into docs/benchmarks.md, with the commit it ran at and, after it, the
analysis kept in bench/notes/<name>.md.

It refuses to write the doc (the merged JSON is still written) when the tree was not clean
when the benchmarks started or is not now, or HEAD moved meanwhile: a published figure
must name the code that produced it.

Usage: report.py RESULTS_DIR COMMAND COMMIT STARTED_CLEAN(0|1)
"""
import datetime
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys

ORDER = ["bulk", "accept", "single", "list", "idle", "rpc", "email"]
DOC = "docs/benchmarks.md"


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


def git(root, *args):
    return subprocess.run(["git", "-C", root, *args], capture_output=True,
                          text=True).stdout.strip()


def tree_clean(root):
    """No change to a tracked file and no untracked file, but the doc this writes."""
    out = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=normal"],
                         capture_output=True, text=True).stdout
    return all(line[3:] == DOC for line in out.splitlines() if line)


def num(v):
    if v is None:
        return ""
    a = abs(v)
    if float(v).is_integer():
        return f"{int(v):,}"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def with_unit(v, unit):
    if v is None:
        return ""
    if unit in ("", "%", "/s"):
        return num(v) + unit
    return f"{num(v)} {unit}"


def merge(runs):
    """One benchmark's runs (each a result.c document) into one, measure by measure."""
    first = runs[0]
    merged = {"bench": first["bench"], "summary": first["summary"], "runs": len(runs),
              "measures": [], "details": first.get("details", [])}
    for i, m in enumerate(first["measures"]):
        same = [r["measures"][i] for r in runs
                if i < len(r["measures"]) and r["measures"][i]["name"] == m["name"]]
        taken = [s for s in same if s.get("available")]
        out = {"name": m["name"], "goal": m.get("goal"), "unit": m.get("unit", ""),
               "available": bool(taken)}
        if not taken:
            out["why"] = same[-1].get("why", "not measured")
            merged["measures"].append(out)
            continue
        values = [s["value"] for s in taken]
        out["values"] = values
        out["value"] = statistics.median(values)
        out["higher_is_better"] = m.get("higher_is_better", False)
        if "limit" in m:
            out["limit"] = m["limit"]
            lim = statistics.median([s["limit"] for s in taken if "limit" in s])
            out["met"] = out["value"] >= lim if out["higher_is_better"] else out["value"] <= lim
        floors = [s for s in taken if "floor_value" in s]
        if floors:
            out["floor"] = m["floor"]
            out["floor_value"] = statistics.median(s["floor_value"] for s in floors)
            out["ratio"] = statistics.median(s["ratio"] for s in floors)
        merged["measures"].append(out)
    return merged


def render(result, notes_dir):
    lines = [f"## {result['bench']}", "", result.get("summary", ""), "",
             f"Commit {result.get('commit', '?')[:10]}, {result.get('date', '?')}; median of "
             f"{result['runs']} run{'s' if result['runs'] != 1 else ''} (each run's value in "
             "the runs column); the ratio is the median of each run's result over its own floor "
             "(floor over result for a rate): how many floors the work costs.", "",
             "| measure | goal | result | runs | floor | ratio | met |",
             "|---|---|---|---|---|---|---|"]
    for m in result["measures"]:
        goal = m.get("goal") or ""
        if not m.get("available"):
            lines.append(f"| {m['name']} | {goal} | unavailable: {m.get('why', '')} | | | | "
                         f"{'**no**' if goal else ''} |")
            continue
        unit = m.get("unit", "")
        runs = ", ".join(num(v) for v in m["values"])
        floor = (f"{with_unit(m['floor_value'], unit)} ({m['floor']})"
                 if "floor_value" in m else "")
        ratio = (f"{m['ratio']:.2f}×" if m.get("ratio", 10) < 10 else f"{m['ratio']:.1f}×") if "ratio" in m else ""
        met = ("yes" if m["met"] else "**no**") if "met" in m else ""
        lines.append(f"| {m['name']} | {goal} | {with_unit(m['value'], unit)} | {runs} | "
                     f"{floor} | {ratio} | {met} |")
    lines.append("")
    for name, text in result.get("details", []):
        lines.append(f"- {name}: {text}")
    if result.get("details"):
        lines.append("")
    notes = os.path.join(notes_dir, result["bench"] + ".md")
    if os.path.exists(notes):
        with open(notes) as f:
            lines += [f.read().strip(), ""]
    return lines


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.strip().splitlines()[-1])
    results_dir, command, commit, started_clean = sys.argv[1:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    by_bench = {}
    for path in glob.glob(os.path.join(results_dir, "*.run*.json")):
        name = re.sub(r"\.run\d+\.json$", "", os.path.basename(path))
        by_bench.setdefault(name, []).append(path)
    for name, paths in by_bench.items():
        runs = []
        for path in sorted(paths):
            with open(path) as f:
                runs.append(json.load(f))
        merged = merge(runs)
        merged["commit"] = commit + ("" if started_clean == "1" else " (uncommitted changes)")
        merged["date"] = now
        with open(os.path.join(results_dir, name + ".json"), "w") as f:
            json.dump(merged, f, indent=2)
        for path in paths:
            os.remove(path)

    clean = started_clean == "1" and tree_clean(root) and git(root, "rev-parse", "HEAD") == commit
    if not clean:
        sys.stderr.write(f"report.py: not writing {DOC}: the tree had uncommitted changes (or "
                         "HEAD moved) during the run; the results are in "
                         f"{results_dir}/*.json. Commit, then run ./usher bench again.\n")
        sys.exit(1)

    results = {}
    for path in glob.glob(os.path.join(results_dir, "*.json")):
        if re.search(r"\.run\d+\.json$", path):
            continue
        with open(path) as f:
            r = json.load(f)
        if "measures" in r and "uncommitted" not in r.get("commit", "uncommitted"):
            results[r["bench"]] = r
    out = [
        "# Benchmarks",
        "",
        "Produced by `./usher bench` (release build, no sanitizers, a private durable Postgres",
        "cluster started for the run); never part of the pass/fail tests. Each benchmark runs",
        "three times (`BENCH_RUNS`) and measures its floor in each run: what Postgres or NNG",
        "costs alone for the same work (a bare durable commit, a bare NNG round trip, a `COPY`",
        "of the same rows; `bench/floors.c`), so a result reads as a ratio that a noisy machine",
        "moves less than it moves the absolute figure. Goals come from issue 16.",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- written: {now}, at commit {commit[:10]}",
        "",
    ]
    notes_dir = os.path.join(root, "bench", "notes")
    for name in ORDER + sorted(set(results) - set(ORDER)):
        if name in results:
            out += render(results[name], notes_dir)
    with open(os.path.join(root, DOC), "w") as f:
        f.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
