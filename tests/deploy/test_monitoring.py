"""deploy/prometheus and deploy/grafana (issue 8): promtool accepts the config, the alert rules
and every dashboard query; each alert fires on made-up series and stays quiet on normal
ones; every label a query names is one its metric carries, as the services define it.

tests/e2e/test_metrics_in_dashboards.py checks the metric names against the services' live
/metrics.
"""

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy/prometheus"
GRAFANA = ROOT / "deploy/grafana"
DASHBOARDS = GRAFANA / "dashboards"

# Issue 8 item 5: each dashboard, and metrics it must show.
DASHBOARD_MUST_SHOW = {
    "sportslog-overview": {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "sportslog_users_registered_total",
        "sportslog_activities_created_total",
        "sportslog_events_published_total",
        "sportslog_events_consumed_total",
        "sportslog_outbox_pending",
    },
    "sportslog-auth": {
        "sportslog_users_registered_total",
        "sportslog_logins_total",
        "sportslog_auth_throttled_total",
        # Issue 16 point 3: the SMS budget, SMS by country, code sign-ins locked.
        "sportslog_sms_sent_total",
        "sportslog_sms_budget_used_ratio",
        "sportslog_otp_locked_total",
    },
    "sportslog-activities": {"sportslog_activities_created_total"},
    "sportslog-notifier": {
        "sportslog_notifications_total",
        "sportslog_notification_event_age_seconds_bucket",
        "sportslog_events_consumed_total",
    },
    "sportslog-gateway": {
        "sportslog_gateway_upstream_duration_seconds_bucket",
        "sportslog_gateway_auth_failures_total",
        "sportslog_gateway_rate_limited_total",
    },
    "sportslog-runtime": {
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "sportslog_db_pool_connections",
        "sportslog_rows_pruned_total",
    },
}

# What prometheus_client's default collectors export on Linux, and Prometheus' own `up`.
CLIENT_DEFAULTS: dict[str, set[str]] = {
    "process_virtual_memory_bytes": set(),
    "process_resident_memory_bytes": set(),
    "process_start_time_seconds": set(),
    "process_cpu_seconds_total": set(),
    "process_open_fds": set(),
    "process_max_fds": set(),
    "python_gc_objects_collected_total": {"generation"},
    "python_gc_objects_uncollectable_total": {"generation"},
    "python_gc_collections_total": {"generation"},
    "python_info": {"implementation", "major", "minor", "patchlevel", "version"},
    "up": set(),
}
TARGET_LABELS = {"job", "instance"}  # Prometheus adds them to every scraped series

# Concrete stand-ins for the Grafana variables the dashboards use.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "6h",
    "$service": "auth",
    "$job": "auth",
}

# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: apt-get install prometheus (.ci/run does)")
    return path


def run(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def defined_metrics() -> dict[str, set[str]]:
    """Series name -> label names, from every Counter/Gauge/Histogram in the services' source."""
    kinds = {"Counter", "Gauge", "Histogram"}
    series = dict(CLIENT_DEFAULTS)
    sources = [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/common/src/**/*.py")]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in kinds):
                continue
            kind, name = node.func.id, ast.literal_eval(node.args[0])
            labelnames = node.args[2] if len(node.args) > 2 else None
            for keyword in node.keywords:
                labelnames = keyword.value if keyword.arg == "labelnames" else labelnames
            labels = set(ast.literal_eval(labelnames)) if labelnames else set()
            if kind == "Counter":  # prometheus_client exports `<name>_total`, with or without
                series[name.removesuffix("_total") + "_total"] = labels
            elif kind == "Histogram":
                series[f"{name}_bucket"] = labels | {"le"}
                series[f"{name}_sum"] = series[f"{name}_count"] = labels
            else:
                series[name] = labels
    return series


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Panels, with those inside collapsed rows."""
    return [p for panel in panels for p in [panel, *all_panels(panel.get("panels", []))]]


def targets(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(expr, legendFormat) of every panel target."""
    return [
        (target["expr"], target.get("legendFormat", ""))
        for panel in all_panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]


def variable_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(selector, label) of every `label_values(selector, label)` template variable."""
    found = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            query = query["query"] if isinstance(query, dict) else query
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            assert match, f"variable {variable['name']}: only label_values() is checked"
            found.append((match[1], match[2]))
    return found


def concrete(expr: str) -> str:
    for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
    assert "$" not in expr, f"a Grafana variable without a stand-in: {expr}"
    return expr


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
PROMQL_WORDS |= {"and", "or", "unless", "offset", "inf", "nan"}
CLAUSE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def parse(expr: str) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """The selectors of a PromQL expression as (metric, matcher labels), and the labels its
    by/without/on/ignoring/group_* clauses name. Enough PromQL for our own queries."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    clause_labels = {
        label for labels in CLAUSE.findall(expr) for label in re.findall(r"\w+", labels)
    }
    expr = CLAUSE.sub(" ", expr)
    selectors = []
    token = re.compile(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(\s*\{[^}]*\})?(?!\s*\()")
    for name, matchers in token.findall(expr):
        if name not in PROMQL_WORDS:
            selectors.append((name, set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))))
    return selectors, clause_labels


def test_parse():
    expr = (
        'histogram_quantile(0.99, sum by (service, le) (rate(x_bucket{a="b,c", d!~"}"}[5m])))'
        ' > 1 and on (service) y offset 1h / ignoring (z) count(w{e="f"})'
    )
    selectors, clause_labels = parse(expr)
    assert selectors == [("x_bucket", {"a", "d"}), ("y", set()), ("w", {"e"})]
    assert clause_labels == {"service", "le", "z"}


def label_problems(expr: str, legend: str, metrics: dict[str, set[str]]) -> list[str]:
    """What a query (and its legend) names that the services' metrics do not have."""
    selectors, clause_labels = parse(expr)
    unknown = [name for name, _ in selectors if name not in metrics]
    if unknown:
        return [f"{name} is not a metric the services define" for name in unknown]
    problems = [
        f"{name} has no label {label}"
        for name, labels in selectors
        for label in labels - metrics[name] - TARGET_LABELS
    ]
    known = TARGET_LABELS.union(*(metrics[name] for name, _ in selectors))
    legend_labels = set(re.findall(r"\{\{\s*(?:\$labels\.)?(\w+)\s*\}\}", legend))
    problems += [
        f"no metric here has label {label}" for label in (clause_labels | legend_labels) - known
    ]
    return problems


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_config_is_valid_and_loads_the_alerts(promtool):
    # promtool also fails when a rule file the config names does not exist.
    result = run(promtool, "check", "config", PROMETHEUS / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert "alerts.yml" in config["rule_files"]


def mounted(volumes: list[str], target: str) -> bool:
    """Whether `target` is mounted itself or through a mounted parent directory."""
    targets = {volume.split(":")[1].rstrip("/") for volume in volumes}
    return target in targets or str(Path(target).parent) in targets


def test_prometheus_containers_see_the_rule_files():
    # Rule files are read relative to the config, /etc/prometheus/prometheus.yml in the
    # container; one not mounted there is no error for Prometheus, just no alerts.
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    quadlet = (ROOT / "deploy/quadlets/sportslog-prometheus.container").read_text()
    quadlet_volumes = re.findall(r"^Volume=(.+)$", quadlet, re.MULTILINE)
    for rule_file in config["rule_files"]:
        target = f"/etc/prometheus/{rule_file}"
        assert mounted(compose["services"]["prometheus"]["volumes"], target), "compose.yaml"
        assert mounted(quadlet_volumes, target), "sportslog-prometheus.container"


def test_alert_rules_are_valid(promtool):
    result = run(promtool, "check", "rules", PROMETHEUS / "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_delay_a_severity_and_a_summary():
    for rule in alert_rules():
        assert rule["alert"].startswith("Sportslog")
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_alert_labels_exist():
    metrics = defined_metrics()
    for rule in alert_rules():
        annotations = " ".join(rule["annotations"].values())
        problems = label_problems(rule["expr"], annotations, metrics)
        assert not problems, f"{rule['alert']}: {problems}"


# For each alert: made-up series (1-minute steps), and when it must fire and with which labels;
# exp_alerts [] = must be quiet then. Issue 8 item 4 names one alert for each.
ALERT_CASES: dict[str, dict[str, Any]] = {
    "SportslogServiceDown": {
        "series": {
            'up{job="auth", instance="auth:8001"}': "1 0x10",
            'up{job="gateway", instance="gateway:8000"}': "1x10",
            'up{job="prometheus", instance="localhost:9090"}': "0x10",  # not ours
        },
        "evals": {
            "2m": [],  # down for 1 minute: not yet
            "5m": [{"severity": "critical", "job": "auth", "instance": "auth:8001"}],
        },
    },
    "SportslogServiceAbsent": {
        "series": {
            # Every container of auth is removed at minute 5: its `up` series ends.
            'up{job="auth", instance="10.89.0.5:8001"}': "1x5",
            'up{job="gateway", instance="10.89.0.2:8000"}': "1x20",
            'up{job="activities", instance="10.89.0.3:8002"}': "1x20",
            'up{job="notifier", instance="10.89.0.4:8003"}': "1x20",
        },
        "evals": {
            "4m": [],
            # Gone at 5m, stale after 5 more minutes, then 2 minutes pending.
            "15m": [{"severity": "critical", "job": "auth"}],
        },
    },
    "SportslogHigh5xxRate": {
        "series": {
            'http_requests_total{service="auth", status="200"}': "0+60x20",
            'http_requests_total{service="auth", status="500"}': "0+10x20",
            'http_requests_total{service="gateway", status="200"}': "0+600x20",
            'http_requests_total{service="gateway", status="502"}': "0+1x20",  # 0.2%
            # A third of a trickle fails: too few errors to wake anyone.
            'http_requests_total{service="activities", status="200"}': "0+1x20",
            'http_requests_total{service="activities", status="500"}': "0+0.5x20",
        },
        "evals": {"15m": [{"severity": "critical", "service": "auth"}]},
    },
    "SportslogHighP99Latency": {
        "series": {
            'http_request_duration_seconds_bucket{service="activities", le="1.0"}': "0x30",
            'http_request_duration_seconds_bucket{service="activities", le="2.5"}': "0+60x30",
            'http_request_duration_seconds_bucket{service="activities", le="+Inf"}': "0+60x30",
            'http_request_duration_seconds_count{service="activities"}': "0+60x30",
            # One slow request in 10 minutes: too few to judge.
            'http_request_duration_seconds_bucket{service="auth", le="1.0"}': "0x30",
            'http_request_duration_seconds_bucket{service="auth", le="2.5"}': "0+0.1x30",
            'http_request_duration_seconds_bucket{service="auth", le="+Inf"}': "0+0.1x30",
            'http_request_duration_seconds_count{service="auth"}': "0+0.1x30",
        },
        "evals": {"20m": [{"severity": "warning", "service": "activities"}]},
    },
    "SportslogOutboxBacklog": {
        "series": {
            # Two replicas of one service report the same table; one alert, not two.
            'sportslog_outbox_pending{job="auth", instance="a"}': "500x20",
            'sportslog_outbox_pending{job="auth", instance="b"}': "480x20",
            'sportslog_outbox_pending{job="activities", instance="c"}': "5x20",
        },
        "evals": {"15m": [{"severity": "warning", "job": "auth"}]},
    },
    "SportslogDeadLetters": {
        "series": {
            # The first dead letter: the counter child appears with 1 at minute 10.
            'sportslog_events_consumed_total{job="notifier", queue="q.n", type="t", result="dead"}': "_x10 1x200",
            # Dead letters long ago and nothing since.
            'sportslog_events_consumed_total{job="activities", queue="q.a", type="t", result="dead"}': "3x200",
            'sportslog_events_consumed_total{job="activities", queue="q.a", type="t", result="ok"}': "0+5x200",
        },
        "evals": {
            "15m": [
                {"severity": "warning", "job": "notifier", "queue": "q.n"},
                {"severity": "warning", "job": "activities", "queue": "q.a"},  # no history yet
            ],
            "90m": [],
        },
    },
    "SportslogNotificationFailures": {
        "series": {
            'sportslog_notifications_total{channel="sms", template="otp_sms", status="sent"}': "0+5x30",
            'sportslog_notifications_total{channel="sms", template="otp_sms", status="failed"}': "0+5x30",
            'sportslog_notifications_total{channel="email", template="welcome", status="sent"}': "0+100x30",
            'sportslog_notifications_total{channel="email", template="welcome", status="expired"}': "0+50x30",
        },
        "evals": {"25m": [{"severity": "warning", "channel": "sms"}]},
    },
    "SportslogFailedLoginSpike": {
        "series": {
            # A day at one failure a minute, then a minute of 60 for 20 minutes.
            'sportslog_logins_total{method="local", status="failure"}': "0+1x1440 1500+60x20",
            # Steadily one a second all day: busy, but no spike.
            'sportslog_logins_total{method="refresh", status="failure"}': "0+60x1460",
        },
        "evals": {
            "1440m": [],
            "1455m": [{"severity": "warning", "method": "local"}],
        },
    },
    # Issue 16 point 3.
    "SportslogSmsBudgetHigh": {
        "series": {
            # Two auth replicas read the same count from PostgreSQL: at 50% each the
            # deployment is at 50%, not 100% (max, not sum); then 85%, one alert.
            'sportslog_sms_budget_used_ratio{job="auth", instance="a"}': "0.5x10 0.85x20",
            'sportslog_sms_budget_used_ratio{job="auth", instance="b"}': "0.5x10 0.84x20",
        },
        "evals": {
            "10m": [],
            "13m": [],  # at 85% for 2 minutes: not yet
            "20m": [{"severity": "warning"}],
        },
    },
    "SportslogSmsBudgetExhausted": {
        "series": {
            # 85% is only the warning; then one replica sees the budget spent, the other
            # has not refreshed yet.
            'sportslog_sms_budget_used_ratio{job="auth", instance="a"}': "0.85x10 1x20",
            'sportslog_sms_budget_used_ratio{job="auth", instance="b"}': "0.85x10 0.99x20",
        },
        "evals": {
            "10m": [],
            "20m": [{"severity": "critical"}],
        },
    },
}


def test_every_alert_of_issue_8_is_there_and_tested():
    assert {rule["alert"] for rule in alert_rules()} == set(ALERT_CASES)


@pytest.mark.parametrize("alert", ALERT_CASES)
def test_alert_fires_when_it_should(promtool, tmp_path, alert):
    # Annotations are rendered with $value, so a copy without them is tested; promtool
    # check rules validates their templates.
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        rule.pop("annotations", None)
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump({"groups": groups}))
    case = ALERT_CASES[alert]
    test = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case["series"].items()],
                "alert_rule_test": [
                    {
                        "eval_time": at,
                        "alertname": alert,
                        "exp_alerts": [{"exp_labels": labels} for labels in expected],
                    }
                    for at, expected in case["evals"].items()
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    result = run(promtool, "test", "rules", tmp_path / "test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- Grafana


def test_dashboards_are_the_ones_issue_8_asks_for():
    assert set(load_dashboards()) == set(DASHBOARD_MUST_SHOW)


@pytest.mark.parametrize("name", DASHBOARD_MUST_SHOW)
def test_dashboard_is_well_formed(name):
    dashboard = load_dashboards()[name]
    assert dashboard["uid"] == name  # the file name: links and bookmarks stay stable
    assert dashboard["schemaVersion"] == 39
    assert "sportslog" in dashboard["tags"]  # the dashboards' links menu lists by tag
    panels = all_panels(dashboard["panels"])
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))

    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uids = {ds["uid"] for ds in provisioned["datasources"]}
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] in uids, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids, panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] in uids, variable["name"]


def test_dashboard_provider_loads_the_dashboards():
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/dashboards.yml").read_text())
    assert [p["type"] for p in providers["providers"]] == ["file"]
    # compose.yaml mounts deploy/grafana/dashboards there (tests/deploy/test_deploy_files.py).
    assert providers["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"


@pytest.mark.parametrize("name", DASHBOARD_MUST_SHOW)
def test_dashboard_shows_what_issue_8_asks_for(name):
    shown = {
        metric
        for expr, _ in targets(load_dashboards()[name])
        for metric, _ in parse(concrete(expr))[0]
    }
    assert shown >= DASHBOARD_MUST_SHOW[name], sorted(DASHBOARD_MUST_SHOW[name] - shown)


def test_every_metric_the_services_define_is_on_a_dashboard():
    shown = {
        metric
        for dashboard in load_dashboards().values()
        for expr, _ in targets(dashboard)
        for metric, _ in parse(concrete(expr))[0]
    }
    ours = {name for name in defined_metrics() if name not in CLIENT_DEFAULTS}
    # A histogram is shown through its buckets or its count.
    ours = {re.sub(r"_(bucket|sum|count)$", "", name) for name in ours}
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for name in shown}
    assert ours <= shown, sorted(ours - shown)


def test_dashboard_queries_are_valid_promql(promtool, tmp_path):
    # promtool has no query linter, but it parses every rule's expression: one recording
    # rule per query, one group per dashboard, so its error names the dashboard.
    groups = []
    for name, dashboard in load_dashboards().items():
        exprs = [expr for expr, _ in targets(dashboard)]
        exprs += [selector for selector, _ in variable_queries(dashboard)]
        prefix = name.replace("-", "_")
        rules = [
            {"record": f"{prefix}:query_{i}", "expr": concrete(e)} for i, e in enumerate(exprs)
        ]
        groups.append({"name": name, "rules": rules})
    (tmp_path / "dashboards.yml").write_text(yaml.safe_dump({"groups": groups}))
    result = run(promtool, "check", "rules", tmp_path / "dashboards.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", DASHBOARD_MUST_SHOW)
def test_dashboard_labels_exist(name):
    metrics = defined_metrics()
    dashboard = load_dashboards()[name]
    problems = {}
    for expr, legend in targets(dashboard):
        problems[expr] = label_problems(concrete(expr), legend, metrics)
    for selector, label in variable_queries(dashboard):
        problems[selector] = label_problems(f"sum by ({label}) ({selector})", "", metrics)
    assert not {expr: found for expr, found in problems.items() if found}
