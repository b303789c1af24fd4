#!/usr/bin/python3
"""Reads a /metrics page on stdin, parses it with the Prometheus client's own text-format
parser (Debian's python3-prometheus-client) and prints one JSON object per sample:
{"name": ..., "labels": {...}, "value": ...}. A page the parser refuses exits 1 with the
reason: tests take that as a malformed exposition."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                print(json.dumps({"name": sample.name, "labels": sample.labels,
                                  "value": sample.value, "type": family.type}))
    except Exception as e:  # the parser raises ValueError and others on bad input
        print(f"unparsable metrics: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
