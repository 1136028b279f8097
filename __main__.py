"""llmd-eks: compose the components for this stack's phase and export its outputs."""

import pulumi

from components.autoscaling import Autoscaling
from components.cluster import AutoModeCluster, ExistingCluster
from components.dra_nodegroup import DraNodeGroup
from components.dynamo import Dynamo
from components.efa import EfaDevicePlugin
from components.gateway import GatewayApiCrds, GatewayControlPlane
from components.gpu_nodepool import GpuNodePool
from components.gpu_operator import GpuOperator
from components.karpenter import KarpenterGpu
from components.llmd import LlmdStack
from components.model_cache import ModelCache
from components.model_server_identity import ModelServerIdentity
from components.observability import Observability
from components.plan import capacity, cost, dynamo, efa, gpu_operator, lora, modes, operations, outputs
from components.plan.model_cache import model_uri as model_cache_uri
from components.plan.pod_identity import model_servers_read_s3
from components.preflight import preflight
from components.pulumi_config import hf_token

# Configuration and guardrails first: nothing is registered unless the stack is valid.
settings, findings = preflight()

eks = AutoModeCluster("llmd", settings) if modes.creates_aws_resources(settings) else None
cluster = eks or ExistingCluster("llmd", settings)
gpu_capacity: list[pulumi.Resource] = []
if eks and modes.creates_gpu_capacity(settings):
    if settings.gpu.provisioner == "managed-node-group":
        # Phase 2b: GPUs as DRA ResourceClaims on a managed node group; no Auto Mode GPU NodePool.
        gpu_capacity = DraNodeGroup("gpu-dra", settings, eks).capacity
    elif settings.gpu.provisioner == "karpenter":
        # Phases 2a and 3: self-managed Karpenter's own GPU NodePool beside Auto Mode.
        karpenter_labels = gpu_operator.gpu_node_labels(settings, auto_mode_nodes=False)
        gpu_capacity = [KarpenterGpu("karpenter", settings, eks, node_labels=karpenter_labels).node_pool]
    else:
        # The operator's labels are on the Auto Mode GPU nodes in every phase: adding the
        # operator (1 -> 1.5) then leaves the NodePool template alone, which would
        # otherwise drift and replace every running GPU node.
        auto_mode_labels = gpu_operator.gpu_node_labels(settings, auto_mode_nodes=True)
        gpu_capacity = [GpuNodePool("gpu", settings, eks, node_labels=auto_mode_labels).node_pool]
ops = settings.config
monitoring = Observability("observability", settings, cluster.provider) if ops.observability.enabled else None
if eks and gpu_operator.deployed(settings):
    # The DCGM ServiceMonitor is requested only when the Prometheus Operator CRDs are installed.
    operator = GpuOperator(
        "gpu-operator",
        settings,
        eks.provider,
        auto_mode_nodes=settings.gpu.provisioner == "auto-mode",
        monitoring_crds=[monitoring.stack] if monitoring else [],
    )
    if settings.gpu.provisioner == "karpenter":
        # On self-managed nodes nvidia.com/gpu exists only once the operator's device plugin runs.
        gpu_capacity.append(operator.release)
if eks and efa.kv_transfer_over_efa(settings):
    gpu_capacity.append(EfaDevicePlugin("efa", settings, eks.provider).release)

# Cluster-wide CRDs in every phase, Dynamo's included: deleting them would delete every
# Gateway, HTTPRoute and InferencePool in the cluster, not only this stack's.
crds = GatewayApiCrds("gateway-crds", settings, cluster.provider)
if dynamo.enabled(settings):
    Dynamo("dynamo", settings, cluster.provider, gpu_capacity=gpu_capacity, hf_token=hf_token())
    model_cache = None
else:
    control_plane = GatewayControlPlane("gateway", settings, cluster.provider, crds)
    # Guardrails allow the model cache only on the EKS cluster this program creates.
    model_cache = (
        ModelCache("model-cache", settings, eks.provider, cluster=eks.cluster)
        if eks and ops.model_cache.enabled
        else None
    )
    # One Pod Identity role for the model servers' ServiceAccount, for the model cache and s3:// LoRA adapters.
    model_server_identity = (
        ModelServerIdentity("model-server", settings, cluster=eks.cluster, model_cache=model_cache)
        if eks and model_servers_read_s3(settings)
        else None
    )
    llm_d = LlmdStack(
        "llm-d",
        settings,
        cluster.provider,
        crds=crds.resources,
        gateway_control_plane=control_plane.resources,
        gpu_capacity=gpu_capacity,
        hf_token=hf_token(),
        monitoring=[monitoring.stack] if monitoring else [],
        model_cache=model_cache,
        model_server_access=model_server_identity.access if model_server_identity else [],
    )
    if ops.autoscaling.enabled and monitoring is not None:  # guardrails require observability
        Autoscaling(
            "autoscaling", settings, cluster.provider, prometheus=[monitoring.stack], target=[llm_d.modelservice]
        )

pulumi.export("clusterName", outputs.cluster_name(settings))
if eks:
    pulumi.export("kubeconfig", pulumi.Output.secret(eks.kubeconfig))
    pulumi.export("region", settings.region)
else:
    pulumi.export("kubeconfigContext", settings.cluster.kubeconfig_context)
pulumi.export("phase", settings.phase)
pulumi.export("namespace", settings.serving.namespace)
pulumi.export("modelName", settings.model.name)
pulumi.export("gatewayService", outputs.gateway_service(settings))
pulumi.export("portForwardCommand", outputs.port_forward_command(settings))
pulumi.export("chatCompletionsCurl", outputs.chat_completions_curl(settings))
pulumi.export(
    "versions",
    {
        **outputs.deployed_versions(settings),
        **operations.deployed_versions(settings),
    },
)
pulumi.export("loraAdapters", lora.adapters_output(settings))
if monitoring is not None:
    pulumi.export("grafana", outputs.grafana_access(settings))
if model_cache is not None:
    pulumi.export("modelCacheUri", model_cache.bucket.apply(lambda bucket: model_cache_uri(settings, bucket)))
if modes.creates_gpu_capacity(settings):
    pulumi.export("capacity", capacity.capacity(settings))
    pulumi.export("costEstimate", cost.cost_estimate(settings))
