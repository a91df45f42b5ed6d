"""The report as a PDF (fpdf2: pure Python, no system library), the same content as the
HTML page, the timeline drawn with the PDF's own rectangles. The report data is an
embedded file (``fiscalsafe-report-data.json``, uncompressed) that ``report-check`` reads.

fpdf2's core fonts cover Latin-1, which holds every letter of French; the few other
characters the texts use are replaced by their Latin-1 look-alikes.
"""

from __future__ import annotations

from fpdf import FPDF

from fiscalsafe.localformat import parse_time
from fiscalsafe.report import timeline
from fiscalsafe.report.datablock import data_pdf_bytes
from fiscalsafe.report.model import DossierView, ReportModel, by_family, medium_pairs
from fiscalsafe.report.texts import SCOPE_CANNOT, SCOPE_VERIFIED, TIMELINE_STATES, Translator

COLOURS = {
    "covered": (46, 158, 79),
    "idle": (168, 220, 181),
    "gap": (215, 38, 61),
    "stale": (240, 138, 36),
    "beyond-backup": (123, 97, 168),
    "before-genesis": (217, 217, 217),
}
VERDICT_COLOURS = {"proven": (10, 107, 43), "valid": (10, 107, 43), "consistent": (138, 90, 0)}
_LATIN1 = str.maketrans(
    {"\u202f": "\u00a0", "\u2019": "'", "\u2014": "-", "\u2013": "-", "\u2026": "...",
     "\u20ac": "EUR", "\u2192": "->"}
)  # fmt: skip
CELL, GAP, LABEL = 4.5, 0.8, 14.0  # millimetres
LABEL_WIDTH = 55.0


def latin1(text: object) -> str:
    return (
        str(text if text is not None else "-")
        .translate(_LATIN1)
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


class ReportPDF(FPDF):
    def heading(self, text: str, size: int = 13) -> None:
        self.ln(2)
        self.set_font("helvetica", "B", size)
        self.multi_cell(0, size * 0.5, latin1(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font("helvetica", "", 9)

    def para(self, text: str, style: str = "", size: float = 9) -> None:
        self.set_font("helvetica", style, size)
        self.multi_cell(0, 4.2, latin1(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font("helvetica", "", 9)

    def pairs(self, rows: list[tuple[str, object]]) -> None:
        """A two-column table: the taller of label and value sets the row's height."""
        for label, value in rows:
            self.set_font("helvetica", "", 8.5)
            lines = len(self.multi_cell(0, 4, latin1(value), dry_run=True, output="LINES"))
            if self.get_y() + 4 * max(lines, 2) > self.h - self.b_margin:
                self.add_page()
            top = self.get_y()
            self.set_font("helvetica", "B", 8.5)
            self.multi_cell(LABEL_WIDTH, 4, latin1(label), align="L")
            below_label = self.get_y()
            self.set_xy(self.l_margin + LABEL_WIDTH, top)
            self.set_font("helvetica", "", 8.5)
            self.multi_cell(0, 4, latin1(value), align="L", new_x="LMARGIN", new_y="NEXT")
            self.set_y(max(self.get_y(), below_label))

    def verdict(self, key: str, label: str) -> None:
        self.set_text_color(*VERDICT_COLOURS.get(key, (176, 0, 32)))
        self.para(label, "B", 12)
        self.set_text_color(0, 0, 0)


def draw_timeline(pdf: ReportPDF, cells: list[timeline.MonthCell], tr: Translator) -> None:
    rows = timeline.by_year(cells)
    if pdf.get_y() + len(rows) * (CELL + GAP) > pdf.h - pdf.b_margin:
        pdf.add_page()
    top, left = pdf.get_y() + 1, pdf.l_margin
    pdf.set_font("helvetica", "", 7)
    for row, (year, months) in enumerate(rows):
        y = top + row * (CELL + GAP)
        pdf.text(left, y + CELL - 1, str(year))
        for cell in months:
            x = left + LABEL + (cell.month.month - 1) * (CELL + GAP)
            pdf.set_fill_color(*COLOURS[cell.state])
            pdf.set_draw_color(85, 85, 85)
            pdf.rect(x, y, CELL, CELL, style="DF")
            if cell.last_operation:
                pdf.set_fill_color(17, 17, 17)
                pdf.ellipse(x + CELL / 2 - 0.8, y + CELL / 2 - 0.8, 1.6, 1.6, style="F")
    pdf.set_y(top + len(rows) * (CELL + GAP) + 1)
    legend(pdf, tr)


def legend(pdf: ReportPDF, tr: Translator) -> None:
    pdf.set_font("helvetica", "", 7)
    x, y = pdf.l_margin, pdf.get_y()
    for state, text in TIMELINE_STATES.items():
        label = latin1(tr._(text))
        width = 4 + pdf.get_string_width(label) + 4
        if x + width > pdf.w - pdf.r_margin:
            x, y = pdf.l_margin, y + 4
        pdf.set_fill_color(*COLOURS[state])
        pdf.rect(x, y + 0.5, 2.5, 2.5, style="DF")
        pdf.text(x + 3.5, y + 2.8, label)
        x += width
    pdf.set_y(y + 5)


def dossier_pages(pdf: ReportPDF, d: DossierView, tr: Translator) -> None:
    pdf.heading(tr._("Dossier {dossier}", dossier=d.dossier) + " - " + d.verdict_label)
    pdf.pairs(
        [
            (tr._("Shop"), d.shop),
            (tr._("SIRET"), d.siret),
            (tr._("Address"), d.address or tr._("not recorded in the dossier's identity file")),
            (tr._("Time zone"), d.tz),
        ]
    )
    pdf.heading(tr._("Six-year coverage"), 11)
    if d.cells:
        draw_timeline(pdf, d.cells, tr)
    pdf.para(d.coverage_note)
    pdf.heading(tr._("Findings"), 11)
    if not d.findings:
        pdf.para(tr._("No finding."))
    todo = tr._("What to do:")
    for target, views in d.findings:
        pdf.para(target, "B")
        for family, group in by_family(views):
            pdf.para(family, "B")
            for f in group:
                where = f" ({f.where})" if f.where else ""
                pdf.para(f"- {f.severity_label} {f.code}{where}: {f.message}")
            pdf.para(f"{todo} {group[0].what_to_do}", "I", 8.5)


def run_pairs(model: ReportModel, tr: Translator) -> list[tuple[str, object]]:
    return [
        (tr._("Made on"), f"{model.generated} ({model.tz})"),
        (tr._("Auditor"), model.auditor or tr._("not given")),
        (tr._("Tool"), model.tool),
        (tr._("Command"), model.command),
    ]


def backups_part(pdf: ReportPDF, model: ReportModel, tr: Translator) -> None:
    if not model.backups:
        return
    pdf.heading(tr._("Backups verified"))
    for b in model.backups:
        pdf.pairs(
            [
                (tr._("File"), b.target),
                (tr._("Kind"), b.kind),
                (tr._("Signed creation time"), b.created),
                (tr._("Verifier's clock"), b.verified_at),
                (tr._("Size"), b.size),
                (tr._("SHA-256"), " ".join(h for _, h in b.files) or "-"),
                (tr._("Verdict"), b.verdict_label),
            ]
        )
        pdf.ln(2)


def media_and_keys(pdf: ReportPDF, model: ReportModel, tr: Translator) -> None:
    if model.media:
        pdf.heading(tr._("Medium") if model.kind == "verify" else tr._("Disk"))
    for m in model.media:
        pdf.pairs(medium_pairs(m, tr))
    pdf.heading(tr._("Keys"))
    roles = {"shop": tr._("shop key"), "editor": tr._("software editor's key")}
    for k in model.keys:
        rows = [(roles.get(k.role, k.role), k.fingerprint)]
        if k.key_id:
            rows.append((tr._("minisign key id"), f"{k.key_id} {k.public_key}"))
        rows += [(tr._("Where it came from"), k.source), (tr._("File"), k.path or "-")]
        pdf.pairs(rows)
        pdf.ln(1)


def closing(pdf: ReportPDF, model: ReportModel, tr: Translator, report_name: str) -> None:
    pdf.heading(tr._("Evidence"))
    name = model.evidence_name or tr._("embedded in this report")
    pdf.pairs([(tr._("Evidence record"), name), (tr._("Its SHA-256"), model.evidence_sha256)])
    pdf.para(tr._("To check that this report, its evidence and its signature belong together:"))
    cmd = f"fiscalsafe report-check {report_name}"
    if model.evidence_name:
        cmd += f" --evidence {model.evidence_name}"
    pdf.para(cmd + " --auditor-pub AUDITOR.pub", "", 8)
    pdf.heading(tr._("Scope"))
    pdf.para(tr._("What was verified"), "B")
    for text in SCOPE_VERIFIED[model.kind]:
        pdf.para("- " + tr._(text))
    pdf.para(tr._("What fiscalsafe cannot prove"), "B")
    for text in SCOPE_CANNOT:
        pdf.para("- " + tr._(text))


def render_pdf(model: ReportModel, data: dict, report_name: str) -> bytes:
    tr = Translator(model.lang)
    title = tr._("Verification report") if model.kind == "verify" else tr._("Dossier check")
    pdf = ReportPDF(format="A4")
    pdf.set_margins(12, 14, 12)
    pdf.set_auto_page_break(True, 14)
    pdf.set_title(latin1(title))
    pdf.set_creator(latin1(model.tool))
    pdf.set_lang(model.lang)
    made = parse_time(data["context"].get("generated"))
    if made is not None:  # the same data draws the same bytes
        pdf.set_creation_date(made)
    pdf.add_page()
    pdf.heading(title, 18)
    pdf.verdict(model.verdict, model.verdict_label)
    pdf.pairs(run_pairs(model, tr))
    pdf.heading(tr._("Conclusion"))
    for d in model.dossiers:
        pdf.para(f"{d.title}: {d.conclusion}")
    for d in model.dossiers:
        dossier_pages(pdf, d, tr)
    backups_part(pdf, model, tr)
    media_and_keys(pdf, model, tr)
    closing(pdf, model, tr, report_name)
    pdf.embed_file(
        bytes=data_pdf_bytes(data),
        basename="fiscalsafe-report-data.json",
        modification_date=made,
        mime_type="application/json",
        compress=False,
    )
    return bytes(pdf.output())
