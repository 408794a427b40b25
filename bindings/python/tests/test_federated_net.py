"""pets.federated.node and submit: a federation on loopback, from Python.

A real aggregator runs as a ``pets federated aggregator`` process over HTTPS with mutual TLS
(certificates made by ``pets federated certs``, rcgen); the three trusts' node agents run in
this process (``pets.federated.node``), and this process submits the jobs
(``pets.federated.submit``). The exact check equals the pooled counts cell for cell; the DP
release comes back as the same result object ``simulate`` returns; Ctrl-C and ``stop()``
end a node cleanly, and Ctrl-C ends a submission waiting on an aggregator that never
answers, promptly and without leaving a thread behind.
"""

import _thread
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import pets
import pets.datasets
import pets.federated

REPO = Path(__file__).resolve().parents[3]
TRUSTS = ["trust_a", "trust_b", "trust_c"]


def cli_binary() -> str:
    for candidate in (
        os.environ.get("PETS_CLI"),
        str(REPO / "target" / "release" / "pets"),
        shutil.which("pets"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("the pets CLI is not built (cargo build --release -p pets-cli)")


def tls(certs: Path, party: str) -> dict[str, str]:
    return {
        "cert": str(certs / f"{party}.pem"),
        "key": str(certs / f"{party}.key"),
        "ca": str(certs / "ca.pem"),
    }


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    pets_cli = cli_binary()
    d = tmp_path_factory.mktemp("federation")
    certs = d / "certs"
    subprocess.run(
        [pets_cli, "federated", "certs", "--out", certs, "aggregator", "analyst", *TRUSTS],
        check=True,
        capture_output=True,
    )
    data = pets.datasets.generate_ae(3_000, seed=5)
    schema = pets.datasets.ae_schema()
    schema_path = d / "ae.schema.json"
    schema.save(schema_path)
    # Each trust's own table: the providers dealt round-robin into three trusts.
    providers = sorted(set(data.column("provider_code").to_pylist()))
    tables = {}
    for i, name in enumerate(TRUSTS):
        mine = pa.array(providers[i :: len(TRUSTS)])
        tables[name] = data.filter(pc.is_in(data.column("provider_code"), value_set=mine))
    port_file = d / "agg.port"
    config = d / "agg.toml"
    config.write_text(
        f'listen = "127.0.0.1:0"\nschema = "{schema_path}"\ntrusts = {TRUSTS!r}\n'.replace("'", '"')
        + 'submitters = ["analyst"]\nallow_exact = true\nstage_seconds = 20\n'
        f'min_participants = 3\nport_file = "{port_file}"\n'
        f'[tls]\ncert = "{certs}/aggregator.pem"\nkey = "{certs}/aggregator.key"\n'
        f'ca = "{certs}/ca.pem"\n'
    )
    log = open(d / "aggregator.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [pets_cli, "federated", "aggregator", "--config", config], stdout=log, stderr=log
    )
    try:
        until = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().endswith("\n")):
            assert proc.poll() is None, (d / "aggregator.log").read_text()
            assert time.monotonic() < until, "the aggregator did not start"
            time.sleep(0.05)
        yield {
            "url": f"https://127.0.0.1:{port_file.read_text().strip()}",
            "dir": d,
            "certs": certs,
            "data": data,
            "schema": schema,
            "tables": tables,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def node_config(fed, name: str, **extra) -> dict:
    return {
        "aggregator": fed["url"],
        "poll_ms": 50,
        "wait_seconds": 60,
        "allow_exact": True,
        "tls": tls(fed["certs"], name),
        **extra,
    }


def connection(fed) -> dict:
    return {"aggregator": fed["url"], "wait_seconds": 90, "tls": tls(fed["certs"], "analyst")}


def start_nodes(fed, **extra) -> list:
    """Every trust's node in the background; `extra` goes into each node's config."""
    return [
        pets.federated.node(
            fed["tables"][name],
            schema=fed["schema"],
            config=node_config(fed, name, **extra),
            background=True,
        )
        for name in TRUSTS
    ]


def test_an_exact_check_from_python_equals_the_pooled_counts(federation):
    fed = federation
    nodes = start_nodes(fed)
    try:
        with pytest.warns(UserWarning, match="without noise"):
            r = pets.federated.submit(
                {"tables": [["sex"]], "rho": 0.5, "exact": True}, config=connection(fed)
            )
        assert r.exact
        assert r.noise is None
        assert r.counted == TRUSTS
        frame = r.frame(0)
        assert frame.column_names == ["sex", "count"]
        cells = zip(frame["sex"].to_pylist(), frame["count"].to_pylist(), strict=True)
        got = {s: c for s, c in cells if c}
        pooled = fed["data"].group_by("sex").aggregate([("sex", "count")])
        want = dict(zip(pooled["sex"].to_pylist(), pooled["sex_count"].to_pylist(), strict=True))
        assert got == want, "cell for cell"
        for n in nodes:
            rounds = n.wait(timeout=60)
            assert rounds is not None
            assert len(rounds) == 1, rounds
            assert rounds[0]["dropped_at"] is None
            assert not n.running
    finally:
        for n in nodes:
            n.stop()


def test_a_dp_release_from_a_job_file_is_the_result_simulate_returns(federation, tmp_path):
    fed = federation
    certs = fed["certs"]
    job = tmp_path / "job.toml"
    job.write_text(
        f'aggregator = "{fed["url"]}"\nwait_seconds = 90\n'
        f'[tls]\ncert = "{certs}/analyst.pem"\nkey = "{certs}/analyst.key"\n'
        f'ca = "{certs}/ca.pem"\n'
        '[job]\ntables = [["age_band", "sex"]]\nrho = 0.5\nmax_trusts_per_person = 1\n'
    )
    nodes = start_nodes(fed)
    try:
        r = pets.federated.submit(job)
        assert isinstance(r, pets.federated.FederatedResult)
        assert not r.exact
        assert r.counted == TRUSTS
        assert r.noise["mechanism"] == "distributed_discrete_gaussian"
        assert len(r.ledger["entries"]) == 1
        assert r.frame(0).column_names == ["age_band", "sex", "count"]
        assert "half_width" in r.to_pandas(0).columns
        for n in nodes:
            assert len(n.wait(timeout=60)) == 1
    finally:
        for n in nodes:
            n.stop()


def submission_file(fed, path: Path, table: str) -> Path:
    certs = fed["certs"]
    path.write_text(
        f'aggregator = "{fed["url"]}"\nwait_seconds = 120\n'
        f'[tls]\ncert = "{certs}/analyst.pem"\nkey = "{certs}/analyst.key"\n'
        f'ca = "{certs}/ca.pem"\n' + table
    )
    return path


def test_a_fit_file_runs_the_federated_fit_over_the_network_and_returns_a_model(
    federation, tmp_path
):
    # A [fit] table: MST's three rounds, one job each; the trusts' nodes take part in three
    # rounds. The model samples like pets.federated.fit's, and its ledger charges MST's
    # rounds (1-ways, candidate pairs, the tree's pairs), each once.
    fed = federation
    schema_path = fed["dir"] / "ae.schema.json"
    job = submission_file(
        fed,
        tmp_path / "fit.toml",
        f'[fit]\nschema = "{schema_path}"\nepsilon = 2.0\ndelta = 1e-9\n'
        "max_trusts_per_person = 1\n",
    )
    nodes = start_nodes(fed, rounds=3)
    try:
        model = pets.federated.submit(job)
        assert model.method == "mst (federated)"
        assert len(model.federated_rounds["rounds"]) == 3
        assert model.sample(200, seed=1).num_rows == 200
        for n in nodes:
            assert len(n.wait(timeout=60)) == 3
    finally:
        for n in nodes:
            n.stop()


def test_a_train_file_runs_federated_averaging_over_the_network(federation, tmp_path):
    fed = federation
    schema_path = fed["dir"] / "ae.schema.json"
    job = submission_file(
        fed,
        tmp_path / "train.toml",
        f'[train]\nschema = "{schema_path}"\ntarget = "admitted"\nepsilon = 2.0\n'
        "rounds = 3\nmax_trusts_per_person = 1\n",
    )
    nodes = start_nodes(fed, rounds=3)
    try:
        model = pets.federated.submit(job)
        assert isinstance(model, pets.federated.FederatedModel)
        assert len(model.rounds) == 3
        assert len(model.ledger["entries"]) == 3
        p = model.predict_proba(fed["data"].slice(0, 20))
        assert len(p) == 20
        assert all(0.0 <= x <= 1.0 for x in p)
        for n in nodes:
            assert len(n.wait(timeout=60)) == 3
    finally:
        for n in nodes:
            n.stop()


def test_ctrl_c_and_stop_end_a_node_cleanly(federation):
    fed = federation
    # A node waiting for a round that never comes: Ctrl-C (here raised in the main thread
    # after half a second) stops it and raises KeyboardInterrupt promptly.
    timer = threading.Timer(0.5, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        pets.federated.node(
            fed["tables"]["trust_a"], schema=fed["schema"], config=node_config(fed, "trust_a")
        )
    assert time.monotonic() - started < 5
    # A background node running forever: stop() ends it.
    agent = pets.federated.node(
        fed["tables"]["trust_b"],
        schema=fed["schema"],
        config=node_config(fed, "trust_b", rounds=0),
        background=True,
    )
    time.sleep(0.3)
    assert agent.running
    agent.stop()
    assert not agent.running
    assert agent.wait(timeout=1) is None
    # As a context manager, a node is stopped on exit.
    with pets.federated.node(
        fed["tables"]["trust_c"],
        schema=fed["schema"],
        config=node_config(fed, "trust_c"),
        background=True,
    ) as c:
        assert c.running
    assert not c.running


def os_threads() -> set[str]:
    """The process's threads as the OS lists them (Python's and the native ones), by id."""
    return set(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc")
def test_ctrl_c_interrupts_a_submit_to_an_aggregator_that_never_answers(federation):
    fed = federation
    # An "aggregator" that accepts the connection and then says nothing (not even the TLS
    # handshake): the submission waits, on its own tokio runtime, with the GIL released.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = {**connection(fed), "aggregator": f"https://127.0.0.1:{silent.getsockname()[1]}"}
        before = os_threads()
        # Ctrl-C after a second, from a thread, as a SIGINT would raise it in the main thread.
        timer = threading.Timer(1.0, _thread.interrupt_main)
        started = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            pets.federated.submit({"tables": [["sex"]], "rho": 0.5}, config=config)
        elapsed = time.monotonic() - started
        timer.join()
    # Raised promptly: the wait checks for signals every 100 ms (and the client's own
    # connection timeout, 10 s, is far off).
    assert 1.0 <= elapsed < 2.5, elapsed
    # Nothing left running: the submission's runtime and its worker threads are gone. By
    # thread id, not a count: a thread of an earlier test may end meanwhile.
    until = time.monotonic() + 2
    while os_threads() - before and time.monotonic() < until:
        time.sleep(0.05)
    assert not os_threads() - before, (sorted(before), sorted(os_threads()))
    assert not timer.is_alive()


def test_bad_configurations_are_refused_with_the_reason(federation):
    fed = federation
    with pytest.raises(TypeError, match="config="):
        pets.federated.submit({"tables": [["sex"]], "rho": 0.5})
    with pytest.raises(pets.PetsError, match="unknown field"):
        pets.federated.submit({"tables": [["sex"]], "rho": 0.5, "rhoo": 1}, config=connection(fed))
    with pytest.raises(pets.PetsError, match="missing field `aggregator`"):
        pets.federated.node(
            fed["tables"]["trust_a"],
            schema=fed["schema"],
            config={"tls": tls(fed["certs"], "trust_a")},
            background=True,
        )
