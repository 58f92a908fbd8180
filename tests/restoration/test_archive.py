"""Archives as inputs: output folders that could touch an input are refused, every entry is taken or named, broken archives say so in one line."""

from __future__ import annotations

import errno
import io
import os
import tarfile
import zipfile

import cv2
import pytest

from restoration.archive import (
    OUTPUT_MARKER,
    ArchiveError,
    UnsafeOutputError,
    check_output_folder,
    claim_output_folder,
    extract_archive,
    list_archive,
    stage_input,
)
from tests.conftest import write_png


@pytest.fixture()
def archive(tmp_path, camera):
    write_png(tmp_path / "in" / "a.png", camera)
    write_png(tmp_path / "in" / "sub" / "b.png", camera[:64])
    return tmp_path / "in"


# -------------------------------------------------------------- output folder


@pytest.mark.parametrize(
    "output,message",
    [
        (".", "is the input folder"),
        ("sub", "lies inside the input .* holds files of the archive \\(b.png\\)"),
        ("..", "contains the input"),
        ("a.png", "is a file"),
    ],
)
def test_an_output_folder_that_could_touch_the_originals_is_refused(archive, output, message):
    with pytest.raises(UnsafeOutputError, match=message):
        check_output_folder(archive, archive / output)


def test_an_output_folder_inside_the_input_is_accepted_when_new_empty_or_ours(archive):
    check_output_folder(archive, archive / "restored")  # new: the listing leaves it out
    (archive / "empty").mkdir()
    check_output_folder(archive, archive / "empty")
    claim_output_folder(archive / "sub" / "out")
    (archive / "sub" / "out" / "x.png").write_bytes(b"an earlier output")
    check_output_folder(archive, archive / "sub" / "out")  # carries the marker
    assert (archive / "sub" / "out" / OUTPUT_MARKER).is_file()
    listing = list_archive(archive, exclude=[archive / "sub" / "out"])
    assert "sub/out/x.png" not in listing.files and ("sub/out/", f"output or masks folder ({archive / 'sub' / 'out'})") in listing.left_out


def test_a_single_image_as_input_is_refused_an_output_that_would_overwrite_it(archive, tmp_path):
    with pytest.raises(UnsafeOutputError, match="contains the input"):
        check_output_folder(archive / "a.png", archive)
    with pytest.raises(UnsafeOutputError, match="is a file"):
        check_output_folder(archive / "a.png", archive / "a.png")
    check_output_folder(archive / "a.png", tmp_path / "out")


def test_masks_and_outputs_must_not_overlap(archive, tmp_path):
    with pytest.raises(UnsafeOutputError, match="masks folder"):
        check_output_folder(archive, tmp_path / "m", other_inputs=[tmp_path / "m"])
    with pytest.raises(UnsafeOutputError, match="masks folder"):
        check_output_folder(archive, tmp_path / "out", other_inputs=[tmp_path / "out" / "masks"])
    check_output_folder(archive, tmp_path / "out", other_inputs=[tmp_path / "m", None])


def test_an_archive_file_inside_the_output_folder_is_fine(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.zip").write_bytes(b"PK")
    check_output_folder(tmp_path / "out" / "a.zip", tmp_path / "out")  # read, never written: the demo does this


# -------------------------------------------------------------------- listing


def test_a_symlink_loop_is_refused_and_the_rest_listed(archive):
    os.symlink("loop", archive / "loop")
    os.symlink("loop2", archive / "sub" / "loop1")
    os.symlink("loop1", archive / "sub" / "loop2")
    listing = list_archive(archive)
    assert listing.files == ["a.png", "sub/b.png"]
    assert dict(listing.refused) == {"loop": "symbolic link loop", "sub/loop1": "symbolic link loop", "sub/loop2": "symbolic link loop"}


def test_links_to_folders_and_broken_links_are_named(archive):
    os.symlink(archive / "sub", archive / "again")
    os.symlink(archive / "missing.png", archive / "gone.png")
    refused = dict(list_archive(archive).refused)
    assert refused == {"again": "symbolic link to a folder (not followed)", "gone.png": "broken symbolic link (No such file or directory)"}


def test_an_unreadable_folder_is_refused_by_name(archive, monkeypatch):
    # Root reads any folder, so the refusal a non-root user meets is injected.
    real_scandir = os.scandir
    locked = str(archive / "sub")

    def scandir(path="."):
        if str(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    listing = list_archive(archive)
    assert listing.files == ["a.png"] and listing.refused == [("sub/", "cannot read folder: Permission denied")]


def test_hidden_entries_are_left_out_by_name(archive):
    (archive / ".x.png").write_bytes(b"x")
    (archive / ".git").mkdir()
    (archive / ".git" / "objects.png").write_bytes(b"x")
    listing = list_archive(archive)
    assert listing.left_out == [(".git/", "hidden folder"), (".x.png", "hidden file")]
    assert listing.files == ["a.png", "sub/b.png"]


def test_a_deep_tree_is_listed_without_recursion(tmp_path):
    folder = tmp_path / "deep"
    levels = [folder]
    folder.mkdir()
    for _ in range(1200):  # deeper than Python's recursion limit
        levels.append(levels[-1] / "d")
        os.mkdir(levels[-1])
    (levels[-1] / "x.png").write_bytes(b"x")
    try:
        assert len(list_archive(folder).files) == 1
    finally:  # bottom-up: shutil.rmtree (and pytest's clean-up) would recurse too deep
        (levels[-1] / "x.png").unlink()
        for level in reversed(levels):
            level.rmdir()


# ------------------------------------------------------------------- staging


def test_a_single_image_file_is_an_archive_of_one(archive, tmp_path):
    listing = stage_input(archive / "a.png", tmp_path / "out")
    assert listing.files == ["a.png"] and listing.root == archive.resolve()


def test_a_truncated_zip_is_one_refusal_naming_it(archive, tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.write(archive / "a.png", "a.png")
    (tmp_path / "cut.zip").write_bytes(data.getvalue()[:300])
    with pytest.raises(ArchiveError, match="cut.zip: not a readable archive"):
        extract_archive(tmp_path / "cut.zip", tmp_path / "x")
    listing = stage_input(tmp_path / "cut.zip", tmp_path / "out")
    assert listing.files == [] and listing.refused[0][0] == "." and "not a readable archive" in listing.refused[0][1]


def test_a_truncated_tar_keeps_the_members_before_the_cut(archive, tmp_path, astronaut):
    write_png(archive / "c.png", astronaut)  # incompressible enough to be cut inside
    with tarfile.open(tmp_path / "full.tar.gz", "w:gz") as tf:
        for rel in ("sub/b.png", "c.png"):
            tf.add(archive / rel, rel)
    data = (tmp_path / "full.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) * 2 // 3])
    listing = stage_input(tmp_path / "cut.tar.gz", tmp_path / "out")
    assert listing.files == ["sub/b.png"]
    assert [rel for rel, _ in listing.refused] == ["c.png"] and "truncated or corrupt" in listing.refused[0][1]


def test_a_full_disk_while_unpacking_is_one_clear_refusal(archive, tmp_path, monkeypatch):
    import restoration.archive as archive_module

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.write(archive / "a.png", "a.png")

    def full(src, tmp, size):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    monkeypatch.setattr(archive_module, "_copy_stream", full)
    with pytest.raises(ArchiveError, match="cannot unpack into .*: No space left on device"):
        extract_archive(tmp_path / "a.zip", tmp_path / "x")
    listing = stage_input(tmp_path / "a.zip", tmp_path / "out")
    assert listing.files == [] and "No space left on device" in listing.refused[0][1]


def test_staging_starts_afresh(archive, tmp_path):
    with zipfile.ZipFile(tmp_path / "one.zip", "w") as zf:
        zf.write(archive / "a.png", "a.png")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as zf:
        zf.write(archive / "sub" / "b.png", "b.png")
    assert stage_input(tmp_path / "one.zip", tmp_path / "out").files == ["a.png"]
    assert stage_input(tmp_path / "two.zip", tmp_path / "out").files == ["b.png"]  # a.png of the last run does not linger


def test_zip_extraction_refuses_escapes_and_links(tmp_path, camera):

    png = cv2.imencode(".png", camera)[1].tobytes()
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/img.png", png)
        zf.writestr("../evil.png", png)
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (0o120777) << 16
        zf.writestr(link, "/etc/passwd")
    refused = dict(extract_archive(archive, tmp_path / "out"))
    assert (tmp_path / "out" / "ok" / "img.png").read_bytes() == png
    assert "leaves" in refused["../evil.png"] and "link" in refused["link.png"]
    assert not (tmp_path / "evil.png").exists()


def test_tar_extraction_refuses_escapes(tmp_path):
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name in ("good.png", "../bad.png"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
    refused = dict(extract_archive(archive, tmp_path / "out"))
    assert (tmp_path / "out" / "good.png").exists()
    assert "../bad.png" in refused and not (tmp_path / "bad.png").exists()


def test_listing_flags_links_out_of_the_archive_and_names_hidden_files(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.png").write_bytes(b"x")
    (tmp_path / "root" / "a.png").write_bytes(b"x")
    (tmp_path / "root" / ".hidden.png").write_bytes(b"x")
    os.symlink(tmp_path / "secret.png", tmp_path / "root" / "link.png")
    listing = list_archive(tmp_path / "root")
    assert listing.files == ["a.png"]
    assert listing.refused == [("link.png", "symbolic link leads outside the archive")]
    assert listing.left_out == [(".hidden.png", "hidden file")]
