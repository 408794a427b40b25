import datetime as dt
import warnings

import pyarrow as pa
import pytest

import pets

ROWS = {
    "sex": ["1", "2", "2", "9", "1", "X"],
    "age": [34, 71, 5, 0, 88, 71],
    "seen": [dt.date(2024, 1, d) for d in (1, 2, 3, 3, 30, 31)],
    "ward": ["a", None, "b", "a", None, "c"],
}

SCHEMA = pets.Schema.from_dict(
    {
        "columns": [
            {"name": "sex", "kind": "categorical", "values": ["1", "2", "9", "X"]},
            {"name": "age", "kind": "integer", "min": 0, "max": 120},
            {"name": "seen", "kind": "date", "min": "2024-01-01", "max": "2024-12-31"},
            {"name": "ward", "kind": "categorical", "values": ["a", "b", "c"], "nullable": True},
        ]
    }
)


def arrow_table() -> pa.Table:
    return pa.table(ROWS)


# -- inference --------------------------------------------------------------------------


def infer_quietly(data, **kwargs):
    with pytest.warns(pets.DomainFromDataWarning, match="read from the data"):
        return pets.infer_schema(data, **kwargs)


def test_infer_schema_from_pyarrow_warns_and_flags_columns():
    schema = infer_quietly(arrow_table(), name="demo")
    assert schema.name == "demo"
    assert schema.names == ["sex", "age", "seen", "ward"]
    assert schema.domain_from_data == schema.names
    assert schema.column("sex").spec["values"] == ["1", "2", "9", "X"]
    assert (schema.column("age").spec["min"], schema.column("age").spec["max"]) == (0, 88)
    assert schema.column("seen").kind == "date"
    assert schema.column("ward").nullable
    assert repr(schema).splitlines()[1].startswith("WARNING")


def test_infer_schema_same_from_pandas_polars_and_pyarrow():
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    from_arrow = infer_quietly(arrow_table())
    # A non-default index must not become a column.
    from_pandas = infer_quietly(pd.DataFrame(ROWS, index=[10, 11, 12, 13, 14, 15]))
    from_polars = infer_quietly(pl.DataFrame(ROWS))
    assert from_pandas == from_arrow
    assert from_polars == from_arrow


def test_infer_schema_from_files(tmp_path):
    for name in ("t.csv", "t.parquet"):
        path = tmp_path / name
        pets.write_table(arrow_table(), path)
        schema = infer_quietly(path)
        assert schema.names == ["sex", "age", "seen", "ward"]
        assert schema.column("age").kind == "integer"
        assert schema.column("seen").kind == "date"


def test_infer_schema_rejects_wrong_types():
    with pytest.raises(TypeError, match="pyarrow Table, a polars or pandas DataFrame"):
        pets.infer_schema([1, 2, 3])
    with pytest.raises(TypeError, match="max_categories"):
        pets.infer_schema(arrow_table(), max_categories="many")


# -- encode / decode --------------------------------------------------------------------


def test_encode_decode_round_trip_is_lossless():
    table = arrow_table()
    enc = pets.encode(table, SCHEMA)
    assert enc.n_rows == 6
    assert len(enc) == 6
    assert enc.names == ["sex", "age", "seen", "ward"]
    codes = enc.codes("sex")
    assert isinstance(codes, pa.UInt32Array)
    assert codes.to_pylist() == [0, 1, 1, 2, 0, 3]
    assert enc.codes("ward").to_pylist() == [0, 3, 1, 0, 3, 2]  # null code is 3
    assert enc.codebook("ward") == {"n_values": 3, "null_code": 3, "other_code": None}
    assert enc.labels("ward") == ["a", "b", "c", "null"]
    assert enc.counts("sex") == [2, 2, 1, 1]
    assert enc.cardinality("seen") == 366

    decoded = enc.decode()
    assert decoded.column_names == ["sex", "age", "seen", "ward"]
    assert decoded["sex"].to_pylist() == ROWS["sex"]
    assert decoded["age"].to_pylist() == ROWS["age"]
    assert decoded["seen"].to_pylist() == ROWS["seen"]
    assert decoded["ward"].to_pylist() == ROWS["ward"]
    assert decoded.schema.field("age").type == pa.int64()
    assert decoded.schema.field("seen").type == pa.date32()
    # Every placement is exact for unbinned columns.
    for placement in ("lower", "uniform"):
        assert enc.decode(placement, seed=3).equals(decoded)


def test_encode_from_pandas_polars_and_files(tmp_path):
    expected = pets.encode(arrow_table(), SCHEMA).to_arrow()
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    assert pets.encode(pd.DataFrame(ROWS), SCHEMA).to_arrow().equals(expected)
    assert pets.encode(pl.DataFrame(ROWS), SCHEMA).to_arrow().equals(expected)
    for name in ("t.csv", "t.parquet"):
        path = tmp_path / name
        assert pets.write_table(arrow_table(), path) == 6
        assert pets.encode(path, SCHEMA).to_arrow().equals(expected)
        assert pets.encode(str(path), SCHEMA).to_arrow().equals(expected)


def test_encode_selected_columns_and_report():
    table = arrow_table().append_column("extra", pa.array([1] * 6))
    enc = pets.encode(table, SCHEMA, columns=["age", "sex"])
    assert enc.names == ["age", "sex"]
    report = enc.report
    assert report["rows"] == 6
    assert report["mapped_to_other"] == {"age": 0, "sex": 0}
    assert "extra" in report["undeclared_data_columns"]
    assert enc.schema.names == ["age", "sex"]


def test_binned_columns_decode_within_their_bin():
    schema = pets.Schema.from_dict(
        {
            "columns": [
                {
                    "name": "wait",
                    "kind": "integer",
                    "min": 0,
                    "max": 999,
                    "bins": {"edges": [0, 60, 240, 1000]},
                }
            ]
        }
    )
    enc = pets.encode(pa.table({"wait": [5, 100, 500]}), schema)
    assert enc.codes("wait").to_pylist() == [0, 1, 2]
    assert enc.decode("lower")["wait"].to_pylist() == [0, 60, 240]
    for v, (lo, hi) in zip(
        enc.decode("uniform", seed=1)["wait"].to_pylist(),
        [(0, 59), (60, 239), (240, 999)],
        strict=True,
    ):
        assert lo <= v <= hi


def test_to_pandas_gives_codes():
    pytest.importorskip("pandas")
    df = pets.encode(arrow_table(), SCHEMA).to_pandas()
    assert list(df.columns) == ["sex", "age", "seen", "ward"]
    assert df["sex"].tolist() == [0, 1, 1, 2, 0, 3]
    assert str(df["sex"].dtype) == "uint32"


# -- errors -----------------------------------------------------------------------------


def test_out_of_domain_error_names_column_row_and_value():
    table = pa.table({**ROWS, "sex": ["1", "2", "7", "9", "1", "X"]})
    with pytest.raises(pets.DomainError) as info:
        pets.encode(table, SCHEMA)
    message = str(info.value)
    assert 'column "sex"' in message
    assert "row 3" in message
    assert '"7"' in message
    assert info.value.column == "sex"
    assert info.value.row == 3
    assert isinstance(info.value, ValueError)


def test_out_of_domain_other_mode_counts_values():
    table = pa.table({**ROWS, "sex": ["1", "2", "7", "9", "1", "8"]})
    enc = pets.encode(table, SCHEMA, out_of_domain="other")
    assert enc.report["mapped_to_other"]["sex"] == 2
    other = enc.codebook("sex")["other_code"]
    assert other == 4
    assert enc.codes("sex").to_pylist()[2] == other
    assert enc.decode()["sex"].to_pylist() == ["1", "2", "other", "9", "1", "other"]
    assert enc.decode(other_label="?")["sex"].to_pylist()[2] == "?"


def test_null_in_non_nullable_column_raises_domain_error():
    table = pa.table({**ROWS, "age": [34, None, 5, 0, 88, 71]})
    with pytest.raises(pets.DomainError, match="missing value") as info:
        pets.encode(table, SCHEMA)
    assert info.value.column == "age"
    assert info.value.row == 2


def test_unparsable_value_raises_parse_error():
    table = pa.table({**ROWS, "age": ["34", "old", "5", "0", "88", "71"]})
    with pytest.raises(pets.ParseError, match='cannot read "old"') as info:
        pets.encode(table, SCHEMA)
    assert info.value.row == 2


def test_unknown_column_raises_schema_error():
    with pytest.raises(pets.SchemaError, match='unknown column "nope"'):
        pets.encode(arrow_table(), SCHEMA, columns=["nope"])
    enc = pets.encode(arrow_table(), SCHEMA)
    with pytest.raises(pets.SchemaError, match="unknown column"):
        enc.codes("nope")
    with pytest.raises(pets.SchemaError, match="missing from the data"):
        pets.encode(arrow_table().drop_columns(["age"]), SCHEMA)
    with pytest.raises(pets.SchemaError):
        SCHEMA.column("nope")


def test_bad_file_path_raises_io_error(tmp_path):
    missing = tmp_path / "missing.csv"
    with pytest.raises(pets.PetsIOError, match=r"missing\.csv") as info:
        pets.read_table(missing)
    assert isinstance(info.value, OSError)
    with pytest.raises(pets.PetsIOError):
        pets.encode(tmp_path / "missing.parquet", SCHEMA)
    with pytest.raises(pets.PetsIOError):
        pets.infer_schema(missing)
    with pytest.raises(pets.PetsIOError, match="extension"):
        pets.write_table(arrow_table(), tmp_path / "t.xlsx")
    with pytest.raises(pets.PetsIOError):
        pets.write_table(arrow_table(), tmp_path / "no" / "such" / "dir.csv")


def test_empty_table_raises_empty_input_error():
    empty = arrow_table().slice(0, 0)
    with pytest.raises(pets.EmptyInputError, match="empty"):
        pets.encode(empty, SCHEMA)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(pets.EmptyInputError):
            pets.infer_schema(empty)


def test_wrong_argument_types_raise_type_error():
    with pytest.raises(TypeError, match=r"pets\.Schema"):
        pets.encode(arrow_table(), SCHEMA.to_json())
    with pytest.raises(TypeError, match="pyarrow Table"):
        pets.encode({"a": [1]}, SCHEMA)
    with pytest.raises(TypeError, match="columns"):
        pets.encode(arrow_table(), SCHEMA, columns="sex")
    with pytest.raises(ValueError, match="out_of_domain"):
        pets.encode(arrow_table(), SCHEMA, out_of_domain="drop")
    with pytest.raises(ValueError, match="placement"):
        pets.encode(arrow_table(), SCHEMA).decode("middle")
    with pytest.raises(TypeError):
        pets.read_table(42)


def test_native_layer_raises_type_error_for_non_tables():
    from pets import _native

    with pytest.raises(TypeError, match="data must be a pyarrow Table"):
        _native.encode(object(), SCHEMA.to_json())
    with pytest.raises(TypeError, match="table must be"):
        _native.write_table(42, "x.csv")


# -- I/O --------------------------------------------------------------------------------


def test_read_and_write_tables(tmp_path):
    table = arrow_table()
    parquet = tmp_path / "t.parquet"
    assert pets.write_table(table, parquet) == 6
    back = pets.read_table(parquet)
    assert back.column_names == table.column_names
    assert back["age"].to_pylist() == ROWS["age"]
    assert back["seen"].to_pylist() == ROWS["seen"]

    csv = tmp_path / "t.csv"
    pets.write_table(table, csv)
    text = pets.read_table(csv)
    assert text["age"].to_pylist() == [str(a) for a in ROWS["age"]]
    assert text["ward"].to_pylist() == ROWS["ward"]


def test_malformed_csv_raises_parse_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(pets.ParseError, match="malformed CSV"):
        pets.read_table(path)


def test_codes_share_the_rust_buffer():
    enc = pets.encode(arrow_table(), SCHEMA)
    first, second = enc.codes("age"), enc.codes("age")
    assert first.buffers()[1].address == second.buffers()[1].address
    assert enc.to_arrow()["age"].chunk(0).buffers()[1].address == first.buffers()[1].address


def test_messy_text_files_are_sniffed_and_said(tmp_path):
    path = tmp_path / "census.csv"
    path.write_text("39, State-gov, Male\n50, ?, Female\n38, Private, Male\n")
    with pytest.warns(UserWarning, match="no header|padded") as caught:
        t = pets.read_table(path, null_values=["", "?"])
    said = " ".join(str(w.message) for w in caught)
    assert "no header" in said
    assert "padded" in said
    assert t.column_names == ["column_1", "column_2", "column_3"]
    assert t.column("column_2").to_pylist() == ["State-gov", None, "Private"]
    # Everything given: nothing sniffed, nothing said.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = pets.read_table(
            path,
            header=False,
            trim=True,
            null_values=["", "?"],
            column_names=["age", "workclass", "sex"],
        )
    assert t.column("sex").to_pylist() == ["Male", "Female", "Male"]
    with pytest.raises(pets.PetsError, match="character"):
        pets.read_table(path, delimiter="ab")


def test_a_latin1_file_reads_with_its_encoding_and_is_refused_without(tmp_path):
    text = "name,town\nJosé,Ñuñoa\nRenée,Köln\n"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.encode("latin-1"))
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes(text.encode("utf-8"))
    want = pets.read_table(utf8).to_pydict()
    assert pets.read_table(latin, encoding="latin-1").to_pydict() == want
    with pytest.raises(pets.ParseError, match="latin-1"):
        pets.read_table(latin)
