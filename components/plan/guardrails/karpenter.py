"""Self-managed Karpenter: the pinned AMI release must exist for the cluster's Kubernetes version."""

from __future__ import annotations

from collections.abc import Iterator

from ... import versions
from ...config import Settings
from . import Finding, Scope, Severity, key, rule


@rule("GR-KARPENTER-AMI", scope=Scope.GPU_CAPACITY)
def ami_release_covers_the_cluster(settings: Settings) -> Iterator[Finding]:
    ami = versions.KARPENTER_AMI
    minor = settings.cluster.minor_version
    if settings.gpu.provisioner == "karpenter" and not ami.min_kubernetes_minor <= minor <= ami.max_kubernetes_minor:
        yield Finding(
            "GR-KARPENTER-AMI",
            Severity.ERROR,
            key("cluster.kubernetesVersion"),
            f"{settings.cluster.kubernetes_version}: the pinned GPU node AMI ({ami.alias}) is built for Kubernetes "
            f"1.{ami.min_kubernetes_minor}-1.{ami.max_kubernetes_minor}; Karpenter would find no image and "
            "launch nothing.",
            f"use a Kubernetes version from 1.{ami.min_kubernetes_minor} to 1.{ami.max_kubernetes_minor}.",
        )
