"""Shared fixtures and helpers: run the real program under mocks for a stack configuration."""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components import mockrun  # noqa: E402
from components.config import Settings, resolve  # noqa: E402
from components.mockrun import Recording, Registration  # noqa: E402

STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
HF_TOKEN = "hf_TEST_TOKEN_must_stay_secret_0123456789"

# A stack configuration as a test writes it: top-level keys of the llmd-eks
# namespace ("model", "gpu", ...) or full keys ("aws:region").
Overrides = dict[str, Any]

K8S_PROVIDER = "pulumi:providers:kubernetes"
# What a phase, feature or serving change must never replace: the EKS cluster, its VPC and
# network, their components, and the Kubernetes provider built from the cluster.
CLUSTER_AND_VPC = (
    "llmd:cluster:AutoModeCluster",
    "llmd:cluster:Network",
    "eks:index:Cluster",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable",
    K8S_PROVIDER,
)
# The EKS node group API spells taint effects differently from Kubernetes.
NODE_GROUP_TAINT_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}


def stack_config(stack_file: Path) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(stack name, config, secrets) for a committed stack file; secure values get a test token."""
    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config, secure_keys = mockrun.stack_file_config(stack_file)
    secrets = {key: HF_TOKEN for key in secure_keys}
    for key in secure_keys:
        config.pop(key)
    return stack, config, secrets


def base_config(**overrides: Any) -> dict[str, Any]:
    """The dev stack file's config with top-level keys replaced by ``overrides``."""
    _, config, _ = stack_config(ROOT / "Pulumi.dev.yaml")
    config.update(mockrun.namespaced(overrides))
    return config


def stack_settings(stack: str = "prod", **sections: Any) -> Settings:
    """A committed stack's settings, resolved as the program resolves them, with
    each given section's keys replaced (scalars such as ``phase`` set)."""
    name, config, _ = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("llmd-eks:")}
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values} if isinstance(values, dict) else values
    return resolve(raw, name, region=config.get("aws:region"))


_RECORDINGS: dict[str, bytes] = {}  # run key -> the pickled recording of its first run


def run_program(stack: str, config: dict[str, Any], secrets: dict[str, str] | None = None) -> Recording:
    """``mockrun.run_program``, run once per session for each (stack, config, secrets).

    Every call gets its own copy of the recording, so a test that changes what it got
    changes nothing for the others. For runs of the unmodified program only: a test that
    patches what the program reads calls ``mockrun.run_program`` itself.
    """
    key = json.dumps([stack, config, secrets or {}], sort_keys=True)
    if key not in _RECORDINGS:
        _RECORDINGS[key] = pickle.dumps(mockrun.run_program(stack, config, secrets))
    return pickle.loads(_RECORDINGS[key])


def cluster_and_vpc_urns(recording: Recording) -> dict[tuple[str, str], str]:
    """The URNs of the run's CLUSTER_AND_VPC resources (stack left out, so any two runs compare).

    Fails on a run without an EKS cluster: comparing two empty maps would prove nothing."""
    found = mockrun.urns(recording, CLUSTER_AND_VPC)
    assert any(type_ == "eks:index:Cluster" for type_, _ in found), "the run creates no EKS cluster"
    return found


def values(reg: Registration) -> dict[str, Any]:
    """A Helm release's values tree (a shallow copy)."""
    return dict(reg.inputs["values"])


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, str]) -> bool:
    """Kubernetes toleration matching; the taint's effect in Kubernetes' or the node group API's spelling."""
    effect = NODE_GROUP_TAINT_EFFECTS.get(taint["effect"], taint["effect"])
    return any(
        (t.get("key", "") == taint["key"] or (not t.get("key") and t.get("operator") == "Exists"))
        and t.get("effect", "") in ("", effect)
        and (t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", ""))
        for t in tolerations
    )


@pytest.fixture
def run() -> Callable[..., mockrun.Recording]:
    """``run(stack="t", hf_token=False, **overrides)``: run the program with dev config + overrides."""

    def _run(stack: str = "test", hf_token: bool = False, **overrides: Any) -> mockrun.Recording:
        secrets = {"llmd-eks:hfToken": HF_TOKEN} if hf_token else {}
        return run_program(stack, base_config(**overrides), secrets)

    return _run
