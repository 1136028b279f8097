"""The README against the repository: links, the layers table, the stack lists, what it tells users to write.

(The quickstart against .ci/run is in tests/test_workflows.py; guardrail tables in tests/test_guardrails.py.)
"""

from __future__ import annotations

import re

from tests.conftest import ROOT, STACK_FILES
from tests.test_workflows import eks_stacks

README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"```.*?```", re.S)
PROSE = FENCE.sub("", README)
SHELL_BLOCKS = re.findall(r"```(?:bash|sh)\n(.*?)```", README, re.S)
STACKS = sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in STACK_FILES)


def section(heading: str) -> str:
    """The text under ``heading`` up to the next heading of its level or above."""
    level = heading.split(" ", 1)[0]
    start = README.index(f"\n{heading}\n")
    ends = [README.find(f"\n{'#' * n} ", start + 1) for n in range(1, len(level) + 1)]
    return README[start : min([end for end in ends if end != -1], default=len(README))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_internal_link_names_a_heading() -> None:
    anchors = {slug(title) for title in re.findall(r"^#{1,6} (.+)$", PROSE, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", PROSE))
    assert links, "no internal links found: the pattern is wrong"
    assert sorted(links - anchors) == []


def test_slug_follows_github() -> None:
    assert slug("Version profile `v0.6`") == "version-profile-v06"
    assert slug("Check before `pulumi up`: the offline plan") == "check-before-pulumi-up-the-offline-plan"
    assert slug("GPU Operator (phase 1.5)") == "gpu-operator-phase-15"


def test_layers_table_names_every_module() -> None:
    table = section("## How it fits together")
    modules = [p.name for p in (ROOT / "components").glob("*.py") if p.name != "__init__.py"]
    packages = [p.name for p in (ROOT / "components").iterdir() if (p / "__init__.py").is_file()]
    missing = [m for m in modules if f"`{m}`" not in table and f"`components/{m}`" not in table]
    missing += [p for p in packages if f"`components/{p}/`" not in table]
    assert missing == []


def test_committed_stacks_table_lists_every_stack_file() -> None:
    rows = re.findall(r"^\| `([\w.-]+)` \|", section("## Committed stacks"), re.M)
    assert sorted(rows) == STACKS


def test_deploy_names_every_stack_that_creates_its_cluster() -> None:
    paragraph = next(p for p in section("### Deploy").split("\n\n") if p.startswith("Every committed stack"))
    named = re.findall(r"`([\w.-]+)`", paragraph.split(";", 1)[0])
    assert sorted(named) == sorted(eks_stacks(STACKS))
    assert "local" not in eks_stacks(STACKS) and "`local`" in paragraph


def _ignored_roots() -> set[str]:
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return {line.strip("/") for line in lines if line.startswith("/")}


def test_what_the_readme_writes_into_the_checkout_is_git_ignored() -> None:
    written = [
        target
        for block in SHELL_BLOCKS
        for target in re.findall(r"(?:[^2&]> |--render )(\S+)", block)
        if not target.startswith(("/", "$", "&"))
    ]
    assert {"kubeconfig", "render/prod"} <= set(written)
    assert [path for path in written if path.split("/", 1)[0] not in _ignored_roots()] == []
