"""llmd-eks: compose the components for this stack's phase and export its outputs."""

import pulumi

from components.autoscaling import Autoscaling
from components.cluster import AutoModeCluster
from components.gateway import GatewayApiCrds, GatewayControlPlane
from components.gpu_nodepool import GpuNodePool
from components.llmd import LlmdStack
from components.model_cache import ModelCache
from components.observability import Observability
from components.plan import lora, observability, operations, outputs
from components.plan.model_cache import model_uri as model_cache_uri
from components.preflight import preflight
from components.pulumi_config import hf_token

# Configuration and guardrails first: nothing is registered unless the stack is valid.
settings, findings = preflight()

cluster = AutoModeCluster("llmd", settings)
gpu_pool = GpuNodePool("gpu", settings, cluster)
crds = GatewayApiCrds("gateway-crds", settings, cluster.provider)
control_plane = GatewayControlPlane("gateway", settings, cluster.provider, crds)
ops = settings.config
monitoring = Observability("observability", settings, cluster.provider) if ops.observability.enabled else None
model_cache = (
    ModelCache("model-cache", settings, cluster.provider, cluster=cluster.cluster) if ops.model_cache.enabled else None
)
llm_d = LlmdStack(
    "llm-d",
    settings,
    cluster.provider,
    crds=crds.resources,
    gateway_control_plane=[control_plane.istiod],
    gpu_capacity=[gpu_pool.node_pool],
    hf_token=hf_token(),
    monitoring=[monitoring.stack] if monitoring else [],
    model_cache=model_cache,
)
if ops.autoscaling.enabled and monitoring is not None:  # guardrails require observability
    Autoscaling("autoscaling", settings, cluster.provider, prometheus=[monitoring.stack], target=[llm_d.modelservice])

pulumi.export("clusterName", settings.cluster_name)
pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig))
pulumi.export("region", settings.region)
pulumi.export("phase", settings.phase)
pulumi.export("namespace", settings.serving.namespace)
pulumi.export("modelName", settings.model.name)
pulumi.export("gatewayService", outputs.gateway_service(settings))
pulumi.export("portForwardCommand", outputs.port_forward_command(settings))
pulumi.export("chatCompletionsCurl", outputs.chat_completions_curl(settings))
pulumi.export("versions", {**settings.profile.deployed(), **operations.deployed_versions(settings)})
pulumi.export("loraAdapters", lora.adapters_output(settings))
if monitoring is not None:
    pulumi.export("grafana", observability.grafana_access())
if model_cache is not None:
    pulumi.export("modelCacheUri", model_cache.bucket.apply(lambda bucket: model_cache_uri(settings, bucket)))
