"""Cost estimate: what the GPU capacity costs per hour and per 30 days.

Two figures: at full scale (the NodePool at ``gpu.maxGpus``, or ``maxNodes``
nodes of a managed node group) and at the configured replicas. Nodes are
counted whole, on the instance type the capacity planner places replicas on;
prices come from ``components/catalog/prices.py`` with their source, and are
left out (None) where none is recorded. GPU capacity only: the EKS control
plane, CPU nodes, NAT gateway, load balancers and storage are extra.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..catalog import prices
from ..config import Settings
from .capacity import full_scale_nodes, placement, roles

HOURS_IN_30_DAYS = 720
_CAPACITY_TYPES: tuple[prices.CapacityType, ...] = ("on-demand", "spot")
_OUTPUT_KEY = {"on-demand": "onDemand", "spot": "spot"}


def _priced(nodes: Counter[str], region: str | None, capacity_type: prices.CapacityType) -> dict[str, float] | None:
    hourly = 0.0
    for instance_type, count in nodes.items():
        found = prices.price(instance_type, region, capacity_type)
        if found is None:
            return None
        hourly += count * found.usd_per_hour
    return {"hourlyUsd": round(hourly, 2), "thirtyDaysUsd": round(hourly * HOURS_IN_30_DAYS, 2)}


def _scenario(nodes: Counter[str], gpus: int, region: str | None) -> dict[str, Any]:
    scenario: dict[str, Any] = {"nodes": dict(nodes), "gpus": gpus}
    for capacity_type in _CAPACITY_TYPES:
        scenario[_OUTPUT_KEY[capacity_type]] = _priced(nodes, region, capacity_type)
    return scenario


def cost_estimate(settings: Settings) -> dict[str, Any]:
    region = settings.region
    estimate: dict[str, Any] = {
        "currency": "USD",
        "region": region,
        "capacityTypes": list(settings.gpu.capacity_types),
        "hoursIn30Days": HOURS_IN_30_DAYS,
    }
    found = [(role, placement(settings, role.tensor_parallelism)) for role in roles(settings)]
    plan = [(role, place) for role, place in found if place is not None]
    if len(plan) != len(found):
        estimate["note"] = "no catalogued instance type in the GPU pool holds a replica; no estimate"
        return estimate

    full = plan[0][1].instance  # full scale: the pool filled with decode nodes
    full_nodes = full_scale_nodes(settings, full)
    estimate["fullScale"] = _scenario(Counter({full.name: full_nodes}), full_nodes * full.gpus, region)

    configured: Counter[str] = Counter()
    gpus = 0
    for role, place in plan:
        nodes = place.nodes_for(role.replicas)
        configured[place.instance.name] += nodes
        gpus += nodes * place.instance.gpus
    estimate["configuredReplicas"] = _scenario(configured, gpus, region)

    estimate["prices"] = {
        _OUTPUT_KEY[capacity_type]: {
            name: (
                {"usdPerHour": row.usd_per_hour, "source": row.citation}
                if (row := prices.price(name, region, capacity_type))
                else None
            )
            for name in sorted({full.name, *configured})
        }
        for capacity_type in _CAPACITY_TYPES
    }
    return estimate
