"""GPU instance prices the program knows, as data (USD per instance-hour, Linux).

Only prices with a source are recorded; everything else is "unknown" in the
cost estimate rather than a guess. Sources:

- seed 000 ("llm-d on EKS Auto Mode", 2026-02): p5.48xlarge on-demand in
  us-west-2, $98.32/h ("two instances for a month ≈ $141,580"). That is the
  list price before AWS's 2025 P5 price cut and is likely high today.
- seed 001 ("llm-d based EKS distributed inference", 2026-04): on-demand and
  lowest observed spot prices in us-east-2 for p5, p5en and p6-b200.

Add rows from the AWS Price List API (``aws pricing get-products``) or the
EC2 pricing pages, with the date you read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CapacityType = Literal["on-demand", "spot"]


@dataclass(frozen=True)
class Price:
    instance_type: str
    region: str
    capacity_type: CapacityType
    usd_per_hour: float
    source: str
    as_of: str  # YYYY-MM the figure was read

    @property
    def citation(self) -> str:
        return f"{self.source}, {self.region}, {self.as_of}"


_SEED_000 = "seed 000 (llm-d on EKS Auto Mode guide)"
_SEED_001 = "seed 001 (llm-d EKS distributed inference guide)"

PRICES: tuple[Price, ...] = (
    Price("p5.48xlarge", "us-west-2", "on-demand", 98.32, _SEED_000, "2026-02"),
    Price("p5.48xlarge", "us-east-2", "on-demand", 55.0, _SEED_001, "2026-04"),
    Price("p5.48xlarge", "us-east-2", "spot", 12.5, _SEED_001, "2026-04"),
    Price("p5en.48xlarge", "us-east-2", "on-demand", 76.0, _SEED_001, "2026-04"),
    Price("p5en.48xlarge", "us-east-2", "spot", 12.1, _SEED_001, "2026-04"),
    Price("p6-b200.48xlarge", "us-east-2", "on-demand", 114.0, _SEED_001, "2026-04"),
    Price("p6-b200.48xlarge", "us-east-2", "spot", 11.4, _SEED_001, "2026-04"),
)


def price(instance_type: str, region: str | None, capacity_type: CapacityType) -> Price | None:
    """The price in ``region`` if recorded, else the newest one recorded for
    another region (its ``region`` says so), else None."""
    rows = [p for p in PRICES if p.instance_type == instance_type and p.capacity_type == capacity_type]
    exact = [p for p in rows if p.region == region]
    candidates = exact or rows
    return max(candidates, key=lambda p: p.as_of, default=None)
