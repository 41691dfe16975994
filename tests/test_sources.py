"""Reading JSONL, CSV and BEIR sources, and the errors bad inputs give."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from assistant.errors import SourceError
from ingest.papers import paper_id
from ingest.sources import expand, load_file, load_sources

ABSTRACT_A = "We propose a retrieval method that fuses dense and sparse signals for scientific question answering."
ABSTRACT_B = "A study of tokenizers shows that byte-level models handle rare words and misspellings more robustly."


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_with_title_abstract_and_metadata(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "papers.jsonl", [
        {"title": "Fusion Retrieval", "abstract": ABSTRACT_A, "published": "2024-03-05", "authors": 4,
         "organization": "Acme Lab", "upvotes": 12},
        {"title": "Byte Tokenizers", "abstract": ABSTRACT_B, "arxiv_id": "2401.01234v2",
         "authors": ["Ada", "Grace", "Alan"], "published": "Nov 28, 2023"},
        {"title": "Given Id", "abstract": ABSTRACT_A + " Again.", "id": "my-own-id-7"},
    ])
    a, b, c = load_file(path)
    assert (a.id, a.title, a.abstract) == (paper_id("Fusion Retrieval"), "Fusion Retrieval", ABSTRACT_A)
    assert (a.published, a.authors, a.organization, a.upvotes) == ("2024-03-05", 4, "Acme Lab", 12)
    assert a.sources == ["papers.jsonl"]
    assert b.id == "arxiv-2401.01234"
    assert b.authors == 3  # a list of names counts its authors
    assert b.published == "2023-11-28"  # listing-style date converted
    assert (b.organization, b.upvotes) == (None, None)
    assert c.id == "my-own-id-7"


def test_jsonl_blank_lines_and_bom_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    line = json.dumps({"title": "Fusion Retrieval", "abstract": ABSTRACT_A})
    path.write_bytes(b"\xef\xbb\xbf" + f"{line}\n\n   \n".encode())
    (paper,) = load_file(path)
    assert paper.title == "Fusion Retrieval"


def test_csv_with_title_abstract_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "papers.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Title", "Abstract", "Published", "Authors", "Organization", "arxiv_id"])
        writer.writerow(["Fusion Retrieval", ABSTRACT_A, "2024", "4", "Acme Lab", ""])
        writer.writerow(["Byte Tokenizers, Revisited", ABSTRACT_B, "", "", "", "2401.01234"])
    a, b = load_file(path)
    assert (a.title, a.abstract, a.published, a.authors, a.organization) == (
        "Fusion Retrieval", ABSTRACT_A, "2024", 4, "Acme Lab")
    assert a.id == paper_id("Fusion Retrieval")
    assert b.title == "Byte Tokenizers, Revisited"
    assert b.id == "arxiv-2401.01234"
    assert (b.published, b.authors, b.organization) == (None, None, None)
    assert b.sources == ["papers.csv"]


def test_beir_corpus_keeps_ids(tmp_path: Path) -> None:
    folder = tmp_path / "scifact"
    folder.mkdir()
    corpus = write_jsonl(folder / "corpus.jsonl", [
        {"_id": "4983", "title": "Microstructural development", "text": ABSTRACT_A, "metadata": {}},
        {"_id": "5836", "title": "Induction of myelodysplasia", "text": ABSTRACT_B, "metadata": {}},
    ])
    write_jsonl(folder / "queries.jsonl", [{"_id": "1", "text": "a query, not a paper"}])
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t4983\t1\n")

    papers = load_file(corpus)
    assert [(p.id, p.title, p.abstract) for p in papers] == [
        ("4983", "Microstructural development", ABSTRACT_A), ("5836", "Induction of myelodysplasia", ABSTRACT_B)]

    # the dataset folder contributes only its corpus
    assert expand([folder]) == [corpus]
    loaded, failed = load_sources([folder])
    assert failed == []
    assert sorted(loaded) == ["4983", "5836"]
    assert loaded["5836"].sources == ["corpus.jsonl"]


def test_folder_of_mixed_sources(tmp_path: Path) -> None:
    tmp_path = tmp_path / "sources"
    (tmp_path / "sub").mkdir(parents=True)
    write_jsonl(tmp_path / "a.jsonl", [{"title": "Fusion Retrieval", "abstract": ABSTRACT_A}])
    (tmp_path / "sub" / "b.csv").write_text(f"title,abstract\nByte Tokenizers,{ABSTRACT_B}\n")
    (tmp_path / "notes.md").write_text("not a source")
    papers, failed = load_sources([tmp_path])
    assert failed == []
    assert sorted(p.title for p in papers.values()) == ["Byte Tokenizers", "Fusion Retrieval"]


def test_same_paper_in_two_files_is_merged(tmp_path: Path) -> None:
    one = write_jsonl(tmp_path / "one.jsonl", [{"title": "Fusion Retrieval", "abstract": ABSTRACT_A, "authors": 4}])
    two = write_jsonl(tmp_path / "two.jsonl", [
        {"title": "Fusion  retrieval", "abstract": ABSTRACT_A + " Code is released.", "upvotes": 3}])
    papers, failed = load_sources([one, two])
    assert failed == []
    (paper,) = papers.values()
    assert paper.sources == ["one.jsonl", "two.jsonl"]
    assert paper.abstract.endswith("Code is released.")
    assert (paper.authors, paper.upvotes) == (4, 3)


def _error(path: Path) -> SourceError:
    with pytest.raises(SourceError) as info:
        load_file(path)
    assert info.value.path.endswith(path.name) or info.value.path == str(path)
    assert str(info.value).startswith(info.value.path)
    return info.value


def test_missing_path(tmp_path: Path) -> None:
    error = _error(tmp_path / "nowhere.jsonl")
    assert "no such file" in error.reason and "check the path" in error.reason


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("  \n\n")
    assert "empty" in _error(path).reason


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "paper.txt"
    path.write_bytes(b"%PDF-1.7\x00\x01\x02\x00binary")
    reason = _error(path).reason
    assert "binary" in reason and ".jsonl" in reason


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"title,abstract\nCaf\xe9 Retrieval,{ABSTRACT_A}\n".encode("latin-1"))
    reason = _error(path).reason
    assert "not UTF-8" in reason and "offset 18" in reason and "re-save" in reason


def test_jsonl_line_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"title": "Fusion Retrieval", "abstract": ABSTRACT_A}) + "\n{title: oops\n")
    reason = _error(path).reason
    assert "line 2 is not JSON" in reason and "one JSON object" in reason


def test_jsonl_line_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text('["Fusion Retrieval", "abstract"]\n')
    assert "line 1 is not a JSON object" in _error(path).reason


def test_csv_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text(f"name,summary\nFusion Retrieval,{ABSTRACT_A}\n")
    reason = _error(path).reason
    assert "'title' and 'abstract'" in reason and "name" in reason and "summary" in reason


def test_record_without_abstract(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "noabs.jsonl", [{"title": "Fusion Retrieval", "abstract": ABSTRACT_A},
                                                  {"title": "Only A Title"}])
    reason = _error(path).reason
    assert "line 2" in reason and "Only A Title" in reason and "abstract" in reason
    path = write_jsonl(tmp_path / "nothing.jsonl", [{"year": 2024}])
    assert "neither 'title' nor 'abstract'" in _error(path).reason


def test_unknown_file_type(tmp_path: Path) -> None:
    path = tmp_path / "paper.docx"
    path.write_text("hello")
    assert "unknown file type '.docx'" in _error(path).reason


def test_one_bad_file_never_stops_the_others(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [{"title": "Fusion Retrieval", "abstract": ABSTRACT_A}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    papers, failed = load_sources([bad, tmp_path / "missing.csv", good])
    assert [p.title for p in papers.values()] == ["Fusion Retrieval"]
    assert [Path(f.path).name for f in failed] == ["bad.jsonl", "missing.csv"]
