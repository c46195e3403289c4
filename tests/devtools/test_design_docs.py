"""The design lives in docs/ (issue 12 §4): every design page the code, tests or README cite exists, every
relative link and anchor between them resolves, and nothing cites the brief once kept outside the repository
(the design pages themselves name it, to say where the code went beyond it)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
CITING = ("layers", "functions", "devtools", "tests", "benchmarks")
CITED_PAGE = re.compile(r"docs/([a-z0-9-]+\.md)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)


def sources() -> list[Path]:
    found = [PROJECT_ROOT / "README.md", *DOCS.glob("*.md")]
    for folder in CITING:
        found += [path for path in (PROJECT_ROOT / folder).rglob("*") if path.suffix in {".py", ".md"}]
    return found


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in HEADING.findall(page.read_text())
    }


def test_every_cited_design_page_exists() -> None:
    cited = {
        (str(path.relative_to(PROJECT_ROOT)), page)
        for path in sources()
        for page in CITED_PAGE.findall(path.read_text())
    }
    assert len({page for _, page in cited}) >= 4  # the code cites the design pages
    assert not [f"{path}: docs/{page}" for path, page in sorted(cited) if not (DOCS / page).is_file()]


def test_links_between_the_design_pages_resolve() -> None:
    broken = []
    for page in [PROJECT_ROOT / "README.md", *DOCS.glob("*.md")]:
        for link in LINK.findall(page.read_text()):
            if link.startswith(("http://", "https://")):
                continue
            target_name, _, anchor = link.partition("#")
            target = (page.parent / target_name) if target_name else page
            if not target.is_file() or (anchor and anchor not in anchors(target)):
                broken.append(f"{page.relative_to(PROJECT_ROOT)}: {link}")
    assert not broken


def test_nothing_cites_the_brief_outside_the_repository() -> None:
    citing = [
        str(path.relative_to(PROJECT_ROOT))
        for path in sources()
        if path != Path(__file__) and path.parent != DOCS and re.search(r"DESIGN(\.md| §)", path.read_text())
    ]
    assert not citing
