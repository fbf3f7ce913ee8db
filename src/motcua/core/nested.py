"""A model's rows read as one column of another statement, so a page that shows a parent with
several kinds of children reads them all in one round trip.

``Nested(DossierHistory, DossierHistory.dossier_id == Dossier.id, order_by=(DossierHistory.id,))``
is ``(SELECT array_agg(row(…every column…) ORDER BY id) FROM dossier_history WHERE …)``: a scalar
subquery, correlated to the outer statement's rows. asyncpg decodes an array of anonymous records
with each field's own type (timestamps, numbers, booleans), so nothing goes through JSON text;
``unpack`` then applies the column types' own result processing (what the ORM applies when it
loads a row: JSONB text parsed, for one) and builds the model's objects.

The objects are transient, not in the session: a page reads them, nothing writes them, and a
relationship attribute on them is not loaded. Use it for read-only pages only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, ColumnExpressionArgument, func, inspect, select, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType

M = TypeVar("M")


class Nested(Generic[M]):
    """The rows of ``model`` that match ``criteria`` (which may name the outer statement's
    tables), as one column; ``unpack`` turns that column's value into objects."""

    __slots__ = ("_columns", "_keys", "_model", "_processors", "column")

    def __init__(
        self,
        model: type[M],
        *criteria: ColumnExpressionArgument[bool],
        order_by: Sequence[ColumnExpressionArgument[Any]] = (),
    ) -> None:
        mapper = inspect(model)
        columns = list(mapper.columns)
        self._model = model
        self._columns = columns
        self._keys = [mapper.get_property_by_column(c).key for c in columns]
        record = func.row(*columns)
        aggregated = func.array_agg(aggregate_order_by(record, *order_by) if order_by else record)
        # Typed as nothing in particular: the driver's lists of tuples pass through untouched.
        self.column: ColumnElement[Any] = type_coerce(
            select(aggregated).where(*criteria).scalar_subquery(), NullType()
        )
        self._processors: dict[str, list[tuple[int, Callable[[Any], Any]]]] = {}

    def unpack(self, dialect: Dialect, value: Iterable[tuple[Any, ...]] | None) -> list[M]:
        """The objects of one outer row's value (an empty list for no rows: the aggregate of
        nothing is NULL)."""
        if not value:
            return []
        processors = self._processors.get(dialect.name)
        if processors is None:
            processors = self._processors[dialect.name] = self._processors_for(dialect)
        keys, model = self._keys, self._model
        objects = []
        for record in value:
            fields = list(record)
            for index, process in processors:
                if fields[index] is not None:
                    fields[index] = process(fields[index])
            objects.append(model(**dict(zip(keys, fields, strict=True))))
        return objects

    def _processors_for(self, dialect: Dialect) -> list[tuple[int, Callable[[Any], Any]]]:
        found = []
        for index, column in enumerate(self._columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                found.append((index, process))
        return found
