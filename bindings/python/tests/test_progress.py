"""Long jobs report progress to a callback (tqdm in practice) and stop cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import pets
import pets.datasets
import pets.risk
import pets.synth
from pets import _native

ROWS = 5_000


@pytest.fixture(scope="module")
def schema():
    return pets.datasets.ae_schema()


@pytest.fixture(scope="module")
def ae():
    return pets.datasets.generate_ae(ROWS, seed=2)


@pytest.fixture(scope="module")
def model(ae, schema):
    cols = ["age_band", "sex", "arrival_mode", "acuity"]
    return pets.synth.MST(1.0, schema=schema, columns=cols).fit(ae).model


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def __call__(self, *event) -> None:
        self.events.append(event)

    def stages(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "stage"]


def test_the_risk_job_reports_its_stages(ae, schema):
    rec = Recorder()
    _native.assess_risk(
        ae, schema.to_json(), '{"quasi_identifiers": ["age", "sex"], "k": 5}', progress=rec
    )
    assert rec.stages() == ["reading", "assessing"]
    reading = rec.events[0]
    assert reading == ("stage", "reading", ROWS, "rows")


def test_fit_and_sample_report_their_stages(ae, schema, model):
    rec = Recorder()
    _native.fit_mst(ae, schema.to_json(), ["sex", "acuity"], 1.0, 1e-9, progress=rec)
    assert rec.stages() == ["reading", "measuring", "fitting"]
    rec = Recorder()
    model._native.sample(20_000, 1, rec)
    assert rec.stages() == ["sampling"]
    assert rec.events[0] == ("stage", "sampling", 20_000, "rows")


def test_evaluation_reports_a_stage_per_comparison(ae, schema, model):
    rec = Recorder()
    synth = model.sample(2_000, seed=3, progress=False)
    _native.evaluate(ae, synth, schema.to_json(), progress=rec)
    assert rec.stages() == [
        "reading",
        "views",
        "marginals",
        "workload",
        "numeric",
        "utility",
        "privacy",
        "report",
    ]


def test_a_failing_display_does_not_fail_the_job(ae, schema, capsys):
    def broken(*_event):
        raise RuntimeError("display broke")

    report = _native.assess_risk(
        ae, schema.to_json(), '{"quasi_identifiers": ["sex"], "k": 1}', progress=broken
    )
    assert "RiskReport" in repr(report)  # the job finished
    assert "display broke" in capsys.readouterr().err


def test_progress_bars_with_tqdm(ae, schema, model, tmp_path):
    pytest.importorskip("tqdm")
    report = pets.risk.assess(ae, qi=["age", "sex"], k=5, schema=schema, progress=True)
    assert report.n_records == ROWS
    assert len(model.sample(100, progress=True)) == 100
    assert model.write_sample(tmp_path / "s.csv", 100, progress=False) == 100
    with pytest.raises(pets.InvalidParameterError, match="progress must be"):
        pets.risk.assess(ae, qi=["age"], schema=schema, progress="yes")  # type: ignore[arg-type]


def interrupt_after(seconds: float) -> threading.Timer:
    """Send this process SIGINT (what Ctrl-C sends) after `seconds`, from another thread."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to itself")
def test_ctrl_c_stops_sampling_and_leaves_no_file(model, tmp_path):
    out = tmp_path / "big.parquet"
    timer = interrupt_after(0.5)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt, match="stopped at the user's request"):
            model.write_sample(out, 200_000_000, progress=False)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 30  # stopped, not finished
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to itself")
def test_ctrl_c_stops_an_in_memory_sample(model):
    timer = interrupt_after(0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            model.sample(200_000_000, progress=False)
    finally:
        timer.cancel()
    # The session goes on: the next call works.
    assert len(model.sample(10)) == 10
