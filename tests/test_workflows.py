"""GitHub workflows, checked offline: schema-valid, and saying what the delivery design says.

Schema checks run check-jsonschema (a pinned dev dependency) with its vendored
GitHub-workflow schema, so they need no network. Workflows are read as YAML 1.2
(ruamel, as check-jsonschema and GitHub read them): ``on`` stays a string key.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import stack_config

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
KIND_E2E = WORKFLOWS / "kind-e2e.yml"  # more checks: tests/test_kind_e2e.py
CI_RUN = ROOT / ".ci" / "run"

PULUMI_ACTION = "pulumi/actions"
AWS_ACTION = "aws-actions/configure-aws-credentials"
PLAN_COMMAND = "venv/bin/python -m components.plan --stack ${{ matrix.stack }}"
TEST_COMMANDS = ["venv/bin/ruff check .", "venv/bin/ruff format --check .", "venv/bin/python -m pytest -q"]
README = ROOT / "README.md"
PASSPHRASE = "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
VARS_EXPR = re.compile(r"^\$\{\{\s*vars\.[A-Z][A-Z0-9_]*\s*\}\}$")
CLUSTER_KEY = "llmd-eks:cluster"
STACK_FLAG = re.compile(r"\bpulumi\b.*--stack[ =]([\w.-]+)")
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


# ---------------------------------------------------------------------- helpers


def load(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def check_schema(path: Path, schema: str = "vendor.github-workflows") -> subprocess.CompletedProcess[str]:
    """check-jsonschema with a builtin (vendored, offline) schema, as ``check-jsonschema`` on the command line."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def job(workflow: Path, name: str) -> dict[str, Any]:
    jobs = load(workflow)["jobs"]
    assert name in jobs, f"{workflow.name}: no job {name!r} (jobs: {sorted(jobs)})"
    return jobs[name]


def steps_using(job_: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job_["steps"] if str(step.get("uses", "")).split("@")[0] == action]


def only_step(job_: dict[str, Any], action: str) -> dict[str, Any]:
    steps = steps_using(job_, action)
    assert len(steps) == 1, f"expected one {action} step, found {len(steps)}"
    return steps[0]


def run_lines(job_: dict[str, Any]) -> list[str]:
    return [line.strip() for step in job_["steps"] for line in str(step.get("run", "")).splitlines() if line.strip()]


def shell_commands(lines: Iterable[str]) -> list[str]:
    """The commands of shell lines, in order: ``a && b`` is two; comments, blank lines, ``set`` and ``cd`` dropped."""
    commands = [part.strip() for line in lines for part in line.split(" && ")]
    return [c for c in commands if c and not c.startswith(("#", "set ", "cd "))]


def readme_quickstart_commands(text: str) -> list[str]:
    """The commands of the first shell block under ``## Quickstart``."""
    section = text.split("\n## Quickstart\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "no shell block under ## Quickstart"
    return shell_commands(block.group(1).splitlines())


def lint_and_test_commands(lines: Iterable[str]) -> list[str]:
    """The lint/test commands among shell lines: ``venv/bin/...`` except installs."""
    return [line for line in lines if line.startswith("venv/bin/") and not line.startswith("venv/bin/pip")]


def matrix_stacks(job_: dict[str, Any]) -> list[str]:
    return list(job_["strategy"]["matrix"]["stack"])


def stack_mismatches(root: Path, stacks: Iterable[str]) -> tuple[list[str], list[str]]:
    """(stacks without a ``Pulumi.<stack>.yaml`` at ``root``, stack files at ``root`` not in ``stacks``)."""
    listed = set(stacks)
    files = {p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")}
    return sorted(listed - files), sorted(files - listed)


def eks_stacks(stacks: Iterable[str]) -> list[str]:
    """The stacks that create their EKS cluster: only they have anything to preview
    in AWS (an existing-cluster stack needs that cluster's kubeconfig context)."""
    return [
        stack
        for stack in stacks
        if stack_config(ROOT / f"Pulumi.{stack}.yaml")[1].get(CLUSTER_KEY, {}).get("mode", "eks-auto") == "eks-auto"
    ]


def assert_oidc_aws(job_: dict[str, Any]) -> None:
    assert job_["permissions"]["id-token"] == "write"
    assert job_["permissions"]["contents"] == "read"
    aws = only_step(job_, AWS_ACTION)
    assert VARS_EXPR.match(aws["with"]["role-to-assume"]), aws["with"]
    assert VARS_EXPR.match(aws["with"]["aws-region"]), aws["with"]
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"]), "use OIDC, not stored keys"
    steps = job_["steps"]
    assert steps.index(aws) < steps.index(only_step(job_, PULUMI_ACTION)), "credentials before Pulumi"


def assert_pulumi_step(job_: dict[str, Any], command: str, stack: str) -> dict[str, Any]:
    pulumi = only_step(job_, PULUMI_ACTION)
    inputs = pulumi["with"]
    assert inputs["command"] == command
    assert inputs["stack-name"] == stack
    assert VARS_EXPR.match(inputs["cloud-url"]), f"state backend from a repository variable: {inputs['cloud-url']!r}"
    assert pulumi["env"]["PULUMI_CONFIG_PASSPHRASE"] == PASSPHRASE
    return inputs


# ------------------------------------------------------------------ schema checks


def test_workflows_exist() -> None:
    assert {PULL_REQUEST, DEPLOY, KIND_E2E} <= set(WORKFLOW_FILES), [p.name for p in WORKFLOW_FILES]


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_matches_github_schema(path: Path) -> None:
    data = load(path)
    assert {"on", "jobs"} <= set(data), f"{path.name}: top-level keys {sorted(data)}"
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        result = check_schema(path, schema)
        assert result.returncode == 0, f"{path.name} vs {schema}:\n{result.stdout}{result.stderr}"


BROKEN_WORKFLOWS = {
    "misspelt-steps": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    step:\n      - run: echo\n",
    "bad-permission": (
        "on: push\npermissions:\n  id-token: admin\n"
        "jobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n"
    ),
    "no-trigger": "jobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n",
}


@pytest.mark.parametrize("text", BROKEN_WORKFLOWS.values(), ids=BROKEN_WORKFLOWS.keys())
def test_schema_check_rejects_broken_workflows(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(text)
    load(path)  # well-formed YAML: the rejection below is the schema's
    result = check_schema(path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Schema validation errors" in result.stdout + result.stderr


def test_timeout_schema_rejects_job_without_timeout(tmp_path: Path) -> None:
    path = tmp_path / "no-timeout.yml"
    path.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n")
    assert check_schema(path).returncode == 0
    assert check_schema(path, "custom.github-workflows-require-timeout").returncode == 1


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actions_are_pinned(path: Path) -> None:
    for name, job_ in load(path)["jobs"].items():
        for step in job_.get("steps", []):
            if "uses" in step:
                assert PINNED_USES.match(step["uses"]), f"{path.name}:{name}: unpinned {step['uses']!r}"


# ------------------------------------------------------------ pull-request workflow


def test_pull_request_triggers_and_concurrency() -> None:
    data = load(PULL_REQUEST)
    assert {"pull_request", "workflow_dispatch"} <= set(data["on"])
    assert "pull_request_target" not in data["on"], "pull_request_target would hand secrets to fork code"
    assert "github.event.pull_request.number" in data["concurrency"]["group"]
    assert data["concurrency"]["cancel-in-progress"] is True
    assert data["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("name", ["test", "offline-plan"])
def test_fork_safe_jobs_use_no_secrets(name: str) -> None:
    job_ = job(PULL_REQUEST, name)
    text = repr(job_)
    assert "secrets." not in text and "vars." not in text
    assert "permissions" not in job_, "inherits the read-only workflow token"
    assert not steps_using(job_, AWS_ACTION) and not steps_using(job_, PULUMI_ACTION)
    assert "if" not in job_, "runs for fork PRs too"


def test_offline_plan_runs_every_stack() -> None:
    plan = job(PULL_REQUEST, "offline-plan")
    assert plan["needs"] == "test"
    assert PLAN_COMMAND in run_lines(plan)
    assert matrix_stacks(plan), "empty stack matrix"


def test_offline_plan_command_exists() -> None:
    assert importlib.util.find_spec("components.plan.__main__") is not None, "python -m components.plan needs it"


def test_preview_job() -> None:
    preview = job(PULL_REQUEST, "preview")
    assert preview["needs"] == "test"
    assert FORK_GUARD in preview["if"], "preview needs secrets: same-repository PRs only"
    assert preview["permissions"] == {"id-token": "write", "contents": "read", "pull-requests": "write"}
    assert matrix_stacks(preview) == eks_stacks(matrix_stacks(job(PULL_REQUEST, "offline-plan")))
    assert_oidc_aws(preview)
    inputs = assert_pulumi_step(preview, "preview", "${{ matrix.stack }}")
    assert str(inputs["comment-on-pr"]).lower() == "true"
    assert inputs["policyPacks"] == "policy"


@pytest.mark.parametrize("path", [PULL_REQUEST, DEPLOY], ids=lambda p: p.name)
def test_policy_pack_exists(path: Path) -> None:
    packs = {
        step["with"].get("policyPacks")
        for job_ in load(path)["jobs"].values()
        for step in steps_using(job_, PULUMI_ACTION)
    }
    for pack in packs - {None}:
        assert (ROOT / pack / "PulumiPolicy.yaml").is_file(), f"{path.name}: no policy pack in {pack!r}"


# ------------------------------------------------------------------ deploy workflow


def test_deploy_runs_up_on_prod_behind_production_environment() -> None:
    data = load(DEPLOY)
    assert data["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in data["on"]
    deploy = job(DEPLOY, "deploy")
    assert deploy["needs"] == "test"
    environment = deploy["environment"]
    assert (environment if isinstance(environment, str) else environment["name"]) == "production"
    assert deploy["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": False}
    assert_oidc_aws(deploy)
    assert_pulumi_step(deploy, "up", "prod")


def test_deploy_tests_like_pull_requests() -> None:
    assert job(DEPLOY, "test") == job(PULL_REQUEST, "test")


# --------------------------------------------------------- agreement with the project


def all_matrix_and_named_stacks() -> set[str]:
    stacks: set[str] = set()
    for path in WORKFLOW_FILES:
        for job_ in load(path)["jobs"].values():
            stacks.update(job_.get("strategy", {}).get("matrix", {}).get("stack", []))
            for step in steps_using(job_, PULUMI_ACTION):
                name = step["with"].get("stack-name", "")  # none: the step only installs the CLI
                if name and "${{" not in name:
                    stacks.add(name)
            for line in run_lines(job_):  # the CLI itself: `pulumi up --stack local`
                stacks.update(STACK_FLAG.findall(line))
    return stacks


def test_workflow_stacks_match_committed_stack_files() -> None:
    missing, _ = stack_mismatches(ROOT, all_matrix_and_named_stacks())
    assert not missing, f"workflows name stacks without a Pulumi.<stack>.yaml: {missing}"
    _, unplanned = stack_mismatches(ROOT, matrix_stacks(job(PULL_REQUEST, "offline-plan")))
    assert not unplanned, f"stack files missing from the offline-plan matrix: {unplanned}"


def test_stack_mismatches_finds_both_directions(tmp_path: Path) -> None:
    for stack in ("dev", "staging"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")  # the project file is no stack
    assert stack_mismatches(tmp_path, ["dev", "staging"]) == ([], [])
    assert stack_mismatches(tmp_path, ["dev", "prod"]) == (["prod"], ["staging"])


def test_workflow_test_commands_match_ci_run() -> None:
    for path in (PULL_REQUEST, DEPLOY):
        assert lint_and_test_commands(run_lines(job(path, "test"))) == TEST_COMMANDS, path.name
    assert lint_and_test_commands(CI_RUN.read_text().splitlines()) == TEST_COMMANDS


def test_ci_run_is_the_readme_quickstart() -> None:
    """.ci/run installs and tests exactly as the README tells a newcomer to."""
    quickstart = readme_quickstart_commands(README.read_text())
    assert quickstart[0] == "python3 -m venv venv" and quickstart[-len(TEST_COMMANDS) :] == TEST_COMMANDS
    assert shell_commands(CI_RUN.read_text().splitlines()) == quickstart


def test_quickstart_extraction() -> None:
    text = "x\n## Quickstart\nrun:\n```bash\na && b  \n# note\nc\n```\n```bash\nd\n```\n"
    assert readme_quickstart_commands(text) == ["a", "b", "c"]
    assert shell_commands(["set -e", "cd x", "", "# c", "e && f"]) == ["e", "f"]


def test_pulumi_cli_matches_sdk_pin() -> None:
    pins = dict(line.split("==", 1) for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line)
    for path in WORKFLOW_FILES:
        for job_ in load(path)["jobs"].values():
            for step in steps_using(job_, PULUMI_ACTION):
                assert str(step["with"]["pulumi-version"]) == pins["pulumi"].strip(), path.name
