"""llmd-eks: compose the components for this stack's phase and export its outputs."""

import pulumi

from components.cluster import AutoModeCluster, ExistingCluster
from components.gateway import GatewayApiCrds, GatewayControlPlane
from components.gpu_nodepool import GpuNodePool
from components.llmd import LlmdStack
from components.plan import modes, outputs
from components.preflight import preflight
from components.pulumi_config import hf_token

# Configuration and guardrails first: nothing is registered unless the stack is valid.
settings, findings = preflight()

eks = AutoModeCluster("llmd", settings) if modes.creates_aws_resources(settings) else None
cluster = eks or ExistingCluster("llmd", settings)
gpu_pool = GpuNodePool("gpu", settings, eks) if eks and modes.creates_gpu_capacity(settings) else None
crds = GatewayApiCrds("gateway-crds", settings, cluster.provider)
control_plane = GatewayControlPlane("gateway", settings, cluster.provider, crds)
LlmdStack(
    "llm-d",
    settings,
    cluster.provider,
    crds=crds.resources,
    gateway_control_plane=control_plane.resources,
    gpu_capacity=[gpu_pool.node_pool] if gpu_pool else [],
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
pulumi.export("versions", settings.profile.deployed(settings.serving.gateway, simulate=settings.model.simulate))
