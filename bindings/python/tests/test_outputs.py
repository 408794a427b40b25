"""pets.outputs: checked tables and models, the session bundle, parity with the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import pets
import pets.datasets
import pets.outputs

CLI = Path(__file__).resolve().parents[3] / "target" / "release" / "pets"


def frame() -> pd.DataFrame:
    """Ward x sex: (A, F) 12 records, (A, M) 3, (B, F) 0, (B, M) 20; stay in days with one
    dominant stay in (B, M)."""
    rows = (
        [("A", "F", 2.0)] * 12
        + [("A", "M", 1.0)] * 3
        + [("B", "M", 1.0)] * 19
        + [("B", "M", 500.0)]
    )
    df = pd.DataFrame(rows, columns=["ward", "sex", "stay"])
    df["ward"] = pd.Categorical(df["ward"], categories=["A", "B"])
    df["sex"] = pd.Categorical(df["sex"], categories=["F", "M"])
    return df


SCHEMA = pets.Schema.from_dict(
    {
        "columns": [
            {"name": "ward", "kind": "categorical", "values": ["A", "B"]},
            {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
            {"name": "stay", "kind": "float", "min": 0, "max": 1000},
        ]
    }
)


def cell(t: pets.outputs.CheckedTable, *labels: str) -> dict:
    return next(c for c in t.cells if tuple(c["labels"]) == labels)


def test_crosstab_fails_small_and_zero_cells():
    t = pets.outputs.crosstab(frame(), "ward", "sex", schema=SCHEMA)
    assert t.kind == "crosstab"
    assert t.statistic == "count"
    assert not t.passed
    assert cell(t, "A", "F")["fails"] == []
    assert cell(t, "A", "M")["fails"] == ["threshold"]
    assert "3" in cell(t, "A", "M")["reasons"][0]
    assert cell(t, "B", "F")["fails"] == ["threshold", "zeros"]  # an empty cell fails both
    assert cell(t, "Total", "Total")["published"] == "35"
    df = t.to_pandas()
    assert list(df.columns) == ["ward", "sex", "count", "fails", "reasons", "mitigated"]
    assert len(df) == 9  # 2 x 2 cells, 2 + 2 margins, the grand total
    assert "CheckedTable crosstab count by ward x sex" in repr(t)
    assert "<table" in t._repr_html_()


def test_suppression_protects_the_table():
    t = pets.outputs.crosstab(frame(), "ward", "sex", schema=SCHEMA, mitigate="suppress")
    assert t.passed
    assert cell(t, "A", "M")["published"] == "*"
    assert cell(t, "A", "M")["mitigated"] == "primary"
    # The margins cannot give the suppressed cell back: something else in its row is gone.
    assert sum(c["published"] == "*" for c in t.cells) >= 2
    assert t.mitigation is not None


def test_pivot_mean_checks_dominance():
    t = pets.outputs.pivot_table(frame(), "stay", "ward", "sex", aggfunc="mean", schema=SCHEMA)
    assert t.statistic == "mean"
    assert t.values == "stay"
    fails = cell(t, "B", "M")["fails"]
    assert "nk_dominance" in fails
    assert "p_ratio" in fails
    assert cell(t, "A", "F")["fails"] == []
    median = pets.outputs.pivot_table(
        frame(), "stay", "ward", aggfunc="p50", schema=SCHEMA, rules={"threshold": 5}
    )
    assert median.statistic == "quantile(0.5)"
    assert median.rules["threshold"] == 5


def test_hes_preset_and_rules_files(tmp_path):
    t = pets.outputs.crosstab(frame(), "ward", "sex", schema=SCHEMA, rules="hes")
    assert t.rules["preset"] == "hes"
    assert cell(t, "A", "M")["fails"] == ["hes"]
    assert cell(t, "B", "F")["fails"] == []  # HES publishes zeros
    path = tmp_path / "rules.toml"
    path.write_text("threshold = 3\n")
    t = pets.outputs.crosstab(frame(), "ward", "sex", schema=SCHEMA, rules=path)
    assert cell(t, "A", "M")["fails"] == []


def test_bad_input_is_a_clear_error():
    with pytest.raises(pets.InvalidParameterError, match="sex"):
        pets.outputs.pivot_table(frame(), "sex", "ward", aggfunc="sum", schema=SCHEMA)
    with pytest.raises(pets.InvalidParameterError, match="unknown statistic"):
        pets.outputs.pivot_table(frame(), "stay", "ward", aggfunc="mode", schema=SCHEMA)
    with pytest.raises(pets.InvalidParameterError, match="tresh"):
        pets.outputs.crosstab(frame(), "ward", schema=SCHEMA, rules={"tresh": 3})
    with pytest.raises(pets.InvalidParameterError, match="nk_k"):
        pets.outputs.crosstab(frame(), "ward", schema=SCHEMA, rules={"nk_k": 2})
    with pytest.raises(pets.SchemaError, match="nope"):
        pets.outputs.crosstab(frame(), "nope", schema=SCHEMA)
    with pytest.raises(pets.InvalidParameterError, match="mitigate"):
        pets.outputs.crosstab(frame(), "ward", schema=SCHEMA, mitigate="blur")
    with pytest.raises(TypeError, match="rules"):
        pets.outputs.crosstab(frame(), "ward", schema=SCHEMA, rules=3)


def regression_data(n: int, seed: int = 3) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n)
    stay = 1 + 0.05 * age + rng.normal(0, 1, n)
    admitted = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-(age - 50) / 10))).astype(int)
    return pd.DataFrame({"age": age, "stay": stay, "admitted": admitted})


def test_session_records_tables_and_models(tmp_path):
    bundle = tmp_path / "release"
    s = pets.outputs.Session(bundle, schema=SCHEMA)
    assert s.outputs == []
    assert "0 output" in s.review()
    t1 = s.crosstab(frame(), "ward", "sex", mitigate="suppress", source="ward_extract")
    assert t1.id == "output_001"
    assert t1.passed
    t2 = s.pivot_table(frame(), "stay", "ward", aggfunc="mean", exception="needed for the paper")
    assert t2.id == "output_002"
    assert not t2.passed
    m = s.ols("stay ~ age", regression_data(200))
    assert m.id == "output_003"
    assert m.kind == "ols"
    assert m.passed
    assert [c["labels"][0] for c in m.cells] == ["Intercept", "age"]
    assert m.fit.params["age"] == pytest.approx(0.05, abs=0.02)
    small = s.logit("admitted ~ age", regression_data(11, seed=5))
    assert small.kind == "logit"
    assert not small.passed
    assert small.cells[0]["fails"] == ["dof"]
    assert "9 residual" in small.cells[0]["reasons"][0]
    s.probit("admitted ~ age", regression_data(300))
    s.request_exception("output_004", "a pilot model; the panel asked for it")

    record = json.loads((bundle / "record.json").read_text())
    ids = [o["id"] for o in record["outputs"]]
    assert ids == [f"output_00{i}" for i in range(1, 6)]
    assert record["outputs"][0]["provenance"]["source"] == "ward_extract"
    assert record["outputs"][1]["exception"] == "needed for the paper"
    assert record["outputs"][3]["exception"].startswith("a pilot model")
    assert "pets.outputs.Session.crosstab(rows='ward'" in record["outputs"][0]["call"]
    coef = pd.read_csv(bundle / "output_003.csv")
    assert list(coef.columns[:3]) == ["term", "estimate", "std_err"]
    assert (bundle / "summary.html").read_text().count("<h2") == 5
    text = s.review()
    assert "output_004" in text
    assert "9 residual degrees of freedom" in text
    assert len(s.outputs) == 5
    # A reopened session continues the record.
    again = pets.outputs.Session(bundle, schema=SCHEMA)
    assert again.crosstab(frame(), "sex").id == "output_006"
    pets.outputs.decide(bundle, "output_001", "approve", "safe")
    assert "approved (safe)" in pets.outputs.review(bundle)
    with pytest.raises(pets.InvalidParameterError, match="output_099"):
        s.request_exception("output_099", "why")
    with pytest.raises(pets.InvalidParameterError, match="reason"):
        s.request_exception("output_001", " ")


def test_model_with_more_parameters_than_rows_is_refused(tmp_path):
    import statsmodels.api as sm

    data = regression_data(3)
    design = sm.add_constant(data[["age", "admitted"]]).assign(extra=[1.0, 2.0, 4.0])
    results = sm.OLS(data["stay"], design).fit()
    with pytest.raises(pets.InvalidParameterError, match="4 parameters but only 3"):
        pets.outputs.check_model(results)
    with pytest.raises(TypeError, match="statsmodels"):
        pets.outputs.check_model("not a model")


def test_differencing_is_warned(tmp_path):
    ae = pets.datasets.generate_ae(3_000, seed=4)
    schema = pets.datasets.ae_schema()
    s = pets.outputs.Session(tmp_path / "b", schema=schema)
    s.crosstab(ae, "sex", mitigate="suppress")
    frame_ = ae.to_pandas()
    fewer = frame_.iloc[3:]  # all attendances but three
    with pytest.warns(UserWarning, match="differ by 3"):
        t = s.crosstab(fewer, "sex", mitigate="suppress")
    assert t.differencing
    assert t.differencing[0]["other"] == "output_001"


@pytest.mark.skipif(not CLI.exists(), reason="the CLI is built by scripts/test.sh")
def test_python_and_the_cli_check_the_same_cells(tmp_path):
    ae = pets.datasets.generate_ae(5_000, seed=9)
    path = tmp_path / "ae.csv"
    pets.write_table(ae, path)
    schema = pets.datasets.ae_schema()
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(schema.to_json())
    bundle = tmp_path / "cli"
    subprocess.run(
        [str(CLI), "outputs", "pivot", str(path), "--schema", str(schema_path), "--rows",
         "acuity", "--cols", "sex", "--values", "total_time_in_dept_min", "--agg", "mean",
         "--mitigate", "suppress", "--bundle", str(bundle)],
        check=True, capture_output=True,
    )  # fmt: skip
    cli = json.loads((bundle / "record.json").read_text())["outputs"][0]
    py = pets.outputs.pivot_table(
        path, "total_time_in_dept_min", "acuity", "sex", schema=schema, mitigate="suppress"
    )
    assert cli["table"]["cells"] == py.to_dict()["cells"]
    assert cli["provenance"]["sha256"]
    review = subprocess.run(
        [str(CLI), "outputs", "review", str(bundle)], check=True, capture_output=True, text=True
    ).stdout
    assert review == pets.outputs.review(bundle)


def cohort() -> pd.DataFrame:
    """60 patients: deaths on days 1..30 (day 3 censored), 30 censored at day 60."""
    days = list(range(1, 31)) + [60] * 30
    died = [d != 3 for d in range(1, 31)] + [False] * 30
    return pd.DataFrame({"days": days, "died": died})


def test_survival_table_small_steps_and_merging(tmp_path):
    t = pets.outputs.survival_table(cohort(), "days", "died")
    assert t.kind == "survival"
    assert not t.passed
    first = t.survival[0]
    assert (first["at_risk"], first["events"]) == (60, 1)
    assert first["survival"] == pytest.approx(59 / 60)
    assert t.cells[1]["fails"] == ["threshold"]
    safe = pets.outputs.survival_table(cohort(), "days", "died", mitigate="suppress")
    assert safe.passed
    frame_ = safe.to_pandas()
    assert list(frame_.columns[:4]) == ["time", "at_risk", "events", "survival"]
    assert (frame_["mitigated"] == "merged").sum() > 0
    # Survival only steps down where at least 10 left the risk set since the last step.
    steps = frame_[frame_["events"] > 0]
    assert (steps["at_risk"].diff().dropna().abs() >= 10).all()
    s = pets.outputs.Session(tmp_path / "b")
    rec = s.survival_table(cohort(), "days", "died", mitigate="suppress")
    assert rec.id == "output_001"
    assert "survival survival(died) by days" in s.review()
    with pytest.raises(pets.ParseError, match="maybe"):
        pets.outputs.survival_table(
            pd.DataFrame({"days": [1, 2], "died": ["yes", "maybe"]}), "days", "died"
        )
    with pytest.raises(pets.SchemaError, match="nope"):
        pets.outputs.survival_table(cohort(), "nope", "died")
