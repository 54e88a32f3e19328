"""Check params.yaml before DVC acts on it: one line per problem, exit 1 when there is any.

Run it after every edit of params.yaml (`make run` runs it before `dvc repro`, and
`python -m stages.exp` before every experiment). It refuses a source name that
is not [a-z0-9_]+ (DVC builds `data/raw/<name>` from it; dvc.yaml keeps DVC off such
paths and the scrape stage refuses them too), checks each source (kind, keys, glob, that its path exists) and
every other section with the typed model its stage loads it with (wrong types,
non-finite numbers, out-of-range values, unknown keys, `by_source` keys that
name no configured subset), `rule` against the rule catalog, and reports
unknown sections; it also checks the judge's rubric file (`--rubric`: YAML or JSON syntax, fields,
placeholders, the answer schema it names). The checks live in stages/check/.

Example:
    python -m stages.check --params params.yaml
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.check.params_file import params_problems
from stages.lib.cli import PATH, doc_summary, example, run_main


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@click.option("--params", "params_path", default="params.yaml", show_default=True, type=PATH,
              help="Params file to check.")
@click.option("--rules", "rules_path", default="schemas/rules.yaml", show_default=True, type=PATH,
              help="Rule catalog that `rule` must name a rule of.")
@click.option("--rubric", "rubric_path", default="schemas/judge/rubric.yaml", show_default=True, type=PATH,
              help="The judge stage's rubric file.")
def cli(params_path: Path, rules_path: Path, rubric_path: Path) -> None:
    problems = params_problems(params_path, rules_path, rubric_path)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"{params_path}: OK")


def main() -> None:
    run_main(cli, "stages.check")


if __name__ == "__main__":
    main()
