"""PodDisruptionBudgets for the model servers (llm-d's and Dynamo's vLLM workers).

Node drains evict through the eviction API, which honours these budgets: Karpenter's
expiry, drift, consolidation and interruption handling, Auto Mode's node replacement
(at most 21 days), ``kubectl drain``. GPU nodes launched together expire together;
without a budget every replica of a role could be evicted at once — a full outage,
then every replica downloading the model again. With one, at most one replica of a
role is down at a time, the others keep serving.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from . import dynamo, modes, pd
from .names import RELEASES, model_server_labels, modelservice_fullname

MAX_UNAVAILABLE = 1
# A not-ready model server (crash-looping, or still loading weights) never blocks a drain:
# only the ready replicas are protected (Kubernetes' recommended setting).
UNHEALTHY_POD_EVICTION_POLICY = "AlwaysAllow"
LLM_D_ROLE_LABEL = "llm-d.ai/role"  # llm-d-modelservice's prefill/decode labels (templates/_helpers.tpl)
# The service key of a DynamoGraphDeployment, which the Dynamo operator puts on every pod
# of that service (deploy/operator/internal/consts: KubeLabelDynamoComponent).
DYNAMO_COMPONENT_LABEL = "nvidia.com/dynamo-component"


def _budget(name: str, match_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "maxUnavailable": MAX_UNAVAILABLE,
            "selector": {"matchLabels": match_labels},
            "unhealthyPodEvictionPolicy": UNHEALTHY_POD_EVICTION_POLICY,
        },
    }


def llm_d_budgets(settings: Settings) -> dict[str, dict[str, Any]]:
    """role -> metadata + spec: decode, and prefill when disaggregated; each selects exactly
    the pods of its role (the chart's labels: modelArtifacts.labels + ``llm-d.ai/role``)."""
    roles = ["decode", "prefill"] if pd.enabled(settings) else ["decode"]
    # Named like the chart's Deployment of the role: "<fullname>-<role>".
    fullname = modelservice_fullname(RELEASES.modelservice)
    return {
        role: _budget(f"{fullname}-{role}", {**model_server_labels(settings), LLM_D_ROLE_LABEL: role}) for role in roles
    }


def dynamo_budgets(settings: Settings) -> dict[str, dict[str, Any]]:
    """worker service -> metadata + spec, selecting that service's pods (our worker label
    and the operator's service label); the CPU frontend is left alone."""
    services = dynamo.graph_spec(settings)["services"]
    return {
        key: _budget(
            f"{dynamo.GRAPH_NAME}-{key.lower()}",
            {dynamo.WORKER_LABEL: dynamo.GRAPH_NAME, DYNAMO_COMPONENT_LABEL: key},
        )
        for key, service in services.items()
        if service["componentType"] == "worker"
    }


# A rolling update with the Deployment default (maxSurge 25%, rounded up) first adds a pod
# that needs a replica's GPUs; when gpu.maxGpus leaves no room for it, the rollout never
# progresses while the nodes bill. Replace one pod at a time instead, as the budget allows.
ROLLOUT_STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": MAX_UNAVAILABLE}}


def llm_d_rollouts(settings: Settings) -> dict[str, dict[str, Any]]:
    """role -> the patch of that role's Deployment (the chart has no value for its strategy);
    none for the simulator, whose pods need no GPUs."""
    if not modes.uses_gpus(settings):
        return {}
    fullname = modelservice_fullname(RELEASES.modelservice)
    roles = ["decode", "prefill"] if pd.enabled(settings) else ["decode"]
    return {
        role: {"metadata": {"name": f"{fullname}-{role}"}, "spec": {"strategy": ROLLOUT_STRATEGY}} for role in roles
    }
