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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from . import versions

NAMESPACE = "llmd-eks"
SECRET_KEYS = frozenset({"hfToken"})  # read with get_secret, never into plain data

Phase = Literal["1", "1.5", "2a", "2b", "3"]
Provisioner = Literal["auto-mode", "karpenter", "managed-node-group"]
ServingStack = Literal["llm-d", "dynamo"]
ServingPath = Literal["inference-scheduling", "pd-disaggregation"]

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|K|M|G|T|P)?$")
_DURATION = re.compile(r"^([0-9]+(s|m|h))+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_K8S_VERSION = re.compile(r"^1\.([0-9]+)$")
MIN_AUTO_MODE_MINOR = 29


class _Strict(BaseModel):
    """Strict camelCase model: unknown keys and loose types are errors."""

    model_config = ConfigDict(
        extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=False, frozen=True
    )


class ExistingVpc(_Strict):
    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]+$")
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
    name: str | None = Field(default=None, pattern=r"^[a-zA-Z][-a-zA-Z0-9]{0,99}$")
    kubernetes_version: str = "1.34"
    vpc_cidr: str = "10.0.0.0/16"
    existing_vpc: ExistingVpc | None = None
    endpoint_public_access: bool = True
    public_access_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"], min_length=1)
    protect: bool = False
    mode: Literal["eks-auto", "existing"] = "eks-auto"
    kubeconfig_context: str = ""

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
    ephemeral_storage: str = Field(default="500Gi", pattern=_QUANTITY.pattern)
    consolidate_after: str = Field(default="30s", pattern=_DURATION.pattern)
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
            raise ValueError(f"minNodes ({self.min_nodes}) is larger than maxNodes ({self.max_nodes})")
        return self


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
    name: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
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
    name: str = Field(default="Qwen/Qwen3-32B", pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*/[-A-Za-z0-9_.]+$")
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
    namespace: str = Field(default="llm-d", pattern=_DNS_LABEL.pattern)
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


_CRON = re.compile(r"^\S+( \S+){4}$")  # five fields: KEDA's cron scaler has no seconds field
_TIMEZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")


class OffPeakConfig(_Strict):
    timezone: str = Field(default="UTC", pattern=_TIMEZONE.pattern)
    start: str = Field(default="0 20 * * 1-5", pattern=_CRON.pattern)
    end: str = Field(default="0 8 * * 1-5", pattern=_CRON.pattern)
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
    bucket: str = Field(default="", pattern=r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    # Key prefix under which models live (s3://<bucket>/<prefix><org>/<model>/).
    # No wildcards: the prefix scopes the IAM policies, where `*` would widen them.
    prefix: str = Field(default="models/", pattern=r"^$|^[A-Za-z0-9!_.'()-]+(/[A-Za-z0-9!_.'()-]+)*/$")


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

# Phases whose components exist. Others are accepted by the model but refused
# by `not_implemented` before anything is registered.
IMPLEMENTED_PHASES: frozenset[str] = frozenset({"1", "1.5", "2a", "2b", "3"})


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


def _key(loc: tuple[int | str, ...]) -> str:
    path = ".".join(str(part) for part in loc)
    top, _, rest = path.partition(".")
    return f"{NAMESPACE}:{top}" + (f".{rest}" if rest else "")


def _describe(error: dict[str, Any]) -> str:
    key = _key(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key (value {error['input']!r}); remove it or fix its spelling"
    value = error.get("input")
    message = error["msg"].removeprefix("Value error, ")
    return f"{key}: {message} (got {value!r}); see the README's configuration reference"


def _apply_preset(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fill the switches the phase implies where the user left them unset."""
    phase = raw.get("phase", "1")
    preset = PHASE_PRESETS.get(phase, {}) if isinstance(phase, str) else {}
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    applied: dict[str, Any] = {}
    for section, values in preset.items():
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            continue  # the model reports the wrong type
        for key, value in values.items():
            if key not in target:
                target[key] = value
                applied[f"{section}.{key}"] = value
    return merged, applied


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
        preset_applied=applied,
    )


def not_implemented(settings: Settings) -> list[str]:
    """Configuration this version accepts but cannot deploy yet: refused, never half-deployed."""
    cfg = settings.config
    problems = []
    if cfg.phase not in IMPLEMENTED_PHASES:
        problems.append(
            f"{NAMESPACE}:phase: phase {cfg.phase} is not implemented yet; "
            f"implemented: {', '.join(sorted(IMPLEMENTED_PHASES))}"
        )
    unbuilt = {
        "gpu.timeSlicing": (cfg.gpu.time_slicing is not None, "GPU time-slicing"),
    }
    for key, (requested, what) in unbuilt.items():
        if requested:
            problems.append(f"{NAMESPACE}:{key}: {what} is not implemented yet")
    return problems
