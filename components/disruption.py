"""The model servers' PodDisruptionBudgets, children of the serving stack that runs them."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def pod_disruption_budgets(
    owner: pulumi.ComponentResource,
    owner_name: str,
    budgets: dict[str, dict[str, Any]],
    namespace: pulumi.Input[str],
    provider: k8s.Provider,
) -> list[k8s.policy.v1.PodDisruptionBudget]:
    """One ``policy/v1`` PodDisruptionBudget per entry of ``budgets`` (plan.disruption), in
    ``namespace`` — pass the Namespace's own output, so each waits for the namespace."""
    return [
        k8s.policy.v1.PodDisruptionBudget(
            f"{owner_name}-pdb-{key.lower()}",
            metadata={**budget["metadata"], "namespace": namespace},
            spec=budget["spec"],
            opts=pulumi.ResourceOptions(parent=owner, provider=provider),
        )
        for key, budget in budgets.items()
    ]
