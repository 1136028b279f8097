"""EKS Pod Identity on the GPU nodes outside Auto Mode (2a, 2b, 3): the agent add-on, one owner, on the
GPU nodes, before them and before the model servers that read S3 through it.

Auto Mode nodes run the agent themselves; nodes launched by self-managed Karpenter or a managed node
group only have it as the ``eks-pod-identity-agent`` add-on. Where its DaemonSet runs by default is
kept in tests/reference_extra/eks-pod-identity-agent-v0.1.37 (see its PROVENANCE): the program sets no
configuration values and relies on those defaults, which these tests check against the GPU nodes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.mockrun import Recording, Registration
from components.plan import pod_identity
from components.plan.modes import NODEPOOL_LABEL
from tests import extra_reference
from tests.conftest import NODE_GROUP_TAINT_EFFECTS, ROOT, run_program, stack_config, tolerates
from tests.test_cluster_dns import NODE_GROUP, NODEPOOL, OUTSIDE_AUTO_MODE, PHASES, RUNS, addons

AGENT = "eks-pod-identity-agent"
COMPUTE_TYPE = "eks.amazonaws.com/compute-type"
S3_ADAPTER = {"name": "sql", "source": "s3://team-adapters/qwen3/sql"}
DEFAULTS = json.loads(
    (extra_reference.folder("eks-pod-identity-agent-v0.1.37") / "placement-defaults.json").read_text()
)


def _reading_s3(stack_file: str) -> Recording:
    """A committed stack whose model servers read S3: the model cache and an s3:// LoRA adapter."""
    stack, config, secrets = stack_config(ROOT / stack_file)
    config["llmd-eks:modelCache"] = {"enabled": True}
    config["llmd-eks:model"] = {**config["llmd-eks:model"], "loraAdapters": [S3_ADAPTER]}
    return run_program(stack, config, secrets)


READING_S3 = {"2a": _reading_s3("Pulumi.phase2a.yaml"), "2b": _reading_s3("Pulumi.phase2b.yaml")}


def agent(recording: Recording) -> Registration:
    (found,) = addons(recording, AGENT)
    return found


def upstream(recording: Recording, reg: Registration) -> set[str]:
    """Every URN ``reg`` waits for, directly or through what it waits for."""
    seen: set[str] = set()
    todo = [reg]
    while todo:
        for urn in recording.waits_for(todo.pop()) - seen:
            seen.add(urn)
            todo.append(recording.by_urn(urn))
    return seen


def admits(affinity: dict[str, Any], labels: dict[str, str]) -> bool:
    """Required node affinity (In / NotIn terms, ORed) against a node's labels."""
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]

    def holds(expression: dict[str, Any]) -> bool:
        value = labels.get(expression["key"])
        if expression["operator"] == "In":
            return value in expression["values"]
        assert expression["operator"] == "NotIn", expression
        return value not in expression["values"]

    return any(all(holds(e) for e in term["matchExpressions"]) for term in terms)


def gpu_nodes(recording: Recording) -> list[tuple[dict[str, str], list[dict[str, str]]]]:
    """(labels, taints) of the phase's GPU nodes as Kubernetes sees them (x86 Linux instances)."""
    base = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    if recording.of_type(NODE_GROUP):
        group = recording.one(NODE_GROUP).inputs
        taints = [{**t, "effect": NODE_GROUP_TAINT_EFFECTS[t["effect"]]} for t in group["taints"]]
        return [({**base, **group["labels"]}, taints)]
    pool = recording.one(NODEPOOL).inputs
    template = pool["spec"]["template"]
    labels = {**base, **template.get("metadata", {}).get("labels", {}), NODEPOOL_LABEL: pool["metadata"]["name"]}
    return [(labels, template["spec"]["taints"])]


# --- where it exists and who owns it -----------------------------------------------------------


@pytest.mark.parametrize("phase", PHASES)
def test_one_agent_add_on_exactly_where_nodes_outside_auto_mode_exist(phase: str) -> None:
    assert len(addons(RUNS[phase], AGENT)) == (1 if phase in OUTSIDE_AUTO_MODE else 0)


def test_karpenter_phases_share_one_owner_and_2b_aliases_it() -> None:
    """EKS has one add-on of a name per cluster: a 2a/3 <-> 2b switch moves it, never creates a second."""
    karpenter, node_group = agent(RUNS["2a"]), agent(RUNS["2b"])
    assert agent(RUNS["3"]).urn == karpenter.urn
    assert karpenter.urn != node_group.urn
    assert karpenter.urn in node_group.alias_urns() and node_group.urn in karpenter.alias_urns()
    assert karpenter.inputs == node_group.inputs, "a move is no update"
    assert karpenter.inputs["resolveConflictsOnCreate"] == karpenter.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"
    assert "addonVersion" not in karpenter.inputs  # EKS's default for the cluster's Kubernetes version


# --- where it runs -----------------------------------------------------------------------------


@pytest.mark.parametrize("phase", sorted(OUTSIDE_AUTO_MODE))
def test_agent_runs_on_the_gpu_nodes(phase: str) -> None:
    """No configuration values: the add-on's default placement tolerates every taint (the GPU one
    included) and admits nodes that are not Auto Mode, Fargate or hybrid nodes."""
    recording = RUNS[phase]
    assert agent(recording).inputs.get("configurationValues") is None
    assert DEFAULTS["tolerations"] == [{"operator": "Exists"}]
    for labels, taints in gpu_nodes(recording):
        assert taints and all(tolerates(DEFAULTS["tolerations"], taint) for taint in taints)
        assert COMPUTE_TYPE not in labels
        assert admits(DEFAULTS["affinity"], labels)


def test_placement_check_can_fail() -> None:
    labels, taints = gpu_nodes(RUNS["2b"])[0]
    assert not tolerates([{"key": "CriticalAddonsOnly", "operator": "Exists"}], taints[0])
    assert not admits(DEFAULTS["affinity"], {**labels, COMPUTE_TYPE: "auto"})
    assert not admits(DEFAULTS["affinity"], {**labels, "kubernetes.io/arch": "s390x"})


def test_pod_identity_users_on_auto_mode_nodes_use_its_built_in_agent() -> None:
    """Karpenter's controller (2a, 3) and Cluster Autoscaler (2b) run on Auto Mode nodes, which the
    add-on's DaemonSet leaves to Auto Mode's own agent."""
    auto_mode_node = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", COMPUTE_TYPE: "auto"}
    assert not admits(DEFAULTS["affinity"], auto_mode_node)
    for phase in ("2a", "3"):
        controller = dict(RUNS[phase].release("karpenter").inputs["values"])
        assert admits(controller["affinity"], auto_mode_node)
        assert not admits(controller["affinity"], {**auto_mode_node, COMPUTE_TYPE: "ec2"})
    autoscaler = dict(RUNS["2b"].release("cluster-autoscaler").inputs["values"])
    assert autoscaler["nodeSelector"] == {COMPUTE_TYPE: "auto"}


# --- ordering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", sorted(OUTSIDE_AUTO_MODE))
def test_agent_before_any_gpu_node(phase: str) -> None:
    """Its DaemonSet exists when a GPU node joins, so the node's agent starts with the node. It needs
    no node to turn ACTIVE (like vpc-cni and kube-proxy), so it waits only for the cluster."""
    recording = RUNS[phase]
    capacity = recording.one(NODE_GROUP) if phase == "2b" else recording.one(NODEPOOL)
    assert agent(recording).urn in recording.waits_for(capacity)
    assert recording.waits_for(agent(recording)) == {recording.one("eks:index:Cluster").urn}


@pytest.mark.parametrize("phase", sorted(READING_S3))
def test_model_servers_that_read_s3_start_after_the_agent_and_the_association(phase: str) -> None:
    recording = READING_S3[phase]
    modelservice = recording.release("llm-d-modelservice")
    association = next(
        a
        for a in recording.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"] == pod_identity.model_server_service_account()
    )
    assert association.urn in recording.waits_for(modelservice)
    # 2b hands the add-on to the model servers as capacity; in 2a/3 it comes through the NodePool.
    assert agent(recording).urn in upstream(recording, modelservice)
    if phase == "2b":
        assert agent(recording).urn in recording.waits_for(modelservice)


@pytest.mark.parametrize("phase", sorted(READING_S3))
def test_gpu_node_role_may_fetch_pod_identity_credentials(phase: str) -> None:
    """The agent calls eks-auth:AssumeRoleForPodIdentity with the node's role (AmazonEKSWorkerNodePolicy)."""
    recording = READING_S3[phase]
    attached = {a.inputs["policyArn"] for a in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy" in attached
