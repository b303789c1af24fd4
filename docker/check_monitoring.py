#!/usr/bin/env python3
"""Checks the monitoring files in docker/ (promtool is not cheap to have in CI):
prometheus/alerts.yml and prometheus/prometheus.yml parse, every rule is complete, the
Grafana dashboard and provisioning parse, and every metric and label a PromQL expression
names is one Usher exports (prometheus/metrics.txt). Exits 1 with one line per problem.

It also checks itself: a rule naming a metric Usher does not export must be refused."""
import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# Series Prometheus itself makes, and labels it adds to every scraped series.
BUILTIN_METRICS = {"up": set()}
TARGET_LABELS = {"job", "instance"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "and", "or", "unless", "inf", "nan"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def load_metrics(path):
    """name -> (type, set of labels), from metrics.txt."""
    metrics = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        labels = set(fields[2].split(",")) if len(fields) > 2 else set()
        metrics[fields[0]] = (fields[1], labels)
    return metrics


def resolve(name, metrics):
    """The labels series of this name carry, or None when Usher exports no such series."""
    if name in BUILTIN_METRICS:
        return BUILTIN_METRICS[name]
    if name in metrics:
        kind, labels = metrics[name]
        return None if kind == "histogram" else labels
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and metrics.get(base, ("",))[0] == "histogram":
            return metrics[base][1] | ({"le"} if suffix == "_bucket" else set())
    return None


def check_expr(expr, metrics, where):
    """Problems with one PromQL expression: unknown metrics, unknown labels."""
    problems = []
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # no identifiers inside strings
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors: [5m], [$__rate_interval]
    used_labels = set()
    for m in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        used_labels |= {l.strip() for l in m.group(2).split(",") if l.strip()}
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    known_labels = set(TARGET_LABELS)
    for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}", text):
        name = m.group(1)
        matchers = {re.split(r"[=!~]", part, 1)[0].strip()
                    for part in m.group(2).split(",") if part.strip()}
        labels = resolve(name, metrics) if name else None
        if labels is not None:
            for label in matchers - labels - TARGET_LABELS:
                problems.append(f"{where}: {name} has no label \"{label}\"")
    text = re.sub(r"\{[^}]*\}", " ", text)
    for m in re.finditer(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        labels = resolve(name, metrics)
        if labels is None:
            problems.append(f"{where}: {name} is not a metric Usher exports")
        else:
            known_labels |= labels
    for label in sorted(used_labels - known_labels):
        problems.append(f"{where}: no metric in the expression has the label \"{label}\"")
    return problems


def check_rules(doc, metrics, where):
    problems = []
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not groups:
        return [f"{where}: no rule groups"]
    names = set()
    for group in groups:
        if not group.get("name") or group["name"] in names:
            problems.append(f"{where}: a group without a name, or a name used twice")
        names.add(group.get("name"))
        for rule in group.get("rules") or []:
            alert = rule.get("alert", "?")
            if not isinstance(rule.get("expr"), str) or not rule.get("alert"):
                problems.append(f"{where}: rule {alert}: needs alert and expr")
                continue
            if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
                problems.append(f"{where}: rule {alert}: severity is critical or warning")
            if not rule.get("annotations", {}).get("summary"):
                problems.append(f"{where}: rule {alert}: no summary")
            if not re.fullmatch(r"\d+[smh]", str(rule.get("for", "0s"))):
                problems.append(f"{where}: rule {alert}: \"for\" is not a duration")
            problems += check_expr(rule["expr"], metrics, f"{where}: {alert}")
    return problems


def check_dashboard(doc, metrics, datasource_uid, where):
    problems = []
    if not doc.get("uid") or not doc.get("panels"):
        problems.append(f"{where}: no uid or no panels")
    for panel in doc.get("panels", []):
        for target in panel.get("targets", []):
            uid = target.get("datasource", {}).get("uid")
            if uid != datasource_uid:
                problems.append(f"{where}: panel \"{panel['title']}\" uses datasource {uid}")
            problems += check_expr(target.get("expr", ""), metrics,
                                   f"{where}: panel \"{panel['title']}\"")
    return problems


def main():
    metrics = load_metrics(HERE / "prometheus/metrics.txt")
    problems = []
    config = yaml.safe_load((HERE / "prometheus/prometheus.yml").read_text())
    if "/etc/prometheus/alerts.yml" not in config.get("rule_files", []):
        problems.append("prometheus.yml: alerts.yml is not among its rule_files")
    rules = yaml.safe_load((HERE / "prometheus/alerts.yml").read_text())
    problems += check_rules(rules, metrics, "alerts.yml")
    alerts = {r.get("alert") for g in rules.get("groups", []) for r in g.get("rules", [])}
    # What the issue asks alerts for: queue age, error rate, readiness.
    for needed in ("UsherNotReady", "UsherRpcErrorRate", "UsherEmailQueueStale"):
        if needed not in alerts:
            problems.append(f"alerts.yml: no {needed} alert")
    sources = yaml.safe_load((HERE / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = sources["datasources"][0]["uid"]
    yaml.safe_load((HERE / "grafana/provisioning/dashboards/usher.yml").read_text())
    for path in sorted((HERE / "grafana/dashboards").glob("*.json")):
        problems += check_dashboard(json.loads(path.read_text()), metrics, uid, path.name)

    # The checker itself: a wrong metric, a wrong label and a wrong grouping are caught.
    wrong = {"groups": [{"name": "x", "rules": [
        {"alert": "A", "expr": "usher_email_queue_age_seconds > 1", "for": "1m",
         "labels": {"severity": "warning"}, "annotations": {"summary": "s"}},
        {"alert": "B", "expr": 'rate(usher_rpc_requests_total{status="500"}[5m]) > 0',
         "labels": {"severity": "warning"}, "annotations": {"summary": "s"}},
        {"alert": "C", "expr": "sum by (route) (usher_ready) == 0",
         "labels": {"severity": "warning"}, "annotations": {"summary": "s"}}]}]}
    if len(check_rules(wrong, metrics, "self-test")) != 3:
        problems.append("self-test: the checker misses a wrong metric, label or grouping")

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"monitoring files fine: {len(alerts)} alerts, dashboard checked against "
          f"{len(metrics)} metrics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
