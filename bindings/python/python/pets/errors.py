"""Exceptions and warnings raised by pets.

Errors raised by the Rust core keep its message unchanged and carry two attributes,
``column`` and ``row`` (the 1-based data row, header excluded), which are ``None`` when the
error is not about a particular column or row.

Hierarchy::

    PetsError(Exception)
    ├── SchemaError          invalid/unparsable schema, data not matching it, unknown column
    ├── DomainError          value outside the declared domain, null where none allowed
    │                        (also a ValueError)
    ├── ParseError           value not of its column's kind, malformed CSV, a pandas column
    │                        pyarrow cannot convert (also a ValueError)
    ├── EmptyInputError      a table or file with no rows
    ├── PetsIOError          unreadable/unwritable path, unknown extension (also an OSError)
    ├── InvalidParameterError  a setting out of range: k < 1, t outside [0, 1], epsilon <= 0,
    │                        clamping bounds with lower > upper, an int too large for its
    │                        argument (also a ValueError)
    └── BudgetExceededError  a DP query that would overspend its session's budget; nothing
                             was released (``requested``, ``remaining`` say by how much)

Example:
    >>> import pets
    >>> try:
    ...     pets.Schema.from_json('{"columns": []}')
    ... except pets.SchemaError as e:
    ...     print(e)
    invalid schema: schema declares no columns
"""

from __future__ import annotations

from pets._native import (
    BudgetExceededError,
    DomainError,
    EmptyInputError,
    InvalidParameterError,
    ParseError,
    PetsError,
    PetsIOError,
    SchemaError,
)

__all__ = [
    "BudgetExceededError",
    "DomainError",
    "DomainFromDataWarning",
    "EmptyInputError",
    "InvalidParameterError",
    "ParseError",
    "PetsError",
    "PetsIOError",
    "SchemaError",
]


class DomainFromDataWarning(UserWarning):
    """A schema's domains were read from the data rather than declared.

    Differential privacy and disclosure control need *public* domains: categories and
    bounds read from private data leak which values occur (the presence of a rare diagnosis
    is itself a disclosure). Review an inferred schema, widen it to public limits, clear
    ``domain_from_data`` and use the reviewed file for any release.
    """
