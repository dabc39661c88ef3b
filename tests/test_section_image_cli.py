"""``allen-viewer section-image`` against the fake Allen server's GENERATED section images."""
import json
from pathlib import Path

from allen_viewer import cli
from tests.fake_allen import sections as fake_sections
from tests.fake_allen.fixtures import allen_env, fake_allen, fake_allen_data  # noqa: F401

PDYN = 71717084


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_section_image_writes_jpeg_as_served_and_sidecar(capsys, allen_env, tmp_path, monkeypatch):
    out = tmp_path / "sec.jpg"
    code, text, err = run(capsys, "section-image", "Pdyn", "--at", "5230,4010,2000", "--out", str(out),
                          "--downsample", "5")
    assert code == 0, err
    number, col, row = fake_sections.expected_pixel("coronal", 5230, 4010, 2000)
    assert out.read_bytes() == fake_sections.jpeg(PDYN, "coronal", number, 5, "stained", None)
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["section_image_id"] == fake_sections.image_id(PDYN, number)
    assert side["section_number"] == number
    assert side["pixel_full_resolution"] == {"x": col, "y": row}
    assert side["pixel_at_downsample"] == {"x": col / 32, "y": row / 32}
    assert side["downsample"] == 5 and side["view"] == "stained" and side["experiment"]["experiment_id"] == PDYN
    assert f"section {number}" in text
    # offline, the cached image and synchronisation still answer; --expression is not cached
    served = len(allen_env.requests)
    code, _, err = run(capsys, "--offline", "section-image", "Pdyn", "--at", "5230,4010,2000",
                       "--out", str(tmp_path / "again.jpg"), "--downsample", "5")
    assert code == 0, err
    assert (tmp_path / "again.jpg").read_bytes() == out.read_bytes() and len(allen_env.requests) == served
    code, _, err = run(capsys, "--offline", "section-image", "Pdyn", "--at", "5230,4010,2000", "--expression",
                       "--out", str(tmp_path / "mask.jpg"), "--downsample", "5")
    assert code == 1 and "allen-viewer: error: Offline" in err
    assert not (tmp_path / "mask.jpg").exists()
    code, _, err = run(capsys, "section-image", "Pdyn", "--at", "5230,4010,2000", "--expression",
                       "--out", str(tmp_path / "mask.jpg"), "--downsample", "5")
    assert code == 0, err
    assert (tmp_path / "mask.jpg").read_bytes() == fake_sections.jpeg(PDYN, "coronal", number, 5, "expression", None)


def test_section_image_errors_are_one_line(capsys, allen_env, tmp_path):
    allen_env.no_section_images.add(PDYN)
    code, _, err = run(capsys, "section-image", str(PDYN), "--at", "5000,4000,2000", "--out", str(tmp_path / "a.jpg"))
    assert code == 1 and "has no section image" in err and err.count("\n") == 1
    for argv, words in ((["--at", "5000,4000"], "three numbers"),
                        (["--at", "5000,4000,2000", "--downsample", "12"], "downsample"),
                        (["--at", "5000,4000,2000", "--out", str(tmp_path / "x.png")], "FILE.jpg")):
        if "--out" not in argv:
            argv = argv + ["--out", str(tmp_path / "b.jpg")]
        code, _, err = run(capsys, "section-image", "74272479", *argv)
        assert code == 1 and err.startswith("allen-viewer: error:") and words in err, err
    assert not any(p.suffix in (".jpg", ".png", ".json") for p in tmp_path.iterdir())
    (tmp_path / "d.jpg").mkdir()
    code, _, err = run(capsys, "section-image", "74272479", "--at", "5000,4000,2000", "--force",
                       "--out", str(tmp_path / "d.jpg"))
    assert code == 1 and "not a regular file" in err and (tmp_path / "d.jpg").is_dir()
