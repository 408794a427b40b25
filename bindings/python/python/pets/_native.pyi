"""Type stubs of the native module ``pets._native`` (Rust, pyo3).

Internal: use the documented API of :mod:`pets` instead.
"""

import datetime
import os
from collections.abc import Callable
from typing import Any

import pyarrow as pa

__version__: str

class PetsError(Exception):
    column: str | None
    row: int | None

class SchemaError(PetsError): ...
class EmptyInputError(PetsError): ...
class DomainError(PetsError, ValueError): ...
class ParseError(PetsError, ValueError): ...
class PetsIOError(PetsError, OSError): ...
class InvalidParameterError(PetsError, ValueError): ...

class BudgetExceededError(PetsError):
    requested: float | None
    remaining: float | None
    spent: float | None
    total: float | None

_Path = str | os.PathLike[str]

def schema_from_json(text: str) -> str: ...
def schema_from_toml(text: str) -> str: ...
def schema_load(path: _Path) -> str: ...
def schema_save(schema_json: str, path: _Path) -> None: ...
def schema_to_toml(schema_json: str) -> str: ...
def infer_schema(table: Any, max_categories: int = ..., name: str | None = ...) -> str: ...
def infer_schema_file(path: _Path, max_categories: int = ..., name: str | None = ...) -> str: ...
def read_table(
    path: _Path, csv: str | None = None, schema: str | None = None
) -> tuple[pa.Table, list[str]]: ...
def write_table(table: Any, path: _Path) -> int: ...
def encode(
    table: Any, schema_json: str, columns: list[str] | None = ..., out_of_domain: str = ...
) -> Encoded: ...
def encode_file(
    path: _Path, schema_json: str, columns: list[str] | None = ..., out_of_domain: str = ...
) -> Encoded: ...

class Encoded:
    @property
    def n_rows(self) -> int: ...
    @property
    def names(self) -> list[str]: ...
    def report_json(self) -> str: ...
    def schema_json(self) -> str: ...
    def codes(self, name: str) -> pa.UInt32Array: ...
    def codes_table(self) -> pa.Table: ...
    def cardinality(self, name: str) -> int: ...
    def codebook(self, name: str) -> tuple[int, int | None, int | None]: ...
    def labels(self, name: str) -> list[str]: ...
    def counts(self, name: str) -> list[int]: ...
    def decode(self, placement: str = ..., seed: int = ..., other_label: str = ...) -> pa.Table: ...
    def __len__(self) -> int: ...

def generate_ae(
    rows: int,
    seed: int = ...,
    start_date: datetime.date | None = ...,
    days: int | None = ...,
    batch_rows: int | None = ...,
) -> pa.Table: ...
def ae_schema(start_date: datetime.date | None = ..., days: int | None = ...) -> str: ...
def write_ae(
    path: _Path,
    rows: int,
    seed: int = ...,
    start_date: datetime.date | None = ...,
    days: int | None = ...,
    batch_rows: int | None = ...,
) -> dict[str, Any]: ...
def inferred_schema_warning() -> str: ...
def assess_risk(
    data: Any,
    schema_json: str | None,
    config_json: str,
    population: Any | None = ...,
    attacker: Any | None = ...,
    generalise: list[tuple[str, str]] = ...,
    hierarchy: dict[str, list[str]] | None = ...,
    ground_distance: str = ...,
    progress: Callable[..., None] | None = ...,
) -> RiskReport: ...
def anonymise(
    data: Any,
    schema_json: str | None,
    config_json: str,
    hierarchies: dict[str, str],
    suppression_limit: float = ...,
    measure: str = ...,
    front_slack: float = ...,
    output: str | None = ...,
    mask: bool = ...,
    ground_distance: str = ...,
    drop: list[str] = ...,
    microaggregate: dict[str, str] = ...,
    local_recoding: int = ...,
    progress: Callable[..., None] | None = ...,
) -> AnonymiseResult: ...
def protect_tables(
    data: Any,
    schema_json: str | None,
    tables: list[list[str]],
    rule: str = ...,
    threshold: int = ...,
    protection: int | None = ...,
) -> tuple[str, list[str]]: ...
def federated_simulate(
    trusts: list[tuple[str, Any]],
    schema_json: str,
    tables: list[list[str]],
    rho: float,
    protocol: str = ...,
    threshold: int | None = ...,
    colluders: int = ...,
    person_id: str | None = ...,
    max_rows_per_person: int = ...,
    max_trusts_per_person: int | None = ...,
    max_count: int | None = ...,
    drops: dict[str, str] = ...,
    alpha: float = ...,
    seed: int = ...,
    data: Any | None = ...,
    split_by: str | None = ...,
    groups: int | None = ...,
    budget: str | None = ...,
    values: list[str] = ...,
) -> str: ...
def federated_fit(
    trusts: list[tuple[str, Any]],
    schema_json: str,
    epsilon: float,
    delta: float = ...,
    protocol: str = ...,
    threshold: int | None = ...,
    colluders: int = ...,
    person_id: str | None = ...,
    max_rows_per_person: int = ...,
    max_trusts_per_person: int | None = ...,
    max_count: int | None = ...,
    drops: dict[str, str] = ...,
    seed: int = ...,
    data: Any | None = ...,
    split_by: str | None = ...,
    groups: int | None = ...,
    budget: str | None = ...,
    max_values: int = ...,
    selection_share: float | None = ...,
    iters: int | None = ...,
    progress: Any | None = ...,
) -> tuple[SynthModel, str]: ...
def federated_node(
    data: Any,
    schema_json: str,
    config_path: str | None = ...,
    config_json: str | None = ...,
) -> NodeAgent: ...
def federated_submit(
    job_path: str | None = ...,
    job_json: str | None = ...,
    config_path: str | None = ...,
    config_json: str | None = ...,
) -> tuple[str, str, Any | None, str | None]: ...

class NodeAgent:
    def wait(self, timeout: float | None = ...) -> str | None: ...
    def stop(self) -> None: ...
    @property
    def running(self) -> bool: ...

def federated_train(
    trusts: list[tuple[str, Any]],
    schema_json: str,
    target: str,
    epsilon: float,
    delta: float = ...,
    positive: str | None = ...,
    features: list[str] | None = ...,
    rounds: int = ...,
    clip: float | None = ...,
    learning_rate: float = ...,
    l2: float = ...,
    protocol: str = ...,
    threshold: int | None = ...,
    colluders: int = ...,
    person_id: str | None = ...,
    max_rows_per_person: int = ...,
    max_trusts_per_person: int | None = ...,
    drops: dict[str, str] = ...,
    seed: int = ...,
    data: Any | None = ...,
    split_by: str | None = ...,
    groups: int | None = ...,
    budget: str | None = ...,
    progress: Any | None = ...,
) -> str: ...
def federated_predict(model_json: str, schema_json: str, table: Any) -> list[float]: ...

class AnonymiseResult:
    def to_json(self, pretty: bool = ...) -> str: ...
    def to_html(self) -> str: ...
    def release_schema_json(self) -> str: ...
    def before(self) -> RiskReport: ...
    def after(self) -> RiskReport: ...
    def warnings(self) -> list[str]: ...

class RiskReport:
    @property
    def passed(self) -> bool: ...
    @property
    def verdict(self) -> str: ...
    def to_json(self, pretty: bool = ...) -> str: ...
    def to_html(self) -> str: ...

class DpSession:
    def __init__(
        self,
        epsilon: float | None = ...,
        rho: float | None = ...,
        delta: float = ...,
        alpha: float | None = ...,
        split_evenly_over: int | None = ...,
    ) -> None: ...
    @property
    def alpha(self) -> float: ...
    def total(self) -> str: ...
    def weak_budget_warning(self) -> str | None: ...
    def spent(self) -> str: ...
    def remaining(self) -> str: ...
    def default_share(self) -> str | None: ...
    def ledger(self) -> str: ...
    def query(
        self,
        data: Any,
        schema_json: str | None,
        query_json: str,
        share_json: str | None = ...,
        noise: str = ...,
        id_column: str | None = ...,
        max_rows_per_person: int = ...,
        seed: int = ...,
    ) -> str: ...

def budget_init(
    path: str,
    dataset: str,
    epsilon: float | None = ...,
    rho: float | None = ...,
    delta: float = ...,
    note: str | None = ...,
) -> str: ...
def budget_status(path: str) -> str: ...
def fit_mst(
    data: Any,
    schema_json: str | None,
    columns: list[str] | None,
    epsilon: float,
    delta: float,
    max_iters: int | None = ...,
    tolerance: float | None = ...,
    max_clique_cells: int | None = ...,
    max_pair_cells: int | None = ...,
    compress: bool = ...,
    max_values: int = ...,
    noise_penalty: bool = ...,
    score_threshold: float = ...,
    person_id: str | None = ...,
    max_rows_per_person: int = ...,
    bounding_seed: int = ...,
    strict: bool = ...,
    budget: str | None = ...,
    progress: Callable[..., None] | None = ...,
    method: str = ...,
    degree: int | None = ...,
    workload: list[list[str]] | None = ...,
    rounds: int | None = ...,
    stage: str = ...,
    partials: list[bytes] | None = ...,
    privbayes_score: str | None = ...,
    tree_share: float | None = ...,
    max_model_cells: int | None = ...,
    sparse_pairs: bool | None = ...,
) -> Any: ...
def prepare_domain(
    schema_json: str, columns: list[str] | None = ..., max_values: int = ...
) -> tuple[str, list[str]]: ...
def evaluate(
    real: Any,
    synth: Any,
    schema_json: str,
    holdout: Any | None = ...,
    target: str | None = ...,
    positive: str | None = ...,
    features: list[str] | None = ...,
    workload: list[list[str]] | None = ...,
    sample_rows: int = ...,
    seed: int = ...,
    progress: Any | None = ...,
) -> EvalReport: ...

class EvalReport:
    def to_json(self, pretty: bool = ...) -> str: ...
    def to_html(self) -> str: ...
    def summary(self) -> list[str]: ...

class SynthModel:
    @staticmethod
    def load(path: _Path) -> SynthModel: ...
    @staticmethod
    def from_json(text: str) -> SynthModel: ...
    def save(self, path: _Path) -> None: ...
    def to_json(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def epsilon(self) -> float: ...
    @property
    def delta(self) -> float: ...
    @property
    def rho(self) -> float: ...
    @property
    def columns(self) -> list[str]: ...
    def schema_json(self) -> str: ...
    @property
    def n_measurements(self) -> int: ...
    def measurements(self) -> list[tuple[list[str], float, int, float | None]]: ...
    @property
    def selected(self) -> list[list[str]]: ...
    @property
    def total(self) -> float: ...
    @property
    def default_rows(self) -> int: ...
    def estimation_json(self) -> str: ...
    def ledger_json(self) -> str: ...
    def warnings(self) -> list[str]: ...
    @property
    def notes(self) -> list[str]: ...
    def sample(
        self, rows: int, seed: int, progress: Callable[..., None] | None = ...
    ) -> pa.Table: ...
    def write_sample(
        self, path: _Path, rows: int, seed: int, progress: Callable[..., None] | None = ...
    ) -> int: ...

# Output checking (pets::outputs): checked tables cross as JSON (record.json's form).
def outputs_table(
    data: Any,
    by: list[str],
    values: str | None = ...,
    agg: str = ...,
    schema_json: str | None = ...,
    rules_path: str | None = ...,
    rules_json: str | None = ...,
    hes: bool = ...,
    mitigate: str = ...,
) -> tuple[str, list[str]]: ...
def outputs_survival(
    data: Any,
    time: str,
    event: str,
    rules_path: str | None = ...,
    rules_json: str | None = ...,
    hes: bool = ...,
    mitigate: str = ...,
) -> tuple[str, list[str]]: ...
def outputs_model(
    fit_json: str,
    rules_path: str | None = ...,
    rules_json: str | None = ...,
    hes: bool = ...,
) -> str: ...
def outputs_bundle_append(
    dir: str,
    table_json: str,
    call: str,
    data_path: str | None = ...,
    source_name: str | None = ...,
    sha256: str | None = ...,
    exception: str | None = ...,
) -> str: ...
def outputs_bundle_exception(dir: str, id: str, reason: str) -> None: ...
def outputs_bundle_decide(dir: str, id: str, decision: str, reason: str = ...) -> None: ...
def outputs_bundle_read(dir: str) -> tuple[str, str]: ...
