"""The tamper catalogue: damage a copy of a sample dossier in one named way.

Each tamper plays one attacker and its description says which:

- *without the key*: bytes edited, records removed or copied, a record forged with a key
  nobody trusts, a fake signature of the right length;
- *the shop software itself*, which holds the editor key: it re-signs what it changed
  (and every record chained after it, and the journal head) so that exactly one fiscal
  rule is left broken. These prove that the rule is checked on its own, not only through
  signatures.

The archive tampers are in ``tampers_archive``, the journal ones in ``tampers_journal``;
both edit the signed files through ``signed_files``. Tampers work on the decoded msgpack
structures through ``fiscalsafe.formats``, pick their target by position (the middle
archive, the middle record of a kind), and keep each file's modification time, so the same
sample always gives the same damaged bytes. The finding code each tamper must produce is
asserted in ``tests/test_tamper.py``.
"""

from __future__ import annotations

from pathlib import Path

# Importing the two catalogues registers their tampers, archives first.
from fiscalsafe.samples import tampers_archive, tampers_journal  # noqa: F401
from fiscalsafe.samples.signed_files import EditableJournal as _Journal  # noqa: F401
from fiscalsafe.samples.tamper_registry import TAMPERS
from fiscalsafe.samples.tamper_registry import editor as _editor  # noqa: F401


def apply_tamper(name: str, dossier: Path, keys: dict[str, Path]) -> str:
    func, _ = TAMPERS[name]
    return func(dossier, keys)
