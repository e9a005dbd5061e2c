"""The `recaudit` command line. Each command parses its arguments and calls the library.

Heavy modules (spaCy, openpyxl, jinja2, pydantic models, even rich) are imported inside
commands so that `recaudit --help` and `recaudit rules list` start instantly (issue 8;
tests/test_startup.py checks what they import, benchmarks/startup.py times them).
"""

from __future__ import annotations

import gc
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from recaudit.plainparams import PlainCommand, PlainGroup

if TYPE_CHECKING:
    from rich.console import Console

    from recaudit.audit import Audit
    from recaudit.rulepack.problems import PackError

app = typer.Typer(
    name="recaudit",
    help="Audit the quality of children's social care case records against a rule pack.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    cls=PlainGroup,  # with PlainCommand: `--help`, `--version`, `rules list` need no pydantic
)


class _LazyConsole:
    """A rich Console made on first use: importing rich takes ~40 ms that `--help` and the
    csv/json listings do not need. The console looks up its stream and width when it
    prints, not when it is made, so making it later changes nothing. Hand rich objects
    `real_console(...)`, not this stand-in (rich uses a console as a context manager)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def real(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


console = cast("Console", _LazyConsole())
err_console = cast("Console", _LazyConsole(stderr=True))


def real_console(lazy: Console) -> Console:
    """The rich Console behind `console` or `err_console`."""
    return cast(_LazyConsole, lazy).real()


EXIT_INPUT = 1
EXIT_USAGE = 2

RulesOption = Annotated[
    str | None,
    typer.Option(
        "--rules", "-r", help="Rule pack: a folder with pack.yaml, or a shipped pack's name."
    ),
]


def _fail(message: str, code: int) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _show_version(value: bool) -> None:
    if value:
        from recaudit import __version__

        typer.echo(f"recaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Audit the quality of children's social care case records against a rule pack."""


def load_pack_or_exit(ref: str | None, check_terms: bool = True):  # -> Pack
    from recaudit.rulepack import PackError, load_pack

    try:
        return load_pack(ref, check_terms=check_terms)
    except PackError as exc:
        raise _invalid_pack(exc) from None


def _invalid_pack(exc: PackError) -> typer.Exit:
    for problem in exc.problems:
        err_console.print(str(problem), highlight=False, soft_wrap=True, markup=False)
    return _fail(f"invalid rule pack ({len(exc.problems)} problem(s))", EXIT_USAGE)


MappingOption = Annotated[
    Path | None,
    typer.Option("--mapping", "-m", help="Mapping YAML: read the inputs as CSV/XLSX exports."),
]
EncodingOption = Annotated[
    str | None,
    typer.Option(help="Encoding of CSV exports (default: detect UTF-8, UTF-8-BOM, cp1252)."),
]


def mapped_sources_or_exit(inputs: list[Path], mapping: Path, encoding: str | None):  # -> list
    from recaudit.mapping import ExportError, MappingError, mapped_exports

    try:
        sources = mapped_exports(inputs, mapping, encoding=encoding)
    except MappingError as exc:
        for problem in exc.problems:
            err_console.print(str(problem), highlight=False, soft_wrap=True, markup=False)
        raise _fail(f"invalid mapping ({len(exc.problems)} problem(s))", EXIT_USAGE) from None
    except ExportError as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    return sources


def _print_warnings(sources: list) -> None:
    for source in sources:
        for warning in getattr(source, "warnings", []):
            err_console.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)


def print_privacy(findings: list, limit: int = 10) -> None:
    from collections import Counter

    kinds = Counter(f.kind for f in findings)
    shown = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    err_console.print(
        f"privacy: {len(findings)} possible identifier(s) in the input ({shown})",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for finding in findings[:limit]:
        err_console.print(
            f"  {finding.source} {finding.location}: {finding.kind} {finding.masked}".rstrip(),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if len(findings) > limit:
        err_console.print(f"  … and {len(findings) - limit} more", highlight=False)


@app.command(cls=PlainCommand)
def audit(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Canonical records (.jsonl or .json), or CSV/XLSX exports with --mapping.",
            show_default=False,
        ),
    ],
    rules: RulesOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the reports.")] = Path(
        "audit-out"
    ),
    period: Annotated[
        str | None, typer.Option(help="Audit period shown in the reports, e.g. '2023-24 Q1'.")
    ] = None,
    formats: Annotated[
        str, typer.Option("--format", help="Reports to write, comma-separated: json,xlsx,html.")
    ] = "json,xlsx,html",
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Worker processes for evaluating records [default: all cores].",
            show_default=False,
        ),
    ] = None,
    per_worker: Annotated[
        bool,
        typer.Option("--per-worker", help="Also write one report per worker under OUT/workers/."),
    ] = False,
    mapping: MappingOption = None,
    encoding: EncodingOption = None,
    strict_anonymisation: Annotated[
        bool,
        typer.Option(
            "--strict-anonymisation",
            help="Write no report when the input holds possible identifiers (exit status 1).",
        ),
    ] = False,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the HTML report: en (default) or cy.")
    ] = "en",
) -> None:
    """Audit records and write audit.json, audit.xlsx and audit.html."""
    from recaudit.audit import REPORT_FORMATS, InputError, run_audit, write_reports
    from recaudit.report.i18n import languages

    if lang not in languages():
        raise _fail(f"--lang: no report language {lang!r}; choose from {languages()}", EXIT_USAGE)

    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(REPORT_FORMATS))
    if unknown or not chosen:
        raise _fail(
            f"--format: unknown report format(s) {unknown}; choose from {REPORT_FORMATS}",
            EXIT_USAGE,
        )
    from recaudit.parallel import default_jobs

    pack = load_pack_or_exit(rules)
    processes = jobs or default_jobs()
    sources = mapped_sources_or_exit(inputs, mapping, encoding) if mapping else list(inputs)
    try:
        result = _run_with_progress(
            lambda tick: run_audit(sources, pack, period=period, on_record=tick, jobs=processes)
        )
    except InputError as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read input: {exc}", EXIT_INPUT) from None
    _print_warnings(sources)
    if result.privacy:
        print_privacy(result.privacy)
        if strict_anonymisation:
            raise _fail(
                "--strict-anonymisation: the input is not anonymised; no report was written",
                EXIT_INPUT,
            )
    written = write_reports(result, out, chosen, per_worker=per_worker, lang=lang, jobs=processes)
    print_summary(result, written)


@app.command(cls=PlainCommand)
def convert(
    inputs: Annotated[list[Path], typer.Argument(help="CSV/XLSX exports.", show_default=False)],
    mapping: Annotated[Path, typer.Option("--mapping", "-m", help="Mapping YAML.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Canonical records to write.")] = Path(
        "records.jsonl"
    ),
    encoding: EncodingOption = None,
) -> None:
    """Convert exports to canonical records (.jsonl) through a mapping, to check it by eye.

    Rejected rows are written beside OUT as OUT.rejected.jsonl."""
    import json

    from recaudit.mapping import ExportError
    from recaudit.mapping import convert as convert_exports

    sources = mapped_sources_or_exit(inputs, mapping, encoding)
    try:
        result = convert_exports(sources, out)
    except ExportError as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    _print_warnings(sources)
    rejected_path = out.with_name(out.name + ".rejected.jsonl")
    if result.rejected:
        with rejected_path.open("w", encoding="utf-8", newline="\n") as handle:
            for rejection in result.rejected:
                handle.write(json.dumps(rejection.as_dict(), ensure_ascii=False) + "\n")
    console.print(
        f"wrote {result.written} record(s) to {out}; {len(result.rejected)} rejected"
        + (f" (see {rejected_path})" if result.rejected else ""),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _run_with_progress(work):  # work(tick) -> Audit
    if not err_console.is_terminal:
        # No display to draw on: rich.progress (~30 ms to import) would be disabled anyway.
        return work(lambda n: None)
    from rich.progress import (
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("auditing records"),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=real_console(err_console),
        transient=True,
    ) as progress:
        task = progress.add_task("audit", total=None)
        return work(lambda n: progress.update(task, completed=n))


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def print_summary(result: Audit, written: list[Path]) -> None:
    from rich.table import Table

    pack = result.pack
    table = Table(title=f"{pack.name} {pack.version}: compliance by rule", title_justify="left")
    for column in ("rule", "applicable", "met", "partial", "not met", "compliance"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for rule in pack.rules:
        tally = result.service.rules.get(rule.id)
        if tally is None:
            continue
        table.add_row(
            rule.id,
            str(tally.applicable),
            str(tally.met),
            str(tally.partial),
            str(tally.not_met),
            _percent(tally.compliance),
        )
    console.print(table)
    score = result.service.score
    console.print(
        f"Service score {_percent(score)} ({result.service_grade() or 'no grade'}) over "
        f"{len(result.records)} audited record(s); {len(result.rejected)} rejected "
        f"of {result.records_in} read.",
        highlight=False,
    )
    for rejection in islice(result.rejected, 10):
        console.print(
            f"  rejected {rejection.source}: {rejection.error}", highlight=False, markup=False
        )
    if len(result.rejected) > 10:
        console.print(f"  … and {len(result.rejected) - 10} more (see audit.json)", highlight=False)
    for path in written:
        console.print(f"wrote {path}", highlight=False, markup=False)


OUTCOME_STYLE = {
    "met": "bold green",
    "partial": "bold yellow",
    "not_met": "bold red",
    "not_applicable": "dim",
}


def _highlighted(sentence: str, offset: int, spans: list[tuple[int, int, str]]):  # -> Text
    from rich.text import Text

    text = Text(" ".join(sentence.split("\n")))
    for start, end, style in spans:
        lo, hi = max(0, start - offset), min(len(sentence), end - offset)
        if hi > lo:
            text.stylize(style, lo, hi)
    return text


@app.command(cls=PlainCommand)
def explain(
    input: Annotated[Path, typer.Argument(help="Canonical records (.jsonl or .json).")],
    record_id: Annotated[str, typer.Argument(help="The record to explain.")],
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule id.")] = None,
    rules: RulesOption = None,
) -> None:
    """Show a record's outcomes with highlighted evidence, the cues that fired, and the
    sentences that almost counted and why not."""
    from recaudit.explain import RecordNotFound, explain_record, find_record

    pack = load_pack_or_exit(rules)
    if not input.is_file():
        raise _fail(f"cannot read {input}", EXIT_INPUT)
    try:
        record = find_record([input], record_id)
        explanation = explain_record(record, pack, rule)
    except RecordNotFound:
        raise _fail(f"no record {record_id!r} in {input}", EXIT_INPUT) from None
    except KeyError as exc:
        raise _fail(str(exc.args[0]), EXIT_USAGE) from None
    console.print(
        f"[bold]{explanation.record_id}[/] ({explanation.case_type}) — pack {pack.name}",
        highlight=False,
    )
    for item in explanation.rules:
        style = OUTCOME_STYLE.get(item.outcome, "")
        console.print()
        console.print(
            f"[{style}]{item.outcome.upper()}[/]  [bold]{item.rule_id}[/] — {item.title}",
            highlight=False,
        )
        console.print(f"  reason: {item.reason}", highlight=False, markup=False)
        for ev in item.evidence:
            sentence = ev.sentence or ev.text
            offset = ev.sentence_start if ev.sentence_start is not None else ev.start
            spans = [(ev.start, ev.end, "bold reverse green")]
            spans += [
                (c.start, c.end, "underline yellow")
                for c in item.cues
                if c.note_id == ev.note_id and offset <= c.start < offset + len(sentence)
            ]
            line = _highlighted(sentence, offset, spans)
            line.pad_left(4)
            console.print(f"  evidence {ev.note_id} [{ev.start}:{ev.end}]:", highlight=False)
            console.print(line)
        if item.cues:
            shown = ", ".join(f"{c.category} '{c.text}' ({c.note_id})" for c in item.cues[:12])
            console.print(f"  cues fired: {shown}", highlight=False, markup=False)
        if item.near_misses:
            console.print("  almost counted:", highlight=False)
            for miss in item.near_misses[:10]:
                spans = [(miss.start, miss.end, "bold red")]
                spans += [(c.start, c.end, "underline yellow") for c in miss.cues]
                line = _highlighted(miss.sentence, miss.sentence_start, spans)
                line.pad_left(4)
                console.print(line)
                console.print(
                    f"      {miss.note_id}: not '{miss.tier}' — " + "; ".join(miss.why_not),
                    highlight=False,
                    markup=False,
                )


@app.command(cls=PlainCommand)
def evaluate(
    input: Annotated[list[Path], typer.Argument(help="Canonical records (.jsonl or .json).")],
    gold: Annotated[Path, typer.Option("--gold", help="Human labels (gold.jsonl format).")],
    rules: RulesOption = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Only these rule ids.")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Agreement between the pack's outcomes and human audit labels: per-rule confusion
    matrix, precision/recall/F1 for met, Cohen's kappa."""
    import json

    from rich.table import Table

    from recaudit.evaluate import GoldError, evaluate_files

    if format not in ("table", "json"):
        raise _fail("--format must be table or json", EXIT_USAGE)
    pack = load_pack_or_exit(rules)
    for path in [*input, gold]:
        if not path.is_file():
            raise _fail(f"cannot read {path}", EXIT_INPUT)
    try:
        result = evaluate_files(input, gold, pack, rule)
    except GoldError as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    if format == "json":
        print(json.dumps(result.as_dict(), indent=2))
        return
    table = Table(title=f"Agreement with {gold.name} ({result.records_audited} records)")
    for column in ("rule", "labels", "agreement", "kappa", "met P", "met R", "met F1"):
        table.add_column(column, justify="left" if column == "rule" else "right")

    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    for r in result.rules:
        table.add_row(
            r.rule_id,
            str(r.total),
            _percent(r.agreement),
            fmt(r.kappa),
            fmt(r.precision_met),
            fmt(r.recall_met),
            fmt(r.f1_met),
        )
    table.add_row(
        "overall", str(result.total), _percent(result.agreement), "", "", "", "", style="bold"
    )
    console.print(table)
    for r in result.rules:
        if not r.disagreements:
            continue
        cells = ", ".join(f"{rec} (gold {g}, got {p})" for rec, g, p in r.disagreements[:8])
        console.print(f"{r.rule_id} disagreements: {cells}", highlight=False, markup=False)
    if result.unmatched_gold:
        console.print(
            f"{result.unmatched_gold} gold label(s) had no audited record or rule", highlight=False
        )


# --------------------------------------------------------------------------- rules
# `recaudit rules ...`: write, check, list and test rule packs (library: recaudit.rulepack).

rules_app = typer.Typer(
    help="Write, validate, list and test rule packs.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=PlainGroup,
)
app.add_typer(rules_app, name="rules")

PackArgument = Annotated[
    str, typer.Argument(help="A folder with pack.yaml, or a shipped pack's name.")
]


def _print_problems(problems) -> None:  # problems: list[Problem]
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        err_console.print(str(problem), style=style, highlight=False, soft_wrap=True, markup=False)


@rules_app.command("validate", cls=PlainCommand)
def rules_validate(pack: PackArgument) -> None:
    """Check a pack (and what it extends): every error with file:line:column; exit 2 on errors."""
    from recaudit.rulepack.commands import validate_pack

    checked = validate_pack(pack)
    _print_problems(checked.errors + checked.warnings)
    if not checked.ok:
        raise _fail(f"{pack}: {len(checked.errors)} error(s)", EXIT_USAGE)
    assert checked.pack is not None
    console.print(
        f"{checked.pack.name} {checked.pack.version}: {len(checked.pack.rules)} rule(s) OK"
        + (f", {len(checked.warnings)} warning(s)" if checked.warnings else ""),
        highlight=False,
    )


@rules_app.command("list", cls=PlainCommand)
def rules_list(
    pack: Annotated[
        str, typer.Argument(help="A folder with pack.yaml, or a shipped pack's name.")
    ] = "wales-children",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
) -> None:
    """List the rules of the resolved pack (after extends and overrides)."""
    from recaudit.rulepack.commands import pack_listing
    from recaudit.rulepack.problems import PackError

    if fmt not in ("table", "csv", "json"):
        raise _fail(f"--format: {fmt!r} is not one of table, csv, json", EXIT_USAGE)
    try:
        listing = pack_listing(pack, record=True)
    except PackError as exc:
        raise _invalid_pack(exc) from None
    if fmt == "csv":
        typer.echo(listing.as_csv(), nl=False)
        return
    if fmt == "json":
        typer.echo(listing.as_json(), nl=False)
        return
    from rich.table import Table

    header = listing.pack
    title = f"{header['name']} {header['version']}"
    if header["extends"]:
        title += f" (extends {', '.join(header['extends'])})"
    table = Table(title=title, title_justify="left")
    # Identities and references are in the csv/json exports; the table stays readable.
    table.add_column("id", no_wrap=True)
    for column in ("kind", "weight", "applies when", "from pack", "title"):
        table.add_column(column, overflow="fold")
    for row in listing.rules:
        changed = f" (overridden: {row['overridden']})" if row["overridden"] else ""
        table.add_row(
            row["id"],
            row["kind"],
            f"{row['weight']:g}",
            row["applies_when"],
            row["pack"] + changed,
            row["title"],
        )
    console.print(table)
    if header["disabled"]:
        console.print(f"disabled: {', '.join(header['disabled'])}", highlight=False)


@rules_app.command("show", cls=PlainCommand)
def rules_show(
    rule_id: Annotated[str, typer.Argument(help="The rule's id.")],
    rules: RulesOption = None,
) -> None:
    """Show one rule's full, resolved definition (YAML)."""
    from recaudit.rulepack.commands import as_yaml, rule_definition

    loaded = load_pack_or_exit(rules)
    try:
        definition = rule_definition(loaded, rule_id)
    except KeyError:
        known = ", ".join(r.id for r in loaded.rules)
        raise _fail(f"no rule {rule_id!r} in {loaded.name} (rules: {known})", EXIT_USAGE) from None
    typer.echo(as_yaml(definition), nl=False)


@rules_app.command("show-pack", cls=PlainCommand)
def rules_show_pack(pack: PackArgument) -> None:
    """Print the resolved pack (what an audit runs) as YAML: rules, bands, lexicons."""
    from recaudit.rulepack.commands import as_yaml, resolved_pack

    typer.echo(as_yaml(resolved_pack(load_pack_or_exit(pack))), nl=False)


@rules_app.command("test", cls=PlainCommand)
def rules_test(
    pack: PackArgument,
    include_base: Annotated[
        bool, typer.Option("--include-base", help="Also run the tests of the packs extended.")
    ] = False,
) -> None:
    """Run the pack's tests/ cases; print TP/FP/FN/TN per rule; exit 1 on any failure."""
    from recaudit.rulepack.ruletest import run_pack_tests

    report = run_pack_tests(pack, include_base=include_base)
    if report.pack is not None:
        from rich.table import Table

        table = Table(title=f"{report.pack.name}: rule tests", title_justify="left")
        table.add_column("rule", overflow="fold")
        for column in ("cases", "TP", "FP", "FN", "TN", "other", "error", "result"):
            table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
        for rule_id, counts in report.by_rule().items():
            table.add_row(
                rule_id,
                *(
                    str(getattr(counts, name))
                    for name in ("cases", "tp", "fp", "fn", "tn", "other", "error")
                ),
                "ok" if not counts.failed else f"{counts.failed} FAILED",
            )
        console.print(table)
    for failure in report.failures:
        wanted = failure.expected + (
            f" with reason containing {failure.reason_wanted!r}" if failure.reason_wanted else ""
        )
        err_console.print(
            f"{failure.mark}: FAIL {failure.rule_id} in {failure.case!r}: expected {wanted}, "
            f"got {failure.actual or 'an error'} ({failure.reason})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    _print_problems(report.problems + report.warnings)
    if report.problems:
        raise _fail(f"{pack}: {len(report.problems)} error(s) in the pack or its tests", 2)
    if not report.ok:
        raise _fail(f"{len(report.failures)} of {len(report.results)} expectation(s) failed", 1)
    console.print(f"{len(report.results)} expectation(s) passed", highlight=False)


@rules_app.command("init", cls=PlainCommand)
def rules_init(
    name: Annotated[str, typer.Argument(help="The new pack's name (also its folder).")],
    extends: Annotated[str, typer.Option(help="The pack to extend.")] = "wales-children",
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Folder to create (default: ./NAME).")
    ] = None,
) -> None:
    """Scaffold a pack that extends another, with an example rule and its test cases."""
    from pydantic import ValidationError

    from recaudit.rulepack import PackError
    from recaudit.rulepack.commands import init_pack

    dest = directory or Path(name)
    try:
        written = init_pack(name, dest, extends)
    except ValidationError:
        raise _fail(f"{name!r} is not a valid pack name (letters, digits, . _ -)", 2) from None
    except FileExistsError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except PackError as exc:
        _print_problems(exc.problems)
        raise _fail(f"cannot extend {extends!r}", EXIT_USAGE) from None
    for path in written:
        console.print(f"wrote {path}", highlight=False, markup=False)
    console.print(f"next: recaudit rules test {dest}", highlight=False, markup=False)


def main() -> None:
    try:
        app()
    finally:
        # The process ends here, and Python's shutdown would now free, one by one, every
        # object held in a reference cycle: the classes, functions and modules of spaCy,
        # pydantic, openpyxl and recaudit, about 0.3 CPU-seconds of every `audit`. Frozen,
        # the collector leaves them to the operating system, as `os._exit` would; unlike
        # `os._exit`, atexit handlers (which delete the temporary result stores) and the
        # flushing of output still run.
        gc.freeze()


if __name__ == "__main__":
    main()
