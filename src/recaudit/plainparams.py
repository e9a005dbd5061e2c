"""Typer groups and commands whose plain `str` and `bool` parameters are not coerced by pydantic.

typer 0.29 coerces every command-line value, the unset `--help` flag of each group and
command included, through a pydantic `TypeAdapter` it builds on first use (typer/core.py
`get_runtime_param`; typer/_coercion.py `build_runtime_param` always imports
typer/_adapters.py, which imports pydantic). No parameter declaration avoids that: even a
command without parameters coerces its `--help`. Importing pydantic and building the
adapters is about 110 ms of `recaudit rules list`, against issue 8's 300 ms.

For a single-valued `str` or `bool` parameter without a parser, the adapter returns the
value unchanged: command-line values, environment values and our defaults are already
`str`, flags are `bool` or unset (None, which typer passes through before coercing). That
is exactly what typer's own pass-through coercion does (`PassThroughRuntimeParam`, used
for annotations pydantic cannot handle), so such parameters of the light commands are
given that coercion before typer builds an adapter. Anything else (numbers with bounds,
paths, lists, parsers) is left to typer.

This leans on two typer internals: the lazily built `_runtime_param` of a parameter and
`typer._coercion.PassThroughRuntimeParam`. With a typer that has neither, nothing is
changed and typer coerces as usual: slower, never different. tests/test_startup.py checks
that `rules list` imports no pydantic, so losing the shortcut does not go unnoticed.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup

try:
    from typer._coercion import PassThroughRuntimeParam
except ImportError:  # a typer without pydantic adapters (or with other internals)
    PassThroughRuntimeParam = None  # type: ignore[assignment,misc]

PLAIN = (str, bool)


def pass_through_plain(param: Any) -> None:
    """Give `param` typer's pass-through coercion if pydantic's would not change its value."""
    descriptor = getattr(param, "type_descriptor", None)
    if (
        PassThroughRuntimeParam is None
        or descriptor is None
        or getattr(param, "_runtime_param", False) is not None  # built, or not a typer param
        or descriptor.annotation not in PLAIN
        or descriptor.parameter_info.parser is not None
        or descriptor.file_annotation is not None
        or param.nargs != 1
        or param.multiple
    ):
        return
    param._runtime_param = PassThroughRuntimeParam(
        annotation=descriptor.annotation, parameter_info=descriptor.parameter_info
    )


class _PlainParams:
    """Mixed into a typer group or command: its plain parameters, `--help` included, skip
    pydantic."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            pass_through_plain(param)
        return params


class PlainGroup(_PlainParams, TyperGroup):
    """A typer group (pass as `typer.Typer(cls=...)`) whose own plain parameters skip
    pydantic."""


class PlainCommand(_PlainParams, TyperCommand):
    """A typer command (pass as `@app.command(cls=...)`) whose plain parameters skip
    pydantic."""
