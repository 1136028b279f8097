"""Run the real Pulumi program under ``pulumi.runtime.set_mocks`` and record its graph.

No Pulumi CLI, no provider plugins, no cloud credentials: every registration
reaches :class:`RecordingMonitor`, which keeps what ``pulumi preview`` would
send to the engine (type, name, parent, provider, dependencies, inputs and
which inputs are secret). Tests assert on that graph; the offline plan prints it.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from .config import NAMESPACE
from .pulumi_config import engine_values

PROJECT = "llmd-eks"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_ROOT / "__main__.py"
STACK_TYPE = "pulumi:pulumi:Stack"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "<unknown>"  # how a value not known at preview time appears in recorded inputs
MOCK_ZONES = ["us-west-2a", "us-west-2b", "us-west-2c"]


@dataclass(frozen=True)
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    provider: str  # "<provider urn>::<id>" or ""
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    inputs: Mapping[str, Any]  # secrets unwrapped to their plain values
    secret_paths: tuple[str, ...]  # dotted input paths that were marked secret
    custom: bool
    remote: bool
    protect: bool
    aliases: tuple[Mapping[str, Any], ...] = ()  # alias specs: name, type, parentUrn
    ignore_changes: tuple[str, ...] = ()
    retain_on_delete: bool = False

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""

    def alias_urns(self) -> list[str]:
        """The URNs this registration's aliases name: earlier identities Pulumi moves it from.

        In this monitor's URN form, which qualifies a type with its parent's type only
        (the engine keeps the whole chain; both agree on which resource is meant)."""
        urns = []
        for spec in self.aliases:
            parent, _, _ = spec["parentUrn"].rpartition("::")
            head, _, parent_types = parent.rpartition("::")
            parent_type = parent_types.rsplit("$", 1)[-1]
            urns.append(f"{head}::{parent_type}${spec.get('type', self.type)}::{spec.get('name', self.name)}")
        return urns


@dataclass
class Recording:
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (token, args) of data-source calls
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} {name or ''}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def custom_resources(self, api_version: str | None = None, kind: str | None = None) -> list[Registration]:
        return [
            r
            for r in self.resources
            if r.type.startswith("kubernetes:")
            and "apiVersion" in r.inputs
            and (api_version is None or r.inputs["apiVersion"] == api_version)
            and (kind is None or r.inputs.get("kind") == kind)
        ]

    def helm_releases(self) -> list[Registration]:
        return self.of_type("kubernetes:helm.sh/v3:Release")

    def release(self, release_name: str) -> Registration:
        return next(r for r in self.helm_releases() if r.inputs.get("name") == release_name)

    def waits_for(self, reg: Registration) -> set[str]:
        """URNs this registration waits for, directly (dependencies and property dependencies)."""
        deps = set(reg.dependencies)
        for urns in reg.property_dependencies.values():
            deps.update(urns)
        return deps


def _secret_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == _SECRET_SIG:
            return [path or "."]
        found = []
        for key, item in value.items():
            found += _secret_paths(item, f"{path}.{key}" if path else key)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _secret_paths(item, f"{path}[{i}]")]
    return []


def _unwrap(value: Any) -> Any:
    # Protobuf Structs carry every number as a double; Helm and the API server
    # read 2.0 as 2, so integral numbers come back as ints.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == _SECRET_SIG:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class ProgramMocks(pulumi_mocks.Mocks):
    """Plausible outputs for the few resources whose outputs the program reads."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        if args.typ == "eks:index:Cluster":
            state["kubeconfigJson"] = json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": []})
            state["clusterSecurityGroupId"] = "sg-0123456789abcdef0"
        elif args.typ == "aws:iam/role:Role":
            state.setdefault("name", args.name)
            state["arn"] = f"arn:aws:iam::123456789012:role/{state['name']}"
        elif args.typ == "aws:cloudwatch/eventRule:EventRule":
            state.setdefault("name", args.name)
        elif args.typ == "aws:sqs/queue:Queue":
            state.setdefault("name", args.name)
            state["arn"] = f"arn:aws:sqs:us-west-2:123456789012:{state['name']}"
            state["url"] = f"https://sqs.us-west-2.amazonaws.com/123456789012/{state['name']}"
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": MOCK_ZONES, "zoneIds": [f"usw2-az{i}" for i in range(1, 4)]}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/mock", "userId": "mock"}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks, recording: Recording) -> None:
        super().__init__(mocks)
        self.recording = recording
        self.stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            self.stack_urn = response.urn
            return response
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        self.recording.resources.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                provider=request.provider,
                dependencies=tuple(request.dependencies),
                property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
                inputs=_unwrap(raw),
                secret_paths=tuple(_secret_paths(raw)),
                custom=request.custom,
                remote=request.remote,
                protect=request.protect,
                ignore_changes=tuple(request.ignoreChanges),
                retain_on_delete=request.retainOnDelete,
                aliases=tuple(
                    json_format.MessageToDict(alias)["spec"] for alias in request.aliases if alias.HasField("spec")
                ),
            )
        )
        return response

    def Invoke(self, request: Any) -> Any:  # noqa: N802
        self.recording.invokes.append((request.tok, json_format.MessageToDict(request.args)))
        return super().Invoke(request)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if request.urn == self.stack_urn:
            raw = json_format.MessageToDict(request.outputs, preserving_proto_field_name=True)
            self.recording.outputs = _unwrap(raw)
            self.recording.secret_outputs = {p.split(".")[0] for p in _secret_paths(raw)}
        return super().RegisterResourceOutputs(request)


class _WarningCollector:
    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def Log(self, request: Any) -> None:  # noqa: N802
        from pulumi.runtime.proto import engine_pb2

        if request.severity == engine_pb2.WARNING:
            self.recording.warnings.append(request.message)


def stack_file_config(path: Path) -> tuple[dict[str, Any], list[str]]:
    """A ``Pulumi.<stack>.yaml``'s config map, and its keys that hold encrypted secrets."""
    import yaml

    document = yaml.safe_load(path.read_text()) or {}
    config: dict[str, Any] = {}
    secrets: list[str] = []
    for key, value in (document.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.append(full)
        config[full] = value
    return config, secrets


def _unknown_secret() -> pulumi.Output[Any]:
    async def value() -> None:
        return None

    async def known() -> bool:
        return False

    async def secret() -> bool:
        return True

    return pulumi.Output(set(), value(), known(), secret())


@contextmanager
def _unknown_secrets(keys: frozenset[str]) -> Iterator[None]:
    """``Config.get_secret`` of these full keys returns an unknown secret, as a
    preview would for a value it cannot decrypt: the program runs without it."""
    original = pulumi.Config.get_secret

    def get_secret(self: pulumi.Config, key: str, default: str | None = None) -> pulumi.Output[Any] | None:
        if self.full_key(key) in keys:
            return _unknown_secret()
        return original(self, key, default)

    pulumi.Config.get_secret = get_secret  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        pulumi.Config.get_secret = original  # type: ignore[method-assign]


def run_program(
    stack: str,
    config: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    *,
    unknown_secrets: Iterable[str] = (),
    program: Path = PROGRAM,
    preview: bool = True,
    recording: Recording | None = None,
) -> Recording:
    """Run ``program`` for ``stack`` with ``config`` (full keys, e.g. ``llmd-eks:model``).

    ``secrets`` maps full keys to plain values the program reads as secrets;
    ``unknown_secrets`` are full keys of secrets that are set but whose values
    the run does not have (they read as unknown secret outputs). Raises what
    the program raises; pass ``recording`` to inspect what was registered
    before that.
    """
    recording = recording if recording is not None else Recording()
    mocks = ProgramMocks()
    monitor = RecordingMonitor(mocks, recording)
    values = engine_values(config)
    values.update(secrets or {})
    pulumi.runtime.set_all_config(values, list((secrets or {}).keys()))
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    settings = pulumi.runtime.settings.SETTINGS
    settings.engine = _WarningCollector(recording)
    set_root_resource(None)  # type: ignore[arg-type]  # run_in_stack creates the real root

    def program_main() -> None:
        runpy.run_path(str(program), run_name="__main__")

    with _unknown_secrets(frozenset(unknown_secrets)):
        _sync_await(run_in_stack(program_main))
    return recording


def namespaced(values: Mapping[str, Any], namespace: str = NAMESPACE) -> dict[str, Any]:
    """``{"model": {...}}`` -> ``{"llmd-eks:model": {...}}``; keys with a colon pass through."""
    return {k if ":" in k else f"{namespace}:{k}": v for k, v in values.items()}


def urns(recording: Recording, types: Iterable[str]) -> dict[tuple[str, str], str]:
    """``(type, name) -> urn`` without the stack part, for comparing runs of one configuration."""
    wanted = set(types)
    return {(r.type, r.name): r.urn.split("::", 1)[1] for r in recording.resources if r.type in wanted}
