"""LoRA adapters from s3://: the fetch before vLLM starts, the read grant, the one Pod Identity
association of the model-server ServiceAccount, guardrails; hf:// adapters as before."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import mockrun
from components.config import ConfigError, S3Location, resolve
from components.mockrun import Recording, Registration
from components.plan import lora
from components.plan.guardrails import Severity, evaluate
from tests import contracts
from tests.conftest import ROOT, base_config, run_program, stack_config
from tests.test_phases_2a_3 import _without_pod_extra
from tests.test_reference import LIST_ITEM_KEYS

IDENTITY = "llmd:model_server_identity:ModelServerIdentity"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
CHART = "llm-d-modelservice-v0.4.9"
AWS_CLI = "public.ecr.aws/aws-cli/aws-cli:2.36.6"
SIM_FLAGS = Path(__file__).parent / "reference_extra" / "llm-d-inference-sim-v0.8.1" / "flags.txt"

HF_ADAPTER = {"name": "chat", "source": "hf://acme/qwen3-chat-lora"}
S3_ADAPTERS = [
    {"name": "sql", "source": "s3://team-adapters/qwen3/sql"},
    {"name": "support_v2", "source": "s3://team-adapters/qwen3/support-v2/"},
    {"name": "legal", "source": "s3://legal-adapters/qwen3-legal"},
]
MIXED = {"model": {"loraAdapters": [HF_ADAPTER, *S3_ADAPTERS]}}
HF_ONLY = {"model": {"loraAdapters": [HF_ADAPTER]}}
CACHE_ON = {"modelCache": {"enabled": True}}


def _run(**overrides: Any) -> Recording:
    config = base_config()
    for key, value in overrides.items():
        full = f"llmd-eks:{key}"
        config[full] = {**config.get(full, {}), **value}
    return run_program("lora", config)


def _run_phase_2a() -> Recording:
    """The committed phase-2a stack (prefill and decode servers) with the adapters."""
    stack, config, secrets = stack_config(ROOT / "Pulumi.phase2a.yaml")
    config["llmd-eks:model"] = {**config["llmd-eks:model"], **MIXED["model"]}
    return run_program(stack, config, secrets)


RUNS = {
    "hf": _run(**HF_ONLY),
    "s3": _run(**MIXED),
    "s3-cache": _run(**MIXED, **CACHE_ON),
    "cache": _run(**CACHE_ON),
    "s3-simulated": _run(model={**MIXED["model"], "simulate": True}),
    "s3-pd": _run_phase_2a(),
}
S3_RUNS = ("s3", "s3-cache", "s3-pd")


def modelservice(rec: Recording) -> dict[str, Any]:
    return dict(rec.release("llm-d-modelservice").inputs["values"])


def policy(rec: Recording, name: str) -> dict[str, Any]:
    return json.loads(rec.one(ROLE_POLICY, name).inputs["policy"])


def model_server_associations(rec: Recording) -> list[Registration]:
    return [r for r in rec.of_type(POD_IDENTITY) if r.inputs["serviceAccount"] == "llm-d-modelservice"]


def settings_for(adapters: list[dict[str, str]], **overrides: Any):
    raw = {"model": {"name": "Qwen/Qwen3-8B", "tensorParallelism": 1, "replicas": 2, "loraAdapters": adapters}}
    for key, value in overrides.items():
        raw[key] = {**raw.get(key, {}), **value}
    return resolve(raw, "unit", region="us-west-2")


# ---- the pods: init containers, volume, vLLM flags --------------------------------------


@pytest.mark.parametrize(("name", "role"), [*((name, "decode") for name in S3_RUNS), ("s3-pd", "prefill")])
def test_s3_adapters_are_fetched_into_a_shared_volume_before_vllm(name: str, role: str) -> None:
    decode = modelservice(RUNS[name])[role]
    fetches = decode["initContainers"]
    assert [c["name"] for c in fetches] == ["fetch-lora-0", "fetch-lora-1", "fetch-lora-2"]
    for fetch, adapter in zip(fetches, S3_ADAPTERS, strict=True):
        env = {e["name"]: e["value"] for e in fetch["env"]}
        assert fetch["image"] == AWS_CLI
        assert fetch["command"] == ["/bin/sh", "-c", lora.FETCH_SCRIPT]
        assert (env["SOURCE"], env["TARGET"]) == (adapter["source"], f"/adapters/{adapter['name']}")
        assert env["AWS_REGION"] == "us-west-2"
        assert adapter["source"] not in fetch["command"][2], "sources reach the shell as data, never as code"
        assert fetch["volumeMounts"] == [{"name": "lora-adapters", "mountPath": "/adapters"}]
        assert fetch["securityContext"]["runAsNonRoot"] is True
    assert [v for v in decode["volumes"] if v["name"] == "lora-adapters"] == [lora.adapters_volume()]
    assert lora.adapters_volume() == {"name": "lora-adapters", "emptyDir": {"sizeLimit": "20Gi"}}
    [vllm] = decode["containers"]
    assert {"name": "lora-adapters", "mountPath": "/adapters", "readOnly": True} in vllm["volumeMounts"]
    assert {"name": "shm", "mountPath": "/dev/shm"} in vllm["volumeMounts"], "the builder's mounts stay"


@pytest.mark.parametrize(("name", "role"), [*((name, "decode") for name in S3_RUNS), ("s3-pd", "prefill")])
def test_vllm_loads_s3_adapters_from_the_volume_and_hf_ones_from_the_hub(name: str, role: str) -> None:
    [vllm] = modelservice(RUNS[name])[role]["containers"]
    args = vllm["args"]
    start = args.index("--lora-modules") + 1
    assert args[start : start + 4] == [
        "chat=acme/qwen3-chat-lora",
        "sql=/adapters/sql",
        "support_v2=/adapters/support_v2",
        "legal=/adapters/legal",
    ]
    assert args[args.index("--max-loras") + 1] == "4" and "--enable-lora" in args
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in vllm["env"], "runtime (un)loading"
    assert RUNS[name].outputs["loraAdapters"] == [HF_ADAPTER, *S3_ADAPTERS]
    assert RUNS[name].outputs["versions"]["adapterFetchImage"] == AWS_CLI


@pytest.mark.parametrize("name", S3_RUNS)
def test_values_are_valid_and_known_against_the_reference_chart(name: str) -> None:
    contracts.require_reference()
    values = _without_pod_extra(modelservice(RUNS[name]))  # P/D's zone affinity: read through an alias
    assert contracts.validate_helm_values(CHART, values, LIST_ITEM_KEYS[CHART]) == []
    decode = values["decode"]
    typo = {**values, "decode": {**decode, "initContainers": [{**decode["initContainers"][0], "volumeMount": []}]}}
    assert contracts.validate_helm_values(CHART, typo, LIST_ITEM_KEYS[CHART]) == [
        f"{CHART}: unknown values key 'decode.initContainers[0].volumeMount' (Helm ignores it silently)"
    ]
    nameless = {**values, "decode": {**decode, "initContainers": [{"image": AWS_CLI}]}}
    assert contracts.validate_helm_values(CHART, nameless, LIST_ITEM_KEYS[CHART]) != [], "the schema wants a name"


def test_hf_adapters_only_fetch_nothing_and_get_no_iam() -> None:
    rec = RUNS["hf"]
    decode = modelservice(rec)["decode"]
    assert "initContainers" not in decode
    assert "lora-adapters" not in {v["name"] for v in decode["volumes"]}
    args = decode["containers"][0]["args"]
    assert args[args.index("--lora-modules") + 1] == "chat=acme/qwen3-chat-lora"
    assert not rec.of_type(IDENTITY) and not rec.of_type(ROLE_POLICY) and not rec.of_type(POD_IDENTITY)
    assert "adapterFetchImage" not in rec.outputs["versions"]


def simulator_flag_values(args: list[str], flag: str) -> list[str]:
    """The values the simulator reads after ``flag``: every argument up to the next ``--`` one
    (llm-d-inference-sim v0.8.1, pkg/common/parser.go getParamValueFromArgs)."""
    start = args.index(flag) + 1
    end = next((i for i in range(start, len(args)) if args[i].startswith("--")), len(args))
    return args[start:end]


def test_simulated_servers_serve_the_adapters_by_name_without_fetch_or_iam() -> None:
    """The simulator accepts requests for registered adapters, so routing to them works without GPUs."""
    rec = RUNS["s3-simulated"]
    decode = modelservice(rec)["decode"]
    args = decode["containers"][0]["args"]
    modules = [json.loads(module) for module in simulator_flag_values(args, "--lora-modules")]
    adapters = [HF_ADAPTER, *S3_ADAPTERS]
    assert modules == [{"name": a["name"], "path": a["source"]} for a in adapters]
    assert simulator_flag_values(args, "--max-loras") == [str(len(adapters))]
    known = set(SIM_FLAGS.read_text().split())
    assert {arg.removeprefix("--") for arg in args if arg.startswith("--")} <= known
    assert rec.outputs["loraAdapters"] == [{"name": a["name"], "source": a["source"]} for a in adapters]
    # Nothing is loaded: no fetch, no IAM, no vLLM flags.
    assert "initContainers" not in decode and "--enable-lora" not in args
    assert not rec.of_type(IDENTITY) and not rec.of_type(ROLE_POLICY) and not rec.of_type(POD_IDENTITY)
    [warning] = [w for w in rec.warnings if w.startswith("[GR-SIM-LORA]")]
    assert "by name" in warning and "not fetched" in warning


def test_simulator_without_adapters_gets_no_lora_flags() -> None:
    args = modelservice(_run(model={"simulate": True}))["decode"]["containers"][0]["args"]
    assert "--lora-modules" not in args and "--max-loras" not in args


# ---- the fetch script, run for real with a stand-in `aws` --------------------------------


def _fetch(tmp_path: Path, writes: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the init container's script with an `aws` that records its arguments and writes ``writes``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    creates = " ".join(f'"$5/{name}"' for name in writes)
    record = f"printf '%s\\n' \"$@\" > '{tmp_path}/args'"
    fake.write_text(f'#!/bin/sh\n{record}\nmkdir -p "$5"\n' + (f"touch {creates}\n" if writes else ""))
    fake.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SOURCE": "s3://team-adapters/qwen3/sql; touch pwned",
        "TARGET": str(tmp_path / "adapters" / "sql"),
    }
    return subprocess.run(["/bin/sh", "-c", lora.FETCH_SCRIPT], env=env, capture_output=True, text=True, cwd=tmp_path)


def test_fetch_script_syncs_the_folder(tmp_path: Path) -> None:
    done = _fetch(tmp_path, ["adapter_config.json", "adapter_model.safetensors"])
    assert done.returncode == 0, done.stderr
    target = tmp_path / "adapters" / "sql"
    assert (tmp_path / "args").read_text().splitlines() == [
        "s3",
        "sync",
        "--no-progress",
        "s3://team-adapters/qwen3/sql; touch pwned",  # one argument, never run
        str(target),
    ]
    assert not (tmp_path / "pwned").exists()


def test_fetch_script_fails_the_pod_when_the_folder_holds_no_adapter(tmp_path: Path) -> None:
    done = _fetch(tmp_path, ["README.md"])
    assert done.returncode == 1
    assert "holds no adapter_config.json" in done.stderr


# ---- IAM: read exactly the adapter folders --------------------------------------------------


@pytest.mark.parametrize("name", S3_RUNS)
def test_adapter_policy_reads_exactly_the_adapter_folders(name: str) -> None:
    grant = policy(RUNS[name], "model-server-lora-adapters")
    assert grant == lora.read_policy(
        [
            S3Location("team-adapters", "qwen3/sql/"),
            S3Location("team-adapters", "qwen3/support-v2/"),
            S3Location("legal-adapters", "qwen3-legal/"),
        ]
    )
    statements = grant["Statement"]
    assert {s["Action"] for s in statements} == {"s3:ListBucket", "s3:GetObject"}
    assert all(s["Effect"] == "Allow" for s in statements)
    listing = {
        s["Resource"]: s["Condition"]["StringLike"]["s3:prefix"] for s in statements if s["Action"] == "s3:ListBucket"
    }
    assert listing == {
        "arn:aws:s3:::legal-adapters": ["qwen3-legal/*"],
        "arn:aws:s3:::team-adapters": ["qwen3/sql/*", "qwen3/support-v2/*"],
    }
    [read] = [s for s in statements if s["Action"] == "s3:GetObject"]
    objects = read["Resource"]
    assert objects == [
        "arn:aws:s3:::legal-adapters/qwen3-legal/*",
        "arn:aws:s3:::team-adapters/qwen3/sql/*",
        "arn:aws:s3:::team-adapters/qwen3/support-v2/*",
    ]

    def readable(arn: str) -> bool:  # IAM's `*` matches any characters, as fnmatch's does here
        return any(fnmatch.fnmatchcase(arn, pattern) for pattern in objects)

    assert readable("arn:aws:s3:::team-adapters/qwen3/sql/adapter_model.safetensors")
    assert not readable("arn:aws:s3:::team-adapters/qwen3/sql-v2/adapter_model.safetensors"), "no sibling folder"
    assert not readable("arn:aws:s3:::team-adapters/qwen3/other/adapter_config.json")
    # `aws s3 sync s3://team-adapters/qwen3/sql ...` lists with Prefix "qwen3/sql/".
    assert fnmatch.fnmatchcase("qwen3/sql/", listing["arn:aws:s3:::team-adapters"][0])


def test_read_policy_merges_adapters_of_one_folder_and_needs_one() -> None:
    same = [S3Location("b", "x/"), S3Location("b", "x/")]
    assert lora.read_policy(same)["Statement"][-1]["Resource"] == ["arn:aws:s3:::b/x/*"]
    sids = [s["Sid"] for s in lora.read_policy([S3Location("a", "x/"), S3Location("b", "y/")])["Statement"]]
    assert len(set(sids)) == len(sids) and all(sid.isalnum() for sid in sids)
    with pytest.raises(ValueError, match="no s3:// adapter"):
        lora.read_policy([])


def test_adapters_alone_get_their_own_role_and_association() -> None:
    rec = RUNS["s3"]
    [association] = model_server_associations(rec)
    assert (association.name, association.inputs["namespace"]) == ("model-server", "llm-d")
    assert association.inputs["clusterName"] == rec.one("eks:index:Cluster").inputs["name"]
    assert [p.name for p in rec.of_type(ROLE_POLICY)] == ["model-server-lora-adapters"]
    trust = json.loads(rec.one(ROLE, "model-server").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert not [r for r in rec.resources if r.type.startswith("aws:s3")], "no bucket: the adapters' buckets exist"


def test_with_the_model_cache_one_role_holds_both_policies() -> None:
    rec = RUNS["s3-cache"]
    [association] = model_server_associations(rec)
    role = association.inputs["roleArn"].rsplit("/", 1)[1]
    grants = {p.name: p.inputs["role"] for p in rec.of_type(ROLE_POLICY) if p.inputs["role"] == role}
    assert set(grants) == {"model-server-model-cache", "model-server-lora-adapters"}
    assert len(rec.of_type(POD_IDENTITY)) == 2, "the model servers' and the copy Job's"


def test_association_stays_when_features_come_and_go() -> None:
    """EKS allows one association per ServiceAccount: a second one for it would fail `pulumi up`."""
    association = {name: model_server_associations(RUNS[name]) for name in ("s3", "s3-cache", "cache")}
    assert {name: len(found) for name, found in association.items()} == {"s3": 1, "s3-cache": 1, "cache": 1}
    assert len({found[0].urn for found in association.values()}) == 1


@pytest.mark.parametrize("name", S3_RUNS)
def test_access_comes_before_the_model_servers(name: str) -> None:
    rec = RUNS[name]
    waits = rec.waits_for(rec.release("llm-d-modelservice"))
    [association] = model_server_associations(rec)
    assert association.urn in waits
    assert rec.one(ROLE_POLICY, "model-server-lora-adapters").urn in waits
    assert rec.one("eks:index:Cluster").urn in rec.waits_for(association)


# ---- guardrails and configuration -------------------------------------------------------------


def test_s3_adapters_need_this_programs_cluster() -> None:
    existing = {"cluster": {"mode": "existing", "kubeconfigContext": "kind-llmd"}}
    [finding] = [f for f in evaluate(settings_for(S3_ADAPTERS, **existing)) if f.id == "GR-LORA-S3-EKS"]
    assert (finding.severity, finding.key) == (Severity.ERROR, "llmd-eks:model.loraAdapters")
    assert "s3://team-adapters/qwen3/sql" in finding.message
    assert "hf://" in finding.fix and "cluster.mode: eks-auto" in finding.fix
    assert not [f for f in evaluate(settings_for([HF_ADAPTER], **existing)) if f.id == "GR-LORA-S3-EKS"]
    simulated = settings_for(S3_ADAPTERS, **existing, model={"simulate": True})
    assert {f.id for f in evaluate(simulated) if f.id.startswith("GR-LORA")} == set(), "ignored, with GR-SIM-LORA"
    assert not [f for f in evaluate(settings_for(S3_ADAPTERS)) if f.id.startswith("GR-LORA-S3")]


def test_lora_rank_above_vllms_default_needs_the_flag() -> None:
    """vLLM rejects an adapter of a rank above --max-lora-rank (default 16) once the model is loaded:
    adapters without that flag are a warning; setting it (any value, either spelling) acknowledges it."""
    [finding] = [f for f in evaluate(settings_for([HF_ADAPTER])) if f.id == "GR-LORA-MAX-RANK"]
    assert (finding.severity, finding.key) == (Severity.WARNING, "llmd-eks:model.loraAdapters")
    assert "16" in finding.message and "--max-lora-rank" in finding.fix and "model.extraArgs" in finding.fix
    for extra in (["--max-lora-rank", "64"], ["--max-lora-rank=16"]):
        acknowledged = settings_for([HF_ADAPTER], model={"extraArgs": extra})
        assert not [f for f in evaluate(acknowledged) if f.id == "GR-LORA-MAX-RANK"], extra
    for quiet in (settings_for([]), settings_for([HF_ADAPTER], model={"simulate": True})):
        assert not [f for f in evaluate(quiet) if f.id == "GR-LORA-MAX-RANK"]


def test_s3_adapters_need_a_region() -> None:
    raw = {"model": {"name": "Qwen/Qwen3-8B", "tensorParallelism": 1, "replicas": 2, "loraAdapters": S3_ADAPTERS}}
    [finding] = [f for f in evaluate(resolve(raw, "unit", region="")) if f.id == "GR-LORA-S3-REGION"]
    assert finding.severity == Severity.ERROR and "aws:region" in finding.fix
    raw["model"]["loraAdapters"] = [HF_ADAPTER]
    assert not [f for f in evaluate(resolve(raw, "unit", region="")) if f.id == "GR-LORA-S3-REGION"]


def test_existing_cluster_with_s3_adapters_registers_nothing() -> None:
    config = base_config(
        cluster={"mode": "existing", "kubeconfigContext": "kind-llmd"},
        model={"name": "Qwen/Qwen3-8B", "tensorParallelism": 1, "replicas": 1, "loraAdapters": S3_ADAPTERS},
    )
    recording = mockrun.Recording()
    with pytest.raises(pulumi.RunError, match=r"\[GR-LORA-S3-EKS\] llmd-eks:model.loraAdapters"):
        mockrun.run_program("bad", config, recording=recording)
    assert recording.resources == []


@pytest.mark.parametrize(
    "source",
    [
        "s3://team-adapters",  # no folder
        "s3://team-adapters/",  # the whole bucket
        "s3://team-adapters/qwen3/*",  # an IAM wildcard would widen the grant
        "s3://team-adapters/${aws:username}/sql",  # an IAM policy variable
        "s3://Team_Adapters/sql",  # not an S3 bucket name
        "s3://team-adapters/a//b",
        "gs://team-adapters/sql",
        "hf://acme",
    ],
)
def test_bad_sources_name_the_key(source: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings_for([{"name": "a", "source": source}])
    assert "llmd-eks:model.loraAdapters.0.source: expected hf://<org>/<repo> or s3://<bucket>/<folder>" in str(
        error.value
    )
