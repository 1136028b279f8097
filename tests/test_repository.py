"""Repository hygiene that no other test would notice."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache"}
CONFLICT_MARKER = re.compile(r"^(<{7} |={7}$|>{7} )", re.MULTILINE)


def _text_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and not SKIP_DIRS & set(path.relative_to(ROOT).parts)
        and path.suffix in {".py", ".md", ".yaml", ".yml", ".txt", ".json", ".toml", ".tsv", ""}
    ]


def test_no_merge_conflict_markers() -> None:
    marked = [str(p.relative_to(ROOT)) for p in _text_files() if CONFLICT_MARKER.search(p.read_text(errors="ignore"))]
    assert marked == []


def test_conflict_marker_pattern_catches_a_marker() -> None:
    assert CONFLICT_MARKER.search("text\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> main\n")
    assert not CONFLICT_MARKER.search("a table\n|---|---|\n")
