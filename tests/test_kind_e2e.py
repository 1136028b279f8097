"""kind-e2e.yml, checked offline: it runs the README's "Try it without GPUs" path,
with the names the program and the charts really use. (Schema validity and
pinned actions are checked for every workflow in tests/test_workflows.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from components.config import resolve
from components.plan import outputs
from components.plan.names import RELEASES, model_server_labels
from tests.conftest import stack_config
from tests.test_workflows import KIND_E2E, ROOT, job, load, only_step, run_lines

README = ROOT / "README.md"
SECTION = "## Try it without GPUs"
KIND_ACTION = "helm/kind-action"
PULUMI_ACTION = "pulumi/actions"
INLINE_COMMENT = re.compile(r"\s+#\s.*$")


def e2e_job() -> dict[str, Any]:
    return job(KIND_E2E, "kind-e2e")


def readme_section_commands(text: str, heading: str = SECTION) -> set[str]:
    """Lines of the shell code blocks under ``heading`` (up to the next ``## ``), comments dropped."""
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    section = text[start : end if end != -1 else len(text)]
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", section, re.S)
    return {INLINE_COMMENT.sub("", line).strip() for block in blocks for line in block.splitlines() if line.strip()}


def local_settings() -> Any:
    stack, config, _ = stack_config(ROOT / "Pulumi.local.yaml")
    raw = {key.removeprefix("llmd-eks:"): value for key, value in config.items() if key.startswith("llmd-eks:")}
    return resolve(raw, stack)


def step_index(steps: list[dict[str, Any]], needle: str) -> int:
    found = [i for i, step in enumerate(steps) if needle in str(step.get("run", ""))]
    assert len(found) == 1, f"expected one step running {needle!r}, found {len(found)}"
    return found[0]


def test_every_workflow_command_is_one_the_readme_documents() -> None:
    documented = readme_section_commands(README.read_text())
    undocumented = [line for line in run_lines(e2e_job()) if line not in documented]
    assert not undocumented, f"kind-e2e.yml runs commands the README's {SECTION!r} does not show: {undocumented}"


def test_readme_command_extraction() -> None:
    text = "intro\n## Try it without GPUs\n```bash\nkind create cluster  # note\n\nls\n```\n## Next\n```bash\nrm\n```\n"
    assert readme_section_commands(text) == {"kind create cluster", "ls"}


def test_triggers_and_permissions() -> None:
    data = load(KIND_E2E)
    assert {"pull_request", "workflow_dispatch"} <= set(data["on"])
    assert "pull_request_target" not in data["on"]
    assert data["permissions"] == {"contents": "read"}
    assert "secrets." not in repr(data), "no secrets: safe for forks"


def test_kind_cluster_is_the_local_stacks_context() -> None:
    kind = only_step(e2e_job(), KIND_ACTION)["with"]
    settings = local_settings()
    assert (settings.cluster.mode, settings.model.simulate) == ("existing", True)
    assert f"kind-{kind['cluster_name']}" == settings.cluster.kubeconfig_context
    assert f"kind create cluster --name {kind['cluster_name']}" in readme_section_commands(README.read_text())
    # The same Kubernetes minor as the EKS stacks (Gateway API v1.5 needs >= 1.30).
    node_minor = re.match(r"kindest/node:v1\.(\d+)\.", kind["node_image"])
    assert node_minor and f"1.{node_minor.group(1)}" == settings.cluster.kubernetes_version


def test_pulumi_cli_only_installed_then_driven_like_the_readme() -> None:
    steps = e2e_job()["steps"]
    pulumi = only_step(e2e_job(), PULUMI_ACTION)
    assert "command" not in pulumi["with"], "the action installs the CLI; the README's commands drive it"
    assert e2e_job()["env"]["PULUMI_CONFIG_PASSPHRASE"] == ""
    order = [
        steps.index(only_step(e2e_job(), KIND_ACTION)),
        steps.index(pulumi),
        step_index(steps, "venv/bin/pip install -r requirements.txt"),
        step_index(steps, "pulumi login --local"),
        step_index(steps, "pulumi up --stack local --yes"),
        step_index(steps, " wait pod "),
        step_index(steps, "chatCompletionsCurl"),
        step_index(steps, "/metrics"),
        step_index(steps, "pulumi destroy --stack local --yes"),
    ]
    assert order == sorted(order)
    assert steps[order[-1]]["if"] == "always()", "destroy even when a check failed"


def test_commands_use_the_names_the_program_creates() -> None:
    settings = local_settings()
    lines = run_lines(e2e_job())
    namespace = settings.serving.namespace
    wait = next(line for line in lines if " wait pod " in line)
    selector = re.search(r" -l (\S+)", wait)
    assert selector and "=" in selector.group(1)
    key, value = selector.group(1).split("=")
    assert model_server_labels(settings)[key] == value
    assert f"-n {namespace} " in wait and outputs.kubectl(settings) in wait
    forward = next(line for line in lines if "port-forward" in line)
    assert f"-n {namespace} deploy/{RELEASES.decode_deployment} 8000:8000" in forward
    # The portForwardCommand and chatCompletionsCurl outputs are used as they are.
    assert "$(pulumi stack output portForwardCommand) &" in lines
    assert f"localhost:{outputs.LOCAL_PORT}" in outputs.chat_completions_curl(settings)


def test_metrics_check_looks_for_the_metric_the_endpoint_picker_reads() -> None:
    # One grep per metric: each fails the step on its own when its metric is missing.
    patterns = [re.search(r"\| grep '(.+)'$", line) for line in run_lines(e2e_job()) if "/metrics" in line]
    assert patterns and all(patterns)
    kv = [p.group(1) for p in patterns if p and "cache" in p.group(1)]
    assert len(kv) == 1
    exposition = 'vllm:{name}{{model_name="Qwen/Qwen3-8B"}} 0'
    assert re.search(kv[0], exposition.format(name=local_settings().profile.epp_kv_cache_metric.removeprefix("vllm:")))
    assert not re.search(kv[0], exposition.format(name="gpu_cache_usage_perc")), "the pre-v0.7.0 simulator name"


def test_stack_file_is_plain_yaml_without_aws() -> None:
    document = yaml.safe_load(Path(ROOT / "Pulumi.local.yaml").read_text())
    assert not [key for key in document["config"] if key.startswith("aws:")]
