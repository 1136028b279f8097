"""llmd-eks: compose the components for this stack's phase and export its outputs."""

import pulumi

from components.cluster import AutoModeCluster, ExistingCluster
from components.dra_nodegroup import DraNodeGroup
from components.gateway import GatewayApiCrds, GatewayControlPlane
from components.gpu_nodepool import GpuNodePool
from components.gpu_operator import GpuOperator
from components.llmd import LlmdStack
from components.plan import gpu_operator, modes, outputs
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
    else:
        # The operator's labels are on the Auto Mode GPU nodes in every phase: adding the
        # operator (1 -> 1.5) then leaves the NodePool template alone, which would
        # otherwise drift and replace every running GPU node.
        auto_mode_labels = gpu_operator.gpu_node_labels(settings, auto_mode_nodes=True)
        gpu_capacity = [GpuNodePool("gpu", settings, eks, node_labels=auto_mode_labels).node_pool]
    if settings.gpu.operator:
        # No Prometheus Operator CRDs until observability is built: the DCGM
        # exporter runs, its ServiceMonitor waits for monitoring_crds.
        auto_mode_nodes = settings.gpu.provisioner == "auto-mode"
        GpuOperator("gpu-operator", settings, eks.provider, auto_mode_nodes=auto_mode_nodes)
crds = GatewayApiCrds("gateway-crds", settings, cluster.provider)
control_plane = GatewayControlPlane("gateway", settings, cluster.provider, crds)
LlmdStack(
    "llm-d",
    settings,
    cluster.provider,
    crds=crds.resources,
    gateway_control_plane=control_plane.resources,
    gpu_capacity=gpu_capacity,
    hf_token=hf_token(),
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
pulumi.export("versions", outputs.deployed_versions(settings))
