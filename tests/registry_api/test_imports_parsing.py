"""Reading bulk-load files and validating their rows (registry_api.services.import_files),
without a chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry_api.errors import InvalidError
from registry_api.services.import_files import (
    REQUIRED_COLUMNS,
    ImportFormat,
    RowResult,
    count_rows,
    detect_format,
    parse_file,
    parse_tiers,
    read_rows,
    validate_row,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HEADER = (
    "number,holder_legal_name,holder_street,holder_city,holder_country,holder_id_scheme,"
    "holder_id_number,business_roles,tiers,issuing_office,officer,valid_from,valid_until"
)
GOOD = (
    "MN-AEO-2019-0001,Tavan Bogd Trade LLC,Peace Avenue 17,Ulaanbaatar,MN,TIN,5012345,"
    "IM;EX,AEOF,Ulaanbaatar Customs House,B. Bat-Erdene,2019-05-01,2027-04-30"
)


def csv_rows(*lines: str, header: str = HEADER) -> list[RowResult]:
    data = "\n".join([header, *lines]).encode("utf-8")
    return [
        validate_row(row, ImportFormat.CSV, "MN") for row in parse_file(data, ImportFormat.CSV).rows
    ]


def json_rows(document: Any) -> list[RowResult]:
    data = json.dumps(document).encode("utf-8")
    return [
        validate_row(row, ImportFormat.JSON, "MN")
        for row in parse_file(data, ImportFormat.JSON).rows
    ]


def errors_of(result: RowResult) -> dict[str, str]:
    return {error.field: error.message for error in result.errors}


def json_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "number": "MN-AEO-2019-0001",
        "holder": {
            "legal_name": "Tavan Bogd Trade LLC",
            "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
            "identification": {"scheme": "TIN", "number": "5012345"},
        },
        "business_roles": ["IM"],
        "tiers": 2,
        "issuing_office": "Ulaanbaatar Customs House",
        "officer": "B. Bat-Erdene",
        "valid_from": "2019-05-01",
    }
    record.update(overrides)
    return record


# ---------------------------------------------------------------- CSV


def test_a_good_csv_row_becomes_the_record_of_this_administration() -> None:
    [result] = csv_rows(GOOD)
    assert result.valid
    assert result.errors == []
    record = result.record
    assert record is not None
    assert record.issuer == "MN"
    assert record.number == "MN-AEO-2019-0001"
    assert record.holder.address.city == "Ulaanbaatar"
    assert record.business_roles == ["EX", "IM"]
    assert record.tiers == 3  # AEOF = customs simplifications + security and safety
    assert record.valid_until is not None
    assert record.valid_until.isoformat() == "2027-04-30"


def test_a_row_whose_validity_ends_before_it_starts_names_valid_until() -> None:
    rows = [GOOD.replace("0001", f"000{i}") for i in range(1, 7)]
    rows.append(
        "MN-AEO-2019-0007,Gobi LLC,Street 1,Darkhan,MN,TIN,77,EX,S,Darkhan Customs,"
        "D. Oyun,2024-06-01,2024-05-31"
    )
    results = csv_rows(*rows)
    seventh = results[6]
    assert seventh.row_number == 7
    assert seventh.number == "MN-AEO-2019-0007"
    assert not seventh.valid
    assert errors_of(seventh) == {"valid_until": "must be on or after valid_from"}
    assert all(result.valid for result in results[:6])


def test_each_bad_cell_is_named_by_its_column() -> None:
    [result] = csv_rows(
        "mn aeo 1,,Street 1,Darkhan,Mongolia,TIN,77,,Q,Darkhan Customs,D. Oyun,01/06/2024,"
    )
    errors = errors_of(result)
    assert errors["number"].startswith("certificate number must be 1 to 32 characters")
    assert errors["holder_legal_name"] == "is required"
    assert errors["holder_country"].endswith(
        "is not an ISO 3166-1 alpha-2 country code (two letters, e.g. MN)"
    )
    assert errors["business_roles"] == "must name at least one business role (e.g. IM, EX)"
    assert errors["tiers"] == "'Q' is not a tier; use C, S, AEOF, A, AA, AAA or a bit set"
    assert errors["valid_from"] == "'01/06/2024' is not a date written YYYY-MM-DD"
    assert set(errors) == {
        "number",
        "holder_legal_name",
        "holder_country",
        "business_roles",
        "tiers",
        "valid_from",
    }


def test_codes_are_case_insensitive_and_lists_take_any_separator() -> None:
    [result] = csv_rows(
        'MN-AEO-1,Gobi LLC,Street 1,Darkhan,mn,tin,77,"ex, im",s+aa,Darkhan Customs,D. Oyun,'
        "2024-06-01,"
    )
    assert result.record is not None
    assert result.record.holder.address.country == "MN"
    assert result.record.holder.identification.scheme == "TIN"
    assert result.record.business_roles == ["EX", "IM"]
    assert result.record.tiers == 2 | 8
    assert result.record.valid_until is None  # an empty cell: open-ended


def test_sites_come_as_json_in_their_cell() -> None:
    sites = json.dumps(
        [{"name": "Depot", "address": {"street": "Road 1", "city": "Sainshand", "country": "mn"}}]
    ).replace('"', '""')
    broken = "[{not json"
    good, bad, wrong = csv_rows(
        f'{GOOD},"{sites}"',
        f"{GOOD.replace('0001', '0002')},{broken}",
        f'{GOOD.replace("0001", "0003")},"[{{""address"": {{}}}}]"',
        header=HEADER + ",sites",
    )
    assert good.record is not None
    assert good.record.sites[0].address.country == "MN"
    assert errors_of(bad)["sites"].startswith("must be a JSON list of sites")
    assert errors_of(wrong)["sites[0].address.street"] == "is required"


def test_a_row_with_more_values_than_columns_is_refused_whole() -> None:
    [result] = csv_rows(GOOD + ",surplus")
    assert errors_of(result) == {"row": "has 14 values; the header has 13 columns"}


def test_trailing_optional_cells_may_be_left_out() -> None:
    [result] = csv_rows(GOOD.rsplit(",", 1)[0])
    assert result.valid


def test_another_issuer_cannot_be_imported_here() -> None:
    [result] = csv_rows(f"KZ,{GOOD}", header="issuer," + HEADER)
    assert errors_of(result) == {"issuer": "must be MN (this administration) or left out"}


def test_a_semicolon_separated_export_with_a_byte_order_mark_is_read() -> None:
    data = (
        "\ufeff"
        + HEADER.replace(",", ";")
        + "\n"
        + GOOD.replace(",", ";").replace("IM;EX", "IM EX")
    ).encode("utf-8")
    [row] = parse_file(data, ImportFormat.CSV).rows
    assert validate_row(row, ImportFormat.CSV, "MN").valid


def test_blank_lines_are_skipped_but_keep_the_numbering() -> None:
    results = csv_rows(GOOD, "", GOOD.replace("0001", "0003"))
    assert [r.row_number for r in results] == [1, 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file: is empty"),
        (b"\xff\xfenumber\n", "file: is not UTF-8 text (byte 0xff at offset 0)"),
        (HEADER.encode(), "file: has no rows"),
        ((HEADER + ",colour\n" + GOOD + ",red").encode(), "file: unknown column(s) 'colour'"),
        (
            (HEADER.replace("officer,", "") + "\n" + GOOD).encode(),
            "file: the header lacks the required column(s) officer",
        ),
        ((HEADER + ",number\n").encode(), "file: column(s) number appear more than once"),
        ((HEADER + '\n"unterminated').encode(), "file: is not valid CSV"),
    ],
)
def test_an_unreadable_csv_file_is_refused_with_what_to_fix(data: bytes, message: str) -> None:
    with pytest.raises(InvalidError) as caught:
        parse_file(data, ImportFormat.CSV)
    assert caught.value.detail.startswith(message)
    assert [e.field for e in caught.value.errors] == ["body.file"]


def test_the_documented_example_files_are_valid() -> None:
    for name, fmt in (("import.csv", ImportFormat.CSV), ("import.json", ImportFormat.JSON)):
        rows = parse_file((EXAMPLES / name).read_bytes(), fmt).rows
        results = [validate_row(row, fmt, "MN") for row in rows]
        assert results
        assert all(result.valid for result in results), [r.errors for r in results]
    header = (EXAMPLES / "import.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert set(REQUIRED_COLUMNS) <= set(header)


# ---------------------------------------------------------------- JSON


def test_json_takes_a_list_or_an_object_with_certificates() -> None:
    [plain] = json_rows([json_record()])
    [wrapped] = json_rows({"certificates": [json_record()]})
    assert plain.valid
    assert wrapped.valid
    assert plain.record == wrapped.record


def test_json_errors_are_named_by_their_path_in_the_record() -> None:
    bad = json_record(
        holder={
            "legal_name": "X",
            "address": {"street": "S", "city": "C", "country": "Mongolia"},
            "identification": {"scheme": "TIN"},
        },
        tiers=["S", "AA"],
        colour="red",
        valid_until="2019-04-30",
    )
    [result] = json_rows([json_record(), "not an object", bad])[2:]
    errors = errors_of(result)
    assert result.row_number == 3
    assert set(errors) == {
        "holder.address.country",
        "holder.identification.number",
        "colour",
        "valid_until",
    }
    assert errors["colour"] == "is not a field of a certificate record"
    assert errors["valid_until"] == "must be on or after valid_from"


def test_a_json_element_that_is_not_an_object_is_a_row_error() -> None:
    results = json_rows([json_record(), 42, None])
    assert [errors_of(r) for r in results[1:]] == [
        {"row": "must be a JSON object, not a number"},
        {"row": "must be a JSON object, not null"},
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{not json", "file: is not valid JSON (line 1, column 2)"),
        (b'{"rows": []}', "file: a JSON object must have exactly one member, 'certificates'"),
        (b'"text"', "file: must be a JSON list of records"),
        (b"[]", "file: has no rows"),
    ],
)
def test_an_unreadable_json_file_is_refused(document: bytes, message: str) -> None:
    with pytest.raises(InvalidError) as caught:
        parse_file(document, ImportFormat.JSON)
    assert caught.value.detail.startswith(message)


# ---------------------------------------------------------------- hostile files


def file_error(data: bytes, fmt: ImportFormat) -> str:
    with pytest.raises(InvalidError) as caught:
        count_rows(data, fmt)
    [error] = caught.value.errors
    assert error.field == "body.file"
    return error.message


def test_a_json_list_of_ten_million_items_stops_at_the_row_after_the_limit() -> None:
    data = b"[" + b"0," * 9_999_999 + b"0]"
    rows = read_rows(data, ImportFormat.JSON)
    for _ in range(50_000):
        next(rows)
    with pytest.raises(InvalidError, match="has more than 50,000 rows; at most 50,000 per file"):
        next(rows)


def test_a_json_row_longer_than_256_kib_is_refused_before_it_is_parsed() -> None:
    data = b"[" + json.dumps([{"name": "x" * 300_000}]).encode() + b"]"
    assert file_error(data, ImportFormat.JSON) == "row 1 is longer than 256 KiB"


def test_rows_longer_than_the_first_window_and_numbers_at_its_edge_are_read_whole() -> None:
    long_row = {"number": "MN-1", "officer": "y" * 20_000}
    # Numbers of growing length put a number's end across the 4 KiB window's edge.
    data = json.dumps([long_row, *[{"n": 10**k} for k in range(1, 30)], long_row]).encode()
    rows = parse_file(data, ImportFormat.JSON).rows
    assert [row.values for row in rows] == [
        long_row,
        *[{"n": 10**k} for k in range(1, 30)],
        long_row,
    ]
    padded = b"[" + b" " * 4090 + b"12345678]"
    assert [row.problem for row in parse_file(padded, ImportFormat.JSON).rows] != [None]
    assert parse_file(padded, ImportFormat.JSON).rows[0].row_number == 1


def test_a_json_syntax_error_past_the_first_window_names_its_line_and_column() -> None:
    before, _, after = json.dumps([{"officer": "y" * 5000}] * 3, indent=1).rpartition('"y')
    data = (before + "y" + after).encode()  # the third row's value lost its opening quote
    assert file_error(data, ImportFormat.JSON) == (
        "is not valid JSON (line 9, column 14): Expecting value"
    )


def test_json_nested_deeper_than_64_levels_is_refused_before_it_is_parsed() -> None:
    data = b"[" * 70_000 + b"]" * 70_000
    assert (
        file_error(data, ImportFormat.JSON) == "nests arrays and objects more than 64 levels deep"
    )


def test_a_json_object_with_other_members_than_certificates_is_refused() -> None:
    data = json.dumps({"certificates": [{"number": "MN-1"}], "more": 1}).encode()
    assert file_error(data, ImportFormat.JSON).startswith("a JSON object must have exactly one")
    assert file_error(b"{}", ImportFormat.JSON).startswith("a JSON object must have exactly one")
    trailing = json.dumps([{"number": "MN-1"}]).encode() + b" []"
    assert file_error(trailing, ImportFormat.JSON).startswith("is not valid JSON (line 1")


def test_a_csv_file_of_empty_lines_is_refused_by_counting_them() -> None:
    data = (HEADER + "\n").encode() + b"\n" * 10_000_000
    assert file_error(data, ImportFormat.CSV) == (
        "has more than 200,000 lines; at most 50,000 rows per file"
    )


def test_a_csv_row_longer_than_256_kib_is_refused_before_it_is_split() -> None:
    data = (HEADER + "\n").encode() + b"a," * 4_000_000 + b"\n"
    assert file_error(data, ImportFormat.CSV) == "a row is longer than 256 KiB"


def test_a_csv_row_spread_over_many_quoted_lines_is_refused_past_256_kib() -> None:
    cell = '"' + "x\n" * 60_000 + '"'
    data = (HEADER + "\n" + ",".join([cell] * 3) + "\n").encode()
    assert file_error(data, ImportFormat.CSV) == "a row is longer than 256 KiB"


def test_a_sites_cell_nested_too_deep_is_a_row_error_not_a_crash() -> None:
    sites = "[" * 5000 + "]" * 5000
    [result] = csv_rows(f"{GOOD},{sites}", header=f"{HEADER},sites")
    assert errors_of(result) == {
        "sites": "must be a JSON list of sites; "
        "it nests arrays and objects more than 64 levels deep"
    }


# ---------------------------------------------------------------- formats and tiers


def test_the_format_comes_from_the_field_then_the_name_then_the_media_type() -> None:
    assert detect_format("JSON", "list.csv", "text/csv") is ImportFormat.JSON
    assert detect_format(None, "list.CSV", "application/octet-stream") is ImportFormat.CSV
    assert detect_format(None, None, "application/json; charset=utf-8") is ImportFormat.JSON
    with pytest.raises(InvalidError) as caught:
        detect_format(None, "list.xlsx", "application/vnd.ms-excel")
    assert [e.field for e in caught.value.errors] == ["body.format"]
    with pytest.raises(InvalidError):
        detect_format("xml", None, None)


@pytest.mark.parametrize(
    ("written", "bits"),
    [("AEOF", 3), ("aeoc", 1), ("C+S", 3), ("S; AA", 10), ("3", 3), (16, 16), (["A"], 4)],
)
def test_tiers_are_read_by_name_or_bit_set(written: object, bits: int) -> None:
    assert parse_tiers(written) == bits


@pytest.mark.parametrize("written", ["", "B", True, 1.5, ["S", 2]])
def test_unknown_tiers_are_refused(written: object) -> None:
    with pytest.raises(ValueError, match="tier"):
        parse_tiers(written)
