import json

import pytest

import pets

DEMO = {
    "version": 1,
    "name": "demo",
    "columns": [
        {
            "name": "sex",
            "kind": "categorical",
            "values": ["1", "2", "9", "X"],
            "role": "quasi_identifier",
        },
        {"name": "age", "kind": "integer", "min": 0, "max": 120, "role": "quasi_identifier"},
        {
            "name": "wait",
            "kind": "integer",
            "min": 0,
            "max": 4320,
            "bins": {"edges": [0, 60, 120, 240, 720, 4321]},
        },
        {"name": "seen", "kind": "date", "min": "2024-01-01", "max": "2024-12-31"},
        {"name": "nhs_number", "kind": "text", "role": "direct_identifier"},
    ],
}


def test_json_round_trip():
    schema = pets.Schema.from_dict(DEMO)
    again = pets.Schema.from_json(schema.to_json())
    assert again == schema
    assert again.to_json() == schema.to_json()
    assert schema.names == ["sex", "age", "wait", "seen", "nhs_number"]
    assert schema.name == "demo"
    assert len(schema) == 5
    assert "age" in schema
    assert json.loads(schema.to_json())["columns"][0]["values"] == ["1", "2", "9", "X"]


def test_columns_are_described():
    schema = pets.Schema.from_dict(DEMO)
    sex = schema.column("sex")
    assert sex.kind == "categorical"
    assert sex.role == "quasi_identifier"
    assert not sex.nullable
    assert not sex.domain_from_data
    assert sex.spec["values"] == ["1", "2", "9", "X"]
    assert schema.column("wait").domain == "[0, 4320], 5 bins"
    assert schema.column("seen").domain == "[2024-01-01, 2024-12-31] by day"
    assert schema.domain_from_data == []


def test_save_and_load_json_and_toml(tmp_path):
    schema = pets.Schema.from_dict(DEMO)
    for name in ("s.json", "s.toml"):
        path = tmp_path / name
        schema.save(path)
        assert pets.Schema.load(path) == schema
        assert pets.Schema.load(str(path)) == schema
    assert "[[columns]]" in (tmp_path / "s.toml").read_text()
    assert pets.Schema.from_toml(schema.to_toml()) == schema


def test_select_keeps_order():
    schema = pets.Schema.from_dict(DEMO)
    assert schema.select(["age", "sex"]).names == ["age", "sex"]
    with pytest.raises(pets.SchemaError, match="unknown column 'nope'"):
        schema.select(["nope"])


def test_invalid_schema_raises_schema_error():
    with pytest.raises(pets.SchemaError, match="schema declares no columns"):
        pets.Schema.from_json('{"columns": []}')
    with pytest.raises(pets.SchemaError, match="cannot parse JSON schema"):
        pets.Schema.from_json("{not json")
    bad = {"columns": [{"name": "a", "kind": "integer", "min": 5, "max": 1}]}
    with pytest.raises(pets.SchemaError) as info:
        pets.Schema.from_dict(bad)
    assert info.value.column == "a"
    assert "min 5 is greater than max 1" in str(info.value)


def test_load_missing_file_raises_io_error(tmp_path):
    with pytest.raises(pets.PetsIOError) as info:
        pets.Schema.load(tmp_path / "missing.json")
    assert isinstance(info.value, OSError)
    assert "missing.json" in str(info.value)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="JSON text"):
        pets.Schema(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a dict"):
        pets.Schema.from_dict("{}")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"str or os\.PathLike"):
        pets.Schema.load(3)  # type: ignore[arg-type]


def test_repr_shows_columns_and_warns_for_domains_from_data():
    schema = pets.Schema.from_dict(DEMO)
    text = repr(schema)
    assert text.startswith("Schema 'demo' (5 columns)")
    assert "WARNING" not in text
    assert "quasi_identifier" in text
    assert "4 values: 1, 2, 9, X" in text
    html = schema._repr_html_()
    assert "<table>" in html
    assert "<td>sex</td>" in html

    flagged = dict(DEMO)
    flagged["columns"] = [dict(c) for c in DEMO["columns"]]
    flagged["columns"][1]["domain_from_data"] = True
    flagged_schema = pets.Schema.from_dict(flagged)
    assert flagged_schema.domain_from_data == ["age"]
    lines = repr(flagged_schema).splitlines()
    assert lines[1].startswith("WARNING: the domain of 1 of 5 columns was read from the data")
    assert any(line.strip().startswith("age *") for line in lines)
    assert "WARNING" in flagged_schema._repr_html_()


def test_exception_hierarchy():
    assert issubclass(pets.SchemaError, pets.PetsError)
    assert issubclass(pets.DomainError, pets.PetsError)
    assert issubclass(pets.DomainError, ValueError)
    assert issubclass(pets.ParseError, ValueError)
    assert issubclass(pets.EmptyInputError, pets.PetsError)
    assert issubclass(pets.PetsIOError, OSError)
    assert issubclass(pets.PetsIOError, pets.PetsError)
    assert issubclass(pets.DomainFromDataWarning, UserWarning)
    assert pets.DomainError.__module__ == "pets"
    assert pets.PetsError.__module__ == "pets"
