"""``factsync sandbox``: generate a sandbox school file, or serve the sandbox FACTS SIS on loopback."""

from __future__ import annotations

import json
import re
import signal
import sys
from collections import Counter
from types import FrameType

import click

from core.cli.common import EXIT_USAGE, fail
from core.facts.plans import PLANS, SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY
from core.facts.sandbox import Faults, Sandbox, SandboxConfig, School, generate_school
from core.facts.sandbox.history import HISTORIES
from core.facts.sandbox.messages import ERROR_BODIES
from core.facts.sandbox.server import SandboxHTTPServer

SCOPE_NAMES = {"none": "None", "read": "Read", "write": "Write"}
_FRACTION = click.FloatRange(0.0, 1.0)
_HISTORY = click.option(
    "--history",
    type=click.Choice(HISTORIES),
    default="live",
    show_default=True,
    help="live: a live tenant's history volume (~17 people, ~19 parent links per enrolled "
    "student); light: the current and recent families only.",
)


def register(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(sandbox)


@click.group()
def sandbox() -> None:
    """The sandbox FACTS SIS: a generated school behind a FACTS-compatible API."""


@sandbox.command()
@click.option("--families", type=click.IntRange(min=0), default=300, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@_HISTORY
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    required=True,
    help="School JSON file to write ('-' for stdout).",
)
def generate(families: int, seed: int, history: str, output: str) -> None:
    """Write a deterministic sandbox school (FACTS-shaped records) as JSON."""
    school = generate_school(families=families, seed=seed, history=history)
    if output == "-":
        click.echo(json.dumps(school.to_json(), ensure_ascii=False))
        return
    school.save(output)
    counts = ", ".join(f"{len(rows)} {name}" for name, rows in school.to_json().items())
    click.echo(f"wrote {output}: {counts}")


@sandbox.command()
@click.option(
    "--school",
    "school_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Serve this school file's records exactly as they are, unreadable ones included.",
)
@click.option("--families", type=click.IntRange(min=0), default=300, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@_HISTORY
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0 picks a free port.",
)
@click.option("--subscription-key", default=SANDBOX_SUBSCRIPTION_KEY, show_default=True)
@click.option("--api-key", default=SANDBOX_API_KEY, show_default=True)
@click.option(
    "--people-scope",
    type=click.Choice(list(SCOPE_NAMES)),
    default="write",
    show_default=True,
    help="The API key's People scope (Academics is Read).",
)
@click.option("--plan", type=click.Choice(list(PLANS)), default="pro", show_default=True)
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option(
    "--hours-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Keep written service hours in this JSON file across restarts.",
)
@click.option(
    "--cache/--no-cache",
    default=True,
    show_default=True,
    help="Cache GET responses for 120 s as FACTS does (x-bypass-cache skips it).",
)
@click.option(
    "--error-body",
    type=click.Choice(ERROR_BODIES),
    default="stack-trace",
    show_default=True,
    help="How a 500 reads: live FACTS's message and .NET stack trace, or a clean ProblemDetails.",
)
@click.option("--rate-limits/--no-rate-limits", default=True, show_default=True)
@click.option("--fault-500", type=_FRACTION, default=0.0, show_default=True)
@click.option("--fault-429", type=_FRACTION, default=0.0, show_default=True)
@click.option("--fault-drop-before", type=_FRACTION, default=0.0, show_default=True)
@click.option("--fault-drop-after-commit", type=_FRACTION, default=0.0, show_default=True)
@click.option("--fault-slow", type=_FRACTION, default=0.0, show_default=True)
@click.option("--fault-gateway-html", type=_FRACTION, default=0.0, show_default=True,
              help="Fraction of requests answered by a proxy's HTML 502/503/504 page.")
@click.option("--fault-bad-records", type=_FRACTION, default=0.0, show_default=True,
              help="Fraction of each table's rows made unreadable (wrong type, null key, "
              "unreadable key, bad date, link to nobody; see core/facts/sandbox/badrecords.py).")
@click.option("--fault-seed", type=int, default=1, show_default=True)
@click.option("--summary", is_flag=True, help="Print request counts by path and status on exit.")
def serve(
    school_file: str | None,
    families: int,
    seed: int,
    history: str,
    host: str,
    port: int,
    subscription_key: str,
    api_key: str,
    people_scope: str,
    plan: str,
    latency_ms: float,
    hours_file: str | None,
    cache: bool,
    error_body: str,
    rate_limits: bool,
    fault_500: float,
    fault_429: float,
    fault_drop_before: float,
    fault_drop_after_commit: float,
    fault_slow: float,
    fault_gateway_html: float,
    fault_bad_records: float,
    fault_seed: int,
    summary: bool,
) -> None:
    """Serve the sandbox FACTS SIS over HTTP until Ctrl-C or SIGTERM."""
    try:
        school = (
            School.load(school_file)
            if school_file
            else generate_school(families, seed, history=history)
        )
    except (OSError, ValueError) as exc:
        fail(f"cannot load school file {school_file}: {exc}", EXIT_USAGE)
        return
    scopes = {"People": SCOPE_NAMES[people_scope], "Academics": "Read"}
    faults = Faults(
        p500=fault_500,
        p429=fault_429,
        drop_before=fault_drop_before,
        drop_after_commit=fault_drop_after_commit,
        slow=fault_slow,
        gateway_html=fault_gateway_html,
        bad_records=fault_bad_records,
        seed=fault_seed,
    )
    config = SandboxConfig(
        plan=plan,
        latency_ms=latency_ms,
        subscription_keys=[subscription_key],
        api_keys={api_key: scopes},
        faults=faults,
        cache=cache,
        hours_file=hours_file,
        rate_limits=rate_limits,
        error_body=error_body,
    )
    sb = Sandbox(school, config)
    try:
        httpd = SandboxHTTPServer(sb, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}")
        return
    limits = PLANS[plan]
    source = school_file or f"generated (families={families}, seed={seed}, history={history})"
    lines = [
        "factsync sandbox FACTS SIS",
        f"base URL: {httpd.base_url}",
        f"sandbox subscription key (Ocp-Apim-Subscription-Key): {subscription_key}",
        f"sandbox API key (Facts-Api-Key): {api_key}  "
        f"[People: {scopes['People']}, Academics: {scopes['Academics']}]",
        f"school: {source}: {len(school.people)} people, {len(school.students)} students, "
        f"{len(school.parentStudent)} parent links, {len(school.families)} family rows",
        f"plan: {plan} ({limits.per_second}/s, {limits.per_minute}/min, {limits.daily}/day)"
        f"  rate limits: {'on' if rate_limits else 'off'}",
        f"latency-ms: {latency_ms:g}  cache: {'on' if cache else 'off'}  "
        f"hours-file: {hours_file or '-'}",
        f"faults: 500={fault_500:g} 429={fault_429:g} drop-before={fault_drop_before:g} "
        f"drop-after-commit={fault_drop_after_commit:g} slow={fault_slow:g} "
        f"gateway-html={fault_gateway_html:g} bad-records={fault_bad_records:g} "
        f"({len(sb.spoiled)} rows) seed={fault_seed}",
        f"error body: {error_body}",
        "Ctrl-C to stop.",
    ]
    for line in lines:
        click.echo(line)
    sys.stdout.flush()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        httpd.server_close()
        if summary:
            click.echo(format_summary(sb))
        sys.stdout.flush()


def format_summary(sb: Sandbox) -> str:
    """Request counts by method, route (ids folded to ``{id}``) and status."""
    counts: Counter[tuple[str, str, int]] = Counter(
        (r.method, re.sub(r"/\d+(?=/|$)", "/{id}", r.path), r.status) for r in sb.requests
    )
    lines = [f"requests: {sum(counts.values())}"]
    for (method, path, status), n in sorted(counts.items()):
        lines.append(f"{n:8d}  {method:6s} {path}  {status or 'dropped'}")
    return "\n".join(lines)
