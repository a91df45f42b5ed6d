"""Finding English in text meant for a French reader, and the helpers the French output
tests share: JSON documents checked against their schemas, and the command lines of the
French guides.

Two detectors, both naming what they found:

- ``catalogue_hits``: every English message id of the French catalogue with at least
  ``MIN_WORDS`` words, its ``{fields}`` turned into wildcards. A message the code marks for
  translation and that still reaches the screen in English is one of these.
- ``english_lines``: lines holding several English function words ("the", "is", "not",
  "with"...). It also catches a sentence that was never marked for translation at all,
  which the catalogue cannot know about.
"""

from __future__ import annotations

import json
import re
import shlex
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from fiscalsafe import i18n

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
FRENCH_PO = i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
GUIDES = (ROOT / "docs" / "guide-commercant.md", ROOT / "docs" / "guide-auditeur.md")

#: Shorter messages ("Backup file", "SHA-256") are labels that may stay the same in French.
MIN_WORDS = 4
#: A field of a message matches this much text at most (one value, not half the output).
FIELD_WILDCARD = r".{0,200}?"
#: Rich console markup in a message id is not printed; the words around it are.
RICH_MARKUP = re.compile(r"\[/?(?:bold|dim|italic|red|green|yellow|cyan|blue|magenta)[^\]]*\]")

#: Words with no French homograph a French sentence would hold ("on", "an", "or", "but",
#: "a", "as" are French words too, so they are left out).
ENGLISH_WORDS = frozenset(
    re.findall(
        r"\w+",
        "the is are was were and not with has have been this that which from your you of to "
        "be it its for by at into than when will would cannot no only every each after "
        "before there nothing all could should",
    )
)
#: Two of them on one line make an English sentence.
ENGLISH_WORDS_PER_LINE = 2
#: What is not prose: paths, options, finding codes, file names, quoted values.
NOT_PROSE = re.compile(
    r"(?:\S*[/\\]\S*)"  # a path
    r"|(?:--[a-z][a-z-]*)"  # an option
    r"|(?:\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b)"  # a finding code
    r"|(?:\S+\.[a-z0-9]{2,4}\b)"  # a file name
    r"|(?:'[^']*'|\"[^\"]*\")"  # a quoted value
)


def normalized(text: str) -> str:
    """One line, single spaces (no-break spaces and line wrapping included)."""
    return re.sub(r"\s+", " ", text).strip()


def message_pattern(msgid: str) -> re.Pattern[str] | None:
    """A regex for the message as printed, or None when it has fewer than MIN_WORDS words
    outside its fields."""
    text = RICH_MARKUP.sub("", msgid)
    parts = []
    literal_words = 0
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError:  # a lone brace: the whole text is literal
        pieces = [(text, None, None, None)]
    for literal, field, _spec, _conv in pieces:
        literal_words += len(re.findall(r"[A-Za-z]+", literal))
        parts.append(_literal_pattern(literal))
        if field is not None:
            parts.append(FIELD_WILDCARD)
    if literal_words < MIN_WORDS:
        return None
    return re.compile("".join(parts), re.S)


def _literal_pattern(literal: str) -> str:
    """The words of ``literal`` with any run of white space between them."""
    words = literal.split()
    if not words:
        return r"\s+" if literal else ""
    lead = r"\s+" if literal[0].isspace() else ""
    trail = r"\s+" if literal[-1].isspace() else ""
    return lead + r"\s+".join(re.escape(word) for word in words) + trail


@cache
def catalogue_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(message id, pattern) for every English id of the French catalogue long enough to
    be a sentence, singular and plural forms alike."""
    with FRENCH_PO.open("rb") as fh:
        catalogue = read_po(fh, locale="fr")
    found = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for msgid in ids:
            pattern = message_pattern(msgid)
            if pattern is not None:
                found.append((msgid, pattern))
    return tuple(found)


def catalogue_hits(text: str) -> list[str]:
    """The English message ids found in ``text``."""
    flat = normalized(text)
    return [msgid for msgid, pattern in catalogue_patterns() if pattern.search(flat)]


def english_lines(text: str) -> list[str]:
    """The lines of ``text`` that read as English prose."""
    found = []
    for line in text.splitlines():
        prose = NOT_PROSE.sub(" ", line)
        words = {w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ']+", prose)}
        if len(words & ENGLISH_WORDS) >= ENGLISH_WORDS_PER_LINE:
            found.append(line.strip())
    return found


# --- JSON documents and their schemas -------------------------------------------------------


@cache
def _schemas() -> tuple[dict[str, dict], Registry]:
    docs = {p.name: json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.schema.json"))}
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in docs.values()
    )
    return docs, registry


def _formats_of(node: Any) -> Iterator[str]:
    """The ``format`` constants a schema accepts, wherever it declares them."""
    if isinstance(node, dict):
        const = node.get("properties", {}).get("format", {}).get("const")
        if isinstance(const, str):
            yield const
        for value in node.values():
            yield from _formats_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from _formats_of(item)


def schema_for(document: dict) -> Draft202012Validator:
    """The validator of the schema whose ``format`` is the document's."""
    docs, registry = _schemas()
    for schema in docs.values():
        if document.get("format") in set(_formats_of(schema)):
            return Draft202012Validator(
                schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
    raise AssertionError(f"no schema in schemas/ for format {document.get('format')!r}")


def schema_errors(document: dict) -> list[str]:
    errors = sorted(schema_for(document).iter_errors(document), key=lambda e: list(e.path))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def key_paths(node: Any, prefix: str = "") -> set[str]:
    """Every key of a JSON document, as a path (list items merged): what must not change
    with the language."""
    if isinstance(node, dict):
        paths = set()
        for key, value in node.items():
            paths.add(f"{prefix}/{key}")
            paths |= key_paths(value, f"{prefix}/{key}")
        return paths
    if isinstance(node, list):
        return set().union(*(key_paths(item, f"{prefix}[]") for item in node))
    return set()


# --- The guides' command lines ----------------------------------------------------------------


@dataclass(frozen=True)
class GuideCommand:
    guide: str
    line: str
    words: tuple[str, ...]


def _fenced_blocks(text: str) -> Iterator[str]:
    yield from re.findall(r"^\s*```[a-z]*\n(.*?)^\s*```", text, re.S | re.M)


def _joined_lines(block: str) -> Iterator[str]:
    """Lines with their continuations (``^`` in cmd, ``\\`` in a POSIX shell) joined."""
    pending = ""
    for raw in block.splitlines():
        line = raw.strip()
        if line.endswith((" ^", " \\")):
            pending += line[:-1]
            continue
        yield pending + line
        pending = ""


def split_command(line: str) -> tuple[str, ...]:
    """Words as cmd.exe passes them: double quotes group, backslashes are path separators."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.quotes = '"'
    return tuple(lexer)


def guide_commands() -> list[GuideCommand]:
    """Every ``fiscalsafe ...`` line of the guides' code blocks."""
    found = []
    for guide in GUIDES:
        for block in _fenced_blocks(guide.read_text(encoding="utf-8")):
            for line in _joined_lines(block):
                if line.startswith("fiscalsafe "):
                    found.append(GuideCommand(guide.name, line, split_command(line)[1:]))
    return found
