"""Trust, round two (issue 21), what a source may reach: nothing outside the folder given, no zip bomb.

A link inside a Sensorium, suite2p or image folder that leads out of it is refused by the importer itself,
so the CLI and the app apply one rule (``dina_core.importers.confine``). A zip, read in memory (Sensorium)
or unpacked (an upload to the app), is checked before any member is read (``dina_core.importers.archive``):
link members, names that climb out, members that declare far more than they compress or than the disk
holds; a member whose header lies is stopped at its declared size. Bombs are made by editing the sizes a
small zip declares, so no test inflates gigabytes.
"""

from __future__ import annotations

import shutil
import stat
import struct
import zipfile

import numpy as np
import pytest

from dina_core.cli import main
from dina_core.data.io import read_dataset
from dina_core.errors import DatasetError, DinaError
from dina_core.importers.archive import DISK_RESERVE, MAX_RATIO, extract_archive
from dina_core.importers.sensorium import import_sensorium
from dina_core.simulate.sensorium_folder import NAME, zip_folder
from hostile import untouched
from trust_sources import pristine, quiet, refused, sens  # noqa: F401  (fixtures)


def link_out(path, outside) -> None:
    """Replace ``path`` (a file or folder) by a link to a copy of it outside the source."""
    outside.mkdir(exist_ok=True)
    copy = outside / path.name
    (shutil.copytree if path.is_dir() else shutil.copy2)(path, copy)
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.symlink_to(copy)


def declare(archive, sizes: dict[str, int]) -> None:
    """Make members of ``archive`` declare other unpacked sizes, in the central directory and local headers."""
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        offsets, pos = {i.filename: i.header_offset for i in zf.infolist()}, zf.start_dir
    while raw[pos:pos + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack_from("<HHH", raw, pos + 28)
        name = raw[pos + 46:pos + 46 + n].decode()
        if name in sizes:
            struct.pack_into("<I", raw, pos + 24, sizes[name])
            struct.pack_into("<I", raw, offsets[name] + 22, sizes[name])
        pos += 46 + n + m + k
    archive.write_bytes(bytes(raw))


def make_zip(path, members: dict[str, bytes], links: dict[str, str] | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


# --- Nothing outside the given folder is read ----------------------------------------------------------------

@pytest.mark.parametrize("rel", ["data/responses/0.npy", "data/images", "meta/trials/tiers.npy",
                                 "meta/trials/frame_last_flip.npy"])
def test_a_sensorium_link_out_of_the_folder_is_refused(sens, tmp_path, capsys, rel):
    src, out = sens
    link_out(src / rel, tmp_path / "elsewhere")
    refused(lambda: import_sensorium(src, out), tmp_path, src, rel, "a link to", "outside it")
    assert main(["import", "sensorium", str(src), str(out), "--overwrite"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {src}: field '{rel}'")


def test_the_app_applies_the_same_rule_inside_its_data_folder(pristine, tmp_path):
    from dina_app import sources

    data = tmp_path / "data"
    src = shutil.copytree(pristine[0], data / "mouse" / NAME)
    link_out(src / "data" / "responses" / "0.npy", data / "another_session")  # inside DATA, outside the source
    refused(lambda: sources.import_sensorium_source(src, data), tmp_path, src, "data/responses/0.npy", "a link to")


def test_a_sensorium_link_that_stays_inside_the_folder_is_read(sens, pristine):
    src, out = sens
    target = src / "data" / "responses" / "0.npy"
    shutil.move(target, src / "kept.npy")
    target.symlink_to(src / "kept.npy")
    quiet(import_sensorium, src, out)
    responses = [quiet(read_dataset, p).responses for p in (out, pristine[1])]
    np.testing.assert_array_equal(*responses)


@pytest.mark.parametrize("rel", ["plane0/F.npy", "plane0/ops.npy", "plane0"])
def test_a_suite2p_link_out_of_the_folder_is_refused(s2p_case, rel):
    link_out(s2p_case.suite2p / rel, s2p_case.root / "elsewhere")
    refused(s2p_case.import_suite2p, s2p_case.root, s2p_case.suite2p, rel, "a link to")


def test_an_image_folder_link_out_is_refused(s2p_case):
    import skimage.io

    folder = s2p_case.root / "session" / "frames"
    folder.mkdir()
    for i, image in enumerate(np.load(s2p_case.images).astype(np.uint8)):
        skimage.io.imsave(folder / f"{i}.png", image, check_contrast=False)
    link_out(folder / "3.png", s2p_case.root / "elsewhere")
    refused(lambda: s2p_case.import_suite2p(images=folder), s2p_case.root, folder, "3.png", "a link to")


# --- Sensorium zips, read in memory --------------------------------------------------------------------------

@pytest.fixture()
def sens_zip(sens):
    src, out = sens
    return zip_folder(src, src.parent / f"{NAME}.zip"), out


def _no_member_read(monkeypatch):
    def opened(*_, **__):
        raise AssertionError("a member was read before the archive was refused")
    monkeypatch.setattr(zipfile.ZipFile, "open", opened)


@pytest.mark.parametrize("members,words", [
    ({"data/responses/0.npy": 4_000_000_000}, ("'static", "data/responses/0.npy'", "4.0 GB unpacked", f"{MAX_RATIO}x")),
    ({f"data/responses/{i}.npy": 20_000_000 for i in range(60)}, ("<", "members>", "1.2 GB unpacked", f"{MAX_RATIO}x")),
])
def test_a_sensorium_zip_bomb_is_refused_before_any_member_is_read(sens_zip, tmp_path, monkeypatch, members, words):
    archive, out = sens_zip
    declare(archive, {f"{NAME}/{name}": size for name, size in members.items()})
    _no_member_read(monkeypatch)
    with untouched(tmp_path), pytest.raises(DinaError) as info:
        import_sensorium(archive, out)
    assert str(info.value).startswith(f"{archive}: member ") and all(w in str(info.value) for w in words), info.value


def test_a_sensorium_member_whose_header_lies_is_stopped_at_its_declared_size(sens_zip, tmp_path):
    archive, out = sens_zip
    declare(archive, {f"{NAME}/data/responses/3.npy": 100})  # holds more than it declares
    refused(lambda: import_sensorium(archive, out), tmp_path, archive, "data/responses/3.npy",
            "100 bytes its header declares")


@pytest.mark.parametrize("name,link,words", [
    ("../../outside.npy", None, "points outside the archive"), ("/etc/outside.npy", None, "points outside"),
    (f"{NAME}/data/../../../up.npy", None, "no '..'"), (f"{NAME}/data/link", "/etc/passwd", "is a symbolic link"),
])
def test_a_sensorium_zip_member_that_leads_out_is_refused(sens_zip, tmp_path, name, link, words):
    archive, out = sens_zip
    with zipfile.ZipFile(archive, "a") as zf:
        info = zipfile.ZipInfo(name)
        if link:
            info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, link or b"x")
    with untouched(tmp_path), pytest.raises(DinaError, match=f"member '{name}'.*{words}"):
        import_sensorium(archive, out)


# --- Uploads the app unpacks ---------------------------------------------------------------------------------

SESSION = {"suite2p/plane0/iscell.npy": b"\x93NUMPY" + bytes(200), "stimulus_table.csv": b"onset_frame,image_id\n1,0\n"}


def _upload(tmp_path, members=SESSION, sizes=None):
    archive = make_zip(tmp_path / "data" / "uploads" / "session.zip", members)
    declare(archive, sizes or {})
    return tmp_path / "data", archive


@pytest.mark.parametrize("case", ["declared 3 GB", "40 MB of zeros"])
def test_an_upload_with_a_zero_member_is_refused_before_unpacking(tmp_path, monkeypatch, case):
    from dina_app import sources

    if case == "declared 3 GB":
        data, archive = _upload(tmp_path, sizes={"suite2p/plane0/iscell.npy": 3_000_000_000})
        _no_member_read(monkeypatch)
    else:
        data, archive = _upload(tmp_path, {**SESSION, "suite2p/plane0/F.npy": bytes(40_000_000)})
    with untouched(data), pytest.raises(DinaError, match=rf"{archive}: member '.*' declares .*{MAX_RATIO}x"):
        sources.extract_zip(archive, data)


def test_an_upload_larger_than_the_free_disk_is_refused(tmp_path):
    data, archive = _upload(tmp_path)
    (data / "dest").mkdir()
    with untouched(data), pytest.raises(DinaError, match="declare .* unpacked; expected members that fit on the disk"):
        extract_archive(archive, data / "dest", free=DISK_RESERVE + 100)


def test_an_upload_member_whose_header_lies_leaves_nothing(tmp_path):
    from dina_app import sources

    data, archive = _upload(tmp_path, sizes={"stimulus_table.csv": 4})
    with untouched(data), pytest.raises(DatasetError, match="stimulus_table.csv.*4 bytes its header declares"):
        sources.extract_zip(archive, data)


def test_a_good_upload_unpacks_exactly(tmp_path):
    from dina_app import sources

    data, archive = _upload(tmp_path)
    out = sources.extract_zip(archive, data)
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} == SESSION
