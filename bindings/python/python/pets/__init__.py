"""pets: privacy-enhancing technologies for NHS health data.

The Python face of the pets Rust core. Data flows ``read -> schema -> encode -> compute ->
decode``:

- :class:`Schema` is the public, declared description of a table's columns (load one,
  write one, or :func:`infer_schema` one from data, with a loud warning);
- :func:`encode` turns a pandas/polars DataFrame, a pyarrow Table or a CSV/Parquet file into
  dense ``uint32`` codes (:class:`Encoded`), which :meth:`Encoded.decode` turns back;
- :func:`read_table` / :func:`write_table` do CSV and Parquet I/O through Rust;
- :mod:`pets.datasets` generates synthetic A&E attendance data at any scale;
- :mod:`pets.risk` assesses the disclosure risk of a record-level extract (``pets risk``);
- :func:`anonymise` finds and applies the least coarsening that passes (``pets anonymise``);
- :mod:`pets.table` protects published count tables (``pets table``);
- :mod:`pets.outputs` checks tables and models leaving a secure environment (``pets outputs``);
- :mod:`pets.federated` answers across trusts without pooling rows (``pets federated``);
- :mod:`pets.dp` answers aggregate queries with differential privacy under a budget;
- :mod:`pets.synth` fits differentially private synthesisers (MST, PrivBayes, AIM) and
  samples records.

Tables cross into Rust through the Arrow PyCapsule interface without copying, and the heavy
work runs without holding the GIL.

Example:
    >>> import pets, pets.datasets
    >>> table = pets.datasets.generate_ae(2_000, seed=7)
    >>> schema = pets.datasets.ae_schema()
    >>> enc = pets.encode(table, schema, columns=["sex", "age_band", "arrival_mode"])
    >>> enc.names
    ['sex', 'age_band', 'arrival_mode']
    >>> enc.decode().num_rows
    2000
"""

from __future__ import annotations

from pets import datasets, dp, federated, outputs, risk, synth, table
from pets._encode import Encoded, encode, infer_schema
from pets._io import read_table, write_table
from pets._native import __version__
from pets._schema import Column, Schema
from pets.anonymise import AnonymiseResult, anonymise
from pets.errors import (
    BudgetExceededError,
    DomainError,
    DomainFromDataWarning,
    EmptyInputError,
    InvalidParameterError,
    ParseError,
    PetsError,
    PetsIOError,
    SchemaError,
)

__all__ = [
    "AnonymiseResult",
    "BudgetExceededError",
    "Column",
    "DomainError",
    "DomainFromDataWarning",
    "EmptyInputError",
    "Encoded",
    "InvalidParameterError",
    "ParseError",
    "PetsError",
    "PetsIOError",
    "Schema",
    "SchemaError",
    "__version__",
    "anonymise",
    "datasets",
    "dp",
    "encode",
    "federated",
    "infer_schema",
    "outputs",
    "read_table",
    "risk",
    "synth",
    "table",
    "write_table",
]
