"""pets.dp: budgets are enforced, the ledger adds up, results carry sane accuracy, every table
kind is accepted, and bad input raises a typed exception (never a panic).

Noise comes from OpenDP's secure generator and cannot be seeded, so no test depends on one
noisy draw: exact checks run at a huge epsilon (discrete Laplace at scale 1e-6 is non-zero
with probability about 2 exp(-1e6), i.e. never), and coverage checks count misses over many
draws against a binomial tail bound whose false-failure rate is computed below (< 1e-6).
"""

import math
import warnings

import pyarrow as pa
import pytest

import pets
import pets.datasets
import pets.dp

ROWS = 3_000
HUGE = 1e6  # an epsilon at which integer noise is zero with overwhelming probability


@pytest.fixture(scope="module")
def ae():
    return pets.datasets.generate_ae(ROWS, seed=5)


@pytest.fixture(scope="module")
def schema():
    return pets.datasets.ae_schema()


def session(**kw):
    kw.setdefault("epsilon", 1e9)
    return pets.dp.Session(**kw)


# -- exact answers at a huge epsilon, from every table kind ---------------------------------


def test_exact_answers_from_pyarrow_pandas_polars_and_files(tmp_path, ae, schema):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    path = tmp_path / "ae.parquet"
    pets.write_table(ae, path)
    truth = ae.group_by("sex").aggregate([("sex", "count")]).to_pydict()
    truth = dict(zip(truth["sex"], truth["sex_count"], strict=True))
    frame = ae.to_pandas()
    frame.index = frame.index * 3  # a non-default index must not become a column
    for data in (ae, frame, pl.from_arrow(ae), path):
        s = session(schema=schema)
        assert s.count(data, epsilon=HUGE).value == ROWS
        by_sex = s.count(data, by=["sex"], epsilon=HUGE).to_pandas()
        assert list(by_sex.columns) == ["sex", "count", "half_width", "lower", "upper"]
        assert list(by_sex["sex"]) == ["1", "2", "9", "X"]  # every declared value, zeros too
        got = dict(zip(by_sex["sex"], by_sex["count"], strict=True))
        assert got == {k: truth.get(k, 0) for k in ["1", "2", "9", "X"]}
        assert isinstance(by_sex, pd.DataFrame)


def test_contribution_bounding_by_person(ae):
    people = len(set(ae["nhs_number"].to_pylist()))
    assert people < ROWS  # patients re-attend
    s = session()
    one = s.count(ae, epsilon=HUGE, id_column="nhs_number")
    assert one.value == people
    assert not any(w.startswith("row-level") for w in one.warnings)
    two = s.count(ae, epsilon=HUGE, id_column="nhs_number", max_rows_per_person=2)
    assert people < two.value <= min(ROWS, 2 * people)
    rows = s.count(ae, epsilon=HUGE)
    assert rows.value == ROWS
    assert any(w.startswith("row-level privacy") for w in rows.warnings)
    units = [e["contribution"]["unit"] for e in s.ledger()["entries"]]
    assert units == ["person", "person", "row"]
    assert s.ledger()["entries"][1]["contribution"]["max_rows_per_person"] == 2


def test_numeric_queries_exact_at_huge_epsilon(ae, schema):
    pa_compute = pytest.importorskip("pyarrow.compute")
    col = "total_time_in_dept_min"
    clamped = pa_compute.min_element_wise(
        pa_compute.max_element_wise(ae[col].cast(pa.float64()), 0.0), 720.0
    )
    true_sum = pa_compute.sum(clamped).as_py()
    s = session()
    total = s.sum(ae, col, bounds=(0, 720), epsilon=HUGE)
    assert total.value == pytest.approx(true_sum, rel=1e-6)
    mean = s.mean(ae, col, bounds=(0, 720), epsilon=HUGE)
    assert mean.value == pytest.approx(true_sum / ROWS, rel=1e-6)
    assert mean.lower <= mean.value <= mean.upper
    var = s.variance(ae, col, bounds=(0, 720), epsilon=HUGE)
    assert var.value == pytest.approx(pa_compute.variance(clamped).as_py(), rel=1e-3)
    med = s.median(ae, "age", bounds=(0, 110), epsilon=HUGE)
    ages = sorted(ae["age"].to_pylist())
    assert ages[ROWS // 2 - 2] <= med.value[0] <= ages[ROWS // 2 + 1]
    qs = s.quantile(ae, "age", [0.25, 0.75], bounds=(0, 110), epsilon=HUGE).to_pandas()
    assert list(qs["quantile"]) == [0.25, 0.75]
    assert list(qs.columns) == ["quantile", "value", "rank_tolerance"]
    assert qs["value"].is_monotonic_increasing
    # The same through a declared schema (codes for candidates, raw values for the sums).
    s2 = session(schema=schema)
    assert s2.sum(ae, col, bounds=(0, 720), epsilon=HUGE).value == pytest.approx(true_sum, 1e-6)


def test_group_by_releases_groups_above_threshold(ae, schema):
    s = session(delta=1e-6, schema=schema)
    groups = s.group_by(ae, ["arrival_mode"], epsilon=HUGE, delta=1e-7)
    assert groups.kind == "groups"
    assert groups.threshold is not None
    frame = groups.to_pandas()
    assert list(frame.columns) == ["arrival_mode", "count", "half_width", "lower", "upper"]
    assert frame["count"].sum() <= ROWS
    assert (frame["count"] >= groups.threshold).all()
    # The mechanism's own delta is charged: at most the query's share.
    assert 0 <= s.ledger()["spent"]["delta"] <= 1e-7


# -- budget ---------------------------------------------------------------------------------


def test_over_budget_is_refused_and_spends_nothing(ae):
    s = pets.dp.Session(epsilon=1.0)
    first = s.count(ae, epsilon=0.6)
    assert first.cost == pets.dp.Cost(epsilon=0.6)
    with pytest.raises(pets.BudgetExceededError, match=r"only epsilon = 0.4 is left") as e:
        s.count(ae, by=["sex"], epsilon=0.6)
    assert isinstance(e.value, pets.PetsError)
    assert e.value.remaining == pytest.approx(0.4)
    assert e.value.requested == pytest.approx(0.6)
    assert e.value.spent == pytest.approx(0.6)
    assert e.value.total == 1.0
    assert len(s.ledger()["entries"]) == 1
    assert s.remaining.epsilon == pytest.approx(0.4)
    # What is left can still be spent, exactly.
    s.count(ae, epsilon=0.4)
    assert s.remaining.epsilon == 0.0
    with pytest.raises(pets.BudgetExceededError):
        s.mean(ae, "age", bounds=(0, 110))  # default share: everything left, i.e. nothing


def test_default_share_splits_evenly(ae):
    s = pets.dp.Session(epsilon=1.0, split_evenly_over=3)
    assert s.default_share.epsilon == pytest.approx(1 / 3)
    for _ in range(3):
        s.count(ae)
    with pytest.raises(pets.BudgetExceededError):
        s.count(ae)
    # Without a split, a query spends everything left.
    s = pets.dp.Session(epsilon=0.5)
    assert s.default_share is None
    assert s.count(ae).cost.epsilon == 0.5


def test_ledger_adds_up(ae, schema, tmp_path):
    s = pets.dp.Session(rho=0.5, delta=1e-6, schema=schema)
    results = [
        s.count(ae, rho=0.05),
        s.count(ae, by=["sex", "arrival_mode"], rho=0.1),
        s.mean(ae, "age", bounds=(0, 110), rho=0.1),
        s.median(ae, "age", bounds=(0, 110), rho=0.05),
        s.group_by(ae, "sex", rho=0.05, delta=1e-7),
    ]
    ledger = s.ledger()
    entries = ledger["entries"]
    assert sorted(i for r in results for i in r.ledger_entries) == list(range(len(entries)))
    charged = sum(e["charged"]["rho"] for e in entries)
    assert charged == pytest.approx(0.35, rel=1e-12)
    assert sum(r.cost.rho for r in results) == pytest.approx(0.35, rel=1e-12)
    assert ledger["spent"]["rho"] == pytest.approx(0.35, rel=1e-12)
    assert ledger["spent"]["rho"] + ledger["remaining"]["rho"] == pytest.approx(0.5, rel=1e-12)
    assert ledger["remaining"]["rho"] <= 0.5 - 0.35 + 1e-12  # rounded down, never up
    assert s.spent.rho == ledger["spent"]["rho"]
    assert ledger["spent_as_approx_dp"]["epsilon"] > 0
    for e in entries:
        assert e["mechanism"]["name"]
        assert e["contribution"]["unit"] == "row"
    path = s.write_ledger(tmp_path / "ledger.json")
    assert path.read_text().strip() == s.ledger_json().strip()


# -- accuracy -------------------------------------------------------------------------------


def binomial_tail(n: int, p: float, k: int) -> float:
    """P(X > k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1, n + 1))


RUNS = 50
# Each interval covers the truth with probability >= 0.95, independently across runs (fresh
# noise each time), so misses are stochastically at most Binomial(RUNS, 0.05).
MAX_MISSES = 13
assert binomial_tail(RUNS, 0.05, MAX_MISSES) < 1e-6  # the documented false-failure rate


def test_count_and_mean_intervals_cover_the_truth(ae):
    small = ae.slice(0, 500)
    truth_mean = sum(min(max(v, 0), 720) for v in small["total_time_in_dept_min"].to_pylist())
    truth_mean /= small.num_rows
    count_misses = mean_misses = 0
    widths = set()
    for _ in range(RUNS):
        s = pets.dp.Session(epsilon=2.0)
        c = s.count(small, epsilon=1.0)
        m = s.mean(small, "total_time_in_dept_min", bounds=(0, 720), epsilon=1.0)
        count_misses += not (c.lower <= small.num_rows <= c.upper)
        mean_misses += not (m.lower <= truth_mean <= m.upper)
        widths.add(c.half_width)
        assert c.alpha == 0.05
    assert count_misses <= MAX_MISSES
    assert mean_misses <= MAX_MISSES
    # Discrete Laplace with scale 1 / epsilon = 1: P(|X| > a) = 2 e^{-(a+1)} / (1 + e^{-1})
    # <= 0.05 first at a = 3, so the half-width is 3 whatever the draw.
    assert widths == {3.0}


def test_histogram_cells_within_their_interval():
    cells = pa.table({"g": ["a", "b", "c", "d"] * 25})
    schema = pets.Schema.from_dict(
        {"columns": [{"name": "g", "kind": "categorical", "values": ["a", "b", "c", "d"]}]}
    )
    runs, misses = 50, 0
    max_misses = 32
    assert binomial_tail(runs * 4, 0.05, max_misses) < 1e-6
    for _ in range(runs):
        frame = pets.dp.Session(epsilon=1.0).count(cells, by="g", schema=schema).to_pandas()
        misses += int(((frame["lower"] > 25) | (frame["upper"] < 25)).sum())
    assert misses <= max_misses


# -- warnings -------------------------------------------------------------------------------


def test_inferred_domain_warns(ae):
    s = session()
    with pytest.warns(pets.DomainFromDataWarning, match="DOMAIN_FROM_DATA"):
        r = s.count(ae, by=["sex"], epsilon=HUGE)
    assert any(w.startswith("DOMAIN_FROM_DATA") for w in r.warnings)
    assert any("DOMAIN_FROM_DATA" in w for w in s.ledger()["entries"][0]["warnings"])
    # A plain count or a numeric query with public bounds reads no domain.
    with warnings.catch_warnings():
        warnings.simplefilter("error", pets.DomainFromDataWarning)
        s.count(ae, epsilon=HUGE)
        s.mean(ae, "age", bounds=(0, 110), epsilon=HUGE)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epsilon": -1.0}, "epsilon = -1 is not valid"),
        ({"epsilon": 0.0}, "epsilon = 0 is not valid"),
        ({"epsilon": float("nan")}, "epsilon = nan"),
        ({"rho": -0.1}, "rho = -0.1"),
        ({}, "exactly one of epsilon or rho"),
        ({"epsilon": 1.0, "rho": 1.0}, "exactly one of epsilon or rho"),
        ({"epsilon": 1.0, "delta": 1.5}, "delta"),
        ({"epsilon": 1.0, "alpha": 0.0}, "alpha"),
        ({"epsilon": 1.0, "split_evenly_over": 0}, "split_evenly_over"),
        ({"epsilon": 1.0, "max_rows_per_person": 0}, "max_rows_per_person"),
        ({"epsilon": 1.0, "max_rows_per_person": 2**40}, "max_rows_per_person"),
        ({"epsilon": 1.0, "seed": -1}, "seed"),
        ({"epsilon": 1.0, "noise": "cauchy"}, "noise"),
    ],
)
def test_invalid_sessions(kwargs, match):
    with pytest.raises(pets.InvalidParameterError, match=match) as e:
        pets.dp.Session(**kwargs)
    assert isinstance(e.value, ValueError)


def test_invalid_queries_spend_nothing(ae, schema):
    s = pets.dp.Session(epsilon=1.0, schema=schema)
    with pytest.raises(pets.InvalidParameterError, match="lower = 10, upper = 5") as e:
        s.mean(ae, "age", bounds=(10, 5))
    assert e.value.column == "age"
    with pytest.raises(pets.InvalidParameterError, match="bounds"):
        s.sum(ae, "age", bounds=(0, float("inf")))
    with pytest.raises(pets.InvalidParameterError, match=r"epsilon = -0.5"):
        s.count(ae, epsilon=-0.5)
    with pytest.raises(pets.InvalidParameterError, match="cannot be charged"):
        s.count(ae, rho=0.1)
    with pytest.raises(pets.InvalidParameterError, match="delta"):
        s.group_by(ae, "sex", epsilon=0.1)  # the session has no delta to spend
    with pytest.raises(pets.InvalidParameterError, match="quantile"):
        s.quantile(ae, "age", 1.5, bounds=(0, 110), epsilon=0.1)
    with pytest.raises(pets.InvalidParameterError, match=r"gaussian|Gaussian"):
        s.count(ae, epsilon=0.1, noise="gaussian")
    with pytest.raises(pets.SchemaError, match="postcode_area") as e:
        s.count(ae, by=["postcode_area"], epsilon=0.1)
    assert e.value.column == "postcode_area"
    with pytest.raises(pets.SchemaError, match="wait_time"):
        s.mean(ae, "wait_time", bounds=(0, 1), epsilon=0.1)
    # Without a schema a numeric column is read as numbers: the first non-number is named.
    with pytest.raises(pets.ParseError, match=r'column "sex", row [0-9]+: cannot read "X"'):
        pets.dp.Session(epsilon=1.0).mean(ae, "sex", bounds=(0, 1), epsilon=0.1)
    with pytest.raises(pets.SchemaError, match="nhs"):
        s.count(ae, epsilon=0.1, id_column="nhs")
    with pytest.raises(TypeError, match="bounds"):
        s.mean(ae, "age", bounds=5)
    with pytest.raises(TypeError, match="pyarrow Table"):
        s.count([1, 2, 3])
    with pytest.raises(TypeError, match="unexpected keyword"):
        s.count(ae, epsilon=0.1, idcolumn="nhs_number")
    assert s.ledger()["entries"] == []
    assert s.spent.epsilon == 0.0


def test_nan_in_numeric_column_is_domain_error():
    table = pa.table({"x": [1.0, 2.0, float("nan"), 4.0]})
    s = pets.dp.Session(epsilon=1.0)
    with pytest.raises(pets.DomainError, match="non-finite") as e:
        s.mean(table, "x", bounds=(0, 10))
    assert e.value.column == "x"
    assert e.value.row == 3
    # Nulls are skipped, not refused.
    nulls = pa.table({"x": [1.0, None, 3.0]})
    assert pets.dp.Session(epsilon=1e9).sum(nulls, "x", (0, 10), epsilon=HUGE).value == (
        pytest.approx(4.0, abs=1e-3)
    )


def test_null_person_id_is_refused():
    table = pa.table({"id": ["a", None, "b"], "x": [1, 2, 3]})
    with pytest.raises(pets.PetsError, match="id"):
        pets.dp.Session(epsilon=1.0).count(table, id_column="id")


def test_result_object(ae, schema):
    s = session(schema=schema)
    c = s.count(ae, epsilon=HUGE)
    assert float(c) == ROWS
    assert c.interval == (c.lower, c.upper)
    assert "count" in repr(c)
    assert c.to_dict()["type"] == "scalar"
    assert c.to_pandas().loc[0, "value"] == ROWS
    t = s.count(ae, by=["sex", "hour(arrival_datetime)"], epsilon=HUGE)
    assert t.kind == "table"
    frame = t.to_pandas()
    assert len(frame) == 4 * 24
    assert frame["count"].sum() == ROWS
    assert "<table" in t._repr_html_()
    with pytest.raises(TypeError, match="not a single number"):
        float(t)
    assert "spent" in repr(s)


def test_a_budget_that_protects_nothing_is_announced():
    with pytest.warns(UserWarning, match="almost no protection"):
        pets.dp.Session(epsilon=1e308)
    with pytest.warns(UserWarning, match="almost no protection"):
        pets.dp.Session(rho=100.0, delta=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pets.dp.Session(epsilon=1.0)


def test_a_budget_file_made_in_python_is_charged_and_read_back(tmp_path, schema):
    path = tmp_path / "ae.budget"
    made = pets.dp.init_budget(path, dataset="ae-test", epsilon=1.0, note="panel")
    assert made.dataset == "ae-test"
    assert float(made.total) == 1.0
    assert float(made.spent) == 0.0
    assert made.entries == []
    assert made.verified
    pets.dp.Session(epsilon=0.4, schema=schema, budget=path)
    status = pets.dp.budget_status(path)
    assert float(status.spent) == pytest.approx(0.4)
    assert float(status.remaining) == pytest.approx(0.6)
    assert len(status.entries) == 1
    assert len(status.entries_frame()) == 1
    assert "spent 0.4 of 1" in repr(status)
    assert "verified" in status._repr_html_()
    assert status.to_dict()["dataset"] == "ae-test"
    # A budget is set once: never reset by initialising again.
    with pytest.raises(pets.PetsIOError, match=r"ae\.budget"):
        pets.dp.init_budget(path, dataset="ae-test", epsilon=5.0)
    with pytest.raises(pets.PetsError, match="exactly one of epsilon or rho"):
        pets.dp.init_budget(tmp_path / "b.budget", dataset="x", epsilon=1.0, rho=1.0)
    with pytest.raises(pets.PetsError, match="dataset"):
        pets.dp.init_budget(tmp_path / "c.budget", dataset=" ", epsilon=1.0)
    with pytest.raises(pets.PetsIOError, match=r"missing\.budget"):
        pets.dp.budget_status(tmp_path / "missing.budget")
    assert not (tmp_path / "b.budget").exists()
    assert not (tmp_path / "c.budget").exists()
