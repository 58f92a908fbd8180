"""Safe to point at any archive: originals untouched, one bad file fails one file, transient faults retried, reruns redo what is wrong."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import zipfile
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from tests.conftest import crops, write_png

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def cli(*args):
    from flows.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (hidden ones included), by relative path."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture()
def archive(tmp_path, camera, astronaut):
    import skimage.data

    root = tmp_path / "in"
    write_png(root / "camera.png", camera)
    write_png(root / "sub" / "astronaut.png", astronaut)
    write_png(root / "sub" / "coins.png", skimage.data.coins()[:96, :128])
    (root / ".notes.tmp-abc").write_text("a user's own notes")
    (root / "sub" / ".x.png").write_bytes(cv2.imencode(".png", camera)[1].tobytes())
    return root


def test_restoring_into_the_input_is_refused_and_the_originals_stay(archive):
    before = tree_digest(archive)
    for output in (archive, archive / "sub", archive.parent):
        result = cli("restore", archive, output, "--method", "nlm")
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1 and "output" in result.output
    assert tree_digest(archive) == before  # it overwrote them, deleted .notes.tmp-abc and exited 0 before
    assert not (archive / ".provenance").exists()


def test_everything_left_out_is_named_and_a_loop_is_refused(archive, tmp_path):
    os.symlink("loop", archive / "loop")
    result = cli("restore", archive, tmp_path / "out", "--method", "nlm")
    assert result.exit_code == 1, result.output
    assert "3 ok (3 new, 0 changed, 0 skipped), 1 failed, 2 left out" in result.output
    assert "FAILED loop:" in result.output and "symbolic link loop" in result.output
    assert "LEFT OUT .notes.tmp-abc: hidden file" in result.output and "LEFT OUT sub/.x.png: hidden file" in result.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png") if ".provenance" not in p.parts) == [
        "camera.png", "sub/astronaut.png", "sub/coins.png",
    ]  # fmt: skip


def test_the_sweep_leaves_a_users_lookalike_files_in_the_output_folder(archive, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".notes.tmp-abc").write_text("mine")
    assert cli("restore", archive, out, "--method", "tv").exit_code == 0
    assert (out / ".notes.tmp-abc").read_text() == "mine"


def test_a_single_image_file_is_an_archive_of_one(archive, tmp_path):
    result = cli("restore", archive / "camera.png", tmp_path / "out", "--method", "tv")
    assert result.exit_code == 0 and "1 ok (1 new" in result.output
    assert (tmp_path / "out" / "camera.png").is_file()


def test_a_truncated_zip_is_one_clear_line(archive, tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.write(archive / "camera.png", "camera.png")
    (tmp_path / "cut.zip").write_bytes((tmp_path / "a.zip").read_bytes()[:200])
    result = cli("restore", tmp_path / "cut.zip", tmp_path / "out", "--method", "tv")
    assert result.exit_code == 1
    assert "FAILED" in result.output and "cut.zip: not a readable archive (truncated or corrupt" in result.output
    assert "Traceback" not in result.output


def test_one_failing_file_fails_alone_without_retries(archive, tmp_path, monkeypatch):
    import restoration.registry as registry

    entry = registry.REGISTRY.get("tv")
    calls: dict[tuple, int] = {}
    lock = threading.Lock()

    def fragile(image, *, sigma=None):
        with lock:
            calls[image.shape] = calls.get(image.shape, 0) + 1
        if image.shape == (96, 96, 3):  # the astronaut, in the same batch as the others
            raise IndexError("tuple index out of range")
        return entry.func(image, sigma=sigma)

    monkeypatch.setitem(registry.REGISTRY._entries, "tv", type(entry)(**{**entry.__dict__, "func": fragile}))
    from flows.restore import restore_flow

    records = {r.path: r for r in restore_flow(str(archive), str(tmp_path / "out"), "tv", workers=1)}
    assert records["sub/astronaut.png"].status == "failed"
    assert "IndexError: tuple index out of range" in records["sub/astronaut.png"].error
    assert records["camera.png"].status == records["sub/coins.png"].status == "ok"  # batch-mates were marked failed before
    assert calls[(96, 96, 3)] == 1  # not retried: the batch was recomputed three times before


@pytest.mark.parametrize("code,text", [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")])
def test_a_full_disk_or_read_only_folder_fails_at_once(archive, tmp_path, monkeypatch, code, text):
    import restoration.io.files as io_module

    attempts = []

    def refuse(tmp, path):
        attempts.append(Path(path).name)
        raise OSError(code, text, str(path))

    monkeypatch.setattr(io_module, "commit", refuse)
    from flows.restore import restore_flow
    from flows.steps import EveryFileFailed

    with pytest.raises(EveryFileFailed, match="3 of 3 files failed") as raised:  # every file failed: the run is Failed
        restore_flow(str(archive), str(tmp_path / "out"), "tv", workers=1)
    failed = [r for r in raised.value.result if r.status == "failed"]
    assert len(failed) == 3 and all(text in r.error for r in failed)
    assert sorted(a for a in attempts if a.endswith(".png")) == ["astronaut.png", "camera.png", "coins.png"]  # once each


def test_transient_io_errors_on_a_tenth_of_reads_and_writes_are_retried_until_done(archive, tmp_path, monkeypatch):
    import restoration.io.files as io_module
    import tasks.common
    from flows.restore import restore_flow

    for k, image in enumerate(crops(12, 64)):
        write_png(archive / "many" / f"s{k:02d}.png", image)
    clean = tmp_path / "clean"
    assert all(r.status != "failed" for r in restore_flow(str(archive), str(clean), "tv", workers=2))

    counts: dict[tuple[str, str], int] = {}
    injected = []
    lock = threading.Lock()

    def fault(kind: str, path) -> bool:
        # Deterministic per file and per call, whatever the threads' order: 10 % of calls fail.
        with lock:
            key = (kind, Path(path).name.split(".arestore-tmp-")[0])
            counts[key] = counts.get(key, 0) + 1
            draw = hashlib.sha256(f"{key}{counts[key]}".encode()).digest()[0] / 256
            if draw < 0.1:
                injected.append(key)
                return True
        return False

    real_commit = io_module.commit

    def flaky_open(path, mode="r", *args, **kwargs):
        if "r" in mode and "b" in mode and str(path).startswith(str(tmp_path)) and fault("read", path):
            raise OSError(errno.EIO, "Input/output error (injected)", str(path))
        return open(path, mode, *args, **kwargs)

    def flaky_commit(tmp, path):
        if fault("write", path):
            raise OSError(errno.EIO, "Input/output error (injected)", str(path))
        real_commit(tmp, path)

    monkeypatch.setattr(io_module, "open", flaky_open, raising=False)
    monkeypatch.setattr(io_module, "commit", flaky_commit)
    monkeypatch.setattr(tasks.common, "RETRY_PAUSE_SECONDS", 0.001)
    records = restore_flow(str(archive), str(tmp_path / "out"), "tv", workers=2)
    assert [r for r in records if r.status == "failed"] == []
    assert sum(r.status == "ok" for r in records) == 15
    assert len(injected) >= 5 and {k for k, _ in injected} == {"read", "write"}  # the faults really happened
    monkeypatch.undo()
    for rel in tree_digest(clean):
        if rel.endswith(".png") and ".provenance" not in rel:
            assert (tmp_path / "out" / rel).read_bytes() == (clean / rel).read_bytes(), rel


def test_a_truncated_or_edited_output_is_redone_on_the_next_run(archive, tmp_path):
    out = tmp_path / "out"
    assert cli("restore", archive, out, "--method", "tv").exit_code == 0
    good = (out / "camera.png").read_bytes()
    (out / "camera.png").write_bytes(good[: len(good) // 2])  # truncated after the run
    edited = bytearray((out / "sub" / "coins.png").read_bytes())
    stat = (out / "sub" / "coins.png").stat()
    edited[-20] ^= 0xFF
    (out / "sub" / "coins.png").write_bytes(bytes(edited))
    os.utime(out / "sub" / "coins.png", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same time
    result = cli("restore", archive, out, "--method", "tv")
    assert result.exit_code == 0 and "3 ok (0 new, 2 changed, 1 skipped)" in result.output  # "1 ok (1 new)" kept the corrupt file before
    assert (out / "camera.png").read_bytes() == good


def test_outputs_respect_the_umask(archive, tmp_path):
    old = os.umask(0o022)
    try:
        assert cli("restore", archive, tmp_path / "out", "--method", "tv").exit_code == 0
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path / "out").as_posix(): p.stat().st_mode & 0o777 for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert set(modes.values()) == {0o644}, modes  # all were 0600 before


def test_ingest_names_what_it_left_out_and_quarantines_a_huge_declared_image(archive, tmp_path):
    import pandas as pd

    from tests.reliability.corpus import png_declaring

    (archive / "bomb.png").write_bytes(png_declaring(32000, 32000))
    result = cli("ingest", archive, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "QUARANTINED bomb.png: declares 32000 x 32000 pixels" in result.output
    assert "LEFT OUT .notes.tmp-abc: hidden file" in result.output
    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv")
    assert dict(zip(manifest["path"], manifest["status"])) == {
        ".notes.tmp-abc": "left-out", "bomb.png": "quarantined", "camera.png": "ok", "sub/.x.png": "left-out",
        "sub/astronaut.png": "ok", "sub/coins.png": "ok",
    }  # fmt: skip


def test_a_run_started_with_a_bad_option_fails_before_writing_anything(archive, tmp_path):
    """A UI or deployment run goes through the same registry check as the command line."""
    from flows.restore import restore_flow

    with pytest.raises(ValueError, match="sigma must be a finite number at least 0"):
        restore_flow(str(archive), str(tmp_path / "out"), "nlm", options={"sigma": -5})
    assert not (tmp_path / "out").exists()


def test_a_run_with_failed_files_is_not_a_plain_completed_run_in_the_ui(archive, tmp_path):
    """The runs list (the server's flow-run state) tells a run with failed files apart; one where every file failed is Failed."""
    from prefect.client.orchestration import get_client

    from flows.restore import restore_flow
    from flows.steps import COMPLETED_WITH_FAILURES, flow_result

    (archive / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a png at all" * 8)
    state = restore_flow(str(archive), str(tmp_path / "out"), "tv", workers=1, return_state=True)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    shown = run.state
    assert run.name == "restore-tv-in"  # the archive's base name, not its absolute path
    assert shown.is_completed() and shown.name == COMPLETED_WITH_FAILURES
    assert shown.message.startswith("restore tv: 1 of 4 files failed (broken.png)")
    records = flow_result(state)
    assert sorted(r.path for r in records if r.status == "failed") == ["broken.png"]

    state = restore_flow(str(archive), str(tmp_path / "out2"), "telea", workers=1, return_state=True)  # no masks: an inpainter fails every file
    with get_client(sync_client=True) as client:
        shown = client.read_flow_run(state.state_details.flow_run_id).state
    assert shown.is_failed() and "4 of 4 files failed" in shown.message
    records = flow_result(state)
    assert sum(r.status == "failed" for r in records) == 4 and not any(r.ok for r in records)
    result = cli("restore", archive, tmp_path / "out3", "--method", "telea")
    assert result.exit_code == 1 and "0 ok" in result.stdout  # the command still reports every file

    clean = tmp_path / "clean"
    write_png(clean / "camera.png", crops(1, 64)[0])
    state = restore_flow(str(clean), str(tmp_path / "out4"), "tv", workers=1, return_state=True)
    assert state.is_completed() and state.name == "Completed"
