"""Cluster DNS in every phase: no coredns add-on from pulumi-eks, exactly one of ours where nodes
outside Auto Mode exist (2a, 2b, 3), on Auto Mode nodes, before any GPU node, moved between owners.

One stack configuration is switched through all five phases, so URNs and inputs compare directly.
The configuration values are validated against the coredns add-on's configuration schema kept in
tests/reference_extra/coredns-addon-v1.10.1-eksbuild.11 (the newest complete schema available
offline; the version EKS installs for Kubernetes 1.34 is newer, see its PROVENANCE).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from components.mockrun import Recording, Registration
from components.plan import cluster_dns
from tests import extra_reference
from tests.conftest import HF_TOKEN, ROOT, cluster_and_vpc_urns, run_program, stack_config, tolerates

ADDON = "aws:eks/addon:Addon"
CLUSTER = "eks:index:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
SCHEMA_DIR = "coredns-addon-v1.10.1-eksbuild.11"
OUTSIDE_AUTO_MODE = {"2a", "2b", "3"}  # phases whose GPU nodes are not Auto Mode nodes


def _phase_configs() -> dict[str, dict[str, Any]]:
    """The phase-3 stack switched to every phase, with only the keys a phase needs changed."""
    _, config, _ = stack_config(ROOT / "Pulumi.phase3.yaml")
    node_group = {
        "instanceTypes": ["p5.48xlarge"],
        "capacityTypes": ["on-demand"],
        "minNodes": 1,
        "maxNodes": 1,
        "ephemeralStorage": "500Gi",
    }
    serving = config["llmd-eks:serving"]
    return {
        "1": {**config, "llmd-eks:phase": "1"},
        "1.5": {**config, "llmd-eks:phase": "1.5"},
        "2a": {**config, "llmd-eks:phase": "2a", "llmd-eks:serving": {**serving, "path": "inference-scheduling"}},
        "2b": {**config, "llmd-eks:phase": "2b", "llmd-eks:gpu": node_group},
        "3": config,
    }


RUNS = {
    phase: run_program("switch", config, {"llmd-eks:hfToken": HF_TOKEN}) for phase, config in _phase_configs().items()
}
PHASES = list(RUNS)


def addons(recording: Recording, name: str) -> list[Registration]:
    return [a for a in recording.of_type(ADDON) if a.inputs["addonName"] == name]


def coredns(recording: Recording) -> Registration:
    (found,) = addons(recording, cluster_dns.ADDON)
    return found


def configuration(addon: Registration) -> dict[str, Any]:
    return json.loads(addon.inputs["configurationValues"])


# --- the cluster ----------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", PHASES)
def test_pulumi_eks_creates_no_coredns_add_on(phase: str) -> None:
    """pulumi-eks adds one whenever Auto Mode is on unless told not to (pulumi/pulumi-eks#1726)."""
    assert RUNS[phase].one(CLUSTER).inputs["corednsAddonOptions"]["enabled"] is False


def test_cluster_and_vpc_keep_their_urns_and_inputs_in_every_phase() -> None:
    phase1 = RUNS["1"]
    for phase in PHASES:
        assert cluster_and_vpc_urns(RUNS[phase]) == cluster_and_vpc_urns(phase1), phase
        # Turning DNS on or off is no change to the cluster: its inputs do not follow the phase.
        assert RUNS[phase].one(CLUSTER).inputs == phase1.one(CLUSTER).inputs, phase


# --- who owns coredns -----------------------------------------------------------------------------


@pytest.mark.parametrize("phase", PHASES)
def test_one_coredns_add_on_exactly_where_nodes_outside_auto_mode_exist(phase: str) -> None:
    recording = RUNS[phase]
    expected = 1 if phase in OUTSIDE_AUTO_MODE else 0
    assert len(addons(recording, cluster_dns.ADDON)) == expected
    assert len(recording.of_type(ADDON)) == 4 * expected, "vpc-cni, kube-proxy and the Pod Identity agent with it"
    urns = [r.urn for r in recording.resources]
    assert len(urns) == len(set(urns))


def test_karpenter_phases_share_one_owner_and_2b_aliases_it() -> None:
    """2a <-> 3 keeps the add-on where it is; 2a/3 <-> 2b moves it (EKS has one coredns per cluster)."""
    karpenter, node_group = coredns(RUNS["2a"]), coredns(RUNS["2b"])
    assert coredns(RUNS["3"]).urn == karpenter.urn
    assert karpenter.urn != node_group.urn
    assert karpenter.urn in node_group.alias_urns()
    assert node_group.urn in karpenter.alias_urns()
    for name in ("vpc-cni", "kube-proxy"):
        (in_2a,), (in_2b,) = addons(RUNS["2a"], name), addons(RUNS["2b"], name)
        assert in_2a.urn in in_2b.alias_urns() and in_2b.urn in in_2a.alias_urns()


@pytest.mark.parametrize("phase", sorted(OUTSIDE_AUTO_MODE))
def test_a_coredns_add_on_made_by_pulumi_eks_is_handed_over(phase: str) -> None:
    """Stacks where pulumi-eks created "<cluster>-coredns" (before it was turned off) move it
    to our owner instead of failing on a second coredns add-on."""
    recording = RUNS[phase]
    cluster = recording.one(CLUSTER)
    legacy = {"name": f"{cluster.name}-coredns", "parentUrn": cluster.urn}
    assert legacy in [dict(alias) for alias in coredns(recording).aliases]
    for name in ("vpc-cni", "kube-proxy"):  # pulumi-eks makes neither with Auto Mode on
        (addon,) = addons(recording, name)
        assert all(alias["parentUrn"] != cluster.urn for alias in addon.aliases)


def test_every_owner_registers_the_same_inputs() -> None:
    """A move between owners is then no update of the add-ons."""
    for name in ("vpc-cni", "kube-proxy", cluster_dns.ADDON):
        (in_2a,), (in_2b,) = addons(RUNS["2a"], name), addons(RUNS["2b"], name)
        assert in_2a.inputs == in_2b.inputs, name
        assert in_2a.inputs["resolveConflictsOnCreate"] == in_2a.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"
        assert "addonVersion" not in in_2a.inputs  # EKS's default for the cluster's Kubernetes version


# --- where it runs --------------------------------------------------------------------------------


def test_configuration_values_fit_the_addon_schema() -> None:
    schema = json.loads((extra_reference.folder(SCHEMA_DIR) / "configuration-schema.json").read_text())
    validator = jsonschema.Draft6Validator(schema)
    values = cluster_dns.addon_configuration()
    assert [error.message for error in validator.iter_errors(values)] == []
    # The schema rejects what it does not know: a misspelt key would fail CreateAddon, not pass silently.
    assert list(validator.iter_errors({**values, "nodeselector": {}}))
    for phase in OUTSIDE_AUTO_MODE:
        assert configuration(coredns(RUNS[phase])) == values


def test_coredns_runs_on_auto_mode_nodes_only() -> None:
    affinity = cluster_dns.addon_configuration()["affinity"]
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert len(terms) == 1, "terms are ORed: every one must require Auto Mode"
    assert {"key": "eks.amazonaws.com/compute-type", "operator": "In", "values": ["auto"]} in (
        terms[0]["matchExpressions"]
    )
    # The add-on's own default placement is kept: Linux nodes of both architectures, replicas spread over hosts.
    schema = json.loads((extra_reference.folder(SCHEMA_DIR) / "configuration-schema.json").read_text())
    default = schema["definitions"]["Coredns"]["properties"]["affinity"]["default"]["affinity"]
    default_terms = default["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert all(expr in terms[0]["matchExpressions"] for expr in default_terms[0]["matchExpressions"])
    assert affinity["podAntiAffinity"] == default["podAntiAffinity"]


def test_coredns_never_holds_a_gpu_node() -> None:
    """Tolerations are left at the add-on's default, which does not tolerate the GPU taint."""
    assert "tolerations" not in cluster_dns.addon_configuration()
    schema = json.loads((extra_reference.folder(SCHEMA_DIR) / "configuration-schema.json").read_text())
    default_tolerations = schema["definitions"]["Coredns"]["properties"]["tolerations"]["default"]
    node_group_taint = RUNS["2b"].one(NODE_GROUP).inputs["taints"][0]
    gpu_taints = [
        {"key": node_group_taint["key"], "effect": "NoSchedule"},
        *(t for phase in ("2a", "3") for t in RUNS[phase].one(NODEPOOL).inputs["spec"]["template"]["spec"]["taints"]),
    ]
    assert node_group_taint["effect"] == "NO_SCHEDULE"
    assert not any(tolerates(default_tolerations, taint) for taint in gpu_taints)


# --- ordering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", sorted(OUTSIDE_AUTO_MODE))
def test_coredns_needs_only_the_cluster(phase: str) -> None:
    """On Auto Mode nodes it turns ACTIVE without GPU capacity: it waits for nothing else."""
    recording = RUNS[phase]
    assert recording.waits_for(coredns(recording)) == {recording.one(CLUSTER).urn}


@pytest.mark.parametrize("phase", ["2a", "3"])
def test_no_karpenter_gpu_node_before_dns(phase: str) -> None:
    recording = RUNS[phase]
    assert {a.urn for a in recording.of_type(ADDON)} <= recording.waits_for(recording.one(NODEPOOL))


def test_no_node_group_before_dns_and_model_servers_wait_for_it() -> None:
    recording = RUNS["2b"]
    dns = coredns(recording).urn
    assert {a.urn for a in recording.of_type(ADDON)} <= recording.waits_for(recording.one(NODE_GROUP))
    assert dns in recording.waits_for(recording.release("llm-d-modelservice"))
