"""One way to declare a pinned Helm release, so ``helm list`` shows every chart."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .versions import HelmChart


def release(
    resource_name: str,
    chart: HelmChart,
    *,
    release_name: str,
    namespace: pulumi.Input[str],
    values: pulumi.Input[dict[str, Any]],
    opts: pulumi.ResourceOptions,
    create_namespace: bool = False,
    timeout_s: int = 600,
) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        resource_name,
        k8s.helm.v3.ReleaseArgs(
            # An explicit name: without one Pulumi appends a random suffix.
            name=release_name,
            chart=chart.chart,
            version=chart.version,
            repository_opts=(k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository) if chart.repository else None),
            namespace=namespace,
            create_namespace=create_namespace,
            values=values,
            timeout=timeout_s,
        ),
        opts=opts,
    )
