"""``digest templates check``: validate the templates' MJML and accessibility."""

from __future__ import annotations

import sys

import click

from ..config.load import load_settings
from ..render.templates_check import check
from .app import handled, main


@main.group()
def templates() -> None:
    """Work with the email templates."""


@templates.command("check")
@click.pass_context
@handled
def check_command(ctx: click.Context) -> None:
    """Validate the templates' MJML against MJML 4 and check accessibility."""
    settings = load_settings(ctx.obj.get("config"))
    report = check(settings)
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) in {settings.templates.path}", err=True)
        sys.exit(1)
    click.echo(
        f"templates OK: {len(report.templates)} MJML templates, "
        f"{report.renderings} renderings of the sample issue checked"
    )
