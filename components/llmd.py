"""LlmdStack: namespace, HF token, the three llm-d releases and the HTTPRoute."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from .config import Settings
from .disruption import pod_disruption_budgets
from .helm import release
from .model_cache import ModelCache
from .plan import disruption
from .plan import llmd as plan
from .plan.names import RELEASES
from .serving_namespace import serving_namespace

TYPE = "llmd:llmd:LlmdStack"


class LlmdStack(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: Settings,
        provider: k8s.Provider,
        *,
        crds: Sequence[pulumi.Resource],
        gateway_control_plane: Sequence[pulumi.Resource],
        gpu_capacity: Sequence[pulumi.Resource],
        hf_token: pulumi.Output[str] | None,
        monitoring: Sequence[pulumi.Resource] = (),
        model_cache: ModelCache | None = None,
        model_server_access: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``monitoring``: what creates the PodMonitor/ServiceMonitor CRDs (when observability is on);
        ``model_cache``: the S3 model cache (when enabled), seeded before the model servers start;
        ``model_server_access``: the model servers' Pod Identity role policies and association."""
        super().__init__(TYPE, name, None, opts)
        profile = settings.profile

        def on_cluster(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))

        namespace, hf_token_secret = serving_namespace(self, TYPE, name, settings, provider, hf_token)
        ns = namespace.metadata.name
        hf_secret: list[pulumi.Resource] = [hf_token_secret] if hf_token_secret is not None else []
        # At most one decode and one prefill pod evicted at a time when GPU nodes are drained.
        pod_disruption_budgets(self, name, disruption.llm_d_budgets(settings), ns, provider)
        # Pod Identity before the pods: credentials are injected at pod creation.
        model_deps: list[pulumi.Resource] = [*gpu_capacity, *hf_secret, *model_server_access]
        modelservice_values: pulumi.Input[dict]
        if model_cache is None:
            modelservice_values = plan.modelservice_values(settings)
        else:
            # Weights in the bucket before vLLM starts.
            model_deps.append(model_cache.seed(ns, after=hf_secret))
            modelservice_values = model_cache.bucket.apply(lambda bucket: plan.modelservice_values(settings, bucket))

        infra = release(
            f"{name}-infra",
            profile.llm_d_infra,
            release_name=RELEASES.infra,
            namespace=ns,
            values=plan.infra_values(settings),
            opts=on_cluster(*crds, *gateway_control_plane),
        )
        pool = release(
            f"{name}-inferencepool",
            profile.inferencepool,
            release_name=RELEASES.inferencepool,
            namespace=ns,
            values=plan.inferencepool_values(settings),
            opts=on_cluster(*crds, *gateway_control_plane, *monitoring),
        )
        self.modelservice = release(
            f"{name}-modelservice",
            profile.modelservice,
            release_name=RELEASES.modelservice,
            namespace=ns,
            values=modelservice_values,
            timeout_s=plan.model_server_ready_timeout_s(settings),
            opts=on_cluster(*model_deps, *monitoring),
        )
        # The chart's Deployments, one pod at a time: no surge pod waiting for GPUs the budget lacks.
        for role, patch in disruption.llm_d_rollouts(settings).items():
            k8s.apps.v1.DeploymentPatch(
                f"{name}-{role}-rollout",
                metadata={**patch["metadata"], "namespace": ns},
                spec=patch["spec"],
                opts=on_cluster(self.modelservice),
            )
        k8s.apiextensions.CustomResource(
            f"{name}-httproute",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata={"name": "llm-d", "namespace": ns},
            spec=plan.httproute_spec(settings),
            opts=on_cluster(*crds, infra, pool),
        )
        self.register_outputs({"namespace": ns})
