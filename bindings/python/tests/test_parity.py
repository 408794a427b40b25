"""Parity of the front doors: the command line and Python run the same core jobs, so the same
query gets the same label, ledger and numeric path, and the same fit the same model layout.

Noise comes from OpenDP's secure generator and cannot be seeded: values are compared at an
epsilon so large that integer noise is zero and float noise below 1e-4 (never by chance), and
synthesis models are compared on everything but their noisy numbers.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

import pets
import pets.datasets
import pets.dp
import pets.federated
import pets.synth

ROWS = 3_000
REPO = Path(__file__).resolve().parents[3]
HUGE = 4e6  # split over 4 queries: 1e6 each


def cli_binary() -> str:
    for candidate in (
        os.environ.get("PETS_CLI"),
        str(REPO / "target" / "release" / "pets"),
        shutil.which("pets"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("the pets CLI is not built (cargo build --release -p pets-cli)")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Run the pets command line with ``args``; its output is captured as text."""
    return subprocess.run(
        [cli_binary(), *args], capture_output=True, text=True, check=False, timeout=300
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parity")
    ae = pets.datasets.generate_ae(ROWS, seed=3)
    # A float column with declared bins: the old CLI path used bin midpoints, Python the
    # raw values; both now read the raw values.
    minutes = ae.column("total_time_in_dept_min").cast(pa.float64())
    ae = ae.append_column("minutes_f", minutes)
    schema = pets.datasets.ae_schema()
    declared = json.loads(schema.to_json())
    declared["columns"].append(
        {"name": "minutes_f", "kind": "float", "min": 0, "max": 4320, "bins": 12}
    )
    schema = pets.Schema.from_json(json.dumps(declared))
    data = tmp / "ae.parquet"
    pets.write_table(ae, data)
    schema_path = tmp / "ae.schema.json"
    schema.save(schema_path)
    return tmp, ae, schema, data, schema_path


def test_dp_queries_agree_in_label_ledger_and_value(files):
    tmp, ae, schema, data, schema_path = files
    spec = tmp / "q.toml"
    spec.write_text(
        'id_column = "local_patient_id"\nmax_rows_per_person = 2\nseed = 4\n'
        '[[query]]\nkind = "count"\n'
        '[[query]]\nkind = "mean"\ncolumn = "minutes_f"\nlower = 0\nupper = 1440\n'
        '[[query]]\nkind = "median"\ncolumn = "age"\nlower = 0\nupper = 110\n'
        '[[query]]\nkind = "histogram"\ndimensions = ["age_band", "sex"]\n'
    )
    out = tmp / "dp.json"
    proc = run_cli(
        "dp",
        "query",
        str(data),
        "--schema",
        str(schema_path),
        "--spec",
        str(spec),
        "--epsilon",
        str(HUGE),
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(out.read_text())

    s = pets.dp.Session(
        epsilon=HUGE, schema=schema, id_column="local_patient_id", max_rows_per_person=2, seed=4
    )
    share = HUGE / 4
    py = [
        s.count(ae, epsilon=share),
        s.mean(ae, "minutes_f", bounds=(0, 1440), epsilon=share),
        s.median(ae, "age", bounds=(0, 110), epsilon=share),
        s.count(ae, by=["age_band", "sex"], epsilon=share),
    ]
    ledger = s.ledger()

    def shape(entries):
        return [
            (
                e["query"],
                e["columns"],
                e["mechanism"]["name"],
                e["mechanism"]["sensitivity"],
                e["contribution"],
            )
            for e in entries
        ]

    assert shape(ledger["entries"]) == shape(cli["ledger"]["entries"])
    labels = [e["query"] for e in ledger["entries"]]
    assert "quantile(age, 0.5)" in labels  # a median is labelled as the quantile it is
    # Same numeric path: the raw values, not bin midpoints (bins of 360 minutes would move
    # the mean by tens of minutes).
    cli_values = [r.get("value", r.get("results", [{}])[0].get("value")) for r in cli["results"]]
    assert py[0].value == cli_values[0]
    assert py[1].value == pytest.approx(cli_values[1], abs=1e-3)
    assert py[2].value == [cli_values[2]]  # quantile results are lists in Python
    assert list(py[3].value) == cli["results"][3]["counts"]
    exact_mean = pa.compute.mean(pa.compute.min_element_wise(ae.column("minutes_f"), 1440.0))
    assert abs(py[1].value - exact_mean.as_py()) < 60  # bounded rows, but raw values


def test_synthesis_models_agree_in_everything_but_noise(files):
    tmp, _ae, schema, data, schema_path = files
    cols = ["age_band", "sex", "acuity", "admitted"]
    model = tmp / "cli_model.json"
    proc = run_cli(
        "synth",
        "fit",
        str(data),
        "--schema",
        str(schema_path),
        "--epsilon",
        "1",
        "--delta",
        "1e-9",
        "--columns",
        ",".join(cols),
        "--person-id",
        "local_patient_id",
        "--max-rows-per-person",
        "2",
        "--out",
        str(model),
    )
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(model.read_text())
    py = pets.synth.MST(
        epsilon=1.0,
        delta=1e-9,
        schema=schema,
        columns=cols,
        person_id="local_patient_id",
        max_rows_per_person=2,
    ).fit(data)
    mine = json.loads(py.model.to_json())
    for key in (
        "format",
        "version",
        "method",
        "schema",
        "codebooks",
        "epsilon",
        "delta",
        "rho",
        "notes",
    ):
        assert mine.get(key) == cli.get(key), key  # "notes" is left out when empty

    def entries(m):
        return [
            (e["query"], e["mechanism"]["name"], e["contribution"], e["cost"])
            for e in m["ledger"]["entries"]
        ]

    # Selection may differ (noise); the 1-way measurements and the budget never do.
    assert entries(mine)[: len(cols)] == entries(cli)[: len(cols)]
    assert mine["ledger"]["budget"] == cli["ledger"]["budget"]


def test_errors_have_the_same_kind_in_both_doors(files):
    tmp, ae, schema, data, schema_path = files
    spec = tmp / "bad.toml"
    spec.write_text('[[query]]\nkind = "mean"\ncolumn = "age"\nlower = 10\nupper = 0\n')
    proc = run_cli(
        "dp",
        "query",
        str(data),
        "--schema",
        str(schema_path),
        "--spec",
        str(spec),
        "--epsilon",
        "1",
    )
    assert proc.returncode == 2, proc.stderr  # bad usage: InvalidParameter
    s = pets.dp.Session(epsilon=1.0, schema=schema)
    with pytest.raises(pets.InvalidParameterError):
        s.mean(ae, "age", bounds=(10, 0), epsilon=0.5)


def test_a_persistent_budget_is_shared_by_cli_runs_and_sessions(files):
    tmp, ae, schema, data, schema_path = files
    store = tmp / "ae.budget"
    proc = run_cli("budget", "init", str(store), "--epsilon", "1", "--dataset", "ae-test")
    assert proc.returncode == 0, proc.stderr
    s = pets.dp.Session(epsilon=0.6, schema=schema, budget=store)
    assert s.budget_receipt["entry"] == 1
    s.count(ae, epsilon=0.6)
    # Together with the first session, a second one would overspend the dataset's budget.
    with pytest.raises(pets.BudgetExceededError) as refused:
        pets.dp.Session(epsilon=0.6, schema=schema, budget=store)
    assert refused.value.remaining == pytest.approx(0.4)
    spec = tmp / "c.toml"
    spec.write_text('[[query]]\nkind = "count"\n')
    out = tmp / "c.json"
    count = ["dp", "query", str(data), "--schema", str(schema_path), "--spec", str(spec)]
    charged = ["--epsilon", "0.3", "--budget", str(store)]
    proc = run_cli(*count, *charged, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["budget_receipt"]["entry"] == 2
    proc = run_cli(*count, *charged)
    assert proc.returncode == 3, proc.stderr
    assert "over budget" in proc.stderr
    with pytest.raises(pets.BudgetExceededError):
        pets.synth.MST(epsilon=0.5, schema=schema, columns=["sex"], budget=store).fit(ae)
    # Python reads the file as `pets budget show` does: the same charges, the same chain.
    status = pets.dp.budget_status(store)
    assert status.verified
    assert len(status.entries) == 2
    proc = run_cli("budget", "show", str(store))
    assert proc.returncode == 0, proc.stderr
    assert status.store_id in proc.stdout
    assert status.head in proc.stdout


def test_a_federated_release_charges_the_persistent_budget(files):
    tmp, ae, schema, data, schema_path = files
    store = tmp / "fed.budget"
    proc = run_cli("budget", "init", str(store), "--rho", "0.15", "--dataset", "ae-test")
    assert proc.returncode == 0, proc.stderr
    kwargs = {"data": ae, "split_by": "provider_code", "groups": 3, "schema": schema, "rho": 0.1}
    with pytest.warns(UserWarning, match="max_trusts_per_person"):
        r = pets.federated.simulate(**kwargs, budget=store)
    assert r._release["budget_receipt"]["entry"] == 1
    # The CLI sees the same file: 0.1 of 0.15 is spent, so another 0.1 does not fit.
    cmd = ["federated", "simulate", str(data), "--schema", str(schema_path)]
    proc = run_cli(
        *cmd, "--split-by", "provider_code", "--trusts", "3", "--rho", "0.1", "--budget", str(store)
    )
    assert proc.returncode == 3, proc.stderr
    with pytest.raises(pets.BudgetExceededError):
        pets.federated.simulate(**kwargs, budget=store)
