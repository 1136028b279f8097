"""GPU instance types the program knows, as data.

Sources (recorded 2026-04 unless noted):
- GPU count and model, vCPU, memory and local NVMe: the AWS EC2
  accelerated-computing instance specifications; the seed guide's P5/P5e tables.
- GPU memory: the total ``nvidia-smi`` reports on the instance (MiB), which is
  what vLLM's ``--gpu-memory-utilization`` is a fraction of. It is a little
  below the marketing figure (an "80 GB" H100 reports 81559 MiB, an A10G 23028).
- Auto Mode support: the seed guide's "EKS Auto Mode GPU instance support
  matrix (2026.04)" and ARCHITECTURE §6.
- Capacity-constrained families (spot rarely granted or held): the seed's
  availability notes (p5en offering matching fails, p5 InsufficientCapacity in
  ap-northeast-2, spot only "obtained" for p5 in us-east-2); the H200, B200 and
  A100 80GB families are the scarcest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# GPU generations with Multi-Instance GPU (NVIDIA MIG user guide, "Supported GPUs");
# L4, L40S and A10G cannot be partitioned.
MIG_CAPABLE_GPUS = frozenset({"A100", "H100", "H200", "B200"})

# EFA interfaces per instance (EC2 user guide, "Supported instance types" for EFA):
# NIXL spreads KV-cache transfers over the ones a pod is given.
EFA_INTERFACES = {
    "p4d.24xlarge": 4,
    "p4de.24xlarge": 4,
    "p5.48xlarge": 32,
    "p5e.48xlarge": 32,
    "p5en.48xlarge": 16,
    "p6-b200.48xlarge": 8,
}


class AutoModeSupport(StrEnum):
    SUPPORTED = "supported"
    LIMITED = "limited"  # dry-run passes, offering matching may fail (seed: p5en)
    UNSUPPORTED = "unsupported"  # Auto Mode's managed Karpenter cannot launch it


@dataclass(frozen=True)
class Gpu:
    model: str
    memory_mib: int  # total as nvidia-smi reports it


A10G = Gpu("A10G", 23028)
L4 = Gpu("L4", 23034)
L40S = Gpu("L40S", 46068)
A100_40 = Gpu("A100 40GB", 40960)
A100_80 = Gpu("A100 80GB", 81920)
H100 = Gpu("H100 80GB", 81559)
H200 = Gpu("H200 141GB", 143771)
B200 = Gpu("B200", 183359)


@dataclass(frozen=True)
class GpuInstanceType:
    name: str
    gpus: int
    gpu: Gpu
    vcpu: int
    memory_gib: int
    nvme_gb: int | None  # local instance-store NVMe in GB; None when not recorded

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


class QuotaClass(StrEnum):
    """EC2 vCPU quota buckets GPU instances draw from."""

    P = "P"
    G = "G and VT"


# Service Quotas codes per bucket and capacity type, and the seed's default
# values ("GPU quota notes": P 384, G/VT 64). Accounts often start lower.
QUOTA_CODES: dict[QuotaClass, dict[str, tuple[str, str]]] = {
    QuotaClass.P: {
        "on-demand": ("L-417A185B", "Running On-Demand P instances"),
        "spot": ("L-7212CCBC", "All P Spot Instance Requests"),
    },
    QuotaClass.G: {
        "on-demand": ("L-DB2E81BA", "Running On-Demand G and VT instances"),
        "spot": ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    },
}
SEED_DEFAULT_QUOTA_VCPU: dict[QuotaClass, int] = {QuotaClass.P: 384, QuotaClass.G: 64}


@dataclass(frozen=True)
class GpuFamily:
    name: str
    auto_mode: AutoModeSupport
    efa: bool
    capacity_constrained: bool  # spot there is rarely granted for long
    sizes: tuple[GpuInstanceType, ...]

    @property
    def category(self) -> str:
        """``eks.amazonaws.com/instance-category``: the letter before the generation."""
        return self.name[0]

    @property
    def quota_class(self) -> QuotaClass:
        return QuotaClass.P if self.category == "p" else QuotaClass.G

    @property
    def gpu(self) -> Gpu:
        return self.sizes[0].gpu

    @property
    def mig_capable(self) -> bool:
        return self.gpu.model.split()[0] in MIG_CAPABLE_GPUS

    @property
    def efa_interfaces_per_gpu(self) -> float:
        """EFA interfaces per GPU on the family's largest EFA size; 0 without EFA."""
        counts = [EFA_INTERFACES[s.name] / s.gpus for s in self.sizes if s.name in EFA_INTERFACES]
        return max(counts, default=0.0) if self.efa else 0.0


_Row = tuple[str, int, int, int, int | None]  # (size, GPUs, vCPU, memory GiB, NVMe GB)


def _sizes(family: str, gpu: Gpu, rows: list[_Row]) -> tuple[GpuInstanceType, ...]:
    return tuple(
        GpuInstanceType(f"{family}.{size}", gpus, gpu, vcpu, ram, nvme) for size, gpus, vcpu, ram, nvme in rows
    )


_G5_ROWS: list[_Row] = [
    ("xlarge", 1, 4, 16, 250),
    ("2xlarge", 1, 8, 32, 450),
    ("4xlarge", 1, 16, 64, 600),
    ("8xlarge", 1, 32, 128, 900),
    ("16xlarge", 1, 64, 256, 1900),
    ("12xlarge", 4, 48, 192, 3800),
    ("24xlarge", 4, 96, 384, 3800),
    ("48xlarge", 8, 192, 768, 7600),
]
_G6_ROWS: list[_Row] = [
    ("xlarge", 1, 4, 16, 250),
    ("2xlarge", 1, 8, 32, 450),
    ("4xlarge", 1, 16, 64, 600),
    ("8xlarge", 1, 32, 128, 900),
    ("16xlarge", 1, 64, 256, 1900),
    ("12xlarge", 4, 48, 192, 3760),
    ("24xlarge", 4, 96, 384, 3760),
    ("48xlarge", 8, 192, 768, 7520),
]
_G6E_ROWS: list[_Row] = [
    ("xlarge", 1, 4, 32, 250),
    ("2xlarge", 1, 8, 64, 450),
    ("4xlarge", 1, 16, 128, 600),
    ("8xlarge", 1, 32, 256, 900),
    ("16xlarge", 1, 64, 512, 1900),
    ("12xlarge", 4, 48, 384, 3800),
    ("24xlarge", 4, 96, 768, 3800),
    ("48xlarge", 8, 192, 1536, 7600),
]
_P_48XLARGE = ("48xlarge", 8, 192, 2048, 30720)  # p5/p5e/p5en/p6-b200: 8 x 3.84 TB NVMe


FAMILIES: dict[str, GpuFamily] = {
    f.name: f
    for f in (
        GpuFamily("g5", AutoModeSupport.SUPPORTED, False, False, _sizes("g5", A10G, _G5_ROWS)),
        GpuFamily("g6", AutoModeSupport.SUPPORTED, False, False, _sizes("g6", L4, _G6_ROWS)),
        GpuFamily("g6e", AutoModeSupport.SUPPORTED, False, False, _sizes("g6e", L40S, _G6E_ROWS)),
        GpuFamily(
            "p4d", AutoModeSupport.SUPPORTED, True, False, _sizes("p4d", A100_40, [("24xlarge", 8, 96, 1152, 8000)])
        ),
        GpuFamily(
            "p4de", AutoModeSupport.SUPPORTED, True, True, _sizes("p4de", A100_80, [("24xlarge", 8, 96, 1152, 8000)])
        ),
        GpuFamily(
            "p5",
            AutoModeSupport.SUPPORTED,
            True,
            False,
            _sizes("p5", H100, [("4xlarge", 1, 16, 256, 3840), _P_48XLARGE]),
        ),
        GpuFamily("p5e", AutoModeSupport.LIMITED, True, True, _sizes("p5e", H200, [_P_48XLARGE])),
        GpuFamily("p5en", AutoModeSupport.LIMITED, True, True, _sizes("p5en", H200, [_P_48XLARGE])),
        GpuFamily(
            "p6-b200",
            AutoModeSupport.UNSUPPORTED,
            True,
            True,
            _sizes("p6-b200", B200, [_P_48XLARGE]),
        ),
        # Fractional L4 GPUs (1/8 and 1/2 of one): not schedulable as whole
        # nvidia.com/gpu on Auto Mode.
        GpuFamily(
            "g6f",
            AutoModeSupport.UNSUPPORTED,
            False,
            False,
            (
                GpuInstanceType("g6f.large", 1, Gpu("L4 (1/8)", L4.memory_mib // 8), 2, 8, None),
                GpuInstanceType("g6f.4xlarge", 1, Gpu("L4 (1/2)", L4.memory_mib // 2), 16, 64, None),
            ),
        ),
    )
}


def family(name: str) -> GpuFamily | None:
    return FAMILIES.get(name)


def instance_type(name: str) -> GpuInstanceType | None:
    fam = FAMILIES.get(name.split(".", 1)[0])
    if fam is None:
        return None
    return next((size for size in fam.sizes if size.name == name), None)
