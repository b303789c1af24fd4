#!/usr/bin/env python3
"""Fills the generated sections of docs/reliability.md from what the tests wrote.

    ./usher test -R 'crash_matrix|pg_outage'
    python3 scripts/reliability_report.py build-test

tests/crash_matrix_test.c and tests/pg_outage_test.c write markdown tables into
<build>/reports/; each goes between its markers in the document:
<!-- NAME:begin --> ... <!-- NAME:end -->, with a line saying where it came from.
"""
import os
import re
import subprocess
import sys

SECTIONS = {
    "crash-matrix": "crash_matrix.md",
    "pg-restart": "pg_restart.md",
    "pg-outage": "pg_outage.md",
}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: reliability_report.py BUILD_DIR")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    reports = os.path.join(sys.argv[1], "reports")
    doc_path = os.path.join(root, "docs", "reliability.md")
    with open(doc_path) as f:
        doc = f.read()
    commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    sanitize = "unknown build"
    cache = os.path.join(sys.argv[1], "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache) as f:
            m = re.search(r"^USHER_SANITIZE:\w+=(\S+)", f.read(), re.M)
        if m:
            sanitize = "AddressSanitizer and UBSan" if m.group(1) in ("ON", "1", "TRUE") \
                else "no sanitizers"
    for name, file in SECTIONS.items():
        path = os.path.join(reports, file)
        if not os.path.exists(path):
            sys.exit("%s is missing: run ./usher test -R 'crash_matrix|pg_outage' first" % path)
        with open(path) as f:
            table = f.read().strip()
        stamp = os.path.getmtime(path)
        when = subprocess.run(["date", "-u", "-d", "@%d" % stamp, "+%Y-%m-%d %H:%M UTC"],
                              capture_output=True, text=True).stdout.strip()
        body = "%s\n\n*Written by the test on %s, commit %s, %d cores, %s.*" % (
            table, when, commit or "?", os.cpu_count() or 0, sanitize)
        begin, end = "<!-- %s:begin -->" % name, "<!-- %s:end -->" % name
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
        if not pattern.search(doc):
            sys.exit("docs/reliability.md has no %s ... %s" % (begin, end))
        doc = pattern.sub(lambda _: "%s\n%s\n%s" % (begin, body, end), doc)
    with open(doc_path, "w") as f:
        f.write(doc)
    print("docs/reliability.md updated from %s" % reports)


if __name__ == "__main__":
    main()
