"""Day-2 operations: observability, autoscaling, the S3 model cache and LoRA, each on and off.

Charts and CRDs not in ../shared/reference (kube-prometheus-stack, keda, the
PrometheusRule CRD) are checked against the key lists in tests/reference_extra
(see their PROVENANCE). Monitors the llm-d charts render from our values are
rebuilt here the way their templates build them and validated against the
reference PodMonitor/ServiceMonitor CRDs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import mockrun, versions
from components.config import ConfigError, not_implemented, resolve
from components.jobs import copy_model_to_s3 as copier
from components.mockrun import Recording, Registration
from components.plan import gpu_operator, model_cache, observability, pod_identity
from components.plan.guardrails import Severity, evaluate
from components.plan.names import RELEASES, modelservice_fullname
from tests import contracts, extra_reference
from tests.conftest import HF_TOKEN, base_config, cluster_and_vpc_urns, run_program, stack_config, values
from tests.test_reference import LIST_ITEM_KEYS

RELEASE = "kubernetes:helm.sh/v3:Release"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
JOB = "kubernetes:batch/v1:Job"
BUCKET = "aws:s3/bucket:Bucket"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ACCOUNT = "123456789012"  # components.mockrun's caller identity
KPS_CHART = "kube-prometheus-stack-88.3.0"  # tests/reference_extra folders (see their PROVENANCE)
KEDA_CHART = "keda-2.20.2"
PROMETHEUS_RULE_FIELDS = ("prometheus-operator-v0.93.0", "prometheusrule-v1-fields.txt")
ROOT = Path(__file__).resolve().parent.parent

OBSERVABILITY_ON = {"observability": {"enabled": True}}
AUTOSCALING_ON = {
    **OBSERVABILITY_ON,
    "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 2, "queueDepthTarget": 4},
}
OFF_PEAK = {
    **OBSERVABILITY_ON,
    "autoscaling": {
        "enabled": True,
        "minReplicas": 2,
        "maxReplicas": 2,
        "offPeak": {"timezone": "Europe/Berlin", "start": "0 21 * * *", "end": "0 7 * * *", "replicas": 1},
    },
}
CACHE_ON = {"modelCache": {"enabled": True}}
EXISTING_BUCKET = {"modelCache": {"enabled": True, "bucket": "team-models", "prefix": "llm/"}}
LORA = {"model": {"loraAdapters": [{"name": "sql", "source": "hf://acme/qwen3-sql-lora"}]}}
EVERYTHING = {**AUTOSCALING_ON, **CACHE_ON}


def _run(hf_token: bool = False, **overrides: Any) -> Recording:
    config = base_config()
    for key, value in overrides.items():
        full = f"llmd-eks:{key}"
        config[full] = {**config.get(full, {}), **value}
    secrets = {"llmd-eks:hfToken": HF_TOKEN} if hf_token else {}
    return run_program("ops", config, secrets)


RUNS = {
    "off": _run(),
    "observability": _run(**OBSERVABILITY_ON),
    "autoscaling": _run(**AUTOSCALING_ON),
    "off-peak": _run(**OFF_PEAK),
    "cache": _run(hf_token=True, **CACHE_ON),
    "cache-no-token": _run(**CACHE_ON),
    "existing-bucket": _run(**EXISTING_BUCKET),
    "lora": _run(**LORA),
    "everything": _run(hf_token=True, **EVERYTHING, **LORA),
}
PROD = run_program(*stack_config(ROOT / "Pulumi.prod.yaml"))


def releases(rec: Recording) -> dict[str, Registration]:
    return {r.inputs["name"]: r for r in rec.helm_releases()}


def settings_for(**overrides: Any):
    raw = {"model": {"name": "Qwen/Qwen3-8B", "tensorParallelism": 1, "replicas": 2}, **overrides}
    return resolve(raw, "unit", region="us-west-2")


def assert_valid(obj: dict[str, Any]) -> None:
    contracts.require_reference()
    assert contracts.validate_custom_resource(obj) == []


# ---- everything off ---------------------------------------------------------------


def test_features_off_create_nothing_extra() -> None:
    rec = RUNS["off"]
    assert set(releases(rec)) == {"istio-base", "istiod", "llm-d-infra", "llm-d-inferencepool", "llm-d-modelservice"}
    assert not rec.of_type(SCALED_OBJECT) and not rec.of_type(PROMETHEUS_RULE) and not rec.of_type(JOB)
    assert not [r for r in rec.resources if r.type.startswith(("aws:s3", "aws:eks/podIdentity"))]
    ms, pool = values(releases(rec)["llm-d-modelservice"]), values(releases(rec)["llm-d-inferencepool"])
    assert "monitoring" not in ms["decode"] and "monitoring" not in pool["inferenceExtension"]
    container = ms["decode"]["containers"][0]
    assert ms["modelArtifacts"]["uri"].startswith("hf://") and container["mountModelVolume"] is True
    assert not {"--enable-lora", "--load-format"} & set(container["args"])
    assert rec.outputs["loraAdapters"] == [] and "grafana" not in rec.outputs and "modelCacheUri" not in rec.outputs
    assert {"kubePrometheusStack", "keda", "modelCopyImage"}.isdisjoint(rec.outputs["versions"])


def test_versions_output_lists_what_the_features_deploy() -> None:
    versions = RUNS["everything"].outputs["versions"]
    assert versions["kubePrometheusStack"] == "88.3.0" and versions["keda"] == "2.20.2"
    assert versions["modelCopyImage"] == "docker.io/library/python:3.12-slim"


@pytest.mark.parametrize("name", sorted(RUNS))
def test_features_keep_cluster_and_vpc_urns(name: str) -> None:
    assert cluster_and_vpc_urns(RUNS[name]) == cluster_and_vpc_urns(RUNS["off"])


# ---- observability ------------------------------------------------------------------


def test_prod_has_observability_and_dev_does_not() -> None:
    assert "kube-prometheus-stack" in releases(PROD) and "grafana" in PROD.outputs
    dev = run_program(*stack_config(ROOT / "Pulumi.dev.yaml"))
    assert "kube-prometheus-stack" not in releases(dev) and "grafana" not in dev.outputs


def test_kube_prometheus_stack_is_pinned_and_selects_every_namespace() -> None:
    kps = releases(RUNS["observability"])["kube-prometheus-stack"]
    assert (kps.inputs["chart"], kps.inputs["version"]) == ("kube-prometheus-stack", "88.3.0")
    assert kps.inputs["repositoryOpts"]["repo"] == "https://prometheus-community.github.io/helm-charts"
    assert kps.inputs["namespace"] == "monitoring"
    spec = values(kps)["prometheus"]["prometheusSpec"]
    for switch in observability.SELECT_ALL_SWITCHES:
        assert spec[switch] is False, switch
    assert all(values(kps)[c] == {"enabled": False} for c in observability.UNREACHABLE_TARGETS)
    sidecar = values(kps)["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["label"], sidecar["labelValue"], sidecar["searchNamespace"]) == ("grafana_dashboard", "1", "ALL")


def test_kube_prometheus_stack_values_are_known_keys() -> None:
    kps = values(releases(RUNS["observability"])["kube-prometheus-stack"])
    assert extra_reference.unknown_values_keys(KPS_CHART, kps) == []
    assert extra_reference.unknown_values_keys(KPS_CHART, {"grafana": {"adminPasword": "x"}}) == [
        f"{KPS_CHART}: unknown values key 'grafana.adminPasword'"
    ]


def test_llm_d_charts_switch_their_monitors_on() -> None:
    rel = releases(RUNS["observability"])
    podmonitor = values(rel["llm-d-modelservice"])["decode"]["monitoring"]["podmonitor"]
    assert podmonitor == {"enabled": True, "portName": "metrics", "path": "/metrics", "interval": "15s"}
    port_names = [p["name"] for p in values(rel["llm-d-modelservice"])["decode"]["containers"][0]["ports"]]
    assert podmonitor["portName"] in port_names
    prom = values(rel["llm-d-inferencepool"])["inferenceExtension"]["monitoring"]["prometheus"]
    assert prom == {"enabled": True, "auth": {"enabled": True, "secretName": "llm-d-inferencepool-epp-metrics-reader"}}


def test_monitors_the_charts_render_are_valid() -> None:
    """PodMonitor and ServiceMonitor as the chart templates build them from our values."""
    rel = releases(RUNS["observability"])
    ms = values(rel["llm-d-modelservice"])
    pm = ms["decode"]["monitoring"]["podmonitor"]
    pod_monitor = {  # llm-d-modelservice templates/decode-podmonitor.yaml
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": f"{RELEASES.decode_deployment}-podmonitor", "namespace": "llm-d"},
        "spec": {
            "selector": {"matchLabels": {**ms["modelArtifacts"]["labels"], "llm-d.ai/role": "decode"}},
            "podMetricsEndpoints": [{"port": pm["portName"], "path": pm["path"], "interval": pm["interval"]}],
        },
    }
    assert_valid(pod_monitor)
    prom = values(rel["llm-d-inferencepool"])["inferenceExtension"]["monitoring"]
    epp = f"{RELEASES.inferencepool}-epp"
    service_monitor = {  # gateway-api-inference-extension config/charts/epplib/templates/_servicemonitor.yaml
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": f"{epp}-monitor", "namespace": "llm-d"},
        "spec": {
            "endpoints": [
                {
                    "interval": "10s",
                    "port": "http-metrics",
                    "path": "/metrics",
                    "authorization": {
                        "credentials": {"key": "token", "name": prom["prometheus"]["auth"]["secretName"]}
                    },
                }
            ],
            "jobLabel": epp,
            "namespaceSelector": {"matchNames": ["llm-d"]},
            "selector": {"matchLabels": {"app.kubernetes.io/name": epp}},
        },
    }
    assert_valid(service_monitor)


def test_monitors_wait_for_the_prometheus_operator_crds() -> None:
    rec = RUNS["observability"]
    rel = releases(rec)
    kps = rel["kube-prometheus-stack"].urn
    assert kps in rec.waits_for(rel["llm-d-modelservice"])
    assert kps in rec.waits_for(rel["llm-d-inferencepool"])
    assert kps in rec.waits_for(rec.one(PROMETHEUS_RULE))


def test_dashboard_configmap_is_picked_up_by_the_grafana_sidecar() -> None:
    cm = RUNS["observability"].one("kubernetes:core/v1:ConfigMap", "observability-dashboards").inputs
    assert cm["metadata"]["labels"] == {"grafana_dashboard": "1"}
    dashboard = json.loads(cm["data"]["llmd-eks-serving.json"])
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in (
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:e2e_request_latency_seconds_bucket",
        "vllm:prefix_cache_hits_total",
        "vllm:prefix_cache_queries_total",
    ):
        assert metric in exprs, metric
    assert 'namespace="llm-d"' in exprs
    assert "DCGM_FI_DEV_GPU_UTIL" not in exprs, "phase 1 runs no DCGM exporter"
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def _shows_dcgm(dashboard: dict[str, Any]) -> bool:
    return any("DCGM_FI_DEV_GPU_UTIL" in t["expr"] for p in dashboard["panels"] for t in p["targets"])


def test_dashboard_shows_dcgm_where_the_gpu_operator_runs() -> None:
    assert _shows_dcgm(observability.dashboard(settings_for(gpu={"operator": True})))


@pytest.mark.parametrize(
    "where",
    [
        {"model": {"name": "Qwen/Qwen3-8B", "simulate": True, "replicas": 2}},
        {"cluster": {"mode": "existing", "kubeconfigContext": "kind-llmd"}},
    ],
    ids=["simulated", "existing-cluster"],
)
def test_dashboard_has_no_dcgm_panel_where_the_operator_is_not_deployed(where: dict[str, Any]) -> None:
    """Phase 1.5 asks for the operator, but only GPU capacity this program creates gets it."""
    settings = settings_for(phase="1.5", **where)
    assert settings.gpu.operator and not gpu_operator.deployed(settings)
    assert not _shows_dcgm(observability.dashboard(settings))


@pytest.mark.parametrize(("stack", "deployed"), [("Pulumi.phase2a.yaml", True), ("Pulumi.sim.yaml", False)])
def test_dcgm_panel_follows_the_operator_release(stack: str, deployed: bool) -> None:
    """Both stacks in a phase whose preset asks for the operator; the simulated one gets none."""
    name, config, secrets = stack_config(ROOT / stack)
    if not deployed:
        config["llmd-eks:phase"] = "1.5"
    config["llmd-eks:observability"] = {"enabled": True}
    rec = run_program(name, config, secrets)
    cm = rec.one("kubernetes:core/v1:ConfigMap", "observability-dashboards").inputs
    dashboard = json.loads(cm["data"]["llmd-eks-serving.json"])
    assert _shows_dcgm(dashboard) is deployed
    assert bool([r for r in rec.helm_releases() if r.inputs["name"] == "gpu-operator"]) is deployed


@pytest.mark.parametrize("simulate", [False, True], ids=["vllm", "simulator"])
def test_dashboard_and_alert_read_the_profiles_kv_cache_metric(monkeypatch: pytest.MonkeyPatch, simulate: bool) -> None:
    """The name comes from the version profile (vLLM's is the endpoint picker's), not a literal."""
    profile = versions.PROFILES["v0.6"]
    renamed = dataclasses.replace(
        profile,
        epp_kv_cache_metric="vllm:gpu_cache_usage_perc",
        simulator_image=dataclasses.replace(profile.simulator_image, kv_cache_metric="sim:kv_cache_usage_perc"),
    )
    monkeypatch.setitem(versions.PROFILES, "v0.6", renamed)
    model = {"name": "Qwen/Qwen3-8B", "tensorParallelism": 1, "replicas": 2, "simulate": simulate}
    settings = settings_for(model=model)
    expected = "sim:kv_cache_usage_perc" if simulate else "vllm:gpu_cache_usage_perc"
    [panel] = [p for p in observability.dashboard(settings)["panels"] if p["title"] == "KV-cache usage"]
    rules = observability.prometheus_rule_spec(settings)["groups"][0]["rules"]
    [alert] = [r for r in rules if r["alert"] == "LlmdKvCacheSaturated"]
    for expr in (panel["targets"][0]["expr"], alert["expr"]):
        assert f"{expected}{{" in expr and "vllm:kv_cache_usage_perc" not in expr


def test_alert_rules_are_valid_and_cover_the_seed_cases() -> None:
    rule = RUNS["observability"].one(PROMETHEUS_RULE).inputs
    fields = extra_reference.key_list(*PROMETHEUS_RULE_FIELDS)
    obj = {"apiVersion": rule["apiVersion"], "kind": rule["kind"], "metadata": rule["metadata"], "spec": rule["spec"]}
    assert fields.unknown_fields(obj) == []
    assert fields.missing_required(obj) == []
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {"LlmdQueueGrowing", "LlmdKvCacheSaturated", "LlmdModelServersNotReady"}
    assert "vllm:num_requests_waiting" in alerts["LlmdQueueGrowing"]["expr"]
    assert "vllm:kv_cache_usage_perc" in alerts["LlmdKvCacheSaturated"]["expr"]
    assert modelservice_fullname(RELEASES.modelservice) in alerts["LlmdModelServersNotReady"]["expr"]
    # A broken rule is caught: an unknown field and a missing expr.
    broken = {"spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expresion": "1"}]}]}}
    assert fields.unknown_fields(broken) == ["spec.groups[].rules[].expresion"]
    assert fields.missing_required(broken) == ["spec.groups[].rules[].expr"]


def test_grafana_output_says_how_to_reach_it() -> None:
    grafana = RUNS["observability"].outputs["grafana"]
    assert (
        grafana["portForwardCommand"] == "kubectl port-forward -n monitoring svc/kube-prometheus-stack-grafana 3000:80"
    )
    assert "kube-prometheus-stack-grafana" in grafana["adminPasswordCommand"]
    assert grafana["url"] == "http://localhost:3000"


def test_grafana_commands_aim_at_an_existing_clusters_context() -> None:
    """Like portForwardCommand: the commands work whatever kubectl's current context is."""
    stack, config, _ = stack_config(ROOT / "Pulumi.local.yaml")
    config["llmd-eks:observability"] = {"enabled": True}
    rec = run_program(stack, config)
    grafana = rec.outputs["grafana"]
    assert rec.outputs["portForwardCommand"].startswith("kubectl --context kind-llmd port-forward ")
    assert grafana["portForwardCommand"].startswith("kubectl --context kind-llmd port-forward -n monitoring ")
    assert grafana["adminPasswordCommand"].startswith("kubectl --context kind-llmd get secret -n monitoring ")


def test_chart_derived_names() -> None:
    assert observability.fullname("kube-prometheus-stack") == "kube-prometheus-stack"
    assert observability.fullname("monitor-x") == "monitor-x-kube-prometheus"  # cut to 26, no trailing dash
    assert observability.prometheus_url() == "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
    assert observability.grafana_service("kube-prometheus-stack") == "kube-prometheus-stack-grafana"
    assert RELEASES.decode_deployment == "llm-d-modelservice-decode"
    assert pod_identity.model_server_service_account() == "llm-d-modelservice"


# ---- autoscaling ------------------------------------------------------------------------


def test_keda_and_scaled_object() -> None:
    rec = RUNS["autoscaling"]
    keda = releases(rec)["keda"]
    assert (keda.inputs["chart"], keda.inputs["version"], keda.inputs["namespace"]) == ("keda", "2.20.2", "keda")
    scaled = rec.one(SCALED_OBJECT).inputs
    obj = {k: scaled[k] for k in ("apiVersion", "kind", "metadata", "spec")}
    assert_valid(obj)
    spec = scaled["spec"]
    assert scaled["metadata"]["namespace"] == "llm-d"
    # The modelservice chart names its decode Deployment "<fullname>-decode".
    ms_release = releases(rec)["llm-d-modelservice"].inputs["name"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{modelservice_fullname(ms_release)}-decode",
    }
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 2)
    [trigger] = spec["triggers"]
    assert (trigger["type"], trigger["metricType"]) == ("prometheus", "AverageValue")
    assert trigger["metadata"]["threshold"] == "4"
    assert trigger["metadata"]["serverAddress"] == observability.prometheus_url()
    assert (
        'vllm:num_requests_waiting{namespace="llm-d",pod=~"llm-d-modelservice-decode-.+"}'
        in trigger["metadata"]["query"]
    )
    assert values(releases(rec)["llm-d-modelservice"])["decode"]["replicas"] == 1


def test_keda_values_are_known_keys() -> None:
    assert extra_reference.unknown_values_keys(KEDA_CHART, values(releases(RUNS["autoscaling"])["keda"])) == []
    assert extra_reference.unknown_values_keys(KEDA_CHART, {"operator": {"replicas": 1}}) == [
        f"{KEDA_CHART}: unknown values key 'operator.replicas'"
    ]


def test_keda_comes_before_the_scaled_object() -> None:
    rec = RUNS["autoscaling"]
    rel = releases(rec)
    waits = rec.waits_for(rec.one(SCALED_OBJECT))
    assert {rel["keda"].urn, rel["llm-d-modelservice"].urn, rel["kube-prometheus-stack"].urn} <= waits
    assert rel["kube-prometheus-stack"].urn in rec.waits_for(rel["keda"]), "KEDA's ServiceMonitor needs the CRDs"


def test_off_peak_is_a_low_floor_with_a_peak_hours_cron() -> None:
    spec = RUNS["off-peak"].one(SCALED_OBJECT).inputs["spec"]
    assert spec["minReplicaCount"] == 1
    cron = next(t for t in spec["triggers"] if t["type"] == "cron")
    # Peak hours run from the end of the off-peak window to its start.
    assert cron["metadata"] == {
        "timezone": "Europe/Berlin",
        "start": "0 7 * * *",
        "end": "0 21 * * *",
        "desiredReplicas": "2",
    }


def test_autoscaling_off_without_keda() -> None:
    assert "keda" not in releases(RUNS["observability"]) and not RUNS["observability"].of_type(SCALED_OBJECT)


BUDGET_CASES = [
    # (overrides, ok): dev has gpu.maxGpus 2, TP 1
    ({"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 2}}, True),
    ({"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3}}, False),
    ({"autoscaling": {"enabled": True, "maxReplicas": 2, "minReplicas": 1}, "model": {"tensorParallelism": 2}}, False),
]


@pytest.mark.parametrize(("overrides", "ok"), BUDGET_CASES)
def test_gpu_budget_bounds_max_replicas(overrides: dict[str, Any], ok: bool) -> None:
    raw = {"gpu": {"maxGpus": 2}, "model": {"tensorParallelism": 1}, **OBSERVABILITY_ON}
    for key, value in overrides.items():
        raw[key] = {**raw.get(key, {}), **value}
    findings = [f for f in evaluate(resolve(raw, "s", region="us-west-2")) if f.id == "GR-AUTOSCALING-GPU-BUDGET"]
    assert (findings == []) is ok
    if not ok:
        assert findings[0].severity == Severity.ERROR
        assert findings[0].key == "llmd-eks:autoscaling.maxReplicas"
        assert "gpu.maxGpus (2)" in findings[0].message


def test_gpu_budget_counts_prefill_gpus() -> None:
    raw = {
        "gpu": {"maxGpus": 16},
        "model": {"tensorParallelism": 2},
        "serving": {"path": "pd-disaggregation", "prefill": {"replicas": 2, "tensorParallelism": 4}},
        "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 5},
        **OBSERVABILITY_ON,
    }
    [finding] = [f for f in evaluate(resolve(raw, "s", region="us-west-2")) if f.id == "GR-AUTOSCALING-GPU-BUDGET"]
    assert "5 replicas x 2 GPUs + 8 prefill GPUs = 18 GPUs" in finding.message
    assert "at most 4" in finding.message


def test_budget_violation_registers_nothing() -> None:
    recording = mockrun.Recording()
    config = base_config(**OBSERVABILITY_ON, autoscaling={"enabled": True, "minReplicas": 1, "maxReplicas": 8})
    with pytest.raises(pulumi.RunError, match=r"\[GR-AUTOSCALING-GPU-BUDGET\] llmd-eks:autoscaling.maxReplicas"):
        mockrun.run_program("bad", config, recording=recording)
    assert recording.resources == []


@pytest.mark.parametrize(
    ("raw", "rule", "severity", "key"),
    [
        (
            {"autoscaling": {"enabled": True}, "observability": {"enabled": False}},
            "GR-AUTOSCALING-NEEDS-OBSERVABILITY",
            Severity.ERROR,
            "autoscaling.enabled",
        ),
        (
            {"autoscaling": {"enabled": True, "minReplicas": 0, "maxReplicas": 1}, **OBSERVABILITY_ON},
            "GR-AUTOSCALING-FROM-ZERO",
            Severity.ERROR,
            "autoscaling.minReplicas",
        ),
        (
            {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 1, "offPeak": {"replicas": 0}}},
            "GR-AUTOSCALING-FROM-ZERO",
            Severity.WARNING,
            "autoscaling.offPeak.replicas",
        ),
        (
            {"phase": "3", "modelCache": {"enabled": True}},
            "GR-OPERATIONS-LLMD-ONLY",
            Severity.ERROR,
            "modelCache.enabled",
        ),
        (
            {"model": {"simulate": True}, "modelCache": {"enabled": True}},
            "GR-MODELCACHE-EKS-VLLM",
            Severity.ERROR,
            "modelCache.enabled",
        ),
        (
            {"model": {"simulate": True, "loraAdapters": [{"name": "a", "source": "hf://o/a"}]}},
            "GR-SIM-LORA",
            Severity.WARNING,
            "model.loraAdapters",
        ),
    ],
)
def test_operations_guardrails(raw: dict[str, Any], rule: str, severity: Severity, key: str) -> None:
    raw = {"gpu": {"maxGpus": 16}, **raw}
    found = [f for f in evaluate(resolve(raw, "s", region="us-west-2")) if f.id == rule]
    assert [(f.severity, f.key) for f in found] == [(severity, f"llmd-eks:{key}")]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"autoscaling": {"minReplicas": 3, "maxReplicas": 2}}, "llmd-eks:autoscaling: minReplicas (3) is larger"),
        ({"autoscaling": {"offPeak": {"replicas": 3}}}, "offPeak.replicas (3) is larger than minReplicas (2)"),
        ({"autoscaling": {"offPeak": {"start": "every night"}}}, "llmd-eks:autoscaling.offPeak.start"),
        ({"modelCache": {"bucket": "Team_Models"}}, "llmd-eks:modelCache.bucket"),
        ({"modelCache": {"prefix": "/models"}}, "llmd-eks:modelCache.prefix"),
        ({"modelCache": {"prefix": "models"}}, "llmd-eks:modelCache.prefix"),
        (
            {"model": {"loraAdapters": [{"name": "a", "source": "hf://o/x"}, {"name": "a", "source": "hf://o/y"}]}},
            "llmd-eks:model.loraAdapters: adapter names must be unique",
        ),
    ],
)
def test_bad_operations_configuration_names_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        resolve(raw, "s", region="us-west-2")
    assert message in str(error.value)


def test_operations_are_built_not_refused() -> None:
    settings = settings_for(**EVERYTHING, **LORA)
    assert not_implemented(settings) == []
    s3_lora = settings_for(model={"loraAdapters": [{"name": "a", "source": "s3://bucket/adapters/a"}]})
    assert not_implemented(s3_lora) == []


# ---- S3 model cache ------------------------------------------------------------------------


def _policy(rec: Recording, name: str) -> dict[str, Any]:
    return json.loads(rec.one(ROLE_POLICY, name).inputs["policy"])


def test_created_bucket_is_private_encrypted_unversioned() -> None:
    rec = RUNS["cache"]
    bucket = rec.one(BUCKET).inputs
    assert bucket["bucket"] == f"llmd-ops-model-cache-{ACCOUNT}-us-west-2"
    block = rec.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    sse = rec.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert rec.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    assert not [r for r in rec.resources if "ersioning" in r.type], "versioning stays off"
    lifecycle = rec.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle[0]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    tls = json.loads(rec.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"][0]
    assert (tls["Effect"], tls["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_bucket_name_fits_s3_rules() -> None:
    name = model_cache.bucket_name("My_Very-Long-Cluster-Name-That-Goes-On-And-On", ACCOUNT, "ap-southeast-2")
    assert len(name) <= 63 and name == name.lower() and name.endswith(f"-model-cache-{ACCOUNT}-ap-southeast-2")
    assert "_" not in name and not name.startswith("-")


def test_reader_policy_is_read_only_on_the_prefix() -> None:
    policy = _policy(RUNS["cache"], "model-server-model-cache")
    bucket = f"llmd-ops-model-cache-{ACCOUNT}-us-west-2"
    assert policy == model_cache.reader_policy(bucket, "models/")
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"s3:ListBucket", "s3:GetObject"}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and "*" not in statement["Action"]
        resource = statement["Resource"]
        assert resource in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/models/*")
    listing = next(s for s in policy["Statement"] if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/*"]}}


def test_writer_policy_writes_the_prefix_and_deletes_nothing() -> None:
    policy = _policy(RUNS["cache"], "model-cache-writer")
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "s3:PutObject" in actions
    assert not any(a.startswith(("s3:Delete", "s3:PutBucket")) or a.endswith("*") for a in actions)
    assert all(
        s["Resource"].startswith(f"arn:aws:s3:::llmd-ops-model-cache-{ACCOUNT}-us-west-2") for s in policy["Statement"]
    )


def test_roles_trust_only_pod_identity_of_this_account() -> None:
    for role in ("model-server", "model-cache-writer"):
        trust = json.loads(RUNS["cache"].one("aws:iam/role:Role", role).inputs["assumeRolePolicy"])
        [statement] = trust["Statement"]
        assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_pod_identity_for_the_chart_service_accounts() -> None:
    rec = RUNS["cache"]
    reader = rec.one(POD_IDENTITY, "model-server").inputs
    writer = rec.one(POD_IDENTITY, "model-cache-writer").inputs
    ms_release = releases(rec)["llm-d-modelservice"].inputs["name"]
    # llm-d-modelservice runs its pods as its fullname ServiceAccount (no serviceAccountOverride).
    assert "serviceAccountOverride" not in values(releases(rec)["llm-d-modelservice"])
    assert (reader["namespace"], reader["serviceAccount"]) == ("llm-d", modelservice_fullname(ms_release))
    assert (writer["namespace"], writer["serviceAccount"]) == ("llm-d", model_cache.WRITER_SERVICE_ACCOUNT)
    assert reader["clusterName"] == rec.one("eks:index:Cluster").inputs["name"]
    assert rec.one("eks:index:Cluster").urn in rec.waits_for(rec.one(POD_IDENTITY, "model-server"))
    assert reader["roleArn"].endswith(f":role/{rec.one(ROLE_POLICY, 'model-server-model-cache').inputs['role']}")


def test_model_servers_stream_from_s3() -> None:
    rec = RUNS["cache"]
    ms = values(releases(rec)["llm-d-modelservice"])
    uri = f"s3://llmd-ops-model-cache-{ACCOUNT}-us-west-2/models/Qwen/Qwen3-8B"
    container = ms["decode"]["containers"][0]
    assert ms["modelArtifacts"]["uri"] == uri and rec.outputs["modelCacheUri"] == uri
    args = container["args"]
    assert args[args.index("--model") + 1] == uri
    assert args[args.index("--load-format") + 1] == "runai_streamer"
    assert container["mountModelVolume"] is False
    assert {"name": "AWS_REGION", "value": "us-west-2"} in container["env"]
    assert "VLLM_S3_MODEL_CACHE" not in json.dumps(ms)


def test_pod_identity_and_copy_come_before_the_model_servers() -> None:
    rec = RUNS["cache"]
    ms = releases(rec)["llm-d-modelservice"]
    job = rec.one(JOB)
    assert {rec.one(POD_IDENTITY, "model-server").urn, job.urn} <= rec.waits_for(ms)
    assert rec.one(ROLE_POLICY, "model-server-model-cache").urn in rec.waits_for(ms)
    job_waits = rec.waits_for(job)
    assert {rec.one(POD_IDENTITY, "model-cache-writer").urn, rec.one(BUCKET).urn} <= job_waits
    assert rec.one("kubernetes:core/v1:Secret", "llm-d-hf-token").urn in job_waits


def test_copy_job() -> None:
    job = RUNS["cache"].one(JOB).inputs
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert job["metadata"]["namespace"] == "llm-d"
    assert pod["serviceAccountName"] == model_cache.WRITER_SERVICE_ACCOUNT
    assert container["image"] == "docker.io/library/python:3.12-slim"
    assert "huggingface-hub==2.4.0" in container["command"][2] and "boto3==1.44.5" in container["command"][2]
    assert env["MODEL"]["value"] == "Qwen/Qwen3-8B"
    assert env["KEY_PREFIX"]["value"] == "models/Qwen/Qwen3-8B/"
    assert env["HF_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "llm-d-hf-token", "key": "HF_TOKEN"}}
    assert HF_TOKEN not in json.dumps(job)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    writable = container["volumeMounts"][0]["mountPath"]
    assert all(env[k]["value"].startswith(writable) for k in ("HOME", "TMPDIR", "HF_HOME", "PYTHONPATH", "WORK_DIR"))
    script = RUNS["cache"].one("kubernetes:core/v1:ConfigMap", "model-cache-copy-script").inputs["data"]
    assert script["copy_model_to_s3.py"] == (ROOT / "components" / "jobs" / "copy_model_to_s3.py").read_text()
    no_token = RUNS["cache-no-token"].one(JOB).inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "HF_TOKEN" not in {e["name"] for e in no_token}


def test_existing_bucket_is_used_not_created() -> None:
    rec = RUNS["existing-bucket"]
    assert not [r for r in rec.resources if r.type.startswith("aws:s3")]
    assert _policy(rec, "model-server-model-cache") == model_cache.reader_policy("team-models", "llm/")
    assert rec.outputs["modelCacheUri"] == "s3://team-models/llm/Qwen/Qwen3-8B"


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.calls: list[str] = []

    def list_objects_v2(self, *, Bucket: str, Prefix: str, MaxKeys: int) -> dict[str, Any]:  # noqa: N803
        keys = sorted(k for k in self.objects if k.startswith(Prefix))[:MaxKeys]
        return {"KeyCount": len(keys), "Contents": [{"Key": k} for k in keys]} if keys else {"KeyCount": 0}

    def upload_file(self, Filename: str, Bucket: str, Key: str) -> None:  # noqa: N803
        self.objects[Key] = Path(Filename).read_bytes()
        self.calls.append(Key)

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803
        self.objects[Key] = Body
        self.calls.append(Key)


def test_copy_script_copies_file_by_file_and_marks_completion(tmp_path: Path) -> None:
    repo = ["config.json", "model-00001.safetensors", "model-00002.safetensors", "pytorch_model.bin", "tokenizer.json"]
    seen_on_disk: list[int] = []

    def download(name: str, local_dir: str) -> str:
        seen_on_disk.append(len(list(Path(local_dir).iterdir())))
        path = Path(local_dir) / name
        path.write_bytes(name.encode())
        return str(path)

    s3 = FakeS3()
    count = copier.copy(repo, download, s3, "b", "models/org/m/", tmp_path)
    assert count == 4 and "models/org/m/pytorch_model.bin" not in s3.objects
    assert s3.calls[-1] == "models/org/m/.llmd-eks-complete"
    assert s3.objects["models/org/m/config.json"] == b"config.json"
    assert max(seen_on_disk) == 0 and list(tmp_path.iterdir()) == [], "one file on disk at a time"
    assert copier.is_cached(s3, "b", "models/org/m/")
    assert not copier.is_cached(FakeS3(), "b", "models/org/m/")
    partial = FakeS3()
    partial.objects["models/org/m/.llmd-eks-complete.tmp"] = b""
    assert not copier.is_cached(partial, "b", "models/org/m/"), "only the exact marker counts"
    with pytest.raises(SystemExit, match="safetensors"):
        copier.files_to_copy(["config.json", "pytorch_model.bin"])


# ---- LoRA ----------------------------------------------------------------------------------


def test_lora_adapters() -> None:
    rec = RUNS["lora"]
    container = values(releases(rec)["llm-d-modelservice"])["decode"]["containers"][0]
    args = container["args"]
    assert "--enable-lora" in args
    assert args[args.index("--lora-modules") + 1] == "sql=acme/qwen3-sql-lora"
    assert args[args.index("--max-loras") + 1] == "1"
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in container["env"]
    assert rec.outputs["loraAdapters"] == [{"name": "sql", "source": "hf://acme/qwen3-sql-lora"}]


# ---- the llm-d values with every feature on, against the reference charts -----------------


def test_llm_d_values_with_every_feature_are_valid_and_known() -> None:
    contracts.require_reference()
    rel = releases(RUNS["everything"])
    ms, pool = values(rel["llm-d-modelservice"]), values(rel["llm-d-inferencepool"])
    chart = "llm-d-modelservice-v0.4.9"
    assert contracts.validate_helm_values(chart, ms, LIST_ITEM_KEYS[chart]) == []
    assert contracts.validate_helm_values("inferencepool-v1.4.0", pool) == []
    typo = {**ms, "decode": {**ms["decode"], "monitoring": {"podmonitor": {"enabeld": True}}}}
    assert contracts.validate_helm_values(chart, typo, LIST_ITEM_KEYS[chart]) != []


def test_simulated_servers_get_monitoring_and_autoscaling_only() -> None:
    rec = _run(model={"simulate": True, **LORA["model"]}, **AUTOSCALING_ON)
    ms = values(releases(rec)["llm-d-modelservice"])
    assert ms["decode"]["monitoring"]["podmonitor"]["enabled"] is True
    assert "--enable-lora" not in ms["decode"]["containers"][0]["args"]
    assert rec.one(SCALED_OBJECT).inputs["spec"]["maxReplicaCount"] == 2


def test_features_apply_to_prefill_servers_too() -> None:
    from components.plan import operations

    base = {
        "modelArtifacts": {"uri": "hf://o/m"},
        "decode": {"create": True, "containers": [{"name": "vllm", "args": ["--x"]}]},
        "prefill": {"create": True, "containers": [{"name": "vllm", "args": []}, {"name": "sidecar"}]},
    }
    out = operations.apply_to_modelservice(base, settings_for(**EVERYTHING, **LORA), "bkt")
    for role in ("decode", "prefill"):
        assert out[role]["monitoring"]["podmonitor"]["enabled"] is True
        vllm = out[role]["containers"][0]
        assert "runai_streamer" in vllm["args"] and "--enable-lora" in vllm["args"]
        assert vllm["mountModelVolume"] is False
    assert out["prefill"]["containers"][1] == {"name": "sidecar"}
    assert base["decode"]["containers"][0]["args"] == ["--x"], "the input is not modified"
