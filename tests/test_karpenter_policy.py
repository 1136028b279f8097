"""The Karpenter controller's IAM policy and interruption events against upstream's for v1.14.1.

tests/reference_extra/karpenter-1.14.1 holds upstream's "Getting started"
CloudFormation policies as data (see its PROVENANCE). Ours is one document with
the same statements: the same actions per statement, every upstream condition
with the same values once the template's substitutions are filled in (extra
conditions would only scope it tighter), the same resources.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import Settings
from components.plan import karpenter
from tests import extra_reference
from tests.conftest import ROOT, run_program, stack_config, stack_settings

REFERENCE = "karpenter-1.14.1"
STACKS = ("phase2a", "phase3")
PARTITION, ACCOUNT = "aws-test", "111122223333"
NODE_ROLE_ARN = f"arn:{PARTITION}:iam::{ACCOUNT}:role/karpenter-node"
QUEUE_ARN = f"arn:{PARTITION}:sqs:us-west-2:{ACCOUNT}:queue"


def _upstream(name: str) -> Any:
    return json.loads((extra_reference.folder(REFERENCE) / name).read_text())


def _as_list(value: Any) -> list[Any]:
    return sorted(value) if isinstance(value, list) else [value]


def _normalized(statement: dict[str, Any]) -> dict[str, Any]:
    """Action and Resource as sorted lists, each condition value as a sorted list (the data's form)."""
    conditions = statement.get("Condition", {})
    return {
        "Effect": statement["Effect"],
        "Action": _as_list(statement["Action"]),
        "Resource": _as_list(statement["Resource"]),
        "Condition": {op: {key: _as_list(v) for key, v in keys.items()} for op, keys in conditions.items()},
    }


def _substitute(value: Any, settings: Settings) -> Any:
    if isinstance(value, dict):
        return {_substitute(k, settings): _substitute(v, settings) for k, v in value.items()}
    if isinstance(value, list):
        return sorted(_substitute(v, settings) for v in value)
    return (
        value.replace("${ClusterName}", settings.cluster_name)
        .replace("${AWS::Partition}", PARTITION)
        .replace("${AWS::Region}", settings.region)
        .replace("${AWS::AccountId}", ACCOUNT)
        .replace("${KarpenterNodeRole.Arn}", NODE_ROLE_ARN)
        .replace("${KarpenterInterruptionQueue.Arn}", QUEUE_ARN)
    )


def _ours(settings: Settings) -> dict[str, dict[str, Any]]:
    policy = karpenter.controller_policy(
        settings, partition=PARTITION, account_id=ACCOUNT, node_role_arn=NODE_ROLE_ARN, queue_arn=QUEUE_ARN
    )
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids)), "one statement per Sid"
    return {s["Sid"]: _normalized(s) for s in policy["Statement"]}


def policy_differences(
    ours: dict[str, dict[str, Any]], upstream: list[dict[str, Any]], settings: Settings
) -> list[str]:
    """What keeps ``ours`` from granting what upstream's policy grants, or grants beyond it."""
    wanted = {s["Sid"]: _substitute(s, settings) for s in upstream}
    problems = [f"{sid}: missing" for sid in wanted.keys() - ours.keys()]
    problems += [f"{sid}: not in upstream's policy" for sid in ours.keys() - wanted.keys()]
    for sid in sorted(wanted.keys() & ours.keys()):
        theirs, mine = wanted[sid], ours[sid]
        for field in ("Effect", "Action", "Resource"):
            if mine[field] != theirs[field]:
                problems.append(f"{sid}: {field} {mine[field]} != upstream {theirs[field]}")
        for operator, keys in theirs.get("Condition", {}).items():
            for key, values in keys.items():
                got = mine["Condition"].get(operator, {}).get(key)
                if got != values:
                    problems.append(f"{sid}: Condition {operator} {key} = {got}, upstream {values}")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_controller_policy_grants_what_karpenter_1_14_1_calls(stack: str) -> None:
    settings = stack_settings(stack)
    upstream = _upstream("controller-policy.json")["statements"]
    assert policy_differences(_ours(settings), upstream, settings) == []


def test_the_comparison_catches_wrong_condition_values_and_missing_actions() -> None:
    settings = stack_settings("phase2a")
    upstream = _upstream("controller-policy.json")["statements"]
    ours = _ours(settings)
    tagging = ours["AllowScopedResourceCreationTagging"]["Condition"]["StringEquals"]
    tagging["ec2:CreateAction"] = ["ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:RunInstances"]
    ours["AllowRegionalReadActions"]["Action"].remove("ec2:DescribeInstanceStatus")
    del ours["AllowZonalShiftStatusReadOnly"]
    problems = policy_differences(ours, upstream, settings)
    assert len(problems) == 3
    assert any(
        p.startswith("AllowScopedResourceCreationTagging: Condition StringEquals ec2:CreateAction") for p in problems
    )
    assert any(p.startswith("AllowRegionalReadActions: Action") for p in problems)
    assert "AllowZonalShiftStatusReadOnly: missing" in problems


def test_tag_on_create_names_the_bare_api_calls() -> None:
    statement = _ours(stack_settings("phase2a"))["AllowScopedResourceCreationTagging"]
    assert statement["Condition"]["StringEquals"]["ec2:CreateAction"] == [
        "CreateFleet",
        "CreateLaunchTemplate",
        "RunInstances",
    ]


def test_the_policy_fits_an_inline_role_policy() -> None:
    """IAM counts a role's inline policies together, whitespace excluded: 10,240 characters."""
    settings = stack_settings("phase2a", cluster={"name": "c" * 100})
    policy = karpenter.controller_policy(
        settings,
        partition="aws-us-gov",
        account_id=ACCOUNT,
        node_role_arn=f"arn:aws-us-gov:iam::{ACCOUNT}:role/{'r' * 64}",
        queue_arn=f"arn:aws-us-gov:sqs:us-gov-west-1:{ACCOUNT}:{'q' * 80}",
    )
    assert len(json.dumps(policy, separators=(",", ":"))) <= 10_240


def test_the_program_attaches_the_planned_policy() -> None:
    name, config, secrets = stack_config(ROOT / "Pulumi.phase2a.yaml")
    run = run_program(name, config, secrets)
    recorded = json.loads(run.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    statements = {s["Sid"]: s for s in recorded["Statement"]}
    planned = karpenter.controller_policy(
        stack_settings("phase2a"),
        partition="aws",  # the mocks' partition and account
        account_id="123456789012",
        node_role_arn=statements["AllowPassingInstanceRole"]["Resource"],
        queue_arn=statements["AllowInterruptionQueueActions"]["Resource"],
    )
    assert recorded == planned


def test_interruption_queue_receives_every_event_upstream_routes_to_it() -> None:
    upstream = sorted(_upstream("interruption-events.json").values(), key=lambda p: json.dumps(p, sort_keys=True))
    assert sorted(karpenter.INTERRUPTION_EVENTS.values(), key=lambda p: json.dumps(p, sort_keys=True)) == upstream
