"""Every metric a Grafana dashboard or a Prometheus alert rule names is one the running
services export on /metrics (issue 8). Label names and PromQL syntax are checked offline in
tests/deploy/test_monitoring.py."""

import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml

from sportslog_testing import devstack

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy/grafana/dashboards"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"

PROMETHEUS_OWN = {"up"}  # written by Prometheus for each scrape, not by a service
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
PROMQL_WORDS |= {"and", "or", "unless", "offset", "inf", "nan"}
# Series a metric family of each type exposes, by suffix (`# TYPE` names the family).
TYPE_SUFFIXES = {
    "counter": [""],  # prometheus_client's TYPE line already says <name>_total
    "gauge": [""],
    "histogram": ["_bucket", "_sum", "_count"],
    "summary": ["", "_sum", "_count"],
}


def exported_names(exposition: str) -> set[str]:
    """Series names in a Prometheus text exposition. A labelled metric with no child yet
    prints only its HELP and TYPE lines, so the TYPE lines count as well as the samples."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()
            names |= {family + suffix for suffix in TYPE_SUFFIXES.get(kind, [""])}
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][\w:]*", line)[0])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = re.findall(r"(?<![\w$.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", expr)
    return {name for name in names if name not in PROMQL_WORDS}


def test_exported_names():
    exposition = (
        "# HELP a_total A\n# TYPE a_total counter\n"
        "# HELP h_seconds H\n# TYPE h_seconds histogram\n"
        '# TYPE g gauge\ng{state="idle"} 2.0\n'
        "b_created 1.7e+09\n"
    )
    expected = {"a_total", "h_seconds_bucket", "h_seconds_sum", "h_seconds_count", "g"}
    assert exported_names(exposition) == expected | {"b_created"}


def test_metric_names():
    expr = (
        'histogram_quantile(0.9, sum by (le) (rate(x_bucket{a="b(c)"}[$__rate_interval])))'
        " / on (job) y offset 1h > 5 * count(z:rule)"
    )
    assert metric_names(expr) == {"x_bucket", "y", "z:rule"}


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Panels with targets, those inside collapsed rows too."""
    found = [panel for panel in panels if "targets" in panel]
    return found + [p for panel in panels for p in all_panels(panel.get("panels", []))]


def queries() -> dict[str, list[str]]:
    """Source file -> the PromQL it holds: panel targets, label_values() variables, alerts."""
    found: dict[str, list[str]] = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        exprs = [t["expr"] for panel in all_panels(dashboard["panels"]) for t in panel["targets"]]
        for variable in dashboard["templating"]["list"]:
            query = variable.get("query", "")
            query = query["query"] if isinstance(query, dict) else query
            exprs += re.findall(r"label_values\((.+),\s*\w+\)", query)
        found[path.name] = exprs
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    found[ALERTS.name] = [rule["expr"] for group in groups for rule in group["rules"]]
    return found


async def test_dashboards_and_alerts_name_only_exported_metrics(stack):
    exported = set(PROMETHEUS_OWN)
    async with httpx.AsyncClient(timeout=10) as client:
        for service in devstack.SERVICES:
            response = await client.get(f"{stack.url(service)}/metrics")
            assert response.status_code == 200, service
            exported |= exported_names(response.text)

    used = {source: set().union(*map(metric_names, exprs)) for source, exprs in queries().items()}
    assert all(used.values()), "a source with no metric: the parsing is broken"
    unknown = {source: sorted(names - exported) for source, names in used.items()}
    assert not {source: names for source, names in unknown.items() if names}
