"""NVIDIA Dynamo (phase 3): platform values, the DynamoGraphDeployment, and how its frontend is reached.

The platform release (operator, NATS; CRDs from its operator subchart) runs in
its own namespace. The graph deployment lives in ``serving.namespace``: an
OpenAI-compatible frontend (CPU, on Auto Mode nodes) and vLLM workers on the
GPU NodePool — one aggregated worker pool, or prefill + decode workers
exchanging KV cache through NIXL when ``serving.path`` is ``pd-disaggregation``.
Names the operator derives are computed here the way it does (``GetDCDResourceName``).
"""

from __future__ import annotations

from typing import Any

from .. import versions
from ..config import Settings
from . import efa, modes
from .gateway import NLB_CLASS, NLB_SCHEME_ANNOTATION, nlb_scheme
from .llmd import SHM_SIZE, vllm_args
from .names import HF_TOKEN_SECRET
from .nodepool import GPU_TOLERATION
from .pd import prefill as prefill_settings

PLATFORM_NAMESPACE = "dynamo-system"
PLATFORM_RELEASE = "dynamo-platform"
API_VERSION = "nvidia.com/v1alpha1"
GRAPH_NAME = "llmd"  # stable across model changes: a new model updates the graph in place
FRONTEND = "Frontend"
FRONTEND_PORT = 8000  # the operator's DynamoServicePort, container port named "http"
FRONTEND_CONTAINER_PORT_NAME = "http"
NLB_PORT = 80  # like the llm-d gateway's listener
# Our labels on the graph's pods, so a Service or an affinity term can select them
# without depending on the labels the operator derives.
FRONTEND_LABEL = "llmd-eks/dynamo-frontend"
WORKER_LABEL = "llmd-eks/dynamo-worker"
WORKERS = {"aggregated": "VllmWorker", "decode": "VllmDecodeWorker", "prefill": "VllmPrefillWorker"}


def enabled(settings: Settings) -> bool:
    return settings.serving.stack == "dynamo"


def disaggregated(settings: Settings) -> bool:
    return settings.serving.path == "pd-disaggregation"


def platform_values() -> dict[str, Any]:
    """EKS Auto Mode creates no default StorageClass, so a PVC would stay Pending (and the
    release with it): NATS JetStream keeps its short-lived KV-event streams without one."""
    return {"nats": {"config": {"jetstream": {"fileStore": {"pvc": {"enabled": False}}}}}}


def frontend_service_name() -> str:
    """The operator's Service for the frontend: ``<graph>-<service key, lower-cased>``."""
    return f"{GRAPH_NAME}-{FRONTEND.lower()}"


def nlb_service_name() -> str:
    return f"{frontend_service_name()}-nlb"


def endpoint(settings: Settings) -> tuple[str, str, int]:
    """(namespace, Service, port) clients use: the operator's ClusterIP Service, or our NLB."""
    if settings.serving.exposure == "cluster-ip":
        return settings.serving.namespace, frontend_service_name(), FRONTEND_PORT
    return settings.serving.namespace, nlb_service_name(), NLB_PORT


def frontend_pod_labels() -> dict[str, str]:
    return {FRONTEND_LABEL: GRAPH_NAME}


def nlb_service(settings: Settings) -> dict[str, Any]:
    """metadata + spec of the LoadBalancer Service for ``internal-nlb`` / ``internet-nlb``."""
    return {
        "metadata": {
            "name": nlb_service_name(),
            "namespace": settings.serving.namespace,
            "annotations": {NLB_SCHEME_ANNOTATION: nlb_scheme(settings)},
        },
        "spec": {
            "type": "LoadBalancer",
            "loadBalancerClass": NLB_CLASS,
            "selector": frontend_pod_labels(),
            "ports": [{"name": "http", "port": NLB_PORT, "targetPort": FRONTEND_CONTAINER_PORT_NAME}],
        },
    }


def _worker(settings: Settings, *, replicas: int, gpus: int, role: str | None) -> dict[str, Any]:
    model = settings.model
    args = ["--model", model.name, "--tensor-parallel-size", str(gpus), *vllm_args(settings)]
    if role is not None:
        args += ["--disaggregation-mode", role, "--kv-transfer-config", efa.nixl_kv_transfer_config(settings)]
    limits: dict[str, Any] = {"gpu": str(gpus)}
    pod: dict[str, Any] = {
        "tolerations": [dict(GPU_TOLERATION)],
        "mainContainer": {
            "image": versions.DYNAMO_VLLM_RUNTIME.ref,
            "command": ["python3", "-m", "dynamo.vllm"],
            "args": args,
        },
    }
    selector = modes.model_server_node_selector(settings)
    if selector:
        pod["nodeSelector"] = selector
    efa_devices = efa.devices(settings, gpus) if role is not None else 0
    if efa_devices:
        limits["custom"] = {efa.EFA_RESOURCE: str(efa_devices)}
        pod["affinity"] = efa.same_zone_affinity({WORKER_LABEL: GRAPH_NAME})
        pod["mainContainer"]["securityContext"] = {"capabilities": {"add": ["IPC_LOCK"]}}
    worker: dict[str, Any] = {
        "componentType": "worker",
        "replicas": replicas,
        "extraPodMetadata": {"labels": {WORKER_LABEL: GRAPH_NAME}},
        "resources": {"limits": limits},
        "sharedMemory": {"size": SHM_SIZE},  # NCCL between tensor-parallel ranks
        "extraPodSpec": pod,
    }
    if role is not None:
        worker["subComponentType"] = role
    if settings.has_hf_token:
        worker["envFromSecret"] = HF_TOKEN_SECRET
    return worker


def graph_spec(settings: Settings) -> dict[str, Any]:
    """``DynamoGraphDeployment`` spec: frontend + vLLM workers, TP and replicas from config."""
    model = settings.model
    services: dict[str, Any] = {
        FRONTEND: {
            "componentType": "frontend",
            "replicas": 1,
            "extraPodMetadata": {"labels": frontend_pod_labels()},
            "extraPodSpec": {"mainContainer": {"image": versions.DYNAMO_VLLM_RUNTIME.ref}},
        }
    }
    if disaggregated(settings):
        prefill = prefill_settings(settings)
        services[WORKERS["decode"]] = _worker(
            settings, replicas=model.replicas, gpus=model.tensor_parallelism, role="decode"
        )
        services[WORKERS["prefill"]] = _worker(
            settings, replicas=prefill.replicas, gpus=prefill.tensor_parallelism, role="prefill"
        )
    else:
        services[WORKERS["aggregated"]] = _worker(
            settings, replicas=model.replicas, gpus=model.tensor_parallelism, role=None
        )
    return {"backendFramework": "vllm", "services": services}
