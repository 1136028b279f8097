"""Queue-depth autoscaling with KEDA: the ScaledObject for the decode Deployment.

KEDA turns the ScaledObject into an HPA. The Prometheus trigger reports the
total of ``vllm:num_requests_waiting`` over the decode pods as an
``AverageValue`` metric, so the HPA keeps about ``queueDepthTarget`` waiting
requests per replica. KEDA's cron scaler can only raise the floor, so an
off-peak window is expressed the other way round: the ScaledObject's floor is
the off-peak count, and a cron trigger holds ``minReplicas`` during the peak
hours (from ``offPeak.end`` to ``offPeak.start``).
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from . import observability
from .names import RELEASES

NAMESPACE = "keda"
RELEASE = "keda"
SCALED_OBJECT = "llmd-decode-queue-depth"
POLLING_INTERVAL_S = 15
COOLDOWN_S = 300  # before scaling to zero, when the floor is zero


def keda_values(settings: Settings) -> dict[str, Any]:
    if not settings.config.observability.enabled:
        return {}
    # KEDA's own metrics through a ServiceMonitor: the operator's scaler errors show up in Prometheus.
    return {"prometheus": {"operator": {"enabled": True, "serviceMonitor": {"enabled": True}}}}


def queue_depth_query(settings: Settings) -> str:
    """Waiting requests summed over the decode pods (``<decode Deployment>-<hash>-<id>``)."""
    pods = f"{RELEASES.decode_deployment}-.+"
    return f'sum(vllm:num_requests_waiting{{namespace="{settings.serving.namespace}",pod=~"{pods}"}})'


def replica_floor(settings: Settings) -> int:
    scaling = settings.config.autoscaling
    return scaling.off_peak.replicas if scaling.off_peak is not None else scaling.min_replicas


def scaled_object_spec(settings: Settings) -> dict[str, Any]:
    scaling = settings.config.autoscaling
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "name": "queue-depth",
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": observability.prometheus_url(),
                "query": queue_depth_query(settings),
                "threshold": str(scaling.queue_depth_target),
                # No decode pod, no series: read as an empty queue rather than an error.
                "ignoreNullValues": "true",
            },
        }
    ]
    off_peak = scaling.off_peak
    if off_peak is not None:
        triggers.append(
            {
                "type": "cron",
                "name": "peak-hours",
                "metadata": {
                    "timezone": off_peak.timezone,
                    "start": off_peak.end,
                    "end": off_peak.start,
                    "desiredReplicas": str(scaling.min_replicas),
                },
            }
        )
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": RELEASES.decode_deployment},
        "minReplicaCount": replica_floor(settings),
        "maxReplicaCount": scaling.max_replicas,
        "pollingInterval": POLLING_INTERVAL_S,
        "cooldownPeriod": COOLDOWN_S,
        "advanced": {
            # The seed's HPA behaviour: add up to 2 replicas every 2 minutes, remove one every 3
            # (a replica that leaves costs a 3-20 minute model load to bring back).
            "horizontalPodAutoscalerConfig": {
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": 60,
                        "policies": [{"type": "Pods", "value": 2, "periodSeconds": 120}],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 180}],
                    },
                }
            }
        },
        "triggers": triggers,
    }


def decode_replicas(settings: Settings) -> int:
    """What the modelservice release sets ``decode.replicas`` to.

    With autoscaling the HPA owns the count; a Helm upgrade still writes this
    value, so it is the peak-hours floor rather than ``model.replicas``.
    """
    scaling = settings.config.autoscaling
    return scaling.min_replicas if scaling.enabled else settings.model.replicas
