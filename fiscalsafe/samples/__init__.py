"""Generated test data: sample dossiers (``sample``), their signed fiscal history
(``history``), bulk database bytes (``bulk``) and the tamper catalogue (``tamper``).

Used by the ``sample`` command, the tests, the benchmarks, the fuzz corpus and the golden
fixtures; nothing that checks, backs up, verifies or restores imports it.
"""
