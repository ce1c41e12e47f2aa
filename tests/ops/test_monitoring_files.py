"""The sample Grafana dashboard and Prometheus alert rules name only metrics the gateway has."""

from __future__ import annotations

import json
import re

import yaml

from bot.config import PROJECT_ROOT
from bot.ops.metrics import GatewayMetrics

MONITORING = PROJECT_ROOT / "deploy" / "monitoring"
NAME = re.compile(r"\b(jec_[a-z0-9_]+)")


def _exposed() -> set[str]:
    text = GatewayMetrics().render().decode()
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            if kind == "counter":
                names.add(f"{name}_total")
    return names


def test_alert_rules_are_valid_and_use_real_metrics() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    exposed = _exposed()
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"JecRasaDown", "JecTextSendFailures", "JecSecurityLockSpike"} <= {
        a["alert"] for a in alerts
    }
    assert any("oldest" in a["expr"] for a in alerts)  # queue age
    for alert in alerts:
        assert alert["annotations"]["summary"]
        unknown = set(NAME.findall(alert["expr"])) - exposed
        assert not unknown, f"{alert['alert']} uses {unknown}"


def test_dashboard_uses_real_metrics() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exposed = _exposed()
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs
    for expr in exprs:
        assert not set(NAME.findall(expr)) - exposed, expr
