"""serving.gateway: agentgateway, run under mocks: control plane, ordering, names, exposure, contracts.

The agentgateway charts and the AgentgatewayParameters CRD are not in
../shared/reference; their key lists at the pinned version live in
tests/reference_extra/ (see the PROVENANCE notes there) and are checked with
tests/extra_reference.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import mockrun, versions
from components.config import not_implemented, resolve
from components.mockrun import Recording, Registration
from components.plan.names import RELEASES
from tests import contracts, extra_reference
from tests.conftest import base_config, cluster_and_vpc_urns, run_program, values
from tests.test_program import RUNS as ISTIO_RUNS

PROFILE = versions.PROFILES[versions.DEFAULT_PROFILE]
AGW_CRDS_CHART = f"agentgateway-crds-{PROFILE.agentgateway_crds.version}"
AGW_CHART = f"agentgateway-{PROFILE.agentgateway.version}"
INFRA_CHART = "llm-d-infra-v1.4.0"
POOL_CHART = "inferencepool-v1.4.0"
AGW_NAMESPACE = "agentgateway-system"
AGWP = ("agentgateway.dev/v1alpha1", "AgentgatewayParameters")
AGWP_FIELDS = "agentgatewayparameters-v1alpha1-spec-fields.txt"
SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
NLB_CLASS = "eks.amazonaws.com/nlb"

EXPOSURES = {"cluster-ip": None, "internal-nlb": "internal", "internet-nlb": "internet-facing"}


def _run(exposure: str) -> Recording:
    serving = {"gateway": "agentgateway", "exposure": exposure}
    if exposure == "internet-nlb":
        serving["namespace"] = "inference"
    return run_program(f"agentgateway-{exposure}", base_config(serving=serving))


RUNS = {exposure: _run(exposure) for exposure in EXPOSURES}


@pytest.fixture(params=sorted(RUNS))
def exposure(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def recording(exposure: str) -> Recording:
    return RUNS[exposure]


def parameters(recording: Recording) -> list[Registration]:
    return recording.custom_resources(*AGWP)


def test_agentgateway_is_no_longer_refused() -> None:
    settings = resolve(
        {"serving": {"gateway": "agentgateway"}, "observability": {"enabled": False}}, "s", region="us-west-2"
    )
    assert not_implemented(settings) == []


def test_releases_are_the_agentgateway_control_plane_and_llm_d(recording: Recording) -> None:
    releases = {r.inputs["name"]: r.inputs for r in recording.helm_releases()}
    assert set(releases) == {
        "agentgateway-crds",
        "agentgateway",
        "llm-d-infra",
        "llm-d-inferencepool",
        "llm-d-modelservice",
    }
    crds, controller = releases["agentgateway-crds"], releases["agentgateway"]
    assert (crds["chart"], crds["version"]) == ("oci://cr.agentgateway.dev/charts/agentgateway-crds", "v1.0.0")
    assert (controller["chart"], controller["version"]) == ("oci://cr.agentgateway.dev/charts/agentgateway", "v1.0.0")
    assert "repositoryOpts" not in crds and "repositoryOpts" not in controller, "OCI charts take no repository"
    assert crds["namespace"] == controller["namespace"] == AGW_NAMESPACE
    assert crds["createNamespace"] is True
    assert values(recording.release("agentgateway"))["inferenceExtension"] == {"enabled": True}
    assert values(recording.release("agentgateway-crds")) == {}
    assert recording.outputs["versions"]["agentgateway"] == "v1.0.0"
    assert "istio" not in recording.outputs["versions"]
    # Retained releases could not be installed again under their names after a switch away and back.
    assert not recording.release("agentgateway-crds").retain_on_delete


def test_ordering_crds_then_controller_then_llm_d(recording: Recording) -> None:
    gateway_api, gaie = (
        next(r.urn for r in recording.of_type("kubernetes:yaml/v2:ConfigFile") if part in r.inputs["file"])
        for part in ("/gateway-api/", "/gateway-api-inference-extension/")
    )
    crds = recording.release("agentgateway-crds")
    controller = recording.release("agentgateway")
    infra = recording.release("llm-d-infra")
    pool = recording.release("llm-d-inferencepool")
    route = recording.one("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
    assert {crds.urn, gateway_api, gaie} <= recording.waits_for(controller)
    # llm-d-infra creates the Gateway and its AgentgatewayParameters (an agentgateway.dev kind).
    assert {controller.urn, crds.urn, gateway_api} <= recording.waits_for(infra)
    assert {controller.urn, gaie} <= recording.waits_for(pool)
    assert {infra.urn, pool.urn} <= recording.waits_for(route)
    for params in parameters(recording):
        assert crds.urn in recording.waits_for(params)
        assert params.urn in recording.waits_for(controller), "the class's parametersRef must resolve"


def test_graph_invariants_hold(recording: Recording) -> None:
    urns = [r.urn for r in recording.resources]
    assert len(urns) == len(set(urns))
    provider = recording.one("pulumi:providers:kubernetes")
    components = {r.urn for r in recording.resources if r.type.startswith("llmd:")}
    for reg in recording.resources:
        if reg.type.startswith("kubernetes:"):
            assert reg.provider_urn == provider.urn, f"{reg.type} {reg.name} uses the default provider"
        if not reg.type.startswith("llmd:"):
            assert reg.parent in components, f"{reg.type} {reg.name} is not parented to a component"
    control_plane = recording.one("llmd:gateway:GatewayControlPlane")
    for name in ("agentgateway-crds", "agentgateway"):
        assert recording.release(name).parent == control_plane.urn


# --- names: llm-d-infra v1.4.0 helpers, transcribed ------------------------------------------


def llm_d_infra_gateway(release_name: str, user_values: dict[str, Any]) -> dict[str, str]:
    """What llm-d-infra v1.4.0 renders, from its _helpers.tpl (gateway-infrastructure/):
    provider, className, fullname, serviceName and serviceType, over the chart defaults."""
    gateway = contracts.deep_merge(contracts.chart_defaults(INFRA_CHART), user_values)["gateway"]
    class_name = gateway.get("gatewayClassName") or ""
    provider = gateway.get("provider") or ""
    if not provider:
        provider = "istio" if class_name in ("", "istio") else "agentgateway"
    if class_name in ("kgateway", "agentgateway-v2"):
        resolved_class = "agentgateway"
    elif class_name:
        resolved_class = class_name
    else:
        resolved_class = "agentgateway" if provider in ("kgateway", "agentgateway") else provider
    fullname = gateway.get("fullnameOverride") or f"{release_name}-{gateway.get('nameOverride') or 'inference-gateway'}"
    fullname = fullname[:63].rstrip("-")
    exposure = gateway["exposure"].get("type") or (
        "external" if provider in ("kgateway", "agentgateway", "gke-l7-regional-external-managed") else "internal"
    )
    service_type = gateway["service"].get("type") or ("LoadBalancer" if exposure == "external" else "ClusterIP")
    return {
        "provider": provider,
        "class": resolved_class,
        "gateway": fullname,
        "service": f"{fullname}-istio" if resolved_class == "istio" else fullname,
        "serviceType": service_type,
    }


@pytest.mark.parametrize("gateway", ["istio", "agentgateway"])
def test_gateway_and_service_names_follow_the_chart(gateway: str) -> None:
    contracts.require_reference()
    recording = RUNS["cluster-ip"] if gateway == "agentgateway" else dict(ISTIO_RUNS)["dev"]
    infra = recording.release("llm-d-infra")
    rendered = llm_d_infra_gateway(infra.inputs["name"], values(infra))
    assert rendered["provider"] == rendered["class"] == gateway
    assert rendered["gateway"] == RELEASES.gateway
    route = recording.one("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
    assert route.inputs["spec"]["parentRefs"][0]["name"] == rendered["gateway"]
    # agentgateway names the Service after the Gateway (hashing names over 63 characters only).
    namespace = recording.outputs["namespace"]
    assert recording.outputs["gatewayService"] == f"{namespace}/{rendered['service']}:80"
    assert f"svc/{rendered['service']} " in recording.outputs["portForwardCommand"]
    assert RELEASES.gateway_service(rendered["class"]) == rendered["service"]


def test_service_names_per_class() -> None:
    assert RELEASES.gateway_service("istio") == "llm-d-infra-inference-gateway-istio"
    assert RELEASES.gateway_service("agentgateway") == "llm-d-infra-inference-gateway"


def test_inferencepool_provider_is_none(recording: Recording) -> None:
    # inferencepool v1.4.0 knows gke, istio and none; "istio" would render an Istio DestinationRule.
    assert values(recording.release("llm-d-inferencepool"))["provider"] == {"name": "none"}


# --- exposure --------------------------------------------------------------------------------


def service_of(recording: Recording) -> dict[str, Any]:
    """The gateway Service agentgateway would deploy: class-level parameters (those the
    controller's gatewayClassParametersRefs names) merged under llm-d-infra's Gateway-level
    AgentgatewayParameters, whose template sets only spec.type and spec.loadBalancerClass."""
    contracts.require_reference()
    infra = recording.release("llm-d-infra")
    rendered = llm_d_infra_gateway(infra.inputs["name"], values(infra))
    spec = {"type": rendered["serviceType"]}
    load_balancer_class = values(infra)["gateway"]["service"].get("loadBalancerClass")
    if load_balancer_class:
        spec["loadBalancerClass"] = load_balancer_class
    annotations: dict[str, str] = {}
    ref = values(recording.release("agentgateway")).get("gatewayClassParametersRefs", {}).get(rendered["class"])
    if ref is not None:
        (params,) = [
            p
            for p in parameters(recording)
            if (p.inputs["metadata"]["name"], p.inputs["metadata"]["namespace"]) == (ref["name"], ref["namespace"])
        ]
        annotations = dict(params.inputs["spec"]["service"]["metadata"]["annotations"])
    return {"annotations": annotations, "spec": spec}


def test_service_exposure(exposure: str, recording: Recording) -> None:
    scheme = EXPOSURES[exposure]
    service = service_of(recording)
    if scheme is None:
        # Explicit: llm-d-infra would make agentgateway's Service a LoadBalancer by default.
        assert service == {"annotations": {}, "spec": {"type": "ClusterIP"}}
        assert parameters(recording) == []
    else:
        assert service == {
            "annotations": {SCHEME: scheme},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": NLB_CLASS},
        }
    # gateway.annotations reach only the Gateway and the parameters object, never the Service.
    assert "annotations" not in values(recording.release("llm-d-infra"))["gateway"]


def test_class_parameters_refs_are_complete(recording: Recording) -> None:
    # templates/deployment.yaml (agentgateway v1.0.0) fails without name and namespace.
    refs = values(recording.release("agentgateway")).get("gatewayClassParametersRefs", {})
    for ref in refs.values():
        assert set(ref) == {"name", "namespace"} and all(ref.values())
    assert set(refs) <= {"agentgateway"}, "the controller creates only the agentgateway GatewayClass"


# --- contracts -------------------------------------------------------------------------------


def test_llm_d_values_are_valid_and_known(recording: Recording) -> None:
    contracts.require_reference()
    for release, chart in (("llm-d-infra", INFRA_CHART), ("llm-d-inferencepool", POOL_CHART)):
        assert contracts.validate_helm_values(chart, values(recording.release(release))) == [], release


def test_agentgateway_values_are_known(recording: Recording) -> None:
    for release, chart in (("agentgateway-crds", AGW_CRDS_CHART), ("agentgateway", AGW_CHART)):
        assert extra_reference.unknown_values_keys(chart, values(recording.release(release))) == [], release


def test_agentgateway_parameters_use_known_fields(recording: Recording) -> None:
    for params in parameters(recording):
        spec = params.inputs["spec"]
        assert extra_reference.key_list(AGW_CRDS_CHART, AGWP_FIELDS).unknown_fields(spec) == []
        assert all(isinstance(v, str) for v in spec["service"]["metadata"]["annotations"].values())


def test_key_checks_catch_typos() -> None:
    assert extra_reference.unknown_values_keys(AGW_CHART, {"inferenceExtension": {"enable": True}}) == [
        f"{AGW_CHART}: unknown values key 'inferenceExtension.enable'"
    ]
    assert extra_reference.unknown_values_keys(AGW_CHART, {"gatewayClassParametersRefs": {"x": {"name": "n"}}}) == []
    assert extra_reference.unknown_values_keys(AGW_CRDS_CHART, {"installGatewayApi": False}) != []
    fields = extra_reference.key_list(AGW_CRDS_CHART, AGWP_FIELDS)
    assert fields.unknown_fields({"service": {"annotations": {}}}) == ["service.annotations"]
    assert fields.unknown_fields({"service": {"spec": {"anything": 1}}}) == []  # a free-form overlay
    assert fields.unknown_fields({"env": [{"name": "A", "value": "1"}, {"name": "B", "valu": "2"}]}) == ["env[].valu"]


def test_crd_chart_installs_no_gateway_api_crds() -> None:
    """Gateway API v1.5+ rejects charts bundling older Gateway API CRDs (ARCHITECTURE §6); the
    pinned agentgateway-crds chart has no values to turn such CRDs off, and installs none."""
    crds = extra_reference.lines(AGW_CRDS_CHART, "crds.txt")
    assert crds and all(name.endswith(".agentgateway.dev") for name in crds)
    assert extra_reference.key_list(AGW_CRDS_CHART, extra_reference.VALUES_KEYS).keys == frozenset()


# --- switching gateways ----------------------------------------------------------------------


def test_switching_istio_to_agentgateway_keeps_cluster_vpc_and_llm_d_urns() -> None:
    """Stack-independent: mockrun.urns drops the stack, so runs of different stacks compare."""
    istio = dict(ISTIO_RUNS)["dev"]
    agentgateway = RUNS["cluster-ip"]
    assert cluster_and_vpc_urns(agentgateway) == cluster_and_vpc_urns(istio)
    control_plane = ["llmd:gateway:GatewayControlPlane"]
    assert len(mockrun.urns(istio, control_plane)) == 1
    assert mockrun.urns(agentgateway, control_plane) == mockrun.urns(istio, control_plane)
    # The llm-d releases are updated in place, not replaced.
    for name in ("llm-d-infra", "llm-d-inferencepool", "llm-d-modelservice"):
        assert agentgateway.release(name).urn.split("::", 1)[1] == istio.release(name).urn.split("::", 1)[1]
