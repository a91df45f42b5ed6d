"""Generated test data: sample dossiers (``sample``), their signed fiscal history
(``history``), a history continued from a dossier's last archive (``continuation``), bulk
database bytes (``bulk``), the signed files as editable data (``signed_files``) and the
tamper catalogue (``tamper``).

Used by the ``sample`` command, the tests, the benchmarks, the fuzz corpus and the golden
fixtures; nothing that checks, backs up, verifies or restores imports it.
"""
