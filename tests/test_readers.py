from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsbuild.errors import InputError
from dsbuild.readers import ReadItem, read_records, sniff_kind


def read(path: Path) -> list[ReadItem]:
    return list(read_records(path))


def records(items: list[ReadItem]) -> list[dict]:
    return [i.record for i in items if i.record is not None]


def problems(items: list[ReadItem]) -> list[tuple[str, str]]:
    return [(i.locator.rsplit(":", 1)[1], i.problem.code) for i in items if i.problem is not None]


class TestJsonl:
    def test_reads_records_with_line_locators(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_text('{"id": 1}\n{"id": 2}\n', encoding="utf-8")
        items = read(path)
        assert records(items) == [{"id": 1}, {"id": 2}]
        assert [i.locator for i in items] == [f"{path}:1", f"{path}:2"]

    def test_blank_lines_are_skipped_but_counted(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_text('{"id": 1}\n\n   \n{"id": 2}\n', encoding="utf-8")
        items = read(path)
        assert [i.locator.rsplit(":", 1)[1] for i in items] == ["1", "4"]

    def test_malformed_line_is_reported_and_reading_goes_on(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_text('{"id": 1}\n{"id": 2,,}\n{"id": 3}\n', encoding="utf-8")
        items = read(path)
        assert records(items) == [{"id": 1}, {"id": 3}]
        assert problems(items) == [("2", "json_syntax")]
        bad = items[1].problem
        assert "column" in bad.message

    def test_non_object_lines(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_text('[1, 2]\n"text"\n{"id": 1}\n', encoding="utf-8")
        assert problems(read(path)) == [("1", "not_an_object"), ("2", "not_an_object")]

    def test_bad_utf8_byte_is_reported_with_its_position(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_bytes(b'{"id": 1}\n{"t": "caf\xe9"}\n{"id": 3}\n')
        items = read(path)
        assert records(items) == [{"id": 1}, {"id": 3}]
        assert problems(items) == [("2", "encoding")]
        message = items[1].problem.message
        assert "0xe9" in message and "byte offset 20" in message and "UTF-8" in message

    def test_latin1_file_reports_every_bad_line(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_text('{"t": "Zürich"}\n{"t": "plain"}\n{"t": "Genève"}\n', encoding="latin-1")
        assert problems(read(path)) == [("1", "encoding"), ("3", "encoding")]

    def test_utf8_bom_is_accepted(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_bytes(b'\xef\xbb\xbf{"id": 1}\n{"id": 2}\n')
        assert records(read(path)) == [{"id": 1}, {"id": 2}]

    def test_crlf_line_endings(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_bytes(b'{"id": 1}\r\n{"id": 2}\r\n')
        assert records(read(path)) == [{"id": 1}, {"id": 2}]

    def test_last_line_cut_off_is_truncated(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_text('{"id": 1}\n{"id": 2}\n{"id": 3, "te', encoding="utf-8")
        items = read(path)
        assert records(items) == [{"id": 1}, {"id": 2}]
        assert problems(items) == [("3", "truncated")]

    def test_last_line_without_newline_is_fine_when_complete(self, tmp_path):
        path = tmp_path / "a.jsonl"
        path.write_text('{"id": 1}\n{"id": 2}', encoding="utf-8")
        assert problems(read(path)) == []

    def test_non_ascii_text_round_trips(self, tmp_path):
        path = tmp_path / "a.jsonl"
        rows = [{"t": "東京 😀 مرحبا"}, {"t": "Байкал"}]
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        assert records(read(path)) == rows


class TestJson:
    def test_list_items_have_item_locators(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text('[{"id": 1}, {"id": 2}]', encoding="utf-8")
        items = read(path)
        assert records(items) == [{"id": 1}, {"id": 2}]
        assert [i.locator for i in items] == [f"{path}:item 1", f"{path}:item 2"]

    def test_single_object(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text('{"id": 1, "nested": {"a": [1, 2]}}', encoding="utf-8")
        assert records(read(path)) == [{"id": 1, "nested": {"a": [1, 2]}}]

    def test_truncated_list_recovers_complete_items(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text('[\n  {"id": 1},\n  {"id": 2},\n  {"id": 3, "text": "cut', encoding="utf-8")
        items = read(path)
        assert records(items) == [{"id": 1}, {"id": 2}]
        assert problems(items) == [("item 3", "truncated")]
        assert "2 complete items" in items[-1].problem.message

    def test_list_without_closing_bracket_is_truncated(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text('[\n{"id": 1},\n{"id": 2},\n', encoding="utf-8")
        items = read(path)
        assert records(items) == [{"id": 1}, {"id": 2}]
        assert problems(items) == [("item 3", "truncated")]

    def test_syntax_error_in_the_middle_is_reported_with_line_and_column(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text('[\n{"id": 1},\n{"id": 2 "x": 1},\n{"id": 3}\n]', encoding="utf-8")
        items = read(path)
        assert records(items) == [{"id": 1}]
        assert problems(items) == [("item 2", "json_syntax")]
        assert "line 3" in items[-1].problem.message

    def test_non_object_items(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text('[{"id": 1}, 5, null]', encoding="utf-8")
        assert problems(read(path)) == [("item 2", "not_an_object"), ("item 3", "not_an_object")]

    def test_bad_bytes_spoil_only_their_item(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_bytes(b'[{"t": "ok"}, {"t": "caf\xe9"}, {"t": "ok too"}]')
        items = read(path)
        assert records(items) == [{"t": "ok"}, {"t": "ok too"}]
        assert problems(items) == [("item 2", "encoding")]
        assert "byte offset 24" in items[1].problem.message

    def test_bom(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_bytes(b'\xef\xbb\xbf[{"id": 1}]')
        assert records(read(path)) == [{"id": 1}]

    def test_json_lines_saved_as_json_are_read_as_lines(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text('{"id": 1}\n{"id": 2}\n', encoding="utf-8")
        items = read(path)
        assert records(items) == [{"id": 1}, {"id": 2}]
        assert items[1].locator == f"{path}:2"

    def test_scalar_document_is_not_an_object(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text("42", encoding="utf-8")
        assert problems(read(path)) == [("item 1", "not_an_object")]

    def test_empty_file_yields_nothing(self, tmp_path):
        path = tmp_path / "a.json"
        path.write_text("  \n", encoding="utf-8")
        assert read(path) == []


class TestCsv:
    def test_quoted_multiline_fields_with_crlf(self, tmp_path):
        path = tmp_path / "a.csv"
        path.write_bytes(
            b"Text ID,Sentences,Error Flag\r\n"
            b'ms-1,"0 First line.\r\n1 Second, with comma.\r\n2 ""Quoted""",1\r\n'
            b'ms-2,"0 Only line.",0\r\n'
        )
        items = read(path)
        assert records(items) == [
            {
                "Text ID": "ms-1",
                "Sentences": '0 First line.\r\n1 Second, with comma.\r\n2 "Quoted"',
                "Error Flag": "1",
            },
            {"Text ID": "ms-2", "Sentences": "0 Only line.", "Error Flag": "0"},
        ]
        assert [i.locator for i in items] == [f"{path}:row 1", f"{path}:row 2"]

    def test_bom_is_not_part_of_the_first_header(self, tmp_path):
        path = tmp_path / "a.csv"
        path.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
        assert records(read(path)) == [{"a": "1", "b": "2"}]

    def test_wrong_number_of_fields(self, tmp_path):
        path = tmp_path / "a.csv"
        path.write_text("a,b\n1,2\n1,2,3\n4\n", encoding="utf-8")
        items = read(path)
        assert records(items) == [{"a": "1", "b": "2"}]
        assert problems(items) == [("row 2", "csv_columns"), ("row 3", "csv_columns")]

    def test_bad_bytes_in_a_multiline_row(self, tmp_path):
        path = tmp_path / "a.csv"
        path.write_bytes(b'a,b\r\n1,"x\r\ny\xff"\r\n2,ok\r\n')
        items = read(path)
        assert records(items) == [{"a": "2", "b": "ok"}]
        assert problems(items) == [("row 1", "encoding")]
        assert "byte offset 12" in items[0].problem.message

    def test_blank_lines_are_skipped(self, tmp_path):
        path = tmp_path / "a.csv"
        path.write_text("a,b\n\n1,2\n\n", encoding="utf-8")
        assert records(read(path)) == [{"a": "1", "b": "2"}]

    def test_tsv(self, tmp_path):
        path = tmp_path / "a.tsv"
        path.write_text("a\tb\n1\t2, 3\n", encoding="utf-8")
        assert records(read(path)) == [{"a": "1", "b": "2, 3"}]


class TestParquet:
    def test_rows_with_nested_values(self, tmp_path):
        pl = pytest.importorskip("polars")
        path = tmp_path / "a.parquet"
        pl.DataFrame(
            {"id": ["a", "b"], "labels": [[[0, 2]], []], "n": [1, None]},
        ).write_parquet(path)
        items = read(path)
        assert records(items) == [
            {"id": "a", "labels": [[0, 2]], "n": 1},
            {"id": "b", "labels": [], "n": None},
        ]
        assert items[1].locator == f"{path}:row 2"

    def test_corrupt_parquet_is_an_input_error(self, tmp_path):
        pytest.importorskip("polars")
        path = tmp_path / "a.parquet"
        path.write_bytes(b"PAR1 not really")
        with pytest.raises(InputError) as info:
            read(path)
        assert info.value.code == "DSB302"


class TestOpening:
    def test_missing_file(self, tmp_path):
        with pytest.raises(InputError) as info:
            read(tmp_path / "nope.jsonl")
        assert info.value.code == "DSB301"

    def test_directory_is_not_a_file(self, tmp_path):
        with pytest.raises(InputError) as info:
            read(tmp_path)
        assert info.value.code == "DSB301"

    @pytest.mark.parametrize(
        ("content", "kind"),
        [
            (b'{"a": 1}\n{"a": 2}\n', "jsonl"),
            (b'[{"a": 1}]', "json"),
            (b'{\n  "a": 1\n}\n', "json"),
            (b"a,b\n1,2\n", "csv"),
            (b"PAR1....", "parquet"),
        ],
    )
    def test_unknown_extension_is_sniffed(self, tmp_path, content, kind):
        path = tmp_path / "data.txt"
        path.write_bytes(content)
        assert sniff_kind(path) == kind

    def test_unrecognisable_content(self, tmp_path):
        path = tmp_path / "data.bin"
        path.write_bytes(b"\x00\x01\x02 binary junk")
        with pytest.raises(InputError) as info:
            read(path)
        assert info.value.code == "DSB302"

    def test_sniffed_file_is_read(self, tmp_path):
        path = tmp_path / "data"
        path.write_text('{"id": 1}\n', encoding="utf-8")
        assert records(read(path)) == [{"id": 1}]


@pytest.mark.fixtures
class TestRealFiles:
    def test_wikidata_dump_head_is_a_truncated_list(self, shared_fixtures):
        items = read(shared_fixtures / "wikidata" / "wikidata-dump-head50-2017.json")
        assert len(records(items)) == 49
        assert problems(items) == [("item 50", "truncated")]

    def test_medec_csv_has_574_rows(self, shared_fixtures):
        path = (
            shared_fixtures
            / "medrect"
            / "MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv"
        )
        items = read(path)
        assert problems(items) == []
        rows = records(items)
        assert len(rows) == 574
        assert rows[0]["Text ID"] == "ms-val-0"
        assert "\n1 " in rows[0]["Sentences"]

    def test_mushroom_files_read_cleanly(self, shared_fixtures):
        total = 0
        for path in sorted((shared_fixtures / "mushroom").glob("*-val.*.jsonl")):
            items = read(path)
            assert problems(items) == []
            total += len(items)
        assert total == 499
