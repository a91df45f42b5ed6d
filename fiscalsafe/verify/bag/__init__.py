"""BagIt (RFC 8493) validation, independent of where the bytes come from.

:class:`BagValidator` is fed the files of a bag in any order, in one pass -- from a
directory, or from a tar stream that cannot seek -- and :meth:`BagValidator.finish` then
cross-checks everything and returns every problem as a :class:`Finding`::

    validator = BagValidator()
    for member in tar:                       # any order
        if member.isdir():
            validator.add_directory(name_inside_bag)
        elif member.isfile():
            f = tar.extractfile(member)
            validator.feed_member(name_inside_bag, iter(lambda: f.read(1 << 20), b""))
    findings = validator.finish()

While feeding, the validator hashes each file with every algorithm a manifest might use
(it cannot know which until it has seen the manifests; pass ``algorithms=`` to restrict
that when the caller knows better) and keeps the content of the few top-level tag files it
must parse (bagit.txt, bag-info.txt, fetch.txt, manifests), each capped in size.

``finish`` reports cheap checks first -- structure and bagit.txt, bag-info.txt and its
Payload-Oxum, manifests and fetch.txt, completeness -- then fixity. Findings are
deterministic (sorted within each stage).

:func:`validate_bag_directory` is built on the same class.

Some bags of the Library of Congress conformance suite are valid "with a warning" where a
strict reading would reject them; the tolerances, each reported as a warning, are:

- a manifest entry that is absent but differs only by letter case or Unicode normalisation
  from a present file with the same checksums (a case- or normalisation-insensitive file
  system would see one file): ``BAG_NAME_CLASH``;
- an operating-system metadata file (``.DS_Store``, ``Thumbs.db``...) listed in a payload
  manifest but absent -- copy tools and version control routinely drop them -- and the
  Payload-Oxum that still counts it: ``BAG_SYSTEM_FILE``;
- md5sum's binary-mode marker (``<hex> *<path>``), and a manifest whose every path is
  written relative to ``./`` (the output of ``find . | xargs sha512sum``); an isolated
  ``./`` among canonical paths is accepted silently: ``BAG_MANIFEST_NONSTANDARD``;
- before BagIt 1.0, a manifest listing a path twice with the same checksum: ``BAG_WARNING``
  (an error, ``BAG_DUPLICATE_ENTRY``, from 1.0 on, and always with different checksums).
"""

from fiscalsafe.verify.bag.lines import MAX_LINE_FINDINGS
from fiscalsafe.verify.bag.names import PAYLOAD_DIR, is_os_metadata
from fiscalsafe.verify.bag.validator import MAX_BUFFERED_TAG_BYTES, BagValidator
from fiscalsafe.verify.bag.walk import CHUNK_SIZE, validate_bag_directory

__all__ = [
    "CHUNK_SIZE",
    "MAX_BUFFERED_TAG_BYTES",
    "MAX_LINE_FINDINGS",
    "PAYLOAD_DIR",
    "BagValidator",
    "is_os_metadata",
    "validate_bag_directory",
]
