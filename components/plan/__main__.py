"""Offline plan: ``python -m components.plan --stack <name> [--render DIR] [--format text|json]``.

Runs the real program for ``Pulumi.<name>.yaml`` under mocks
(``components/mockrun.py``): no Pulumi CLI, no cloud credentials, no secrets
(``secure:`` values are unknown placeholders). Prints the phase and the preset
applied, every guardrail finding, the capacity and cost estimate, and the
resource tree; ``--render DIR`` writes every Kubernetes object and every Helm
release's values as YAML. Exit status: 0 for a valid stack, 1 for an invalid
one (the message says why), 2 for a usage error such as a missing stack file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pulumi

from ..config import NAMESPACE, ConfigError, not_implemented, resolve
from ..mockrun import PROJECT_ROOT, Recording, run_program, stack_file_config
from ..pulumi_config import engine_values, namespace_values
from . import guardrails, report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m components.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--render", type=Path, metavar="DIR", help="write Kubernetes objects and Helm values here")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--stack-dir", type=Path, default=PROJECT_ROOT, help="directory holding Pulumi.<stack>.yaml (the project root)"
    )
    return parser


def plan_stack(stack: str, stack_file: Path) -> report.Plan:
    """Check the stack file like preflight does, then run the real program under mocks."""
    plan = report.Plan(stack=stack, stack_file=stack_file)
    config, secure_keys = stack_file_config(stack_file)
    plain = {k: v for k, v in config.items() if k not in secure_keys}
    try:
        # Read exactly as the program reads the engine's config (strings, JSON objects).
        engine = {**engine_values(plain), **{key: "[secret]" for key in secure_keys}}
        plan.settings = resolve(
            namespace_values(engine, secure_keys),
            stack,
            has_hf_token=f"{NAMESPACE}:hfToken" in secure_keys,
            region=engine.get("aws:region"),
        )
    except ConfigError as error:
        plan.problems = error.problems
        return plan
    plan.findings = guardrails.evaluate(plan.settings)
    plan.problems = not_implemented(plan.settings) + [str(f) for f in guardrails.errors(plan.findings)]
    recording = Recording()
    try:
        run_program(stack, plain, unknown_secrets=secure_keys, recording=recording)
    except pulumi.RunError as error:
        plan.problems = plan.problems or [str(error)]
        return plan
    if not plan.problems:
        plan.recording = recording
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stack_file = args.stack_dir / f"Pulumi.{args.stack}.yaml"
    if not stack_file.is_file():
        print(f"no stack file {stack_file}; stacks: {', '.join(_stacks(args.stack_dir)) or 'none'}", file=sys.stderr)
        return 2
    plan = plan_stack(args.stack, stack_file)
    if args.render is not None and plan.recording is not None:
        plan.render_dir = args.render
        plan.rendered = report.render(plan.recording, args.render)
    if args.format == "json":
        print(json.dumps(report.as_json(plan), indent=2))
    else:
        print(report.as_text(plan))
    return 0 if plan.valid else 1


def _stacks(directory: Path) -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in directory.glob("Pulumi.*.yaml"))


if __name__ == "__main__":
    sys.exit(main())
