import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pets
import pets.datasets

ROWS = 200_000


@pytest.fixture(scope="module")
def ae() -> pa.Table:
    return pets.datasets.generate_ae(ROWS, seed=7)


def share(mask: pa.ChunkedArray | pa.Array) -> float:
    return pc.sum(pc.cast(mask, pa.int64())).as_py() / len(mask)


def test_shape_and_schema(ae):
    schema = pets.datasets.ae_schema()
    assert ae.num_rows == ROWS
    assert ae.column_names == schema.names
    assert schema.name == "ae"
    assert schema.domain_from_data == []
    enc = pets.encode(ae, schema)
    assert enc.n_rows == ROWS
    assert set(enc.report["text_columns_not_encoded"]) == {
        "nhs_number",
        "local_patient_id",
        "postcode",
    }


def test_ambulance_share(ae):
    assert share(pc.equal(ae["arrival_mode"], "1")) == pytest.approx(0.24, abs=0.03)


def test_admissions_at_type_1_departments(ae):
    type1 = ae.filter(pc.equal(ae["department_type"], "01"))
    assert share(type1["admitted"]) == pytest.approx(0.27, abs=0.04)
    old = type1.filter(pc.greater_equal(type1["age"], 65))
    assert share(old["admitted"]) > 0.60


def test_monday_is_busiest(ae):
    weekday = pc.day_of_week(ae["arrival_datetime"])  # Monday is 0
    assert share(pc.equal(weekday, 0)) == pytest.approx(0.16, abs=0.015)


def test_four_hour_spike_at_type_1(ae):
    type1 = ae.filter(pc.equal(ae["department_type"], "01"))
    minutes = type1["total_time_in_dept_min"]

    def count(lo: int, hi: int) -> int:
        inside = pc.and_(pc.greater_equal(minutes, lo), pc.less(minutes, hi))
        return pc.sum(pc.cast(inside, pa.int64())).as_py()

    spike = count(230, 240)
    # Far more leave in the ten minutes before the 4-hour standard than in the ten after,
    # or in the ten before that.
    assert spike > 2.0 * count(240, 250)
    assert spike > 1.5 * count(220, 230)


def test_same_seed_same_table():
    a = pets.datasets.generate_ae(20_000, seed=11)
    b = pets.datasets.generate_ae(20_000, seed=11, batch_rows=3_000)
    c = pets.datasets.generate_ae(20_000, seed=12)
    assert a.equals(b)
    assert not a.equals(c)


def test_period_settings():
    start = dt.date(2023, 1, 1)
    table = pets.datasets.generate_ae(5_000, seed=1, start_date=start, days=31)
    days = pc.cast(table["arrival_datetime"], pa.date32())
    assert pc.min(days).as_py() >= start
    assert pc.max(days).as_py() <= dt.date(2023, 1, 31)
    schema = pets.datasets.ae_schema(start_date="2023-01-01", days=31)
    assert schema.column("arrival_datetime").spec["min"].startswith("2023-01-01")
    assert pets.encode(table, schema).n_rows == 5_000
    with pytest.raises(pets.PetsError, match="days"):
        pets.datasets.generate_ae(10, days=0)
    with pytest.raises(ValueError, match="ISO date"):
        pets.datasets.generate_ae(10, start_date="1 Jan 2023")
    with pytest.raises(TypeError, match="rows must be an int"):
        pets.datasets.generate_ae("10")


def test_write_ae_streams_the_same_rows(tmp_path):
    path = tmp_path / "ae.parquet"
    summary = pets.datasets.write_ae(path, 10_000, seed=3, batch_rows=4_096)
    assert summary["rows"] == 10_000
    assert summary["bytes"] > 0
    assert path.exists()
    assert pets.read_table(path).equals(pets.datasets.generate_ae(10_000, seed=3))
    with pytest.raises(pets.PetsIOError):
        pets.datasets.write_ae(tmp_path / "ae.xlsx", 10)


def test_encode_decode_round_trip_is_lossless(ae):
    enc = pets.encode(ae, pets.datasets.ae_schema())
    decoded = enc.decode()
    for name in enc.names:
        original = ae[name]
        assert decoded[name].equals(pc.cast(original, decoded[name].type)), name
