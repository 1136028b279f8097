"""The offline plan's report: text for people, JSON for machines, YAML files for review.

Pure formatting of what ``python -m components.plan`` gathered: the resolved
settings, the guardrail findings and the recording of the program's run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import Settings
from ..mockrun import Recording, Registration
from . import outputs
from .guardrails import Finding, Severity

SECRET = "<secret>"


@dataclass
class Plan:
    stack: str
    stack_file: Path
    settings: Settings | None = None
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why the stack is invalid
    recording: Recording | None = None
    render_dir: Path | None = None
    rendered: list[Path] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


# --- secrets and values -----------------------------------------------------------------------


def _path_parts(path: str) -> list[str | int]:
    """``stringData.HF_TOKEN`` / ``env[0].value`` -> keys and list indices."""
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts


def _mask(value: Any, parts: list[str | int]) -> Any:
    if not parts:
        return SECRET
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict) and isinstance(head, str) and head in value:
        return {**value, head: _mask(value[head], rest)}
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        return [_mask(item, rest) if i == head else item for i, item in enumerate(value)]
    return value


def masked_inputs(reg: Registration) -> dict[str, Any]:
    """The registration's inputs with every secret-marked value replaced by ``<secret>``."""
    inputs: Any = dict(reg.inputs)
    for path in reg.secret_paths:
        inputs = _mask(inputs, _path_parts(path))
    return inputs


def public_outputs(recording: Recording) -> dict[str, Any]:
    return {k: (SECRET if k in recording.secret_outputs else v) for k, v in sorted(recording.outputs.items())}


# --- render -----------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-")


def kubernetes_objects(recording: Recording) -> Iterator[tuple[Registration, dict[str, Any]]]:
    """Every Kubernetes object the program declares (custom resources included), secrets masked."""
    for reg in recording.resources:
        if reg.type.startswith("kubernetes:") and {"apiVersion", "kind"} <= reg.inputs.keys():
            inputs = masked_inputs(reg)
            head = {k: inputs[k] for k in ("apiVersion", "kind", "metadata") if k in inputs}
            yield reg, {**head, **inputs}


def render(recording: Recording, directory: Path) -> list[Path]:
    """Write every Kubernetes object and every Helm release's values as YAML under ``directory``."""
    written: list[Path] = []
    for reg, obj in kubernetes_objects(recording):
        meta = obj.get("metadata", {})
        name = "-".join(str(part) for part in (obj["kind"], meta.get("namespace"), meta.get("name", reg.name)) if part)
        path = directory / "resources" / f"{_slug(name)}.yaml"
        written.append(_write(path, f"# {reg.type} {reg.name}\n", obj))
    for reg in recording.helm_releases():
        inputs = masked_inputs(reg)
        repo = (inputs.get("repositoryOpts") or {}).get("repo", "")
        header = (
            f"# Helm release {inputs['name']} in namespace {inputs.get('namespace', '')}: chart "
            f"{inputs['chart']} {inputs.get('version', '')} {repo}".rstrip()
            + "\n"
        )
        path = directory / "helm-values" / f"{_slug(inputs['name'])}.yaml"
        written.append(_write(path, header, inputs.get("values") or {}))
    return written


def _write(path: Path, header: str, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return path


# --- JSON -------------------------------------------------------------------------------------


def as_json(plan: Plan) -> dict[str, Any]:
    settings, recording = plan.settings, plan.recording
    document: dict[str, Any] = {
        "stack": plan.stack,
        "stackFile": str(plan.stack_file),
        "valid": plan.valid,
        "errors": plan.problems,
        "phase": settings.phase if settings else None,
        "presetApplied": settings.preset_applied if settings else {},
        "findings": [
            {"id": f.id, "severity": str(f.severity), "key": f.key, "message": f.message, "fix": f.fix}
            for f in plan.findings
        ],
    }
    if recording is not None and plan.valid:
        outputs = public_outputs(recording)
        document["capacity"] = outputs.get("capacity")
        document["costEstimate"] = outputs.get("costEstimate")
        document["outputs"] = outputs
        document["resources"] = [
            {"urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent}
            for r in sorted(recording.resources, key=lambda r: r.urn)
        ]
    if plan.render_dir is not None:
        document["rendered"] = [str(p) for p in plan.rendered]
    return document


# --- text -------------------------------------------------------------------------------------


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _money(cost: dict[str, float] | None) -> tuple[str, str]:
    if cost is None:
        return "unknown", "unknown"
    return f"{cost['hourlyUsd']:,.2f}", f"{cost['thirtyDaysUsd']:,.2f}"


def _capacity_lines(capacity: dict[str, Any]) -> list[str]:
    lines = [
        f"Capacity: {capacity['model']} ({capacity['modelSource']}), maxModelLen {capacity['maxModelLen']}, "
        f"gpuMemoryUtilization {capacity['gpuMemoryUtilization']:g}"
    ]
    if "missing" in capacity:
        return [*lines, f"  unknown model: set {', '.join(capacity['missing'])} to plan its memory"]
    rows = [
        [
            "role",
            "replicas",
            "TP",
            "instance",
            "GPU",
            "weights/GPU",
            "usable/GPU",
            "KV/replica",
            "tokens/replica",
            "full-length seqs",
        ]
    ]
    for role in ("decode", "prefill"):
        if (cap := capacity.get(role)) is None:
            continue
        if cap.get("instanceType") is None:
            rows.append([role, str(cap["replicas"]), str(cap["tensorParallelism"]), "-", "-", "-", "-", "-", "-", "-"])
            continue
        rows.append(
            [
                role,
                str(cap["replicas"]),
                str(cap["tensorParallelism"]),
                cap["instanceType"],
                cap["gpu"],
                f"{cap['weightsGibPerGpu']} GiB",
                f"{cap['usableGibPerGpu']} GiB",
                f"{cap['kvCacheGibPerReplica']} GiB",
                f"{cap['kvCacheTokensPerReplica']:,}",
                f"{cap['fullLengthSequencesPerReplica']}/replica, {cap['fullLengthSequences']} total",
            ]
        )
    return [*lines, *_table(rows)]


def _cost_lines(cost: dict[str, Any]) -> list[str]:
    types = ", ".join(cost["capacityTypes"])
    lines = [f"Cost estimate (USD, GPU nodes only, region {cost['region']}; capacity types {types})"]
    if "note" in cost:
        return [*lines, f"  {cost['note']}"]
    rows = [["scenario", "nodes", "GPUs", "on-demand/h", "on-demand 30d", "spot/h", "spot 30d"]]
    for label, name in (("full scale", "fullScale"), ("configured replicas", "configuredReplicas")):
        scenario = cost[name]
        nodes = ", ".join(f"{count} x {kind}" for kind, count in scenario["nodes"].items()) or "0"
        rows.append([label, nodes, str(scenario["gpus"]), *_money(scenario["onDemand"]), *_money(scenario["spot"])])
    lines += _table(rows)
    for capacity_type, label in (("onDemand", "on-demand"), ("spot", "spot")):
        for instance_type, price in sorted(cost["prices"][capacity_type].items()):
            source = f"${price['usdPerHour']:,.2f}/h ({price['source']})" if price else "no price recorded"
            lines.append(f"  {label} {instance_type}: {source}")
    return lines


def _tree_lines(recording: Recording) -> list[str]:
    # Registrations arrive in the order the engine's async calls complete;
    # sorting by name keeps the tree the same from run to run.
    children: dict[str, list[Registration]] = {}
    urns = {r.urn for r in recording.resources}
    roots = []
    for reg in sorted(recording.resources, key=lambda r: (r.name, r.type)):
        if reg.parent in urns:
            children.setdefault(reg.parent, []).append(reg)
        else:
            roots.append(reg)

    def walk(reg: Registration, prefix: str, last: bool, depth: int) -> Iterator[str]:
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        flags = " (protected)" if reg.protect else ""
        yield f"  {prefix}{branch}{reg.type} {reg.name}{flags}"
        kids = children.get(reg.urn, [])
        extension = "" if depth == 0 else ("   " if last else "│  ")
        for index, kid in enumerate(kids):
            yield from walk(kid, prefix + extension, index == len(kids) - 1, depth + 1)

    lines = [f"Resources ({len(recording.resources)}):"]
    for root in roots:
        lines += walk(root, "", True, 0)
    return lines


def _finding_lines(findings: list[Finding]) -> list[str]:
    errors = sum(f.severity == Severity.ERROR for f in findings)
    lines = [f"Guardrails: {errors} error(s), {len(findings) - errors} warning(s)"]
    for f in findings:
        lines.append(f"  {f.severity.upper():7} [{f.id}] {f.key}: {f.message}")
        if f.fix:
            lines.append(f"          Fix: {f.fix}")
    return lines


def as_text(plan: Plan) -> str:
    lines = [f"llmd-eks offline plan: stack {plan.stack} ({plan.stack_file})"]
    settings = plan.settings
    if settings is not None:
        applied = settings.preset_applied.items()
        preset = ", ".join(f"{k}={json.dumps(v)}" for k, v in applied) or "none (all set explicitly)"
        lines += [
            f"Phase {settings.phase}; preset applied: {preset}",
            f"Region {settings.region or '-'}; cluster {outputs.cluster_name(settings)}; model {settings.model.name}",
            "",
            *_finding_lines(plan.findings),
        ]
    recording = plan.recording
    if not plan.valid or recording is None:
        lines += [
            "",
            "INVALID: this stack would fail before registering anything:",
            *(f"  - {p}" for p in plan.problems),
        ]
        return "\n".join(lines)
    exported = recording.outputs
    if "capacity" in exported:
        lines += ["", *_capacity_lines(exported["capacity"]), "", *_cost_lines(exported["costEstimate"])]
    else:
        lines += ["", "Capacity and cost: no GPU capacity is created (simulated model servers or an existing cluster)."]
    lines += ["", *_tree_lines(recording)]
    if plan.render_dir is not None:
        lines += ["", f"Rendered {len(plan.rendered)} file(s) under {plan.render_dir}"]
    lines += ["", f"VALID: pulumi preview would register {len(recording.resources)} resources."]
    return "\n".join(lines)
