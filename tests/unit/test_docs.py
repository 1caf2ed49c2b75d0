"""The README and docs/ name only what exists: every ``make`` target and ``fer-lightning``
subcommand they show in code is real, and every relative link (and its ``#anchor``) resolves
inside the repository. Plain text parsing: the test itself imports neither torch nor Lightning."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from fer_lightning import commands
from fer_lightning.main import LIGHTNING_SUBCOMMANDS
from tests.helpers.paths import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
#: The README is a landing page: this many lines at most besides its generated blocks.
README_MAX_LINES = 150

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
MAKE = re.compile(r"(?<![\w$/.-])make\s+([^\n|;&#]*)")
FER = re.compile(r"(?<![\w.-])fer-lightning\s+([a-z][\w-]*)")
#: A block a command writes (``<!-- NAME:begin -->`` ... ``<!-- NAME:end -->``).
GENERATED = re.compile(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)
MAKE_RULE = re.compile(r"^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*:(?!=)", re.MULTILINE)


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def code_of(text: str) -> list[str]:
    """The fenced code blocks and inline code spans of a markdown text."""
    blocks = [m.group(0) for m in FENCE.finditer(text)]
    prose = FENCE.sub("", text)
    return blocks + [m.group(2) for m in INLINE_CODE.finditer(prose)]


def prose_of(text: str) -> str:
    """The text without code, where links are."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def make_targets_named(code: str) -> set[str]:
    """Targets of the ``make ...`` commands in a code snippet (``VAR=value``, options skipped)."""
    found = set()
    for match in MAKE.finditer(code):
        for token in match.group(1).split():
            token = token.strip("()[]'\",.:")
            if "=" in token or token.startswith("-"):
                continue
            if re.fullmatch(r"[a-z][\w-]*", token):
                found.add(token)
            break
    return found


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return {t for m in MAKE_RULE.finditer(text) for t in m.group(1).split()}


def subcommands() -> set[str]:
    """What ``fer-lightning`` accepts, as its entry point knows it."""
    return {*LIGHTNING_SUBCOMMANDS, *commands.SUBCOMMANDS}


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: markup and punctuation dropped, lower case, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text())):
        base = slug(match.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def mentions(pattern: re.Pattern[str] | None = None) -> list[tuple[str, str]]:
    """(page, name) for every make target (default) or subcommand in the pages' code."""
    found = []
    for page in PAGES:
        for code in code_of(page.read_text()):
            names = make_targets_named(code) if pattern is None else set(pattern.findall(code))
            found += [(_rel(page), name) for name in sorted(names)]
    return found


def links() -> list[tuple[Path, str]]:
    return [(page, m.group(1)) for page in PAGES for m in LINK.finditer(prose_of(page.read_text()))]


def test_the_docs_are_there_and_each_page_is_linked_from_the_readme() -> None:
    assert DOCS, "docs/ has no pages"
    linked = {
        (README.parent / unquote(target.split("#")[0])).resolve()
        for page, target in links()
        if page == README and not SCHEME.match(target)
    }
    assert [_rel(p) for p in DOCS if p.resolve() not in linked] == []


def test_every_make_target_mentioned_exists() -> None:
    found = mentions()
    assert found, "no make command found: the parser is broken"
    targets = makefile_targets()
    assert [m for m in found if m[1] not in targets] == []


def test_every_subcommand_mentioned_exists() -> None:
    found = mentions(FER)
    assert found, "no fer-lightning command found: the parser is broken"
    known = subcommands()
    assert [m for m in found if m[1] not in known] == []


def test_every_relative_link_resolves_inside_the_repository() -> None:
    broken = []
    for page, target in links():
        if SCHEME.match(target):
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / unquote(file)).resolve() if file else page
        if not dest.is_relative_to(REPO) or not dest.exists():
            broken.append((_rel(page), target, "no such file in the repository"))
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append((_rel(page), target, "no such heading"))
    assert broken == []


def test_the_readme_is_a_landing_page() -> None:
    outside = GENERATED.sub("", README.read_text())
    assert len(outside.splitlines()) <= README_MAX_LINES


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('make train EXP=x ARGS="--a=1"', {"train"}),
        ("make EXP=x cv", {"cv"}),
        ("make -j2 test", {"test"}),
        ("pytest  # what CI runs (with make lint)", {"lint"}),
        ("$(MAKE) nothing", set()),
    ],
)
def test_make_parser(code: str, expected: set[str]) -> None:
    assert make_targets_named(code) == expected


def test_slugs_follow_github() -> None:
    assert slug("Faults: kill, resume, NaN") == "faults-kill-resume-nan"
    assert slug("GPU check: `make gpu-check`") == "gpu-check-make-gpu-check"
    assert slug("Several runs: cross-validation, seeds, sweeps") == (
        "several-runs-cross-validation-seeds-sweeps"
    )
