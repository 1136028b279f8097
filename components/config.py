"""Stack configuration: the public contract of ``Pulumi.<stack>.yaml``.

Every key and default here is documented in the README's configuration
reference. Models are strict: an unknown key or a wrong type is an error that
names the key, so a typo fails at preview instead of deploying defaults.

Phase presets fill the switches a user did not set (``gpu.provisioner``,
``gpu.operator``, ``gpu.dra``, ``serving.stack``, ``serving.path``,
``serving.prefill``); :func:`resolve` returns the combined settings and which
values came from the preset.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake

from . import versions

NAMESPACE = "llmd-eks"
SECRET_KEYS = frozenset({"hfToken"})  # read with get_secret, never into plain data

Phase = Literal["1", "1.5", "2a", "2b", "3"]
Provisioner = Literal["auto-mode", "karpenter", "managed-node-group"]
ServingStack = Literal["llm-d", "dynamo"]
ServingPath = Literal["inference-scheduling", "pd-disaggregation"]

_K8S_VERSION = re.compile(r"^1\.([0-9]+)$")
MIN_AUTO_MODE_MINOR = 29
# Node disks (the NodeClass's ephemeral storage, EBS root volumes) come in whole GiB.
_WHOLE_GIB = re.compile(r"^([1-9][0-9]*)(Gi|Ti)$")
_GIB_PER_UNIT = {"Gi": 1, "Ti": 1024}


def _matching(pattern: str, expected: str) -> AfterValidator:
    """A regular-expression check whose error says what is expected in words, not the expression."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"expected {expected}")
        return value

    return AfterValidator(check)


Duration = Annotated[str, _matching(r"^([0-9]+(s|m|h))+$", "a duration like 30s, 10m, 1h or 1h30m")]
DiskSize = Annotated[
    str,
    _matching(
        _WHOLE_GIB.pattern,
        "a disk size in whole Gi or Ti, like 500Gi or 1Ti (node disks are whole GiB; no decimals, "
        "no G/GB or byte counts)",
    ),
]
DnsLabel = Annotated[
    str,
    _matching(
        r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        "a Kubernetes name: lowercase letters, digits and '-', starting and ending with a letter or digit, "
        "at most 63 characters",
    ),
]


class _Strict(BaseModel):
    """Strict camelCase model: unknown keys and loose types are errors."""

    model_config = ConfigDict(
        extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=False, frozen=True
    )


class ExistingVpc(_Strict):
    vpc_id: Annotated[str, _matching(r"^vpc-[0-9a-f]+$", "a VPC id like vpc-0123456789abcdef0")]
    private_subnet_ids: list[str] = Field(min_length=2)
    public_subnet_ids: list[str] = Field(default_factory=list)

    @field_validator("private_subnet_ids", "public_subnet_ids")
    @classmethod
    def _subnet_ids(cls, ids: list[str]) -> list[str]:
        for subnet in ids:
            if not re.match(r"^subnet-[0-9a-f]+$", subnet):
                raise ValueError(f"{subnet!r} is not a subnet id (subnet-...)")
        return ids


class ClusterConfig(_Strict):
    name: (
        Annotated[
            str,
            _matching(
                r"^[a-zA-Z][-a-zA-Z0-9]{0,99}$",
                "an EKS cluster name: a letter, then letters, digits and '-', at most 100 characters",
            ),
        ]
        | None
    ) = None
    kubernetes_version: str = "1.34"
    vpc_cidr: str = "10.0.0.0/16"
    existing_vpc: ExistingVpc | None = None
    endpoint_public_access: bool = True
    public_access_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"], min_length=1)
    protect: bool = False
    mode: Literal["eks-auto", "existing"] = "eks-auto"
    kubeconfig_context: str = ""

    @field_validator("kubernetes_version", mode="before")
    @classmethod
    def _unquoted_version(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # YAML reads an unquoted 1.30 as the number 1.3, and minors below 10
            # are long gone: a one-digit minor was written with a trailing 0.
            text = str(value)
            meant = f"{text}0" if len(text.partition(".")[2]) == 1 else text
            dropped = f" (an unquoted {meant} reads as {text})" if meant != text else ""
            raise ValueError(f'a number, not a version{dropped}; write it quoted: "{meant}"')
        return value

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        match = _K8S_VERSION.match(value)
        if not match:
            raise ValueError(f'{value!r} is not a Kubernetes minor version; write it quoted, e.g. "1.34"')
        if int(match.group(1)) < MIN_AUTO_MODE_MINOR:
            raise ValueError(f"{value} is older than 1.{MIN_AUTO_MODE_MINOR}, the oldest EKS Auto Mode supports")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        network = ipaddress.ip_network(value, strict=True)
        if network.version != 4 or not 16 <= network.prefixlen <= 20:
            raise ValueError(f"{value} must be an IPv4 CIDR between /16 and /20 (six subnets are carved from it)")
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            ipaddress.ip_network(value, strict=True)
        return values

    @property
    def minor_version(self) -> int:
        return int(self.kubernetes_version.split(".")[1])


class MigConfig(_Strict):
    strategy: Literal["single", "mixed"]
    profile: str = Field(min_length=1)


class TimeSlicingConfig(_Strict):
    replicas: int = Field(ge=2)  # pods sharing one GPU (GPU Operator device-plugin sharing)


class GpuConfig(_Strict):
    instance_families: list[str] = Field(default_factory=lambda: ["p5"], min_length=1)
    capacity_types: list[Literal["on-demand", "spot", "reserved"]] = Field(
        default_factory=lambda: ["on-demand"], min_length=1
    )
    max_gpus: int = Field(default=16, gt=0)
    ephemeral_storage: DiskSize = "500Gi"
    consolidate_after: Duration = "30s"
    provisioner: Provisioner | None = None
    operator: bool | None = None
    dra: bool | None = None
    mig: MigConfig | None = None
    time_slicing: TimeSlicingConfig | None = None
    instance_types: list[str] = Field(default_factory=lambda: ["p5.48xlarge"], min_length=1)
    min_nodes: int = Field(default=1, ge=0)
    max_nodes: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _node_bounds(self) -> GpuConfig:
        if self.min_nodes > self.max_nodes:
            raise ValueError(
                f"minNodes ({self.min_nodes}) is larger than maxNodes ({self.max_nodes}); "
                "lower gpu.minNodes or raise gpu.maxNodes"
            )
        return self

    @property
    def ephemeral_storage_gib(self) -> int:
        """``ephemeralStorage`` in GiB, the unit of every node disk it sizes."""
        match = _WHOLE_GIB.match(self.ephemeral_storage)
        assert match is not None  # DiskSize
        return int(match.group(1)) * _GIB_PER_UNIT[match.group(2)]


_HF_SOURCE = re.compile(r"^hf://[^/\s]+/[^/\s]+$")
# An S3 bucket name, then the adapter's folder: segments without IAM wildcards
# (* ?) or policy variables ($), which would widen the read grant built from it.
_S3_SEGMENT = r"[A-Za-z0-9!_.'()-]+"
_S3_SOURCE = re.compile(
    rf"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{{1,61}}[a-z0-9])/(?P<folder>{_S3_SEGMENT}(/{_S3_SEGMENT})*)/?$"
)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # the folder's key prefix, ending in "/"


class LoraAdapter(_Strict):
    name: Annotated[
        str,
        _matching(
            r"^[A-Za-z0-9][-A-Za-z0-9_.]*$",
            "an adapter name of letters, digits, '-', '_' and '.', starting with a letter or digit",
        ),
    ]
    source: str

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if _HF_SOURCE.match(value) or _S3_SOURCE.match(value):
            return value
        raise ValueError(
            "expected hf://<org>/<repo> or s3://<bucket>/<folder> (the adapter's folder, not a whole bucket; "
            "folder names of letters, digits and !_.'()- only, no wildcards)"
        )

    @property
    def hf_repo(self) -> str | None:
        """``org/repo`` for a Hugging Face source, else None."""
        return self.source.removeprefix("hf://") if self.source.startswith("hf://") else None

    @property
    def s3_location(self) -> S3Location | None:
        """Bucket and folder prefix for an S3 source, else None."""
        match = _S3_SOURCE.match(self.source)
        return S3Location(match["bucket"], f"{match['folder']}/") if match else None


class SimulatorConfig(_Strict):
    """Latencies of llm-d's vLLM simulator (``model.simulate``): long enough that
    queueing and routing show in the metrics, short enough for a quick demo."""

    time_to_first_token_ms: int = Field(default=200, ge=0)
    inter_token_latency_ms: int = Field(default=20, ge=0)


class ModelConfig(_Strict):
    name: Annotated[
        str,
        _matching(
            r"^[A-Za-z0-9][-A-Za-z0-9_.]*/[-A-Za-z0-9_.]+$",
            "a Hugging Face repo id <org>/<model>, e.g. Qwen/Qwen3-8B",
        ),
    ] = "Qwen/Qwen3-32B"
    tensor_parallelism: int = Field(default=2, ge=1)
    replicas: int = Field(default=8, ge=0)
    max_model_len: int = Field(default=32768, gt=0)
    gpu_memory_utilization: float = Field(default=0.90, gt=0, le=1)
    extra_args: list[str] = Field(default_factory=list)
    lora_adapters: list[LoraAdapter] = Field(default_factory=list)
    simulate: bool = False
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    # What the capacity planner needs for a model components/catalog/models.py
    # lacks; for a catalogued model each one given overrides the catalogue.
    parameters_billions: float | None = Field(default=None, gt=0)
    bytes_per_parameter: float | None = Field(default=None, gt=0, le=4)
    layers: int | None = Field(default=None, gt=0)
    kv_heads: int | None = Field(default=None, gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    experts: int | None = Field(default=None, gt=0)

    @field_validator("lora_adapters")
    @classmethod
    def _unique_adapters(cls, adapters: list[LoraAdapter]) -> list[LoraAdapter]:
        names = [a.name for a in adapters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"adapter names must be unique (requests select an adapter by name): {duplicates}")
        return adapters


class PrefillConfig(_Strict):
    replicas: int = Field(default=2, ge=1)
    tensor_parallelism: int = Field(default=4, ge=1)


class ServingConfig(_Strict):
    namespace: DnsLabel = "llm-d"
    gateway: Literal["istio", "agentgateway"] = "istio"
    exposure: Literal["cluster-ip", "internal-nlb", "internet-nlb"] = "cluster-ip"
    release: str = versions.DEFAULT_PROFILE
    stack: ServingStack | None = None
    path: ServingPath | None = None
    prefill: PrefillConfig | None = None

    @field_validator("release")
    @classmethod
    def _release(cls, value: str) -> str:
        if value not in versions.PROFILES:
            raise ValueError(f"unknown version profile {value!r}; known: {', '.join(sorted(versions.PROFILES))}")
        return value


class ObservabilityConfig(_Strict):
    enabled: bool = True


# Five fields: KEDA's cron scaler has no seconds field.
Cron = Annotated[
    str, _matching(r"^\S+( \S+){4}$", 'a five-field cron time (minute hour day month weekday), like "0 20 * * 1-5"')
]
TimeZone = Annotated[
    str, _matching(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", "an IANA time zone like UTC or Europe/Berlin")
]


class OffPeakConfig(_Strict):
    timezone: TimeZone = "UTC"
    start: Cron = "0 20 * * 1-5"
    end: Cron = "0 8 * * 1-5"
    replicas: int = Field(default=1, ge=0)


class AutoscalingConfig(_Strict):
    enabled: bool = False
    min_replicas: int = Field(default=2, ge=0)
    max_replicas: int = Field(default=8, ge=1)
    queue_depth_target: int = Field(default=5, ge=1)
    off_peak: OffPeakConfig | None = None

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) is larger than maxReplicas ({self.max_replicas})")
        if self.off_peak is not None and self.off_peak.replicas > self.min_replicas:
            raise ValueError(
                f"offPeak.replicas ({self.off_peak.replicas}) is larger than minReplicas ({self.min_replicas}); "
                "off-peak hours scale down, so set it at or below minReplicas"
            )
        return self


class ModelCacheConfig(_Strict):
    enabled: bool = False
    # An existing bucket's name; empty: the program creates one.
    bucket: Annotated[
        str,
        _matching(
            r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "an S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-'), or empty",
        ),
    ] = ""
    # Key prefix under which models live (s3://<bucket>/<prefix><org>/<model>/).
    # No wildcards: the prefix scopes the IAM policies, where `*` would widen them.
    prefix: Annotated[
        str,
        _matching(
            r"^$|^[A-Za-z0-9!_.'()-]+(/[A-Za-z0-9!_.'()-]+)*/$",
            "empty, or a key prefix ending in '/' of letters, digits and !_.'()- (no wildcards), like models/",
        ),
    ] = "models/"


class StackConfig(_Strict):
    """Everything under the ``llmd-eks:`` namespace except secrets."""

    phase: Phase = "1"
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    model_cache: ModelCacheConfig = Field(default_factory=ModelCacheConfig)


# Phase presets as data (ARCHITECTURE §3): the switches each phase implies.
PHASE_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "1": {
        "gpu": {"provisioner": "auto-mode", "operator": False, "dra": False},
        "serving": {"stack": "llm-d", "path": "inference-scheduling"},
    },
    "1.5": {
        "gpu": {"provisioner": "auto-mode", "operator": True, "dra": False},
        "serving": {"stack": "llm-d", "path": "inference-scheduling"},
    },
    "2a": {
        "gpu": {"provisioner": "karpenter", "operator": True, "dra": False},
        "serving": {"stack": "llm-d", "path": "pd-disaggregation", "prefill": {}},
    },
    "2b": {
        "gpu": {"provisioner": "managed-node-group", "operator": False, "dra": True},
        "serving": {"stack": "llm-d", "path": "inference-scheduling"},
    },
    "3": {
        "gpu": {"provisioner": "karpenter", "operator": True, "dra": False},
        "serving": {"stack": "dynamo", "path": "inference-scheduling"},
    },
}


class ConfigError(ValueError):
    """Invalid stack configuration; the message names each key and the fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    """Validated configuration with the phase preset applied."""

    stack: str
    config: StackConfig
    cluster_name: str
    has_hf_token: bool
    region: str | None = None  # aws:region; required unless cluster.mode is existing
    # "section.key" -> the value the phase preset filled in, as validated
    # (with the model's defaults inside nested objects).
    preset_applied: dict[str, Any] = field(default_factory=dict)

    @property
    def phase(self) -> str:
        return self.config.phase

    @property
    def cluster(self) -> ClusterConfig:
        return self.config.cluster

    @property
    def gpu(self) -> GpuConfig:
        return self.config.gpu

    @property
    def model(self) -> ModelConfig:
        return self.config.model

    @property
    def serving(self) -> ServingConfig:
        return self.config.serving

    @property
    def profile(self) -> versions.VersionProfile:
        return versions.PROFILES[self.config.serving.release]

    def explicit(self, section: str) -> frozenset[str]:
        """The camelCase keys of ``section`` the stack file sets. The phase preset is
        merged in before validation, so its fills are in ``model_fields_set`` too: not counted."""
        values: BaseModel = getattr(self.config, to_snake(section))
        preset = {path.partition(".")[2] for path in self.preset_applied if path.startswith(f"{section}.")}
        return frozenset(to_camel(name) for name in values.model_fields_set) - preset


def _key(loc: tuple[int | str, ...]) -> str:
    path = ".".join(str(part) for part in loc)
    top, _, rest = path.partition(".")
    return f"{NAMESPACE}:{top}" + (f".{rest}" if rest else "")


_MODELS: dict[str, type[_Strict]] = {model.__name__: model for model in _Strict.__subclasses__()}


def _expected_object(class_name: str, value: Any) -> str:
    """Say what a section or sub-object looks like, not which class it is."""
    model = _MODELS[class_name]
    if "enabled" in model.model_fields and str(value).lower() in {"true", "false"}:
        return f"expected an object, e.g. {{enabled: {str(value).lower()}}}"
    return f"expected an object with the keys {', '.join(to_camel(name) for name in model.model_fields)}"


def _describe(error: dict[str, Any]) -> str:
    key = _key(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return f"{key}: unknown key (value {value!r}); remove it or fix its spelling"
    if kind == "model_type":
        message = _expected_object(error["ctx"]["class_name"], value)
    else:
        message = error["msg"].removeprefix("Value error, ")
    # A check across keys (minNodes against maxNodes) gets the whole section as
    # its input; its message names the values, the section would only be noise.
    got = "" if kind == "value_error" and isinstance(value, dict) else f" (got {value!r})"
    return f"{key}: {message}{got}; see the README's configuration reference"


def _apply_preset(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Fill the switches the phase implies where the user left them unset; the
    merged config and the ``section.key`` paths filled."""
    phase = raw.get("phase", "1")
    preset = PHASE_PRESETS.get(phase, {}) if isinstance(phase, str) else {}
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    applied: list[str] = []
    for section, values in preset.items():
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            continue  # the model reports the wrong type
        for key, value in values.items():
            if key not in target:
                target[key] = value
                applied.append(f"{section}.{key}")
    return merged, applied


def _resolved(config: StackConfig, path: str) -> Any:
    """The validated value at ``section.key``, nested objects as camelCase dicts
    (the preset's ``prefill: {}`` is ``{replicas: 2, tensorParallelism: 4}``)."""
    section, _, key = path.partition(".")
    value = getattr(getattr(config, to_snake(section)), to_snake(key))
    return value.model_dump(by_alias=True) if isinstance(value, BaseModel) else value


def resolve(raw: dict[str, Any], stack: str, has_hf_token: bool = False, region: str | None = None) -> Settings:
    """Validate raw ``llmd-eks:`` config (namespace stripped) and apply the phase preset."""
    merged, applied = _apply_preset(raw)
    try:
        config = StackConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors()]) from None
    if region is None and config.cluster.mode == "eks-auto":
        raise ConfigError(["aws:region: not set; run `pulumi config set aws:region us-west-2` (or your region)"])
    name = config.cluster.name or f"llmd-{stack}"
    return Settings(
        stack=stack,
        config=config,
        cluster_name=name,
        has_hf_token=has_hf_token,
        region=region,
        preset_applied={path: _resolved(config, path) for path in applied},
    )


def not_implemented(settings: Settings) -> list[str]:
    """Configuration this version accepts but cannot deploy yet: refused, never half-deployed."""
    cfg = settings.config
    unbuilt = {
        "gpu.timeSlicing": (cfg.gpu.time_slicing is not None, "GPU time-slicing"),
    }
    return [
        f"{NAMESPACE}:{key}: {what} is not implemented yet; remove {key}"
        for key, (requested, what) in unbuilt.items()
        if requested
    ]
