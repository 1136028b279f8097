"""The policy pack in policy/: each rule's validate function called with fake arguments,
and every rule run over the program's recorded graph for every committed stack."""

from __future__ import annotations

import re
import runpy
import sys
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)

from components import mockrun
from policy import llmd_policies
from policy.llmd_policies import POLICIES
from tests.conftest import ROOT, base_config, run_program, stack_config

NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
RELEASE = "kubernetes:helm.sh/v3:Release"
SERVICE = "kubernetes:core/v1:Service"
SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"


OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
Resource = tuple[str, dict[str, Any]]  # (type, inputs)


def _urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:s::p::{resource_type}::{name}"


def violations(policy_name: str, resources: list[Resource], names: list[str] | None = None) -> list[str]:
    """Run one policy: a resource policy on each resource, a stack policy on all of them at once."""
    (policy,) = [p for p in POLICIES if p.name == policy_name]
    names = names or [f"r{i}" for i in range(len(resources))]
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    if isinstance(policy, StackValidationPolicy):
        stack = [
            PolicyResource(t, props, _urn(t, n), n, OPTS, None, None, [], {})
            for (t, props), n in zip(resources, names, strict=True)
        ]
        policy.validate(StackValidationArgs(stack), report)
    else:
        for (t, props), n in zip(resources, names, strict=True):
            policy.validate(ResourceValidationArgs(t, props, _urn(t, n), n, OPTS, None), report)
    return found


def nodepool(
    requirements: list[dict[str, Any]] | None = None,
    taints: list[dict[str, Any]] | None = None,
    limits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    reqs = [{"key": "eks.amazonaws.com/instance-family", "operator": "In", "values": ["p5"]}]
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "spec": {
            "template": {
                "spec": {
                    "requirements": reqs if requirements is None else requirements,
                    "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}] if taints is None else taints,
                }
            },
            "limits": {"nvidia.com/gpu": "16"} if limits is None else limits,
        },
    }


def release(values: dict[str, Any], version: str = "v1.4.0", chart: str = "llm-d-infra") -> dict[str, Any]:
    return {"name": "x", "chart": chart, "version": version, "values": values}


CPU_POOL = [{"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["c", "m"]}]

AGW_PARAMETERS = "kubernetes:agentgateway.dev/v1alpha1:AgentgatewayParameters"
LB_VALUES = release({"gateway": {"service": {"type": "LoadBalancer"}}})

# policy -> [(resource type, props, expected violations)]; (list of resources, expected) for the whole stack
CASES: dict[str, list[tuple[str, dict[str, Any], int] | tuple[list[Resource], int]]] = {
    "gpu-nodepool-tainted": [
        (NODEPOOL, nodepool(taints=[]), 1),
        (NODEPOOL, nodepool(taints=[{"key": "dedicated", "effect": "NoSchedule"}]), 1),
        (NODEPOOL, nodepool(), 0),
        (NODEPOOL, nodepool(requirements=CPU_POOL, taints=[]), 0),  # not a GPU pool
    ],
    "gpu-nodepool-limited": [
        (NODEPOOL, nodepool(limits={"cpu": "384"}), 1),
        (NODEPOOL, nodepool(), 0),
        (NODEPOOL, nodepool(requirements=CPU_POOL, limits={}), 0),
    ],
    "gpu-nodepool-no-instance-category": [
        (
            NODEPOOL,
            nodepool([{"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["g", "p"]}]),
            1,
        ),
        (NODEPOOL, nodepool([{"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["p"]}]), 1),
        (NODEPOOL, nodepool(), 0),
        (NODEPOOL, nodepool(requirements=CPU_POOL), 0),
    ],
    "helm-release-pinned": [
        (RELEASE, release({}, version=""), 1),
        (RELEASE, release({}, version="^1.4.0"), 1),
        (RELEASE, release({}, version=">=1.0"), 1),
        (RELEASE, release({}, version="1.x"), 1),
        (RELEASE, release({}, version="v1.4.0"), 0),
        (RELEASE, release({}, version="1.29.1"), 0),
        (RELEASE, release({}, version="", chart="./charts/local"), 0),
    ],
    "load-balancer-scheme-explicit": [
        (SERVICE, {"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer"}}, 1),
        (SERVICE, {"metadata": {"annotations": {SCHEME: "internal"}}, "spec": {"type": "LoadBalancer"}}, 0),
        (SERVICE, {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}}, 0),
        (RELEASE, LB_VALUES, 1),
        # agentgateway: the scheme comes from GatewayClass-level parameters, not the chart's values
        (
            [
                (RELEASE, LB_VALUES),
                (AGW_PARAMETERS, {"spec": {"service": {"metadata": {"annotations": {SCHEME: "internal"}}}}}),
            ],
            0,
        ),
        ([(RELEASE, LB_VALUES), (AGW_PARAMETERS, {"spec": {"service": {"metadata": {"annotations": {}}}}})], 1),
        (RELEASE, release({"gateway": {"annotations": {SCHEME: "internal"}, "service": {"type": "LoadBalancer"}}}), 0),
        (RELEASE, release({"svc": {"type": "LoadBalancer", "serviceAnnotations": {SCHEME: "internet-facing"}}}), 0),
        (RELEASE, release({"gateway": {"service": {"type": "ClusterIP"}}}), 0),
    ],
    "no-plaintext-secrets-in-helm-values": [
        (RELEASE, release({"modelArtifacts": {"hfToken": "anything"}}), 1),
        (RELEASE, release({"auth": {"password": "hunter2"}}), 1),
        (RELEASE, release({"note": "hf_" + "a" * 34}), 1),
        (RELEASE, release({"creds": ["AKIA" + "A" * 16]}), 1),
        (RELEASE, release({"env": [{"name": "HF_TOKEN", "value": "x"}]}), 1),
        (
            RELEASE,
            release({"env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}}]}),
            0,
        ),
        (RELEASE, release({"modelArtifacts": {"authSecretName": "llm-d-hf-token"}}), 0),
        (RELEASE, release({"auth": {"password": ""}}), 0),
    ],
}


def test_every_policy_has_cases() -> None:
    assert {p.name for p in POLICIES} == set(CASES)


@pytest.mark.parametrize(
    ("policy_name", "case"), [(name, case) for name, cases in CASES.items() for case in cases], ids=str
)
def test_policy_validate(policy_name: str, case: tuple[Any, ...]) -> None:
    resources = case[0] if len(case) == 2 else [(case[0], case[1])]
    found = violations(policy_name, resources)
    assert len(found) == case[-1], found


def test_the_load_balancer_rule_reads_the_whole_stack() -> None:
    lb = [(RELEASE, LB_VALUES)]
    assert len(violations("load-balancer-scheme-explicit", lb)) == 1
    gateway = {"spec": {"infrastructure": {"annotations": {SCHEME: "internet-facing"}}}}
    gateway_resource = ("kubernetes:gateway.networking.k8s.io/v1:Gateway", gateway)
    assert violations("load-balancer-scheme-explicit", [*lb, gateway_resource]) == []
    # The gateway's parameters cover only the gateway chart's Service, not other releases' LoadBalancers.
    other = (RELEASE, {"values": {"service": {"type": "LoadBalancer"}}})
    assert len(violations("load-balancer-scheme-explicit", [*lb, gateway_resource, other])) == 1


def test_gpu_pool_detection() -> None:
    assert llmd_policies.is_gpu_nodepool(nodepool())
    gpu_count = [{"key": "eks.amazonaws.com/instance-gpu-count", "operator": "Gt", "values": ["0"]}]
    assert llmd_policies.is_gpu_nodepool(nodepool(gpu_count))
    assert llmd_policies.is_gpu_nodepool(
        nodepool([{"key": "karpenter.k8s.aws/instance-family", "values": ["p6-b200"]}])
    )
    assert not llmd_policies.is_gpu_nodepool(nodepool(CPU_POOL))


def _graphs() -> list[tuple[str, mockrun.Recording]]:
    runs = []
    for path in sorted(ROOT.glob("Pulumi.*.yaml")):
        stack, config, secrets = stack_config(path)
        runs.append((stack, run_program(stack, config, secrets)))
    for gateway in ("istio", "agentgateway"):
        for exposure in ("internal-nlb", "internet-nlb"):
            config = {**base_config(), "llmd-eks:serving": {"exposure": exposure, "gateway": gateway}}
            secrets = {"llmd-eks:hfToken": "hf_" + "x" * 34}
            runs.append((f"{gateway}-{exposure}", run_program(exposure, config, secrets)))
    return runs


@pytest.mark.parametrize(("stack", "recording"), _graphs(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_program_passes_its_own_policies(stack: str, recording: mockrun.Recording) -> None:
    resources = [(reg.type, dict(reg.inputs)) for reg in recording.resources]
    names = [reg.name for reg in recording.resources]
    assert resources
    for policy in POLICIES:
        assert violations(policy.name, resources, names) == [], f"{stack}: {policy.name}"


def test_pack_entry_point_registers_every_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    created: dict[str, Any] = {}

    def fake_pack(**kwargs: Any) -> None:
        created.update(kwargs)

    monkeypatch.setattr("pulumi_policy.PolicyPack", fake_pack)
    monkeypatch.setattr(sys, "path", [str(ROOT / "policy"), *sys.path])  # as Pulumi runs the pack
    runpy.run_path(str(ROOT / "policy"), run_name="__main__")
    assert created["name"] == "llmd-eks"
    assert [p.name for p in created["policies"]] == [p.name for p in POLICIES]
    assert created["enforcement_level"].value == "mandatory"


def test_pack_files_pin_the_sdk_the_tests_use() -> None:
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    pack = (ROOT / "policy" / "requirements.txt").read_text().splitlines()
    assert "pulumi-policy==1.21.0" in dev and "pulumi-policy==1.21.0" in pack
    runtime = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("pulumi==")]
    assert runtime and runtime[0] in pack
    assert "runtime:\n  name: python" in (ROOT / "policy" / "PulumiPolicy.yaml").read_text()


def test_readme_documents_every_policy() -> None:
    section = (ROOT / "README.md").read_text().split("## Policy pack", 1)[1].split("\n## ", 1)[0]
    assert {p.name for p in POLICIES} == set(re.findall(r"^\| `([a-z-]+)` \|", section, flags=re.MULTILINE))
