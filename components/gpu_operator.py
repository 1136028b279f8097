"""GpuOperator: the NVIDIA GPU Operator release (DCGM telemetry, GPU labels; device plugin and MIG where allowed)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from . import versions
from .config import Settings
from .helm import release
from .plan import gpu_operator as plan


class GpuOperator(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        settings: Settings,
        provider: k8s.Provider,
        *,
        auto_mode_nodes: bool,
        monitoring_crds: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``monitoring_crds``: the Prometheus Operator CRDs when the stack installs
        them; the DCGM ServiceMonitor is requested only then, and the release waits for them."""
        super().__init__("llmd:gpu:GpuOperator", name, None, opts)
        self.release = release(
            f"{name}-release",
            versions.GPU_OPERATOR,
            release_name=plan.RELEASE,
            namespace=plan.NAMESPACE,
            create_namespace=True,
            values=plan.gpu_operator_values(
                settings, auto_mode_nodes=auto_mode_nodes, service_monitor=bool(monitoring_crds)
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(monitoring_crds)),
        )
        self.register_outputs({"release": plan.RELEASE})
