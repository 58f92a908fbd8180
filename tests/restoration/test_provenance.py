"""Sidecars, job keys and the partial-file sweep."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from restoration.provenance import content_sha256, finished_records, job_key, remove_partial_files, sidecar_path, write_sidecar


def test_job_key_changes_with_inputs_settings_and_step():
    base = job_key("restore", {"src": "a" * 64}, {"method": "tv", "options": {}})
    assert base == job_key("restore", {"src": "a" * 64}, {"options": {}, "method": "tv"})  # order does not matter
    assert base != job_key("restore", {"src": "b" * 64}, {"method": "tv", "options": {}})
    assert base != job_key("restore", {"src": "a" * 64}, {"method": "tv", "options": {"sigma": 5.0}})
    assert base != job_key("damage", {"src": "a" * 64}, {"method": "tv", "options": {}})


def test_sidecar_states_done_changed_new(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"restored")
    sidecar = sidecar_path(tmp_path, "sub/out.png")
    assert finished_records(sidecar, "k1") == ("new", None)
    records = [{"path": "sub/out.png", "output": str(out), "status": "ok"}]
    write_sidecar(sidecar, key="k1", rel="sub/out.png", inputs={"input": {"path": "in.png", "sha256": "x"}}, settings={}, outputs=[str(out)], records=records)
    assert sidecar == tmp_path / ".provenance" / "sub" / "out.png.json"
    body = json.loads(sidecar.read_text())
    assert body["outputs"][str(out)]["sha256"] == content_sha256(out) and body["version"]
    assert finished_records(sidecar, "k1") == ("done", records)
    assert finished_records(sidecar, "k2") == ("changed", None)  # other inputs, method or model
    out.write_bytes(b"edited by hand")
    assert finished_records(sidecar, "k1") == ("changed", None)  # the output is not what was recorded
    sidecar.write_text("{half a sidecar")
    assert finished_records(sidecar, "k1") == ("new", None)


def test_content_hash_follows_the_bytes(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"one")
    first = content_sha256(path)
    path.write_bytes(b"two")
    os.utime(path, ns=(1, 1))
    assert content_sha256(path) != first
    assert content_sha256(None) is None
    with pytest.raises(OSError):
        content_sha256(tmp_path / "missing.png")


def _leftover_of_atomic_write(path) -> str:
    """The temp-file name atomic_write uses for ``path`` (the write is made to fail, as a crash would leave it)."""
    from restoration.io import atomic_write

    seen = []

    def crash(tmp):
        seen.append(tmp.name)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, crash)
    return seen[0]


def test_partial_sweep_removes_only_this_programs_temp_files(tmp_path):
    # A user's own files that merely look like temp files are never touched (they used to be deleted).
    keep = [
        tmp_path / "a.png", tmp_path / ".hidden", tmp_path / "tmp-notes.txt", tmp_path / "sub" / "b.tmp-1.png",
        tmp_path / ".notes.tmp-abc", tmp_path / "sub" / ".a.png.tmp-x7_q2.png", tmp_path / ".c.dcm.tmp-abc123.dcm",
    ]  # fmt: skip
    leftovers = [tmp_path / _leftover_of_atomic_write(tmp_path / "d.png"), tmp_path / "sub" / _leftover_of_atomic_write(tmp_path / "sub" / "e.nii.gz")]
    assert ".arestore-tmp-" in leftovers[0].name and leftovers[1].name.endswith(".nii.gz")
    for path in keep + leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert sorted(remove_partial_files(tmp_path)) == sorted(leftovers)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in leftovers)
    assert remove_partial_files(tmp_path / "absent") == []


def test_outputs_and_sidecars_respect_the_umask(tmp_path):
    from restoration.io import write_bytes_atomic

    old = os.umask(0o027)
    try:
        write_bytes_atomic(tmp_path / "group.png", b"x")
        os.umask(0o022)
        write_bytes_atomic(tmp_path / "world.png", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "group.png").stat().st_mode & 0o777 == 0o640  # mkstemp alone gives 0o600
    assert (tmp_path / "world.png").stat().st_mode & 0o777 == 0o644


def test_a_changed_output_is_found_even_with_the_same_size_and_time(tmp_path):
    from restoration.provenance import finished_records, write_sidecar

    out = tmp_path / "x.png"
    out.write_bytes(b"restored pixels")
    record = {"path": "x.png", "output": str(out), "status": "ok"}
    sidecar = tmp_path / ".provenance" / "x.png.json"
    write_sidecar(sidecar, key="k", rel="x.png", inputs={}, settings={}, outputs=[str(out)], records=[record])
    assert finished_records(sidecar, "k")[0] == "done"
    stat = out.stat()
    out.write_bytes(b"edited!pixels!!")  # same length
    os.utime(out, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    assert finished_records(sidecar, "k") == ("changed", None)
    out.write_bytes(b"restored")  # truncated
    assert finished_records(sidecar, "k") == ("changed", None)


def test_restore_settings_name_the_default_models_weights():
    from restoration.learned.catalog import default_model_dir, read_card
    from restoration.pipeline import restore_settings

    settings = restore_settings("cnn-sr", {"scale": 4})
    assert settings.model_sha256 == read_card(default_model_dir("cnn-sr-x4"))["weights_sha256"]
    assert restore_settings("cnn-sr", {}).model_sha256 == read_card(default_model_dir("cnn-sr-x2"))["weights_sha256"]
    assert "model_sha256" not in restore_settings("tv", {"sigma": 5}).key()  # a classical method's key names no model
    with pytest.raises(ValueError, match="does not take"):
        restore_settings("tv", {"radius": 3})


def test_a_file_just_written_is_hashed_without_reading_it_back(tmp_path, monkeypatch):
    import hashlib

    import restoration.io.files as files

    path = files.write_bytes_atomic(tmp_path / "new" / "folder" / "a.png", b"pixels")  # the folder is made when missing
    monkeypatch.setattr(files, "file_sha256", lambda p: pytest.fail(f"{p} read back"))
    assert content_sha256(path) == hashlib.sha256(b"pixels").hexdigest()
    monkeypatch.undo()
    path.write_bytes(b"edited")  # another size: hashed afresh
    assert content_sha256(path) == hashlib.sha256(b"edited").hexdigest()


def test_a_folder_made_by_another_thread_meanwhile_is_no_error(tmp_path, monkeypatch):
    import restoration.io.files as files

    real_open, calls = files.os.open, []

    def open_while_another_thread_makes_the_folder(path, *args):
        calls.append(path)
        if len(calls) == 1:  # our open fails, then the other thread's mkdir lands before we look
            Path(path).parent.mkdir(parents=True)
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_open(path, *args)

    monkeypatch.setattr(files.os, "open", open_while_another_thread_makes_the_folder)
    path = files.write_bytes_atomic(tmp_path / ".provenance" / "a.json", b"{}")  # CI: "No such file or directory"
    assert path.read_bytes() == b"{}" and len(calls) == 2


def test_the_hash_memo_keeps_the_recent_files_and_stays_bounded(tmp_path, monkeypatch):
    import restoration.io.files as files

    monkeypatch.setattr(files, "_hashes", type(files._hashes)())
    for k in range(50_000):  # an archive's worth of files written and hashed
        files._remember((0, k, 1, 1), "0" * 64)
    assert len(files._hashes) <= 10_000  # a window, not every hash: 200,000 were kept and the heap grew with the archive

    monkeypatch.setattr(files, "MEMO_LIMIT", 4)
    paths = [files.write_bytes_atomic(tmp_path / f"{k}.png", bytes([k]) * 10) for k in range(4)]
    content_sha256(paths[0])  # used again: now the most recent
    paths.append(files.write_bytes_atomic(tmp_path / "4.png", b"4"))
    read_back = []
    monkeypatch.setattr(files, "file_sha256", lambda p: read_back.append(Path(p).name) or "x")
    for path in (paths[0], paths[4], paths[1]):
        content_sha256(path)
    assert read_back == ["1.png"]  # the least recently used was let go, not all of them
