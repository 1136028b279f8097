"""Observability: kube-prometheus-stack, the llm-d dashboard and alert rules."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from .config import Settings
from .helm import release
from .plan import observability as plan
from .plan.outputs import grafana_access
from .versions import OPERATIONS

DASHBOARD_CONFIG_MAP = "llmd-eks-dashboards"
ALERT_RULES = "llmd-eks-alerts"


class Observability(pulumi.ComponentResource):
    """Prometheus (selecting monitors and rules in every namespace), Grafana with the project's dashboard."""

    stack: k8s.helm.v3.Release  # creates the prometheus-operator CRDs: monitors and rules depend on it

    def __init__(
        self, name: str, settings: Settings, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("llmd:observability:Observability", name, None, opts)

        def on_cluster(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))

        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": plan.NAMESPACE}, opts=on_cluster())
        ns = namespace.metadata.name
        self.stack = release(
            f"{name}-kube-prometheus-stack",
            OPERATIONS.kube_prometheus_stack,
            release_name=plan.RELEASE,
            namespace=ns,
            values=plan.kube_prometheus_stack_values(settings),
            timeout_s=900,
            opts=on_cluster(),
        )
        label, label_value = plan.DASHBOARD_LABEL
        k8s.core.v1.ConfigMap(
            f"{name}-dashboards",
            metadata={"name": DASHBOARD_CONFIG_MAP, "namespace": ns, "labels": {label: label_value}},
            data={"llmd-eks-serving.json": json.dumps(plan.dashboard(settings), indent=1)},
            opts=on_cluster(),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": ALERT_RULES, "namespace": ns},
            spec=plan.prometheus_rule_spec(settings),
            opts=on_cluster(self.stack),
        )
        self.register_outputs({"grafana": grafana_access(settings)})
