"""Remembered frames: the next backup takes the last one's compressed segments for bytes
that did not change, and only for those."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tarfile
from pathlib import Path

import backup_support as bs
import pytest
import zstandard

from fiscalsafe import minisign
from fiscalsafe.crypto import load_signing_key_pem
from fiscalsafe.formats.zstdframes import FrameWalker
from fiscalsafe.pipeline import backup_frames, backup_payload, frames
from fiscalsafe.pipeline import sink as sink_module
from fiscalsafe.pipeline.backup_gate import FindingsRefusal
from fiscalsafe.pipeline.state import StateStore
from fiscalsafe.samples.continuation import add_journal_day
from fiscalsafe.samples.tamper import apply_tamper

#: Small segments, so that the small sample's files are cut into many.
SEGMENT = 8 * 1024


@pytest.fixture(autouse=True)
def small_segments(monkeypatch) -> None:
    monkeypatch.setattr(frames, "SEGMENT", SEGMENT)
    monkeypatch.setattr(backup_payload, "SEGMENT", SEGMENT)
    monkeypatch.setattr(backup_payload, "SEGMENTED_FROM", 2 * 1024)


@pytest.fixture
def w(tmp_path_factory):
    return bs.world(tmp_path_factory)


@pytest.fixture
def dossier(w, tmp_path) -> Path:
    return bs.copy_root(w, tmp_path / "root").dossiers[0]


@pytest.fixture
def state(tmp_path) -> StateStore:
    return StateStore(tmp_path / "state")


_dests = iter(range(1_000_000))


def backup(w, dossier: Path, tmp_path: Path, state: StateStore | None, **options):
    dest = tmp_path / f"usb{next(_dests)}"
    dest.mkdir()
    options.setdefault("now", bs.NOW + dt.timedelta(minutes=next(_dests)))
    with bs.single_worker():
        result = bs.make_backup(w, dossier, dest, state=state, **options)
    return result


def frames_file(state: StateStore, kind: str = "full") -> Path:
    return state.frames_path("MAG001", kind)


def payload_of(result) -> dict[str, bytes]:
    """The payload members' bytes, read from the archive across all its frames."""
    out = {}
    with (
        result.files[0].open("rb") as fh,
        zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True) as raw,
        tarfile.open(fileobj=raw, mode="r|") as tar,
    ):
        for info in tar:
            name = info.name.split("/", 1)[1]
            if name.startswith("data/"):
                out[name] = tar.extractfile(info).read()
    return out


def zstd_frames(result) -> int:
    walker = FrameWalker()
    walker.feed(result.files[0].read_bytes())
    walker.finish()
    return walker.frames


def test_the_next_backup_takes_every_unchanged_segment(w, dossier, tmp_path, state) -> None:
    first = backup(w, dossier, tmp_path, state)
    n = first.segments["compressed"]
    assert n > 50 and first.segments["reused"] == 0
    assert frames_file(state).stat().st_mode & 0o777 == 0o600
    second = backup(w, dossier, tmp_path, state)
    assert second.segments == {"reused": n, "compressed": 0}
    assert second.to_json()["segments"] == {"reused": n, "compressed": 0}
    # Each segment a frame of its own, and the backup proven byte for byte.
    assert zstd_frames(second) > n
    bs.assert_proven(w, second)
    assert payload_of(second) == payload_of(first)


def test_without_state_the_tar_is_one_frame(w, dossier, tmp_path) -> None:
    result = backup(w, dossier, tmp_path, None)
    assert result.segments == {"reused": 0, "compressed": 0}
    assert zstd_frames(result) == 1


def test_a_file_that_grew_is_compressed_from_its_last_segment(w, dossier, tmp_path, state) -> None:
    first = backup(w, dossier, tmp_path, state).segments["compressed"]
    journal = dossier / "jet" / "journal.jet"
    before = -(-journal.stat().st_size // SEGMENT)
    add_journal_day(dossier, load_signing_key_pem(w.sample.keys["editor_secret"].read_bytes()))
    after = -(-journal.stat().st_size // SEGMENT)
    grown = backup(w, dossier, tmp_path, state)
    assert grown.segments["reused"] + grown.segments["compressed"] == first + after - before
    # Compressed: the journal's old last segment and what it grew by (the signed head,
    # rewritten, is smaller than a segment's floor); everything else taken as it was.
    assert grown.segments["compressed"] == after - before + 1
    bs.assert_proven(w, grown)


def test_a_file_changed_in_place_is_compressed_from_the_change_on(
    w, dossier, tmp_path, state
) -> None:
    first = backup(w, dossier, tmp_path, state)
    table = max((dossier / "odeis").glob("*.fic"), key=lambda p: p.stat().st_size)
    data = bytearray(table.read_bytes())
    assert len(data) > 2 * SEGMENT
    data[SEGMENT + 5] ^= 0xFF  # in the second segment: the first stays reusable
    table.write_bytes(bytes(data))
    changed = backup(w, dossier, tmp_path, state)
    after_change = -(-len(data) // SEGMENT) - 1
    assert changed.segments["compressed"] == after_change
    assert changed.segments["reused"] == first.segments["compressed"] - after_change
    report = bs.assert_proven(w, changed)
    assert report.ok
    assert payload_of(changed)[f"data/odeis/{table.name}"] == bytes(data)


def _same_size_and_time_rewrite(path: Path, data: bytes) -> None:
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_mtime_ns, st.st_mtime_ns))


def test_same_size_and_time_do_not_make_a_segment_the_same(w, dossier, tmp_path, state) -> None:
    first = backup(w, dossier, tmp_path, state)
    table = max((dossier / "odeis").glob("*.fic"), key=lambda p: p.stat().st_size)
    data = bytearray(table.read_bytes())
    data[-1] ^= 0x01  # the last segment only
    _same_size_and_time_rewrite(table, bytes(data))
    changed = backup(w, dossier, tmp_path, state)
    assert changed.segments["compressed"] == 1
    assert changed.segments["reused"] == first.segments["compressed"] - 1
    bs.assert_proven(w, changed)


# --- frames that must not be taken -------------------------------------------------------


def _tamper_frame(state: StateStore) -> None:
    """One byte of the first frame flipped, the index left as it was."""
    path = frames_file(state)
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_damaged_frame_is_compressed_again(w, dossier, tmp_path, state) -> None:
    first = backup(w, dossier, tmp_path, state)
    backup(w, dossier, tmp_path, state)  # every frame taken once: decoded, not again
    _tamper_frame(state)
    again = backup(w, dossier, tmp_path, state)
    assert again.segments == {"reused": first.segments["compressed"] - 1, "compressed": 1}
    bs.assert_proven(w, again)


def test_a_forged_index_is_refused(w, dossier, tmp_path, state) -> None:
    """Someone without the shop key swaps two frames and rewrites the index to match:
    it no longer authenticates, and nothing is taken."""
    first = backup(w, dossier, tmp_path, state)
    path = frames_file(state)
    data = path.read_bytes()
    trailer = data[-frames._TRAILER :]
    length = int.from_bytes(trailer[32:40], "little")
    index_at = len(data) - frames._TRAILER - length
    doc = frames.unpack(data[index_at : index_at + length], "test")
    a, b = doc["frames"][0], doc["frames"][1]
    a[4:], b[4:] = b[4:], a[4:]  # each segment now points at the other's frame
    index = frames.pack(doc)
    forged = data[:index_at] + index + trailer[:32] + len(index).to_bytes(8, "little")
    path.write_bytes(forged + frames.MAGIC)
    again = backup(w, dossier, tmp_path, state)
    assert again.segments == {"reused": 0, "compressed": first.segments["compressed"]}
    bs.assert_proven(w, again)


def test_frames_of_another_shop_key_are_refused(w, dossier, tmp_path, state) -> None:
    first = backup(w, dossier, tmp_path, state)
    other = minisign.generate_keypair()
    again = backup(w, dossier, tmp_path, state, secret=other, trust=[w.editor])
    assert again.segments == {"reused": 0, "compressed": first.segments["compressed"]}


def test_frames_of_another_kind_or_dossier_are_refused(w, dossier, tmp_path, state) -> None:
    first = backup(w, dossier, tmp_path, state)
    shutil.copyfile(frames_file(state), frames_file(state, "no-index"))
    other = backup(w, dossier, tmp_path, state, kind="no-index")
    assert other.segments["reused"] == 0
    shutil.copyfile(frames_file(state), state.frames_path("MAG002", "full"))
    second_shop = bs.copy_root(w, tmp_path / "root2").dossiers[1]
    assert backup(w, second_shop, tmp_path, state).segments["reused"] == 0
    assert first.segments["compressed"] > 0


def test_another_level_compresses_again(w, dossier, tmp_path, state) -> None:
    first = backup(w, dossier, tmp_path, state)
    again = backup(w, dossier, tmp_path, state, level=5)
    assert again.segments == {"reused": 0, "compressed": first.segments["compressed"]}


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_frames_file_means_compressing_everything(
    w, dossier, tmp_path, state, damage
) -> None:
    first = backup(w, dossier, tmp_path, state)
    path = frames_file(state)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[:-3], "garbage": os.urandom(4096), "empty": b""}[damage])
    again = backup(w, dossier, tmp_path, state)
    assert again.segments == {"reused": 0, "compressed": first.segments["compressed"]}


def test_a_refused_backup_leaves_the_kept_frames_as_they_were(w, dossier, tmp_path, state) -> None:
    backup(w, dossier, tmp_path, state)
    kept = frames_file(state).read_bytes()
    apply_tamper("flipped-byte-archive", dossier, w.sample.keys)
    with pytest.raises(FindingsRefusal):
        backup(w, dossier, tmp_path, state)
    assert frames_file(state).read_bytes() == kept
    assert not list(frames_file(state).parent.glob(".*.partial"))


def test_frames_that_cannot_be_kept_do_not_fail_the_backup(w, dossier, tmp_path, state) -> None:
    backup(w, dossier, tmp_path, state)
    frames_file(state).unlink()
    frames_file(state).mkdir()  # in the way of the rename
    result = backup(w, dossier, tmp_path, state)
    assert result.segments["reused"] == 0
    bs.assert_proven(w, result)


def test_a_frames_file_that_is_a_link_is_not_followed(w, dossier, tmp_path, state) -> None:
    first = backup(w, dossier, tmp_path, state)
    real = tmp_path / "elsewhere"
    frames_file(state).rename(real)
    frames_file(state).symlink_to(real)
    again = backup(w, dossier, tmp_path, state)
    assert again.segments["reused"] == 0
    assert real.read_bytes()  # the link's target untouched
    assert not frames_file(state).is_symlink()  # replaced as itself
    assert first.segments["compressed"] > 0


def test_a_frame_that_does_not_decode_to_its_segment_is_not_taken(
    w, dossier, tmp_path, state, monkeypatch
) -> None:
    """A fault while a frame was made (memory, a bug) must not go on into every backup
    that would take the frame again: the first time a frame is taken, it is decoded."""
    journal = dossier / "jet" / "journal.jet"
    real = backup_frames.FrameTap.captured
    made: list[str] = []

    def wrong_once(self) -> bytes:
        frame = real(self)
        if frame and not made:
            made.append("x")  # the first segment's frame, kept as another one
            return zstandard.ZstdCompressor().compress(b"x" * 10)
        return frame

    with monkeypatch.context() as m:
        m.setattr(backup_frames.FrameTap, "captured", wrong_once)
        first = backup(w, dossier, tmp_path, state)
    bs.assert_proven(w, first)  # the archive holds the frame actually written
    second = backup(w, dossier, tmp_path, state)
    assert second.segments == {"reused": first.segments["compressed"] - 1, "compressed": 1}
    bs.assert_proven(w, second)
    # Taken and checked once, a frame is not decoded again.
    decoded: list[int] = []
    real_decodes = frames.decodes_to
    monkeypatch.setattr(frames, "decodes_to", lambda *a: decoded.append(1) or real_decodes(*a))
    third = backup(w, dossier, tmp_path, state)
    assert third.segments["reused"] == first.segments["compressed"]
    assert decoded == [1]  # only the frame the second backup compressed again
    assert journal.exists()


def test_frames_are_kept_only_from_a_backup_in_place(
    w, dossier, tmp_path, state, monkeypatch
) -> None:
    backup(w, dossier, tmp_path, state)
    kept = frames_file(state).read_bytes()
    (dossier / "jet" / "journal.jet").open("ab").write(b"\0")

    def failing_read_back(self) -> None:
        raise OSError("the medium was unplugged")

    monkeypatch.setattr(sink_module.OutputSink, "readback", failing_read_back)
    with pytest.raises(OSError, match="unplugged"):
        backup(w, dossier, tmp_path, state, allow_findings=True)
    assert frames_file(state).read_bytes() == kept
    assert not list(frames_file(state).parent.glob(".*.partial"))


def test_a_recorder_whose_partial_was_taken_neither_installs_nor_removes_it(tmp_path) -> None:
    """Two backups of one dossier at once: the one whose partial file was replaced by the
    other's leaves that file alone."""
    path = tmp_path / "MAG001.frames-full"
    recorder = frames.FrameRecorder(path, b"k" * 32, "MAG001", "full")
    partial = tmp_path / ".MAG001.frames-full.partial"
    partial.unlink()
    partial.write_bytes(b"the other backup's frames")
    recorder.commit()
    assert not path.exists()
    recorder.abort()
    assert partial.read_bytes() == b"the other backup's frames"
