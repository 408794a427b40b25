"""Run the examples in the package's docstrings."""

import doctest
import importlib

import pytest

MODULES = [
    "pets",
    "pets._schema",
    "pets._encode",
    "pets._io",
    "pets.datasets",
    "pets.errors",
    "pets.risk",
    "pets.anonymise",
    "pets.table",
    "pets.federated",
    "pets.dp",
    "pets.synth",
    "pets.outputs",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
