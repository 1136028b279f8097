"""The offline plan: ``python -m components.plan --stack <name>`` on every committed stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components import mockrun
from components.plan import modes
from components.plan.__main__ import main
from tests import contracts
from tests.conftest import ROOT, STACK_FILES, base_config, stack_settings

STACKS = [path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in STACK_FILES]
SECURE = {"secure": "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}


def plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def write_stack(directory: Path, name: str, config: dict[str, Any]) -> None:
    (directory / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))


def committed(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())["config"]


@pytest.mark.parametrize("stack", STACKS)
def test_text_plan_of_every_committed_stack(capsys: pytest.CaptureFixture[str], stack: str) -> None:
    settings = stack_settings(stack)
    code, out = plan(capsys, "--stack", stack)
    assert code == 0, out
    assert f"stack {stack}" in out
    provisioner = settings.preset_applied.get("gpu.provisioner")
    assert f'Phase {settings.phase}; preset applied: gpu.provisioner="{provisioner}"' in out
    assert "Guardrails: 0 error(s)" in out
    gpus = modes.creates_gpu_capacity(settings)
    assert ("Capacity:" in out and "tokens/replica" in out and "full scale" in out) == gpus
    assert ("no GPU capacity is created" in out) != gpus
    serving = "llmd:dynamo:Dynamo dynamo" if settings.serving.stack == "dynamo" else "llmd:llmd:LlmdStack llm-d"
    assert "Resources (" in out and serving in out
    assert out.rstrip().endswith("resources.") and "VALID" in out


@pytest.mark.parametrize("stack", STACKS)
def test_json_plan_of_every_committed_stack(capsys: pytest.CaptureFixture[str], stack: str) -> None:
    code, out = plan(capsys, "--stack", stack, "--format", "json")
    document = json.loads(out)
    settings = stack_settings(stack)
    assert code == 0 and document["valid"] is True and document["errors"] == []
    assert document["phase"] == settings.phase and document["presetApplied"] == settings.preset_applied
    assert not [f for f in document["findings"] if f["severity"] == "error"]
    if modes.creates_gpu_capacity(settings):
        assert document["capacity"]["decode"]["kvCacheTokensPerReplica"] > 0
        assert set(document["costEstimate"]) >= {"fullScale", "configuredReplicas", "prices"}
    else:
        assert document["capacity"] is None and document["costEstimate"] is None
    if modes.creates_aws_resources(settings):
        assert document["outputs"]["kubeconfig"] == "<secret>"
    serving = "llmd:dynamo:Dynamo" if settings.serving.stack == "dynamo" else "llmd:llmd:LlmdStack"
    assert any(r["type"] == serving for r in document["resources"])


def test_prod_plan_shows_the_hand_worked_capacity_and_seed_cost(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = plan(capsys, "--stack", "prod")
    assert "p5.48xlarge  H100 80GB  30.55 GiB    71.68 GiB   78.27 GiB   320,596         9/replica, 72 total" in out
    assert "2 x p5.48xlarge  16    196.64       141,580.80" in out


def test_render_writes_every_kubernetes_object_and_helm_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = plan(capsys, "--stack", "prod", "--render", str(tmp_path))
    assert code == 0 and f"under {tmp_path}" in out
    resources = {p.name: yaml.safe_load(p.read_text()) for p in (tmp_path / "resources").glob("*.yaml")}
    assert {doc["kind"] for doc in resources.values()} >= {"NodePool", "NodeClass", "HTTPRoute", "Namespace"}
    nodepool = resources["nodepool-llmd-gpu.yaml"]
    assert nodepool["apiVersion"] == "karpenter.sh/v1"
    assert nodepool["spec"]["limits"]["nvidia.com/gpu"] == "16"
    values = {p.stem: p.read_text() for p in (tmp_path / "helm-values").glob("*.yaml")}
    assert set(values) >= {"istio-base", "istiod", "llm-d-infra", "llm-d-inferencepool", "llm-d-modelservice"}
    assert values["llm-d-modelservice"].startswith("# Helm release llm-d-modelservice in namespace llm-d: chart")
    modelservice = yaml.safe_load(values["llm-d-modelservice"])
    assert modelservice["decode"]["replicas"] == 8 and modelservice["decode"]["parallelism"]["tensor"] == 2


def test_secrets_are_unknown_placeholders(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_stack(tmp_path, "gated", {**committed("prod"), "llmd-eks:hfToken": SECURE})
    code, out = plan(capsys, "--stack", "gated", "--stack-dir", str(tmp_path), "--render", str(tmp_path / "out"))
    assert code == 0, out
    secret = yaml.safe_load((tmp_path / "out" / "resources" / "secret-llm-d-llm-d-hf-token.yaml").read_text())
    assert secret["stringData"] == "<secret>"
    assert "v1:AAAA" not in "".join(p.read_text() for p in (tmp_path / "out").rglob("*.yaml"))
    modelservice = yaml.safe_load((tmp_path / "out" / "helm-values" / "llm-d-modelservice.yaml").read_text())
    assert modelservice["modelArtifacts"]["authSecretName"] == "llm-d-hf-token"


def test_invalid_stack_exits_non_zero_with_the_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gpu = {**committed("prod")["llmd-eks:gpu"], "instanceFamilies": ["p6"]}
    write_stack(tmp_path, "bad", {**committed("prod"), "llmd-eks:gpu": gpu})
    code, out = plan(capsys, "--stack", "bad", "--stack-dir", str(tmp_path))
    assert code == 1
    assert "INVALID" in out and "[GR-GPU-UNKNOWN] llmd-eks:gpu.instanceFamilies" in out and "p6-b200" in out
    assert "Resources" not in out

    code, out = plan(capsys, "--stack", "bad", "--stack-dir", str(tmp_path), "--format", "json")
    document = json.loads(out)
    assert code == 1 and document["valid"] is False
    assert [f["id"] for f in document["findings"]] == ["GR-GPU-UNKNOWN"]
    assert "resources" not in document


def test_config_errors_exit_non_zero(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_stack(tmp_path, "typo", {**committed("dev"), "llmd-eks:model": {"replica": 2}})
    code, out = plan(capsys, "--stack", "typo", "--stack-dir", str(tmp_path))
    assert code == 1 and "llmd-eks:model.replica: unknown key" in out


def test_plaintext_hf_token_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_stack(tmp_path, "plain", {**committed("dev"), "llmd-eks:hfToken": "hf_plain_text"})
    code, out = plan(capsys, "--stack", "plain", "--stack-dir", str(tmp_path))
    assert code == 1 and "llmd-eks:hfToken: set it as a secret" in out


def test_unquoted_values_read_as_the_program_reads_them(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_stack(tmp_path, "unquoted", {**committed("dev"), "llmd-eks:phase": 1})
    assert plan(capsys, "--stack", "unquoted", "--stack-dir", str(tmp_path))[0] == 0


def test_missing_stack_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "nope"]) == 2
    assert "no stack file" in capsys.readouterr().err


def test_runs_as_a_module_without_pulumi_or_aws(tmp_path: Path) -> None:
    """A clean environment: no Pulumi CLI on PATH, no AWS or Pulumi variables, no credentials file."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    assert not any(Path(d, "pulumi").exists() for d in env["PATH"].split(os.pathsep))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "components.plan", "--stack", "prod", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["valid"] is True
    assert time.monotonic() - started < 15


def test_mockrun_reads_secure_keys_as_unknown_secrets() -> None:
    original = pulumi.Config.get_secret
    recording = mockrun.run_program("t", base_config(), unknown_secrets=["llmd-eks:hfToken"])
    secret = recording.one("kubernetes:core/v1:Secret")
    assert secret.inputs["stringData"] == mockrun.UNKNOWN and "stringData" in secret.secret_paths
    assert pulumi.Config.get_secret is original, "the patch is undone after the run"


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_custom_resources_validate_against_their_crds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stack: str
) -> None:
    contracts.require_reference()
    assert plan(capsys, "--stack", stack, "--render", str(tmp_path))[0] == 0
    known = contracts.known_crd_kinds()
    checked = 0
    for path in (tmp_path / "resources").glob("*.yaml"):
        obj = yaml.safe_load(path.read_text())
        if (obj["apiVersion"], obj["kind"]) in known:
            assert contracts.validate_custom_resource(obj) == [], path.name
            checked += 1
    assert checked, "every stack renders at least its HTTPRoute"
