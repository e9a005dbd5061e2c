"""Plain `str`/`bool` parameters skip typer's pydantic coercion and behave exactly as before;
every other parameter is still coerced and checked by typer (recaudit.plainparams)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from recaudit.plainparams import PlainCommand, PlainGroup, pass_through_plain


def _app(cls: type[typer.core.TyperCommand] | None) -> typer.Typer:
    app = typer.Typer(cls=PlainGroup if cls else None)
    seen: dict[str, object] = {}

    @app.command(cls=cls)
    def run(
        name: Annotated[str, typer.Argument()] = "default",
        fmt: Annotated[str, typer.Option("--format", "-f")] = "table",
        flag: Annotated[bool, typer.Option("--flag")] = False,
        jobs: Annotated[int | None, typer.Option(min=1)] = None,
        path: Annotated[Path | None, typer.Option()] = None,
        tags: Annotated[list[str] | None, typer.Option("--tag")] = None,
    ) -> None:
        seen.update(name=name, fmt=fmt, flag=flag, jobs=jobs, path=path, tags=tags)
        typer.echo(repr(sorted(seen.items())))

    @app.command()
    def other() -> None:  # a second command, so that `run` is a subcommand
        typer.echo("other")

    return app


ARGS = [
    ["run"],
    ["run", "x", "-f", "json", "--flag", "--jobs", "3", "--path", "a/b", "--tag", "t"],
    ["run", "--format=csv", "--", "-dash"],
    ["run", "--jobs", "0"],
    ["run", "--jobs", "two"],
    ["run", "--flag=yes"],
    ["run", "--help"],
    ["run", "a", "b"],
]


@pytest.mark.parametrize("args", ARGS, ids=" ".join)
def test_same_values_output_and_errors_as_plain_typer(args: list[str]) -> None:
    runner = CliRunner()
    plain = runner.invoke(_app(PlainCommand), args)
    usual = runner.invoke(_app(None), args)
    assert (plain.exit_code, plain.output) == (usual.exit_code, usual.output)


def test_bounds_are_still_checked_and_values_typed() -> None:
    runner = CliRunner()
    bad = runner.invoke(_app(PlainCommand), ["run", "--jobs", "0"])
    assert bad.exit_code == 2
    assert "--jobs" in bad.output
    good = runner.invoke(_app(PlainCommand), ["run", "--jobs", "2", "--path", "p"])
    assert "('jobs', 2)" in good.output
    assert f"('path', {Path('p')!r})" in good.output


def test_only_single_plain_values_are_passed_through() -> None:
    command = typer.main.get_command(_app(PlainCommand)).commands["run"]  # type: ignore[attr-defined]
    ctx = command.make_context("run", ["x"], resilient_parsing=True)
    passed = {
        p.name: type(p._runtime_param).__name__ == "PassThroughRuntimeParam"
        for p in command.get_params(ctx)
    }
    assert passed == {
        "name": True,
        "fmt": True,
        "flag": True,
        "help": True,
        "jobs": False,
        "path": False,
        "tags": False,
    }


def test_a_parameter_already_coerced_or_foreign_is_left_alone() -> None:
    class Foreign:
        nargs = 1
        multiple = False

    foreign = Foreign()
    pass_through_plain(foreign)  # no type_descriptor: not a typer parameter
    assert not hasattr(foreign, "_runtime_param")
