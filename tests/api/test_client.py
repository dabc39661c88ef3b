"""AllenClient against the loopback fake Allen server (tests/fake_allen), every path.

The fake answers in the real service's formats; faults are injected per test.  Clients
here retry fast (backoff 0.01 s), so the whole module runs in a few seconds.
"""
from __future__ import annotations

import io
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests

from allen_viewer import config
from allen_viewer.api import rma
from allen_viewer.api.client import AllenClient
from allen_viewer.errors import (
    AllenViewerError,
    Cancelled,
    CorruptDownload,
    Offline,
    ServiceUnavailable,
    UnknownExperiment,
    UnknownGene,
)
from allen_viewer.formats.grid_file import GRID_SHAPE, read_grid_zip
from allen_viewer.store.gene_index import experiments_from_rma_rows, read_gene_index
from tests.fake_allen.data import NISSL_RELPATH, SAGITTAL_FIRST_EMPTY_ML, gunzip_nrrd_body, read_nrrd_header
from tests.fake_allen.fixtures import allen_client, allen_env, fake_allen, fake_allen_data  # noqa: F401
from tests.fake_allen.server import FakeAllen

PDYN_CORONAL, PDYN_SAGITTAL, NRP1_CORONAL = 71717084, 69782969, 74272479
QUERY = "/api/v2/data/query.json"
GRID = "/grid_data/download/"
FILES = "/informatics-archive/current-release/"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _origin(client, dest: Path, relpath: str, total, etag: str | None = None) -> None:
    """Record a ``.part``'s origin as the transport does when it starts one (the fake server's
    ETag of a file added as bytes is ``"<size hex>-0"``); a ``.part`` without it starts over."""
    import json

    from allen_viewer.api.transport import origin_path

    tag = etag if etag is not None else f'"{(total or 0):x}-0"'
    origin_path(Path(str(dest) + ".part")).write_text(json.dumps(
        {"url": client.file_url(relpath), "etag": tag, "last_modified": "", "total": total}))


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------- RMA building


def test_rma_strings_are_the_documented_queries():
    assert rma.section_data_sets_of_gene("Pdyn") == (
        "model::SectionDataSet,rma::criteria,[failed$eq'false'],products[abbreviation$eq'Mouse'],"
        "genes[acronym$eq'Pdyn'],rma::include,genes,plane_of_section")
    assert "plane_of_section[name$eq'coronal']" in rma.section_data_sets_of_gene("Pdyn", "coronal")
    assert rma.with_paging("model::Gene", 4000, 2000) == (
        "model::Gene,rma::options[num_rows$eq2000][start_row$eq4000][order$eq'id']")
    assert rma.encode("genes[acronym$eq'Pdyn'],x") == "genes%5Bacronym$eq%27Pdyn%27%5D,x"
    assert rma.check_symbol(" Gt(ROSA)26Sor* ") == "Gt(ROSA)26Sor"
    for bad in ("Pd'yn", "a]b", "a,b", "", "two words"):
        with pytest.raises(ValueError):
            rma.check_symbol(bad)


def test_defaults_come_from_the_environment(allen_env):
    client = AllenClient()
    assert client.api_url == allen_env.api_url
    assert client.download_url == allen_env.download_url
    assert client.timeout == (9.05, 31.1) and client.retries == 3


# ---------------------------------------------------------------------------- metadata


def test_all_experiments_pages_through_every_row(allen_client, fake_allen):
    seen = []
    rows = allen_client.all_experiments(progress=lambda done, total: seen.append((done, total)))
    assert len(rows) == 26078
    pages = fake_allen.requests_to(QUERY)
    assert len(pages) == 14  # 13 full pages of 2000 and one of 78
    assert [f"[start_row$eq{2000 * i}]" in p.criteria for i, p in enumerate(pages)] == [True] * 14
    assert all("[num_rows$eq2000]" in p.criteria and "treatments[name$eqISH]" in p.criteria for p in pages)
    assert seen[0] == (2000, 26078) and seen[-1] == (26078, 26078)
    assert len({r["id"] for r in rows}) == 26078
    # a check of the FAKE's consistency, not of the client: the fake builds these rows from
    # the embedded index, so they rebuild it exactly (the client's parsing of rows in the
    # real format: test_experiments_from_section_data_set_rows_in_the_real_format)
    rebuilt = {(e.id, e.symbol, e.alias, e.name, e.entrez_id, e.plane) for e in experiments_from_rma_rows(rows)}
    embedded = read_gene_index(config.resources_dir() / "gene_index.tsv.gz")
    assert rebuilt == {(e.id, e.symbol, e.alias, e.name, e.entrez_id, e.plane) for e in embedded}


def test_the_criteria_go_percent_encoded_except_the_rma_punctuation(allen_client, fake_allen):
    allen_client.experiments_of_gene("Pdyn")
    raw = fake_allen.requests_to(QUERY)[0].raw_query
    assert raw.startswith("criteria=model::SectionDataSet,rma::criteria,%5Bfailed$eq%27false%27%5D")
    assert "[" not in raw and "'" not in raw


def test_small_pages_are_followed_to_the_end(allen_client, fake_allen):
    rows = allen_client.rma(rma.section_data_sets_of_gene("Pdyn"), page_size=1)
    assert [r["id"] for r in rows] == [PDYN_SAGITTAL, PDYN_CORONAL]  # ordered by id
    assert len(fake_allen.requests_to(QUERY)) == 2


def test_experiments_of_a_gene(allen_client, fake_allen):
    rows = allen_client.experiments_of_gene("Pdyn")
    assert sorted(r["id"] for r in rows) == sorted([PDYN_CORONAL, PDYN_SAGITTAL])
    by_id = {r["id"]: r for r in rows}
    coronal = by_id[PDYN_CORONAL]
    assert coronal["plane_of_section"] == {"id": 1, "name": "coronal"}
    assert coronal["plane_of_section_id"] == 1 and coronal["reference_space_id"] == 9
    assert coronal["genes"][0]["acronym"] == "Pdyn" and coronal["genes"][0]["entrez_id"] == 18610
    assert coronal["specimen_id"] == 70971025  # from the real data_set.xml
    assert by_id[PDYN_SAGITTAL]["plane_of_section"]["name"] == "sagittal"
    assert [r["id"] for r in allen_client.experiments_of_gene("Pdyn", plane="coronal")] == [PDYN_CORONAL]
    assert allen_client.experiments_of_gene("pdyn") == []  # symbols are case-sensitive
    assert allen_client.experiments_of_gene("Nosuchgene1") == []


def test_a_symbol_that_cannot_be_one_is_refused_without_a_request(allen_client, fake_allen):
    with pytest.raises(UnknownGene):
        allen_client.experiments_of_gene("Pdyn'],[id$gt0")
    with pytest.raises(ValueError):
        allen_client.experiments_of_gene("Pdyn", plane="axial")
    assert fake_allen.requests == []


def test_gene(allen_client):
    gene = allen_client.gene("Nrp1")
    assert gene["acronym"] == "Nrp1" and gene["name"] == "neuropilin 1" and gene["organism_id"] == 2
    with pytest.raises(UnknownGene, match="Nosuchgene1"):
        allen_client.gene("Nosuchgene1")


def test_structure_graph_is_the_root_997(allen_client, fake_allen, fake_allen_data):
    root = allen_client.structure_graph()
    assert root["id"] == 997 and root["acronym"] == "root"

    def count(node):
        return 1 + sum(count(c) for c in node["children"])

    assert count(root) == 1327
    assert fake_allen.requests_to("/api/v2/structure_graph_download/1.json")


def test_structure_graph_looks_through_a_wrapper_node(allen_client, fake_allen_data, monkeypatch):
    inner = fake_allen_data.structure_graph_envelope()
    wrapped = dict(inner, msg=[{"id": 0, "acronym": "universe", "children": inner["msg"]}])
    monkeypatch.setattr(fake_allen_data, "structure_graph_envelope", lambda: wrapped)
    assert allen_client.structure_graph()["id"] == 997


# Hand-written rows in the real service's formats (field names and types from the Allen
# API's documentation, docs in ../shared/docs/allen-api.md, copied here: tests never read
# ../shared).  The values are made up for the test (plausible, not Allen's numbers).
SECTION_DATA_SET_ROWS = [
    {"id": 71717084, "failed": False, "expression": True, "plane_of_section_id": 1, "reference_space_id": 9,
     "section_thickness": 25.0, "specimen_id": 71587929, "qc_date": "2008-06-12T20:34:16Z",
     "storage_directory": "/external/mousebrain/prod/0225/", "sphinx_id": 126405, "weight": 5470,
     "blue_channel": None, "green_channel": None, "red_channel": None, "delegate": False, "failed_facet": 734881840,
     "name": None, "rnaseq_design_id": None,
     "genes": [{"id": 18376, "acronym": "Pdyn", "name": "prodynorphin", "entrez_id": 18610,
                "ensembl_id": None, "homologene_id": 22601, "chromosome_id": 35, "organism_id": 2,
                "original_symbol": "Pdyn", "alias_tags": "Dyn"}],
     "plane_of_section": {"id": 1, "name": "coronal"}},
    {"id": 69113518, "failed": False, "expression": True, "plane_of_section_id": 2, "reference_space_id": 10,
     "section_thickness": 25.0, "specimen_id": 68859843, "delegate": False,
     "genes": [{"id": 71661, "acronym": "Atraid", "name": "all-trans retinoic acid induced differentiation factor",
                "entrez_id": "75246", "organism_id": 2, "original_symbol": "0610007C21Rik", "alias_tags": ""}],
     "plane_of_section": {"id": 2, "name": "sagittal"}},
    {"id": 100000001, "failed": False, "expression": True, "plane_of_section_id": 2, "reference_space_id": 10,
     "genes": [{"id": 5, "acronym": "Gene1*", "name": "a gene whose symbol ends in an asterisk", "entrez_id": None,
                "organism_id": 2, "original_symbol": "Gene1*"}]},  # no plane_of_section: the id says sagittal
    {"id": 100000002, "failed": False, "plane_of_section_id": 1, "genes": []},  # no gene: left out
]


def test_experiments_from_section_data_set_rows_in_the_real_format():
    got = experiments_from_rma_rows(SECTION_DATA_SET_ROWS)
    assert [(e.id, e.symbol, e.alias, e.name, e.entrez_id, e.plane) for e in got] == [
        (71717084, "Pdyn", "", "prodynorphin", 18610, "coronal"),
        (69113518, "Atraid", "0610007C21Rik", "all-trans retinoic acid induced differentiation factor", 75246,
         "sagittal"),
        (100000001, "Gene1", "", "a gene whose symbol ends in an asterisk", None, "sagittal"),
    ]


UNIONIZE_ROWS = [  # model::StructureUnionize with rma::include,structure
    {"id": 499437201, "section_data_set_id": 71717084, "structure_id": 672, "expression_energy": 11.8733,
     "expression_density": 0.0711, "sum_expressing_pixels": 1.16e7, "sum_expressing_pixel_intensity": 1.93e9,
     "sum_pixels": 1.63e8, "sum_pixel_intensity": 1.2e10, "voxel_energy_mean": 11.8733, "voxel_energy_cv": 0.6119,
     "structure": {"id": 672, "acronym": "CP", "name": "Caudoputamen", "graph_id": 1, "graph_order": 574,
                   "color_hex_triplet": "98D6F9", "parent_structure_id": 485, "st_level": 9,
                   "structure_id_path": "/997/8/567/623/477/485/672/"}},
    {"id": 499437202, "section_data_set_id": 71717084, "structure_id": 997, "expression_energy": 2.0451,
     "expression_density": 0.0125, "sum_expressing_pixels": 5.5e7, "sum_expressing_pixel_intensity": 8.9e9,
     "sum_pixels": 4.4e9, "sum_pixel_intensity": 3.3e11, "voxel_energy_mean": 2.0451, "voxel_energy_cv": 2.8812,
     "structure": {"id": 997, "acronym": "root", "name": "root", "graph_id": 1, "graph_order": 0,
                   "color_hex_triplet": "FFFFFF", "parent_structure_id": None, "st_level": 0,
                   "structure_id_path": "/997/"}},
]


def test_structure_unionize_returns_the_rows_as_the_service_sends_them(allen_client, fake_allen, fake_allen_data,
                                                                        monkeypatch):
    monkeypatch.setattr(fake_allen_data, "unionize_rows",
                        lambda i: [dict(r) for r in UNIONIZE_ROWS if r["section_data_set_id"] == i])
    rows = allen_client.structure_unionize(PDYN_CORONAL)
    assert sorted(rows, key=lambda r: r["id"]) == UNIONIZE_ROWS
    [crit] = [r.criteria for r in fake_allen.requests_to(QUERY)]
    assert "model::StructureUnionize" in crit and "[section_data_set_id$eq71717084]" in crit
    assert allen_client.structure_unionize(12345) == []  # an experiment without rows


def test_the_fakes_unionize_arithmetic_is_the_mean_in_brain_energy(allen_client, fake_allen_data):
    """A test of the FAKE server (tests/fake_allen), not of the client: its root row's
    expression_energy is the mean of the in-brain voxels with data, computed here."""
    rows = allen_client.structure_unionize(PDYN_CORONAL)
    by_structure = {r["structure_id"]: r for r in rows}
    root = by_structure[997]
    energy = fake_allen_data.volumes(PDYN_CORONAL)["energy"]
    in_brain = (fake_allen_data.grid_annotation > 0) & (energy >= 0)
    assert root["expression_energy"] == pytest.approx(energy[in_brain].mean(), rel=1e-6)
    assert root["section_data_set_id"] == PDYN_CORONAL and root["structure"]["acronym"] == "root"
    assert set(rows[0]) >= {"id", "section_data_set_id", "structure_id", "expression_energy", "expression_density",
                            "sum_expressing_pixels", "sum_pixels", "voxel_energy_mean", "voxel_energy_cv"}


def test_a_failure_envelope_is_reported_not_retried(allen_client, fake_allen):
    fake_allen.inject(QUERY, "failure_envelope", msg="Data Access error in query: boom")
    with pytest.raises(ServiceUnavailable, match="boom"):
        allen_client.gene("Pdyn")
    assert len(fake_allen.requests_to(QUERY)) == 1


def test_criteria_the_service_cannot_run_give_its_message(allen_client):
    with pytest.raises(ServiceUnavailable, match="unknown or unsupported model 'Nope'"):
        allen_client.rma("model::Nope,rma::criteria,[id$eq1]")
    with pytest.raises(ServiceUnavailable, match="has no field 'colour'"):
        allen_client.rma("model::Gene,rma::criteria,[colour$eq'red']")


@pytest.mark.parametrize("fault,message", [
    ("html", "answered with an HTML page instead of data (3 tries); the service may be down. Try again later."),
    ("bad_json", "answered with data that is not valid JSON (3 tries); the service may be down. Try again later."),
    ("reset", "dropped the connection (3 tries); the service may be down or the network unstable. "
              "Try again later."),
])
def test_a_fault_every_time_gives_up_with_a_plain_sentence(allen_client, fake_allen, fault, message):
    fake_allen.inject(QUERY, fault, times=3)
    with pytest.raises(ServiceUnavailable) as info:
        allen_client.experiments_of_gene("Pdyn")
    assert str(info.value) == f"The Allen API at 127.0.0.1:{fake_allen.port} {message}"
    assert [r.fault for r in fake_allen.requests_to(QUERY)] == [fault] * 3


def test_an_outage_page_without_an_html_type_is_still_an_outage(allen_client, fake_allen):
    fake_allen.inject(QUERY, "html", times=3, content_type="text/plain")
    with pytest.raises(ServiceUnavailable, match="HTML page"):
        allen_client.gene("Pdyn")


@pytest.mark.parametrize("fault", ["html", "bad_json", "reset"])
def test_a_fault_once_is_retried(allen_client, fake_allen, fault):
    fake_allen.inject(QUERY, fault)
    assert len(allen_client.experiments_of_gene("Pdyn")) == 2
    assert [r.fault for r in fake_allen.requests_to(QUERY)] == [fault, None]


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_server_errors_are_retried_then_succeed(allen_client, fake_allen, code):
    fake_allen.inject(QUERY, "status", times=2, code=code)
    assert len(allen_client.experiments_of_gene("Pdyn")) == 2
    assert len(fake_allen.requests_to(QUERY)) == 3


def test_server_errors_every_time(allen_client, fake_allen):
    fake_allen.inject(QUERY, "status", times=3, code=503)
    with pytest.raises(ServiceUnavailable, match=r"returned HTTP 503 \(3 tries\)"):
        allen_client.experiments_of_gene("Pdyn")


def test_other_client_errors_are_not_retried(allen_client, fake_allen):
    fake_allen.inject(QUERY, "status", code=400)
    with pytest.raises(ServiceUnavailable, match="HTTP 400"):
        allen_client.experiments_of_gene("Pdyn")
    assert len(fake_allen.requests_to(QUERY)) == 1


def test_a_timeout_then_success(allen_env, fake_allen):
    # a read timeout with room for a loaded machine to answer the second try in time
    client = AllenClient(timeout=(2.0, 1.5), backoff=0.01)
    fake_allen.inject(QUERY, "delay", seconds=4.0)
    assert len(client.experiments_of_gene("Pdyn")) == 2
    assert [r.fault for r in fake_allen.requests_to(QUERY)] == ["delay", None]


def test_timeouts_every_time(allen_env, fake_allen):
    client = AllenClient(timeout=(2.0, 0.2), backoff=0.01)
    fake_allen.inject(QUERY, "timeout", times=3, seconds=0.6)
    t = time.monotonic()
    with pytest.raises(ServiceUnavailable, match=r"timed out after 3 tries"):
        client.experiments_of_gene("Pdyn")
    # a deadline test: 3 tries of a 0.2 s read timeout (+ 0.01 s and 0.02 s of backoff) end;
    # the bound is 5x that, so only a client that ignored its timeout fails it
    assert time.monotonic() - t < 5 * (3 * 0.2 + 0.03) + 2.0  # + one connect timeout of slack


def test_backoff_doubles_between_tries(allen_env, fake_allen):
    client = AllenClient(backoff=0.1)
    fake_allen.inject(QUERY, "status", times=2, code=503)
    t = time.monotonic()
    client.experiments_of_gene("Pdyn")
    assert time.monotonic() - t >= 0.3  # 0.1 s, then 0.2 s
    first, second, third = (r.time for r in fake_allen.requests_to(QUERY))
    assert second - first >= 0.1 and third - second >= 0.2


def test_connection_refused_means_offline(allen_env):
    client = AllenClient(f"http://127.0.0.1:{_closed_port()}", backoff=0.01)
    with pytest.raises(Offline, match=r"Cannot reach 127\.0\.0\.1:\d+ \(connection refused\)\. Check the network"):
        client.experiments_of_gene("Pdyn")


def test_a_name_that_does_not_resolve_means_offline(allen_env, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = AllenClient("http://api.brain-map.org", backoff=0.01)
    with pytest.raises(Offline, match="api.brain-map.org .the host name does not resolve.*Check the network") as info:
        client.structure_graph()
    assert "ALLEN_VIEWER_OFFLINE" not in str(info.value)  # offline mode is no fix for a missing network (#18)


def test_no_raw_requests_exception_escapes(allen_env):
    with pytest.raises(AllenViewerError, match="not a usable address"):
        AllenClient("htp:/nonsense", backoff=0.01).structure_graph()


OFFLINE_CALLS = {
    "rma": lambda c, d: c.rma("model::Gene,rma::criteria,[acronym$eq'Pdyn']"),
    "experiments_of_gene": lambda c, d: c.experiments_of_gene("Pdyn"),
    "all_experiments": lambda c, d: c.all_experiments(),
    "gene": lambda c, d: c.gene("Pdyn"),
    "structure_graph": lambda c, d: c.structure_graph(),
    "structure_unionize": lambda c, d: c.structure_unionize(PDYN_CORONAL),
    "download_grid": lambda c, d: c.download_grid(PDYN_CORONAL, d / "g.zip"),
    "download_file": lambda c, d: c.download_file(NISSL_RELPATH, d / "n.nrrd"),
}


@pytest.mark.parametrize("call", sorted(OFFLINE_CALLS))
def test_offline_mode_sends_nothing(allen_client, fake_allen, monkeypatch, tmp_path, call):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    with pytest.raises(Offline, match=r"^Offline mode \(ALLEN_VIEWER_OFFLINE\) is on: "):
        OFFLINE_CALLS[call](allen_client, tmp_path)
    assert fake_allen.requests == []
    assert _leftovers(tmp_path) == []


# ---------------------------------------------------------------------------- grids


def test_download_grid_is_the_real_zip(allen_client, fake_allen, tmp_path):
    seen = []
    dest = allen_client.download_grid(PDYN_CORONAL, tmp_path / "g" / "71717084.zip",
                                      progress=lambda done, total: seen.append((done, total)))
    real = config.resources_dir() / "grids" / "71717084.zip"
    assert dest.read_bytes() == real.read_bytes()
    assert seen[-1] == (real.stat().st_size, real.stat().st_size)
    assert _leftovers(dest.parent) == ["71717084.zip"]
    assert fake_allen.requests_to(GRID)[0].raw_query == ""


def test_download_grid_include(allen_client, fake_allen, tmp_path):
    dest = allen_client.download_grid(PDYN_SAGITTAL, tmp_path / "s.zip", include=["energy", "density"])
    assert fake_allen.requests_to(GRID)[0].raw_query == "include=energy,density"
    assert sorted(zipfile.ZipFile(dest).namelist()) == ["density.mhd", "density.raw", "energy.mhd", "energy.raw"]
    grid = read_grid_zip(dest)
    energy, density = grid.volumes["energy"], grid.volumes["density"]
    assert energy.shape == GRID_SHAPE
    assert (energy[:, :, SAGITTAL_FIRST_EMPTY_ML:] == -1).all()  # sagittal: left hemisphere only
    assert (energy[:, :, :SAGITTAL_FIRST_EMPTY_ML] >= 0).any()
    assert ((density == -1) == (energy == -1)).all()
    with pytest.raises(ValueError):
        allen_client.download_grid(PDYN_SAGITTAL, tmp_path / "x.zip", include=["density"])
    with pytest.raises(ValueError):
        allen_client.download_grid(PDYN_SAGITTAL, tmp_path / "x.zip", include=["energy", "colour"])


def test_unknown_experiment_is_404(allen_client, fake_allen, tmp_path):
    with pytest.raises(UnknownExperiment, match="123456789"):
        allen_client.download_grid(123456789, tmp_path / "x.zip")
    assert len(fake_allen.requests_to(GRID)) == 1  # not retried
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("fault", ["truncate", "wrong_size", "corrupt", "traversal", "xml_bomb"])
def test_a_damaged_grid_is_refused_and_the_old_file_kept(allen_client, fake_allen, tmp_path, fault):
    dest = tmp_path / "grids" / f"{NRP1_CORONAL}.zip"
    dest.parent.mkdir()
    good = (config.resources_dir() / "grids" / f"{NRP1_CORONAL}.zip").read_bytes()
    dest.write_bytes(good)
    fake_allen.inject(GRID, fault)
    with pytest.raises(CorruptDownload) as info:
        allen_client.download_grid(NRP1_CORONAL, dest)
    message = str(info.value)
    assert message.startswith(f"Experiment {NRP1_CORONAL} arrived damaged from 127.0.0.1:")
    assert message.endswith("nothing was saved. Try again later.")
    assert ".part" not in message
    assert dest.read_bytes() == good
    assert _leftovers(dest.parent) == [dest.name]


def test_a_grid_download_dropped_midway_is_retried(allen_client, fake_allen, tmp_path):
    fake_allen.inject(GRID, "kill_after_bytes", nbytes=100_000)
    dest = allen_client.download_grid(PDYN_CORONAL, tmp_path / "g.zip")
    assert read_grid_zip(dest).volumes["energy"].shape == GRID_SHAPE
    assert [r.fault for r in fake_allen.requests_to(GRID)] == ["kill_after_bytes", None]
    assert _leftovers(tmp_path) == ["g.zip"]


def test_grid_outage_page_then_success(allen_client, fake_allen, tmp_path):
    fake_allen.inject(GRID, "html")
    allen_client.download_grid(PDYN_CORONAL, tmp_path / "g.zip")
    fake_allen.inject(GRID, "html", times=3)
    with pytest.raises(ServiceUnavailable, match="HTML page"):
        allen_client.download_grid(NRP1_CORONAL, tmp_path / "n.zip")
    assert _leftovers(tmp_path) == ["g.zip"]


def test_cancel_a_grid_download(allen_client, fake_allen, tmp_path):
    stop = threading.Event()

    def progress(done, total):
        if done:
            stop.set()

    with pytest.raises(Cancelled, match=f"Download of experiment {PDYN_SAGITTAL} cancelled."):
        allen_client.download_grid(PDYN_SAGITTAL, tmp_path / "g.zip", include=["energy", "intensity", "density"],
                                   progress=progress, cancel=stop.is_set)
    assert _leftovers(tmp_path) == []


def test_cancel_before_start_sends_nothing(allen_client, fake_allen, tmp_path):
    with pytest.raises(Cancelled):
        allen_client.download_grid(PDYN_CORONAL, tmp_path / "g.zip", cancel=lambda: True)
    assert fake_allen.requests == []


def test_an_unwritable_destination_is_a_clear_error(allen_client, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    with pytest.raises(AllenViewerError, match="Cannot create the folder"):
        allen_client.download_grid(PDYN_CORONAL, blocker / "g.zip")


# ---------------------------------------------------------------------------- reference files


def test_download_file(allen_client, fake_allen, fake_allen_data, tmp_path):
    seen = []
    dest = allen_client.download_file(NISSL_RELPATH, tmp_path / "ara_nissl_25.nrrd",
                                      progress=lambda done, total: seen.append((done, total)))
    source = fake_allen_data.nissl_path()
    assert dest.read_bytes() == source.read_bytes()
    assert seen[-1] == (source.stat().st_size,) * 2
    assert _leftovers(tmp_path) == ["ara_nissl_25.nrrd"]
    assert fake_allen.requests_to(FILES)[0].range is None


def test_a_killed_download_resumes_with_range(allen_client, fake_allen, fake_allen_data, tmp_path):
    size = fake_allen_data.nissl_path().stat().st_size
    dest = tmp_path / "ara_nissl_25.nrrd"
    part = tmp_path / "ara_nissl_25.nrrd.part"
    # every try of the first call is cut after 1 MB: the call fails, the bytes stay in .part
    fake_allen.inject(FILES, "kill_after_bytes", times=3, nbytes=1_000_000)
    with pytest.raises(ServiceUnavailable, match="download server at 127.0.0.1:.* dropped the connection"):
        allen_client.download_file(NISSL_RELPATH, dest, expected_size=size)
    assert not dest.exists()
    assert part.stat().st_size == 3_000_000
    ranges = [r.range for r in fake_allen.requests_to(FILES)]
    assert ranges == [None, "bytes=1000000-", "bytes=2000000-"]
    # a later call (another process, say) asks only for the rest
    seen = []
    allen_client.download_file(NISSL_RELPATH, dest, expected_size=size, progress=lambda d, t: seen.append((d, t)))
    assert fake_allen.requests_to(FILES)[-1].range == "bytes=3000000-"
    assert seen[0] == (3_000_000, size) and seen[-1] == (size, size)
    assert dest.read_bytes() == fake_allen_data.nissl_path().read_bytes()
    assert not part.exists()


def test_a_server_without_ranges_restarts_from_scratch(allen_client, fake_allen, tmp_path):
    content = bytes(range(256)) * 4000
    fake_allen.add_file("test/data.bin", content)
    fake_allen.accept_ranges = False
    dest = tmp_path / "data.bin"
    Path(str(dest) + ".part").write_bytes(b"stale bytes from another version")
    _origin(allen_client, dest, "test/data.bin", len(content))
    allen_client.download_file("test/data.bin", dest)
    assert dest.read_bytes() == content
    assert fake_allen.requests_to(FILES)[0].range == "bytes=32-"


def test_a_part_file_longer_than_the_file_is_discarded(allen_client, fake_allen, tmp_path):
    content = b"x" * 1000
    fake_allen.add_file("test/small.bin", content)
    dest = tmp_path / "small.bin"
    Path(str(dest) + ".part").write_bytes(b"y" * 2000)
    _origin(allen_client, dest, "test/small.bin", None, etag='"3e8-0"')
    allen_client.download_file("test/small.bin", dest)
    assert dest.read_bytes() == content
    assert [r.range for r in fake_allen.requests_to(FILES)] == ["bytes=2000-", None]


def test_a_complete_part_file_is_just_renamed(allen_client, fake_allen, tmp_path):
    content = b"z" * 1000
    fake_allen.add_file("test/done.bin", content)
    dest = tmp_path / "done.bin"
    Path(str(dest) + ".part").write_bytes(content)
    _origin(allen_client, dest, "test/done.bin", len(content))  # left by this program's interrupted try
    allen_client.download_file("test/done.bin", dest)
    assert dest.read_bytes() == content
    assert [r.range for r in fake_allen.requests_to(FILES)] == ["bytes=1000-"]


def test_a_file_of_the_wrong_size_is_refused(allen_client, fake_allen, tmp_path):
    fake_allen.add_file("test/f.bin", b"a" * 5000)
    with pytest.raises(CorruptDownload, match="5,000 bytes, not the expected 4,000"):
        allen_client.download_file("test/f.bin", tmp_path / "f.bin", expected_size=4000)
    fake_allen.inject(FILES, "truncate", fraction=0.5)
    with pytest.raises(CorruptDownload, match="2,500 bytes, not the expected 5,000"):
        allen_client.download_file("test/f.bin", tmp_path / "f.bin", expected_size=5000)
    assert _leftovers(tmp_path) == []


def test_a_missing_file_is_reported(allen_client, tmp_path):
    with pytest.raises(ServiceUnavailable, match="has no file .*nope.nrrd .HTTP 404"):
        allen_client.download_file("mouse_ccf/nope.nrrd", tmp_path / "nope.nrrd")
    with pytest.raises(ValueError):
        allen_client.download_file("../etc/passwd", tmp_path / "x")


def test_cancel_a_file_download_keeps_the_part_for_later(allen_client, fake_allen, fake_allen_data, tmp_path):
    stop = threading.Event()
    dest = tmp_path / "ara_nissl_25.nrrd"

    def progress(done, total):
        if done >= 1_000_000:
            stop.set()

    with pytest.raises(Cancelled, match="Download of ara_nissl_25.nrrd cancelled."):
        allen_client.download_file(NISSL_RELPATH, dest, progress=progress, cancel=stop.is_set)
    assert not dest.exists()
    kept = Path(str(dest) + ".part").stat().st_size
    assert 1_000_000 <= kept < fake_allen_data.nissl_path().stat().st_size
    allen_client.download_file(NISSL_RELPATH, dest)
    assert fake_allen.requests_to(FILES)[-1].range == f"bytes={kept}-"
    assert dest.read_bytes() == fake_allen_data.nissl_path().read_bytes()


# ---------------------------------------------------------------------------- the fake itself


def _query(server, **params):
    return requests.get(server.api_url + QUERY, params=params, timeout=10).json()


def test_fake_accepts_q_and_criteria_and_url_paging(fake_allen):
    criteria = "model::SectionDataSet,rma::criteria,products[id$eq1],rma::include,genes"
    by_criteria = _query(fake_allen, criteria=criteria, num_rows=5, start_row=10)
    by_q = _query(fake_allen, q=criteria + ",rma::options[num_rows$eq5][start_row$eq10]")
    assert by_criteria == by_q
    assert by_q["success"] is True and by_q["start_row"] == 10 and by_q["num_rows"] == 5
    assert by_q["total_rows"] == 26078 and len(by_q["msg"]) == 5
    assert _query(fake_allen, q=criteria)["num_rows"] == 50  # the service's default page
    all_rows = _query(fake_allen, q="model::Structure,rma::criteria,[graph_id$eq1],"
                                    "rma::options[num_rows$eq'all'][order$eq'structures.graph_order']")
    assert all_rows["num_rows"] == 1327 and all_rows["msg"][0]["structure_id_path"] == "/997/"


def test_fake_fails_like_the_service_on_nonsense(fake_allen):
    for criteria in ("model::SectionDataSet,rma::criteria,[id$eq1", "hello", "model::Gene,rma::criteria,[x$zz1]"):
        answer = _query(fake_allen, criteria=criteria)
        assert answer["success"] is False and isinstance(answer["msg"], str)


def test_fake_generated_grids_are_deterministic_and_masked(fake_allen, fake_allen_data):
    url = f"{fake_allen.api_url}{GRID}79913171"  # Nrp1 sagittal: not embedded, so generated
    first = requests.get(url, timeout=60).content
    assert first == requests.get(url, timeout=60).content
    grid = read_grid_zip(first)
    assert "GENERATED" in zipfile.ZipFile(io.BytesIO(first)).read("data_set.xml").decode()
    # data where the real Pdyn grid has data (outside the brain too), left half only (sagittal)
    real = read_grid_zip(fake_allen_data.real_grid_path(71717084)).volumes["energy"] != -1
    real[:, :, 29:] = False
    assert np.array_equal(grid.volumes["energy"] != -1, real)
    assert (real & (fake_allen_data.grid_annotation == 0)).any()
    assert grid.data_set["id"] == "79913171" and list(grid.volumes) == ["energy"]
    full = read_grid_zip(requests.get(url + "?include=energy,intensity,density", timeout=60).content)
    assert sorted(full.volumes) == ["density", "energy", "intensity"] and full.data_set == {}
    assert np.array_equal(full.volumes["energy"], grid.volumes["energy"])
    assert requests.get(f"{fake_allen.api_url}{GRID}1", timeout=10).status_code == 404


def test_fake_serves_a_configurable_set_of_generated_grids(fake_allen_data):
    with FakeAllen(fake_allen_data, grid_ids=[PDYN_SAGITTAL]) as server:
        def status(experiment_id):
            return requests.get(f"{server.api_url}{GRID}{experiment_id}", timeout=10).status_code

        assert status(PDYN_SAGITTAL) == 200 and status(PDYN_CORONAL) == 200  # real zips always
        assert status(79913171) == 404


def test_fake_ranges(fake_allen):
    fake_allen.add_file("test/r.bin", bytes(range(100)))
    url = f"{fake_allen.download_url}/test/r.bin"
    partial = requests.get(url, headers={"Range": "bytes=90-"}, timeout=10)
    assert partial.status_code == 206 and partial.content == bytes(range(90, 100))
    assert partial.headers["Content-Range"] == "bytes 90-99/100"
    beyond = requests.get(url, headers={"Range": "bytes=100-"}, timeout=10)
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == "bytes */100"


def test_fake_nissl_stand_in_is_labelled_and_brain_shaped(fake_allen_data):
    path = fake_allen_data.nissl_path()
    header = read_nrrd_header(path)
    assert header["type"] == "unsigned char" and header["sizes"] == "528 320 456"
    assert header["encoding"] == "gzip"
    assert b"GENERATED stand-in" in path.read_bytes()[:400]
    voxels = np.frombuffer(gunzip_nrrd_body(path), np.uint8)
    assert voxels.size == 528 * 320 * 456
    annotation = np.frombuffer(gunzip_nrrd_body(config.resources_dir() / "annotation_25.nrrd"), "<u4")
    assert ((voxels == 0) == (annotation == 0)).all()
