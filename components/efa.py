"""EfaDevicePlugin: advertises vpc.amazonaws.com/efa on EFA nodes so KV transfers can use RDMA."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from . import versions
from .config import Settings
from .helm import release
from .plan import efa as plan


class EfaDevicePlugin(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(
        self, name: str, settings: Settings, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("llmd:gpu:EfaDevicePlugin", name, None, opts)
        self.release = release(
            f"{name}-device-plugin",
            versions.EFA_DEVICE_PLUGIN,
            release_name=plan.PLUGIN_RELEASE,
            namespace=plan.PLUGIN_NAMESPACE,
            values=plan.plugin_values(),
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.register_outputs({})
