"""The ``careline`` command. Every sub-command has ``--help``."""

from __future__ import annotations

import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from rich.progress import Progress, TaskID
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from careline import audit, jobs
from careline.actor import Actor, Role
from careline.app import Background, create_app
from careline.auth import service as auth_service
from careline.auth.errors import AuthError
from careline.auth.schemas import UserCreate
from careline.bootstrap import open_engine, unit_of_work
from careline.db import UnitOfWork, make_sessionmaker
from careline.db.migrate import SchemaOutOfDate, ensure_schema, upgrade_to_head
from careline.fhir.cli import import_app
from careline.messaging import smtpd as smtp_listener
from careline.patients.demo import DEMO_SEED, generate_population
from careline.patients.policy import PatientPolicy
from careline.routing import demo as routing_demo
from careline.routing.simulation import Plan, background_traffic
from careline.routing.simulation.console import parse_duration, parse_rate, run_live
from careline.scheduling.demo import demo_patients, generate_schedule
from careline.scheduling.service import slots as scheduling_slots
from careline.settings import Settings
from careline.telephony import demo as telephony_demo
from careline.web.sse import SHUTDOWN_GRACE_SECONDS
from careline.worker.runner import run_until

app = typer.Typer(help="Careline: healthcare contact center with a built-in patient CRM.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
scheduling_app = typer.Typer(help="Scheduling: slots from the availability templates.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(scheduling_app, name="scheduling")
app.add_typer(import_app, name="import", help="Import data from the EHR.")

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)]
Parsed = TypeVar("Parsed")
# Longer than a proxy's or provider's idle timeout (60 s is common), so a client never reuses a connection
# that the server is closing at that moment: the request would be lost in between.
KEEP_ALIVE_SECONDS = 75

DEMO_USERS = (
    ("agent", "Alex Rivera", Role.agent),
    ("supervisor", "Sam Okafor", Role.supervisor),
    ("admin", "Dana Whitfield", Role.admin),
    ("auditor", "Priya Natarajan", Role.auditor),
)


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@contextmanager
def _cli_errors() -> Iterator[None]:
    """Expected failures become one red line and exit status 1, not a traceback."""
    try:
        yield
    except (AuthError, SchemaOutOfDate) as error:
        raise _fail(str(error)) from error
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise _fail(problems) from error


@contextmanager
def _work(command: str, *, read_only: bool = False) -> Iterator[tuple[UnitOfWork, Actor]]:
    with _cli_errors(), unit_of_work(Settings(), read_only=read_only) as uow:
        yield uow, Actor.cli(command)


def _serve(settings: Settings, host: str, port: int, *, background: Sequence[Background] = ()) -> None:
    with _cli_errors(), open_engine(settings) as engine:
        ensure_schema(engine)  # here too, so a stale server schema fails before Uvicorn starts
    uvicorn.run(create_app(settings, background=background), host=host, port=port, proxy_headers=True,
                forwarded_allow_ips=settings.forwarded_allow_ips, access_log=False,
                timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS, timeout_keep_alive=KEEP_ALIVE_SECONDS)


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run the web app and API. The embedded SQLite database is migrated to the latest schema first."""
    _serve(Settings(), host, port)


@app.command()
def worker(
    idle: Annotated[float, typer.Option(help="Seconds to wait when nothing is due.", min=0.05, max=60)] = 0.5,
) -> None:
    """Carry out what the outbox holds (provider calls; later messages), until SIGTERM or Ctrl+C.

    Run one on each of as many machines as you like against one PostgreSQL database: they share the work.
    `careline serve` already runs one in-process, which is all the embedded SQLite database needs.
    """
    settings = Settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with _cli_errors(), open_engine(settings) as engine:
        ensure_schema(engine)
        dispatcher = jobs.dispatcher(make_sessionmaker(engine), settings)
        typer.echo("Worker running; stop it with Ctrl+C or SIGTERM.")
        try:
            done = run_until(dispatcher, stop, idle_seconds=idle)
        except KeyboardInterrupt:
            done = 0
    typer.echo(f"Worker stopped after {done} outbox rows.")


@app.command()
def smtpd(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: CARELINE_SMTPD_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port [default: CARELINE_SMTPD_PORT].", min=1, max=65535)] = None,
) -> None:
    """Receive patients' e-mail over SMTP, until SIGTERM or Ctrl+C: each message joins its conversation and
    reaches an agent. Messages over CARELINE_EMAIL_MAX_BYTES, or with an attachment over
    CARELINE_ATTACHMENT_MAX_BYTES, bounce with a 552 that says why.
    """
    settings = Settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with _cli_errors(), open_engine(settings) as engine:
        ensure_schema(engine)
        with smtp_listener.listening(make_sessionmaker(engine), settings, PatientPolicy.from_settings(settings),
                                     host=host, port=port) as controller:
            typer.echo(f"Receiving e-mail on {controller.hostname}:{controller.port}; stop with Ctrl+C or SIGTERM.")
            with suppress(KeyboardInterrupt):
                stop.wait()
    typer.echo("SMTP listener stopped.")


@app.command()
def demo(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    reset: Annotated[bool, typer.Option(help="Erase CARELINE_DATABASE_URL's database if it is not empty.")] = False,
    patients: Annotated[int, typer.Option(
        help="Synthetic patients to generate: households, phones, visits, conditions, screenings.", min=0)] = 5_000,
    traffic: Annotated[float, typer.Option(
        help="Simulated contacts per minute while the demo runs, answered by simulated agents and by you "
             "(0: none).", min=0, max=600)] = routing_demo.TRAFFIC_PER_MINUTE,
) -> None:
    """Create a fresh demo database with one user per role (passwords printed once), a synthetic
    patient population, clinics, queues and simulated agents, and serve it with simulated callers.

    Without CARELINE_DATABASE_URL the demo lives in its own file (demo.db in the data directory), recreated
    on every run; a database named by CARELINE_DATABASE_URL is only erased with --reset.
    """
    base = Settings()
    url = base.database_url or f"sqlite:///{base.data_dir / 'demo.db'}"
    settings = base.model_copy(update={"database_url": url})
    _fresh_database(settings, erase=reset or base.database_url is None)
    with unit_of_work(settings) as uow:
        actor = Actor.cli("demo")
        for username, name, role in DEMO_USERS:
            password = secrets.token_urlsafe(12)
            auth_service.create_user(uow, actor, UserCreate(
                username=username, display_name=name, role=role, password=password))
            typer.echo(f"  {role.value:<11} username {username:<11} password {password}")
        uow.commit()
    typer.echo("These passwords are shown only now.")
    with unit_of_work(settings) as uow, Progress(transient=True) as bar:
        task = bar.add_task("Generating demo patients", total=patients)
        stats = generate_population(uow.session, patients=patients, seed=DEMO_SEED,
                                    progress=lambda done: bar.update(task, completed=done))
        uow.commit()
    typer.echo(stats.summary())
    _demo_schedule(settings)
    _demo_routing(settings, f"http://{host}:{port}", traffic)
    plan = Plan(agents=routing_demo.SIMULATED_AGENTS, per_second=traffic / 60,
                handle_seconds=routing_demo.HANDLE_SECONDS)
    _serve(settings, host, port, background=[background_traffic(
        plan, seed=DEMO_SEED, policy=PatientPolicy.from_settings(settings), settings=settings)] if traffic else [])


def _demo_routing(settings: Settings, site: str, traffic: float) -> None:
    with unit_of_work(settings) as uow:
        routing = routing_demo.set_up(uow, Actor.cli("demo"))
        line = telephony_demo.ensure_number(uow, Actor.cli("demo"))
        uow.commit()
    typer.echo(routing.summary())
    typer.echo(f"Phone: simulated callers ring {line.number} and walk its IVR (English and Spanish).")
    typer.echo(f"Texts: sign in and open {site}/simulator/phone to text {line.number} from a patient's phone.")
    typer.echo(f"Take calls: sign in as 'agent', open {site}/desktop and choose Available.")
    typer.echo(f"Watch the center: sign in as 'supervisor' and open {site}/wallboard.")
    if traffic:
        typer.echo(f"About {traffic:g} simulated contacts a minute arrive while the demo runs.")


SCHEDULE_STEPS = {"slots": "Generating slots", "bookings": "Booking appointments", "writing": "Writing appointments"}


def _demo_schedule(settings: Settings) -> None:
    """Sites, providers, visit types and templates, 90 days of slots and a realistic book for the demo patients."""
    with unit_of_work(settings) as uow, Progress(transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step in SCHEDULE_STEPS:
                if step not in tasks:
                    tasks[step] = bar.add_task(SCHEDULE_STEPS[step], total=total)
                bar.update(tasks[step], completed=done, total=total)

        stats = generate_schedule(uow, patients=demo_patients(uow.session), seed=DEMO_SEED, progress=progress)
        uow.commit()
    typer.echo(stats.summary())


def _fresh_database(settings: Settings, *, erase: bool) -> None:
    url = make_url(settings.effective_database_url)
    with open_engine(settings) as engine:
        if inspect(engine).get_table_names():
            if not erase:
                raise _fail("That database is not empty. Pass --reset to erase it for the demo.")
            _erase(engine)
        upgrade_to_head(engine)
    typer.echo(f"Demo database: {url.render_as_string(hide_password=True)}")


def _erase(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")


@app.command()
def simulate(
    agents: Annotated[int, typer.Option(
        help="Simulated agents: users sim-agent-01, -02 … with desks, created on first use, their skills and "
             "languages spread over the queues.", min=1, max=500)] = 50,
    rate: Annotated[str, typer.Option(
        help="Contacts arriving (Poisson) per second, minute or hour: 5/s, 300/min, 90/h.")] = "5/s",
    duration: Annotated[str | None, typer.Option(
        help="How long to run: 90s, 10m, 2h. Without it, until Ctrl-C.")] = None,
    patience: Annotated[str, typer.Option(
        help="Callers' mean patience on hold or in a chat (exponential); still waiting then, they hang up.")] = "90s",
    handle: Annotated[str, typer.Option(
        help="Simulated agents' mean talk time (log-normal); 10-30 s of wrap-up follow.")] = "3.5m",
    seed: Annotated[int | None, typer.Option(help="Seed for the random draws, to replay a run.")] = None,
) -> None:
    """Load the real routing with synthetic callers and agents, showing the queues live each second.

    Callers arrive for appointments, test results, billing, refills and nurse advice, about 15% in Spanish,
    mostly by phone (some SMS, chat, callback requests), from patients' numbers when the database has patients.
    Simulated agents answer after 1-4 s (now and then letting an offer time out), talk, wrap up and take
    breaks; the engine runs every 250 ms here, alongside any served app's. The demo queues are created if
    missing. With CARELINE_REDIS_URL set, a served app's desktops and wallboards move live. Ctrl-C stops
    cleanly: waiting callers hang up, agents wrap up and sign off, and a summary is printed.
    """
    plan = Plan(agents=agents, per_second=_parsed(parse_rate, rate, "--rate"),
                patience_seconds=_parsed(parse_duration, patience, "--patience").total_seconds(),
                handle_seconds=_parsed(parse_duration, handle, "--handle").total_seconds())
    length = _parsed(parse_duration, duration, "--duration") if duration is not None else None
    with _cli_errors():
        run_live(Settings(), plan, duration=length, seed=seed)


def _parsed(parse: Callable[[str], Parsed], text: str, option: str) -> Parsed:
    try:
        return parse(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=f"'{option}'") from error


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations up to the latest schema."""
    settings = Settings()
    with open_engine(settings) as engine:
        upgrade_to_head(engine)
    typer.echo("Database is at the latest schema.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="What the user may do.")],
    display_name: Annotated[str | None, typer.Option(help="Full name (defaults to the username).")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Create a user. Asks for the password unless --password-stdin is given."""
    password = _read_password(password_stdin)
    with _work("users create") as (uow, actor):
        user = auth_service.create_user(uow, actor, UserCreate(
            username=username, display_name=display_name or username, role=role, password=password))
        uow.commit()
    typer.echo(f"Created {user.role.value} {user.username}.")


@users_app.command("token")
def users_token(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for, e.g. the integration's name.")] = "api",
) -> None:
    """Print a new API bearer token for USERNAME. Only its hash is stored: copy it now."""
    with _work("users token") as (uow, actor):
        issued = auth_service.issue_api_token(uow, actor, username=username, name=name)
        uow.commit()
    typer.echo(issued.token)
    typer.echo(f"Token {issued.prefix}… for {name!r}; revoke it with: careline users revoke-token {username} "
               f"--prefix {issued.prefix}", err=True)


@users_app.command("revoke-token")
def users_revoke_token(
    username: str,
    prefix: Annotated[str | None, typer.Option(help="Revoke only tokens starting with this prefix.")] = None,
) -> None:
    """Revoke USERNAME's API tokens (all of them, or those starting with --prefix)."""
    with _work("users revoke-token") as (uow, actor):
        count = auth_service.revoke_api_tokens(uow, actor, username=username, prefix=prefix)
        uow.commit()
    typer.echo(f"Revoked {count} token{'s' if count != 1 else ''}.")


@users_app.command("reset-mfa")
def users_reset_mfa(username: str) -> None:
    """Turn off USERNAME's two-factor sign-in (a lost phone) and end their sessions; they can enrol again."""
    with _work("users reset-mfa") as (uow, actor):
        auth_service.reset_second_factor(uow, actor, username=username)
        uow.commit()
    typer.echo(f"Two-factor sign-in is off for {username}; their sessions were ended.")


@scheduling_app.command("generate-slots")
def scheduling_generate_slots(
    days: Annotated[int, typer.Option(help="How many days ahead, from today.", min=1, max=731)] = (
        scheduling_slots.HORIZON_DAYS),
) -> None:
    """Make the bookable slots of the next DAYS days match the availability templates and days off.

    Booked slots are never touched; free slots that no longer match are removed. Run it daily (the horizon
    rolls forward) and after changing templates.
    """
    with _work("scheduling generate-slots") as (uow, actor), Progress(transient=True) as bar:
        task = bar.add_task("Generating slots", total=None)
        report = scheduling_slots.regenerate(
            uow, actor, days=days, progress=lambda done, total: bar.update(task, completed=done, total=total))
        uow.commit()
    typer.echo(f"{report.schedules} schedules: {report.created:,} slots created, {report.removed:,} removed, "
               f"{report.kept_booked:,} booked slots kept.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain; exits with status 1 if any entry was altered or removed."""
    with _work("audit verify", read_only=True) as (uow, _actor):
        report = audit.verify_chain(uow, progress=lambda n: typer.echo(f"  checked {n} entries…", err=True))
    if not report.ok:
        raise _fail(f"Audit chain BROKEN after {report.entries_checked} good entries: {report.problem}")
    typer.echo(f"Audit chain intact: {report.entries_checked} entries.")
    if report.head_hash:
        typer.echo(f"Head: entry {report.head_seq}, hash {report.head_hash}")
        typer.echo("Keep the head hash somewhere else: it also proves later that no entry was cut off the end.")
