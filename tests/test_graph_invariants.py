"""What holds for every recorded graph: the committed stacks and variants of every phase, and the
operations features on and off (the runs of tests/test_program.py, tests/test_phases_2a_3.py and
tests/test_operations.py)."""

from __future__ import annotations

import pytest

from components import versions
from components.mockrun import Recording
from tests import test_operations, test_phases_2a_3, test_program
from tests.conftest import K8S_PROVIDER

CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
# Manifest URL -> (``versions`` output key, version), over every profile.
CRD_MANIFESTS = {
    manifest.url: (key, manifest.version)
    for profile in versions.PROFILES.values()
    for key, manifest in profile.crd_manifests().items()
}

EVERY_RUN = [
    *test_program.RUNS,
    *((name, run) for name, run, _ in test_phases_2a_3.RUNS),
    *((f"operations-{name}", run) for name, run in test_operations.RUNS.items()),
]


def test_every_phase_is_covered() -> None:
    assert {run.outputs["phase"] for _, run in EVERY_RUN} == {"1", "1.5", "2a", "2b", "3"}


@pytest.fixture(params=EVERY_RUN, ids=[name for name, _ in EVERY_RUN])
def any_recording(request: pytest.FixtureRequest) -> Recording:
    return request.param[1]


def test_no_duplicate_urns(any_recording: Recording) -> None:
    urns = [r.urn for r in any_recording.resources]
    assert len(urns) == len(set(urns))


def test_every_kubernetes_resource_uses_the_explicit_provider(any_recording: Recording) -> None:
    provider = any_recording.one(K8S_PROVIDER)
    k8s = [r for r in any_recording.resources if r.type.startswith("kubernetes:")]
    assert k8s
    for reg in k8s:
        assert reg.provider_urn == provider.urn, f"{reg.type} {reg.name} uses the default provider"


def test_every_child_has_a_component_parent(any_recording: Recording) -> None:
    components = {r.urn for r in any_recording.resources if r.type.startswith("llmd:")}
    for reg in any_recording.resources:
        if not reg.type.startswith("llmd:"):
            assert reg.parent in components, f"{reg.type} {reg.name} is not parented to a component"


def test_versions_output_names_the_crd_manifests_deployed(any_recording: Recording) -> None:
    """The Gateway API and inference-extension CRDs are deployed in every phase (Dynamo's too),
    so ``versions`` reports them in every phase."""
    deployed = [CRD_MANIFESTS[r.inputs["file"]] for r in any_recording.of_type(CONFIG_FILE)]
    assert sorted(key for key, _ in deployed) == ["gaieCrds", "gatewayApiCrds"]
    assert {key: any_recording.outputs["versions"].get(key) for key, _ in deployed} == dict(deployed)
