"""The verification report an auditor can read, sign and attach: HTML and PDF, FR/EN.

``model`` turns a verify or check result (its JSON document, the evidence) and the
circumstances of the run (``context``) into what the report says; ``html`` and ``pdf``
draw it; ``timeline`` lays out the coverage by month; ``medium`` reads the identity of
the medium verified; ``datablock`` ties a report to its evidence; ``check`` re-checks
that a report, its evidence and its signature belong together.
"""
