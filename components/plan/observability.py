"""Observability: kube-prometheus-stack values, monitor switches, dashboards and alerts.

Names follow the charts' helpers: kube-prometheus-stack truncates its
fullname to 26 characters and suffixes ``-prometheus``; its Grafana subchart
names the Service ``<release>-grafana``.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from . import gpu_operator
from .names import RELEASES, modelservice_fullname

NAMESPACE = "monitoring"
RELEASE = "kube-prometheus-stack"
CHART_NAME = "kube-prometheus-stack"
PROMETHEUS_PORT = 9090
GRAFANA_SERVICE_PORT = 80
GRAFANA_LOCAL_PORT = 3000
GRAFANA_ADMIN_USER = "admin"
# The Grafana sidecar loads every ConfigMap with this label, in any namespace.
DASHBOARD_LABEL = ("grafana_dashboard", "1")
DATASOURCE_UID = "prometheus"  # kube-prometheus-stack's default Prometheus datasource
SCRAPE_INTERVAL = "15s"
# Switches that make Prometheus select monitors and rules without the
# chart's own release label, i.e. the ones the llm-d charts create.
SELECT_ALL_SWITCHES = (
    "serviceMonitorSelectorNilUsesHelmValues",
    "podMonitorSelectorNilUsesHelmValues",
    "ruleSelectorNilUsesHelmValues",
    "probeSelectorNilUsesHelmValues",
    "scrapeConfigSelectorNilUsesHelmValues",
)


UNREACHABLE_TARGETS = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")


def fullname(release: str = RELEASE) -> str:
    """kube-prometheus-stack ``fullname``: the release if it contains the chart name, cut to 26."""
    name = release if CHART_NAME in release else f"{release}-{CHART_NAME}"
    return name[:26].rstrip("-")


def prometheus_url() -> str:
    return f"http://{fullname()}-prometheus.{NAMESPACE}.svc:{PROMETHEUS_PORT}"


def grafana_service(release: str = RELEASE) -> str:
    """The grafana subchart's ``fullname``: ``<release>-grafana`` unless the release contains it."""
    return (release if "grafana" in release else f"{release}-grafana")[:63].rstrip("-")


def kube_prometheus_stack_values(settings: Settings) -> dict[str, Any]:
    spec: dict[str, Any] = {switch: False for switch in SELECT_ALL_SWITCHES}
    spec["scrapeInterval"] = SCRAPE_INTERVAL
    # EKS runs the control plane (and Auto Mode kube-proxy) out of Prometheus's reach:
    # scraping them would only keep TargetDown alerts firing.
    unreachable = {component: {"enabled": False} for component in UNREACHABLE_TARGETS}
    return {
        **unreachable,
        "prometheus": {"prometheusSpec": spec},
        "grafana": {
            "adminUser": GRAFANA_ADMIN_USER,  # no adminPassword: the chart generates one into its Secret
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL[0],
                    "labelValue": DASHBOARD_LABEL[1],
                    "searchNamespace": "ALL",
                },
            },
        },
    }


def pod_monitor_values() -> dict[str, Any]:
    """llm-d-modelservice ``<role>.monitoring.podmonitor``: scrape vLLM's /metrics port."""
    return {"enabled": True, "portName": "metrics", "path": "/metrics", "interval": SCRAPE_INTERVAL}


def epp_metrics_secret(release: str = RELEASES.inferencepool) -> str:
    """The service-account-token Secret the inferencepool chart creates for its ServiceMonitor."""
    return f"{release}-epp-metrics-reader"


def epp_monitoring_values() -> dict[str, Any]:
    """inferencepool ``inferenceExtension.monitoring``: a ServiceMonitor authenticated with the EPP token.

    The chart creates the token Secret (annotated for the ``<release>-epp``
    ServiceAccount) and a ClusterRole allowing GET /metrics; the endpoint
    picker checks Prometheus's bearer token with a TokenReview.
    """
    return {"prometheus": {"enabled": True, "auth": {"enabled": True, "secretName": epp_metrics_secret()}}}


# ---- queries ---------------------------------------------------------------


def _vllm(settings: Settings, metric: str) -> str:
    return f'{metric}{{namespace="{settings.serving.namespace}"}}'


def kv_cache_metric(settings: Settings) -> str:
    """KV-cache utilisation as the deployed model servers name it (version profile): the simulator's,
    or vLLM's, which is the name the endpoint picker reads."""
    profile = settings.profile
    return profile.simulator_image.kv_cache_metric if settings.model.simulate else profile.epp_kv_cache_metric


def _quantile(settings: Settings, q: float, histogram: str) -> str:
    bucket = _vllm(settings, f"{histogram}_bucket")
    return f"histogram_quantile({q}, sum by (le) (rate({bucket}[5m])))"


def model_server_deployments_regex() -> str:
    """The Deployments the modelservice chart creates: ``<fullname>-decode`` and ``-prefill``."""
    return f"{modelservice_fullname(RELEASES.modelservice)}-(decode|prefill)"


def _panel(title: str, targets: list[tuple[str, str]], unit: str, x: int, y: int) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(settings: Settings) -> dict[str, Any]:
    """The llm-d serving dashboard: the seed's key vLLM metrics, plus DCGM where the GPU Operator runs."""
    panels_spec: list[tuple[str, list[tuple[str, str]], str]] = [
        (
            "Requests running / waiting",
            [
                (f"sum by (pod) ({_vllm(settings, 'vllm:num_requests_running')})", "running {{pod}}"),
                (f"sum by (pod) ({_vllm(settings, 'vllm:num_requests_waiting')})", "waiting {{pod}}"),
            ],
            "short",
        ),
        (
            "KV-cache usage",
            [(f"max by (pod) ({_vllm(settings, kv_cache_metric(settings))})", "{{pod}}")],
            "percentunit",
        ),
        (
            "Token throughput",
            [
                (f"sum(rate({_vllm(settings, 'vllm:prompt_tokens_total')}[1m]))", "prompt tokens/s"),
                (f"sum(rate({_vllm(settings, 'vllm:generation_tokens_total')}[1m]))", "generation tokens/s"),
            ],
            "short",
        ),
        (
            "Prefix-cache hit rate",
            [
                (
                    f"sum(rate({_vllm(settings, 'vllm:prefix_cache_hits_total')}[5m])) / "
                    f"sum(rate({_vllm(settings, 'vllm:prefix_cache_queries_total')}[5m]))",
                    "hit rate",
                )
            ],
            "percentunit",
        ),
        (
            "Time to first token",
            [
                (_quantile(settings, q, "vllm:time_to_first_token_seconds"), f"p{round(q * 100)}")
                for q in (0.5, 0.95, 0.99)
            ],
            "s",
        ),
        (
            "End-to-end request latency",
            [
                (_quantile(settings, q, "vllm:e2e_request_latency_seconds"), f"p{round(q * 100)}")
                for q in (0.5, 0.95, 0.99)
            ],
            "s",
        ),
    ]
    if gpu_operator.deployed(settings):
        # DCGM exporter (GPU Operator); Auto Mode nodes without the operator expose no DCGM metrics.
        panels_spec.append(
            (
                "GPU utilisation (DCGM)",
                [("avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL)", "{{Hostname}} gpu {{gpu}}")],
                "percent",
            )
        )
    panels = [
        _panel(title, targets, unit, x=(i % 2) * 12, y=(i // 2) * 8)
        for i, (title, targets, unit) in enumerate(panels_spec)
    ]
    for panel_id, panel in enumerate(panels, start=1):
        panel["id"] = panel_id
    return {
        "uid": "llmd-eks-serving",
        "title": f"llm-d serving ({settings.serving.namespace})",
        "tags": ["llm-d", "vllm"],
        "timezone": "utc",
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-3h", "to": "now"},
        "panels": panels,
    }


def prometheus_rule_spec(settings: Settings) -> dict[str, Any]:
    """Alerts: a growing queue, KV-cache saturation, model-server replicas not ready."""
    waiting = _vllm(settings, "vllm:num_requests_waiting")
    target = settings.config.autoscaling.queue_depth_target
    ns = settings.serving.namespace
    deployments = f'namespace="{ns}",deployment=~"{model_server_deployments_regex()}"'
    return {
        "groups": [
            {
                "name": "llmd-eks.vllm",
                "rules": [
                    {
                        "alert": "LlmdQueueGrowing",
                        "expr": f"avg({waiting}) > {target} and deriv(sum({waiting})[10m:1m]) > 0",
                        "for": "10m",
                        "labels": {"severity": "warning"},
                        "annotations": {
                            "summary": "vLLM request queue keeps growing",
                            "description": (
                                f"More than {target} requests wait per model server in {ns} and the queue is "
                                "still growing: add replicas (or enable autoscaling) or check the GPU budget."
                            ),
                        },
                    },
                    {
                        "alert": "LlmdKvCacheSaturated",
                        "expr": f"max by (pod) ({_vllm(settings, kv_cache_metric(settings))}) > 0.95",
                        "for": "5m",
                        "labels": {"severity": "warning"},
                        "annotations": {
                            "summary": "vLLM KV cache above 95%",
                            "description": "{{ $labels.pod }} has used over 95% of its KV cache for 5 minutes; "
                            "requests are being preempted. Lower maxModelLen, add replicas or use larger GPUs.",
                        },
                    },
                    {
                        "alert": "LlmdModelServersNotReady",
                        # Longer than the startup probe allows a model to load (30 minutes).
                        "expr": (
                            f"kube_deployment_spec_replicas{{{deployments}}} - "
                            f"kube_deployment_status_replicas_available{{{deployments}}} > 0"
                        ),
                        "for": "30m",
                        "labels": {"severity": "critical"},
                        "annotations": {
                            "summary": "llm-d model servers not ready",
                            "description": "{{ $labels.deployment }} has had unavailable replicas for 30 minutes: "
                            "check GPU capacity (NodePool limits, quotas) and the vLLM logs.",
                        },
                    },
                ],
            }
        ]
    }
