"""The verification report: ``verify``/``check --report FILE.html|pdf``, ``report-check``,
its timeline, medium identity, language, signature and ties to the evidence record."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import backup_support as bs
import pytest
import report_support as rs
from conftest import run_cli, stock_tool
from test_output_schemas import assert_valid
from tree_snapshot import snapshot

from fiscalsafe import i18n
from fiscalsafe.localformat import Formatter
from fiscalsafe.report import medium, timeline
from fiscalsafe.report.datablock import data_block_html, document_bytes, extract_data
from fiscalsafe.report.texts import FAMILIES, family_of
from fiscalsafe.verify.codes import CODES

pytestmark = pytest.mark.usefixtures("one_worker")


# --- formats and language ------------------------------------------------------------------


def test_french_dates_numbers_and_sizes_follow_french_conventions():
    fr = Formatter("fr", "Europe/Paris")
    assert fr.when("2026-11-30T19:08:00Z") == "30/11/2026 20:08"  # the shop's time zone
    assert fr.size(15_600_000) == "15,6\u00a0Mo"
    assert fr.size(4_200_000_000) == "4,2\u00a0Go"
    assert fr.number(41787) == "41\u202f787"
    en = Formatter("en", "Europe/Paris")
    assert en.when("2026-11-30T19:08:00Z") == "2026-11-30 20:08"
    assert en.size(15_600_000) == "15.6\u00a0MB"


def test_language_comes_from_the_option_then_the_environment_then_the_locale(monkeypatch):
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG", i18n.LANG_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert i18n.choose_language(None) == "fr"
    monkeypatch.setenv(i18n.LANG_ENV, "en")
    assert i18n.choose_language(None) == "en"
    assert i18n.choose_language("fr") == "fr"
    monkeypatch.setenv(i18n.LANG_ENV, "de")  # unknown: the next source decides
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert i18n.choose_language(None) == i18n.DEFAULT_LANGUAGE


def test_every_finding_code_has_a_family_with_what_to_do():
    assert {code: family_of(code) for code in CODES if family_of(code) not in FAMILIES} == {}


# --- timeline ---------------------------------------------------------------------------------


def test_timeline_has_one_cell_per_month_in_the_worst_state_of_its_days():
    cov = {
        "required": ["2023-11-27", "2026-11-27"],
        "covered": [["2024-11-27", "2025-10-31"], ["2025-12-01", "2026-11-26"]],
        "gaps": [["2025-11-01", "2025-11-30"]],
        "genesis": "2024-11-27",
        "since_genesis": True,
        "last_operation": "2026-11-26",
        "idle": ["2026-11-27", "2026-11-27"],
        "stale": False,
        "unknowable": None,
    }
    cells = timeline.month_cells(cov)
    assert len(cells) == 37 and cells[0].key == "2023-11" and cells[-1].key == "2026-11"
    by_month = {c.key: c.state for c in cells}
    assert by_month["2025-11"] == "gap"
    assert by_month["2024-10"] == "before-genesis" and by_month["2024-11"] == "covered"
    assert timeline.counts(cells) == {
        "gap": 1,
        "beyond-backup": 0,
        "stale": 0,
        "covered": 24,
        "idle": 0,
        "before-genesis": 12,
    }
    assert [c.key for c in cells if c.last_operation] == ["2026-11"]
    # A stale tail and days after the backup are never shown as covered.
    stale = {**cov, "idle": ["2026-09-01", "2026-11-27"], "stale": True, "covered": []}
    assert timeline.month_cells(stale)[-1].state == "stale"
    later = {**cov, "unknowable": ["2026-11-01", "2026-11-27"]}
    assert timeline.month_cells(later)[-1].state == "beyond-backup"
    assert timeline.month_cells(None) == []


# --- medium ---------------------------------------------------------------------------------


MOUNTINFO = (
    "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
    "95 22 8:17 / /media/marie/CL\\303\\211\\040USB rw,nosuid - vfat {dev} rw,uid=1000\n"
)


def test_medium_label_uuid_and_serial_come_from_the_udev_links(tmp_path):
    device = tmp_path / "sdb1"
    device.write_bytes(b"")
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO.format(dev=device))
    disks = tmp_path / "disk"
    for folder, name in (
        ("by-label", "CL\\xc3\\x89\\x20USB"),
        ("by-uuid", "4A2B-19F0"),
        ("by-id", "usb-SanDisk_Cruzer_4C530001-0:0-part1"),
    ):
        (disks / folder).mkdir(parents=True)
        (disks / folder / name).symlink_to(device)
        (disks / folder / "other").symlink_to(tmp_path / "elsewhere")
    stick = "/media/marie/CL\u00c9 USB"
    found = medium.identify(Path(stick + "/sauvegardes"), info, disks)
    assert found["mount_point"] == stick and found["fstype"] == "vfat"
    assert found["device"] == str(device)
    # both escape single bytes of UTF-8 names
    assert found["label"] == "CL\u00c9 USB"
    assert found["uuid"] == "4A2B-19F0"
    assert found["id"] == "usb-SanDisk_Cruzer_4C530001-0:0-part1"
    on_root = medium.identify(Path("/home/marie"), info, disks)
    assert on_root["mount_point"] == "/" and on_root["label"] is None
    nothing = medium.identify(Path("/x"), tmp_path / "no-mountinfo", disks)
    assert nothing["mount_point"] is None and nothing["label"] is None


# --- the data block -------------------------------------------------------------------------


def test_the_data_block_cannot_be_closed_by_a_name_it_holds():
    data = {"format": "fiscalsafe-report-data", "version": [1, 0], "evidence": {}}
    data |= {"context": {"auditor": "</script><script>alert(1)</script>"}, "document": {}}
    block = data_block_html(data)
    assert block.count("</script>") == 1 and "<script>alert" not in block
    assert extract_data(block.encode()) == data


# --- verify --report: the HTML page ---------------------------------------------------------


def test_verify_report_is_self_contained_printable_and_in_french(w, tmp_path_factory):
    made = rs.good(w, tmp_path_factory)
    assert made.result.code == 0, made.result
    html = made.html
    assert '<html lang="fr">' in html and "@page { size: A4" in html
    scripts = rs.elements(html, "script")
    assert scripts == [{"type": "application/json", "id": "fiscalsafe-report-data"}]
    assert not re.search(r"\b(src|href)=", html), "nothing outside the page is referenced"
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"]
    assert "Rapport de vérification" in html and "Anomalies" in html


def test_verify_report_says_who_what_where_and_concludes_per_dossier(w, tmp_path_factory):
    made = rs.good(w, tmp_path_factory)
    html = made.html
    # one conclusion per dossier, in plain French
    (conclusion,) = rs.elements(html, "li", class_="conclusion proven")
    assert conclusion["data-dossier"] == "MAG001"
    assert (
        "VÉRIFIÉ — sauvegarde du 27/11/2026 13:00\u00a0: contenu complet, intact et signé" in html
    )
    # the shop, from the signed copy of the dossier identity file
    assert "Boutique Rivoli" in html and "55210055400013" in html
    assert "non indiquée dans le fichier d&#x27;identité du dossier" in html
    # the auditor, the tool and the verifier's clock beside the signed creation time
    assert rs.AUDITOR in html and "fiscalsafe 0.1.0" in html
    (row,) = rs.elements(html, "tr", class_="backup")
    assert row["data-target"] == "MAG001_2026-11-27_full.tar.zst"
    assert re.search(r"<td>27/11/2026 13:00</td><td>27/11/2026 21:00</td>", html)
    archive_sha = hashlib.sha256(w.archive.read_bytes()).hexdigest()
    assert archive_sha in html
    assert rs.elements(html, "td", class_="verdict proven", **{"data-verdict": "proven"})
    # the medium: its path, and "not available" where the system says nothing
    assert str(w.backup_dir) in html and "Point de montage" in html
    # the scope, and what fiscalsafe cannot prove
    assert "Ce que fiscalsafe ne peut pas prouver" in html and "horodatage de confiance" in html


def test_verify_report_shows_full_key_fingerprints_and_where_they_came_from(w, tmp_path_factory):
    html = rs.good(w, tmp_path_factory).html
    raw = base64.b64decode(w.public.to_string())
    shop = "SHA256:" + hashlib.sha256(raw).hexdigest()
    assert rs.elements(html, "code", class_="fingerprint", **{"data-role": "shop"})
    assert shop in html and w.public.fingerprint in html and w.public.to_string() in html
    doc = json.loads(rs.good(w, tmp_path_factory).evidence.read_text())
    (editor,) = doc["verifications"][0]["fiscal"]["trust"]["fingerprints"]
    assert editor.startswith("SHA256:") and editor in html
    assert html.count("donnée en ligne de commande") == 2  # --key and --trust
    assert str(w.shop_pub) in html and str(w.editor) in html


def test_damaged_medium_report_marks_the_months_not_covered(w, tmp_path_factory):
    made = rs.damaged(w, tmp_path_factory)
    assert made.result.code == 1, made.result
    html = made.html
    months = rs.elements(html, "rect")
    assert len(months) == 37 and all(re.fullmatch(r"\d{4}-\d{2}", m["data-month"]) for m in months)
    assert [m["data-month"] for m in months if m["class"] == "gap"] == ["2025-11"]
    assert sum(m["class"] == "before-genesis" for m in months) == 12
    assert [m["data-month"] for m in months if m.get("data-last-operation")] == ["2026-11"]
    assert rs.elements(html, "li", class_="conclusion findings")
    assert "NON VÉRIFIÉ — sauvegarde du 27/11/2026 13:00\u00a0: 8 erreurs" in html


def test_damaged_medium_report_explains_each_finding_by_backup(w, tmp_path_factory):
    html = rs.damaged(w, tmp_path_factory).html
    codes = [li["data-code"] for li in rs.elements(html, "li") if li.get("data-code")]
    assert {"ARCHIVE_NUMBER_GAP", "COVERAGE_GAP", "ARCHIVE_FILE_MISSING"} <= set(codes)
    assert "<h4>MAG001_2026-11-27_full.tar.zst</h4>" in html
    assert "Archives fiscales signées, tickets et clôtures" in html
    assert "Que faire\u00a0: Des archives fiscales signées manquent" in html
    assert "Que faire\u00a0: Les années requises ne sont pas toutes couvertes" in html


def test_english_report_says_the_same_in_english(w, tmp_path):
    report = tmp_path / "en.html"
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS,
        "--report", report, "--lang", "en",
    )  # fmt: skip
    assert r.code == 0, r
    html = report.read_text()
    assert '<html lang="en">' in html and "Verification report" in html
    assert "PROVEN: the backup of 2026-11-27 13:00 is complete, intact and signed" in html
    assert "Not recorded" not in html and "not available" in html


def test_report_options_are_refused_before_any_work(w, tmp_path):
    for extra, message in (
        (("--report", tmp_path / "r.txt"), "name a .html or .pdf file"),
        (("--report", tmp_path / "r.html", "--lang", "de"), "choose one of en, fr"),
    ):
        r = bs.invoke("verify", w.archive, "--key", w.shop_pub, *extra)
        assert r.code == 2 and message in r.err, r
    assert list(tmp_path.iterdir()) == []


# --- signed and tied to the evidence --------------------------------------------------------


def test_report_names_the_evidence_it_was_drawn_from(w, tmp_path_factory):
    made = rs.good(w, tmp_path_factory)
    sha = hashlib.sha256(made.evidence.read_bytes()).hexdigest()
    assert sha in made.html
    data = extract_data(made.report.read_bytes())
    assert data["evidence"] == {"name": "good.json", "format": "fiscalsafe-evidence", "sha256": sha}
    assert document_bytes(data["document"]) == made.evidence.read_bytes()
    assert_valid("report-data", data)


def test_signed_report_verifies_with_stock_minisign(w, tmp_path_factory):
    made = rs.good(w, tmp_path_factory)
    proc = subprocess.run(
        [stock_tool("minisign"), "-Vm", made.report, "-p", made.auditor_pub],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fiscalsafe-report v1 evidence_sha256=" in proc.stdout


def test_report_check_accepts_a_report_its_evidence_and_signature(w, tmp_path_factory):
    made = rs.good(w, tmp_path_factory)
    r = bs.invoke(
        "report-check", made.report, "--evidence", made.evidence, "--auditor-pub",
        made.auditor_pub, "--json",
    )  # fmt: skip
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert_valid("report-check", doc)
    assert doc["ok"] is True and doc["findings"] == [] and doc["auditor"] == rs.AUDITOR
    assert doc["evidence_sha256"] == hashlib.sha256(made.evidence.read_bytes()).hexdigest()


def report_check(made: rs.Made, *extra) -> tuple[int, set[str]]:
    r = bs.invoke("report-check", made.report, "--json", *extra)
    assert r.code in (0, 1), r
    return r.code, {f["code"] for f in json.loads(r.out)["findings"]}


def test_report_check_finds_an_edited_report(w, tmp_path_factory, tmp_path):
    made = rs.copy_made(rs.good(w, tmp_path_factory), tmp_path / "copy")
    text = made.html.replace("Boutique Rivoli</td>", "Boutique Rivoli SARL</td>", 1)
    made.report.write_text(text, encoding="utf-8")
    code, codes = report_check(made, "--auditor-pub", made.auditor_pub)
    assert code == 1 and codes == {"REPORT_CONTENT_MISMATCH", "REPORT_SIGNATURE_INVALID"}
    # even with no key at hand, the edit shows
    code, codes = report_check(made)
    assert code == 1 and codes == {"REPORT_CONTENT_MISMATCH", "REPORT_SIGNATURE_UNCHECKED"}


def test_report_check_finds_another_evidence_record(w, tmp_path_factory, tmp_path):
    made = rs.good(w, tmp_path_factory)
    other = rs.damaged(w, tmp_path_factory).evidence
    code, codes = report_check(made, "--evidence", other, "--auditor-pub", made.auditor_pub)
    assert code == 1 and codes == {"REPORT_EVIDENCE_MISMATCH"}


def test_report_check_finds_an_edited_embedded_evidence(w, tmp_path_factory, tmp_path):
    made = rs.copy_made(rs.good(w, tmp_path_factory), tmp_path / "copy")
    made.report.write_text(made.html.replace('"verdict": "proven"', '"verdict": "findings"'))
    code, codes = report_check(made)
    assert code == 1 and {"REPORT_EVIDENCE_MISMATCH", "REPORT_CONTENT_MISMATCH"} <= codes


def test_report_check_needs_the_signature_when_given_the_key(w, tmp_path_factory, tmp_path):
    made = rs.copy_made(rs.good(w, tmp_path_factory), tmp_path / "copy")
    Path(str(made.report) + ".minisig").unlink()
    code, codes = report_check(made, "--auditor-pub", made.auditor_pub)
    assert code == 1 and codes == {"REPORT_SIGNATURE_MISSING"}
    other_key = bs.invoke("keys", "generate", "--out", tmp_path / "k", "--no-passphrase")
    assert other_key.code == 0
    signed = rs.good(w, tmp_path_factory)
    code, codes = report_check(signed, "--auditor-pub", tmp_path / "k" / "shop.pub")
    assert code == 1 and codes == {"REPORT_SIGNATURE_INVALID"}


def test_report_check_refuses_a_page_that_is_not_a_report(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body>VÉRIFIÉ</body></html>")
    r = bs.invoke("report-check", page, "--json")
    assert r.code == 1
    assert [f["code"] for f in json.loads(r.out)["findings"]] == [
        "REPORT_MALFORMED",
        "REPORT_SIGNATURE_UNCHECKED",
    ]
    missing = bs.invoke("report-check", tmp_path / "none.html")
    assert missing.code == 2 and "does not exist" in missing.err


def test_report_check_warns_on_a_report_of_another_version(w, tmp_path_factory, tmp_path):
    made = rs.copy_made(rs.good(w, tmp_path_factory), tmp_path / "copy")
    made.report.write_text(made.html.replace('"tool": "fiscalsafe ', '"tool": "fiscalsafe 9', 1))
    code, codes = report_check(made)
    assert code == 0 and codes == {"REPORT_OTHER_VERSION", "REPORT_SIGNATURE_UNCHECKED"}


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_report_is_accepted_rendered_and_checked(w, tmp_path_factory, tmp_path):
    secret, public = rs.auditor_keys(tmp_path_factory.mktemp("pdf-keys"))
    report = tmp_path / "rapport.pdf"
    r = bs.invoke(
        "verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", bs.YEARS,
        "--report", report, "--lang", "fr", "--auditor", rs.AUDITOR, "--auditor-key", secret,
    )  # fmt: skip
    assert r.code == 0, r
    # poppler writes UTF-8, whatever the console's code page.
    info = subprocess.run(
        [stock_tool("pdfinfo"), report], capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert re.search(r"Title:\s+Rapport de vérification", info)
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 2
    subprocess.run(
        [stock_tool("pdftoppm"), "-r", "40", "-png", "-f", "1", "-l", "1", report, tmp_path / "p"],
        check=True,
        capture_output=True,
    )
    (page,) = tmp_path.glob("p*.png")
    assert page.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = subprocess.run(
        [stock_tool("pdftotext"), "-layout", report, "-"],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    assert "VÉRIFIÉ" in text and "Boutique Rivoli" in text and rs.AUDITOR in text
    assert w.public.fingerprint in text and "Que faire" not in text  # no finding
    checked = bs.invoke("report-check", report, "--auditor-pub", public, "--json")
    assert checked.code == 0 and json.loads(checked.out)["findings"] == [], checked


# --- check --report -------------------------------------------------------------------------


def test_check_report_gives_the_shop_owner_the_same_page(w, tmp_path):
    before = snapshot(w.dossier)
    report = tmp_path / "magasin.html"
    env_lang = {i18n.LANG_ENV: "fr"}
    code, out, err = run_cli_env(
        env_lang, "check", w.dossier, "--trust", w.editor, "--years", bs.YEARS, "--report", report
    )
    assert code == 0, err
    assert snapshot(w.dossier) == before
    html = report.read_text()
    assert '<html lang="fr">' in html and "Contrôle du dossier" in html
    assert "VÉRIFIÉ — dossier contrôlé à la date du 27/11/2026 21:00" in html
    assert "Boutique Rivoli" in html and "55210055400013" in html
    assert len(rs.elements(html, "rect")) == 13
    assert f"fiscalsafe check {w.dossier}" in html  # the command line as typed
    assert "Sauvegardes vérifiées" not in html
    inside = run_cli("check", w.dossier, "--report", w.dossier / "r.html")
    assert inside[0] == 2 and "never modified" in inside[2]
    assert snapshot(w.dossier) == before


def run_cli_env(env: dict[str, str], *args) -> tuple[int, str, str]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_cli(*args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_reports_are_drawn_again_identically(w, tmp_path_factory):
    from fiscalsafe.report.write import render

    made = rs.good(w, tmp_path_factory)
    data = extract_data(made.report.read_bytes())
    assert render(data, "html") == made.report.read_bytes()
    assert dt.datetime.fromisoformat(data["context"]["generated"].replace("Z", "+00:00"))


def test_report_check_of_hostile_report_data_is_a_finding_never_a_crash(
    w, tmp_path_factory, tmp_path
):
    made = rs.copy_made(rs.good(w, tmp_path_factory), tmp_path / "copy")
    zone = made.html.replace('"tz": "Europe/Paris"', '"tz": "Europe"')
    made.report.write_text(zone, encoding="utf-8")
    code, codes = report_check(made)
    assert code == 1 and "REPORT_CONTENT_MISMATCH" in codes
    deep = tmp_path / "deep.html"
    deep.write_text(
        '<script type="application/json" id="fiscalsafe-report-data">' + "[" * 100_000 + "</script>"
    )
    r = bs.invoke("report-check", deep, "--json")
    assert r.code == 1 and json.loads(r.out)["findings"][0]["code"] == "REPORT_MALFORMED"


def test_report_of_a_plain_bag_says_no_signature_was_proven(tmp_path):
    bag = Path(__file__).resolve().parent / "data/bagit-conformance/v1.0/valid/basicBag"
    report = tmp_path / "bag.html"
    r = bs.invoke("verify", bag, "--report", report, "--lang", "en")
    assert r.code == 0, r
    html = report.read_text()
    assert f"<b>{bag}</b>: VALID BAG: {bag} is a valid BagIt bag; no signature and no" in html
    assert rs.elements(html, "rect") == [] and "No coverage was computed" in html
