"""Moving the hub's database: copy every table of JupyterHub's ORM from SQLite to PostgreSQL.

`hds db migrate --to postgresql://...` (docs/scaling.md), with the hub stopped: the target
gets JupyterHub's schema at the source's revision, every row in the order foreign keys ask
for, and its id sequences set past the copied ids, so the hub starts on it where it left off
(users, groups and their properties, roles, tokens, OAuth clients, shares, and the servers
it was running, which it finds again by polling them).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from jupyterhub import orm
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url

from .deployment import Deployment

BATCH = 1000
ALEMBIC = "alembic_version"
# Alembic's own table, where JupyterHub's schema revision is stamped.
ALEMBIC_TABLE = Table(ALEMBIC, MetaData(), Column("version_num", String(32), primary_key=True))


class MigrationError(ValueError):
    """The databases are not in a state to copy one into the other; the message says why."""


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def open_sqlite_holders(url: str) -> list[int]:
    """Processes that have the SQLite file of `url` open (a hub still running on it)."""
    database = make_url(url).database
    if not database or not Path(database).exists():
        return []
    target = str(Path(database).resolve())
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == target for fd in fd_dir.iterdir()):
                holders.append(int(fd_dir.parent.name))
        except OSError:  # processes come and go; others' fds may be closed to us
            continue
    return [pid for pid in holders if pid != os.getpid()]


def revision(engine: Engine) -> str | None:
    """The JupyterHub schema revision alembic stamped in a database (None: no schema)."""
    if not inspect(engine).has_table(ALEMBIC):
        return None
    with engine.connect() as connection:
        return connection.execute(select(ALEMBIC_TABLE.c.version_num)).scalar()


def check_source(engine: Engine, url: str) -> str:
    holders = open_sqlite_holders(url) if engine.dialect.name == "sqlite" else []
    if holders:
        raise MigrationError(
            f"the hub still has {url} open (pid {', '.join(map(str, holders))}); stop it "
            "(systemctl stop jupyter-hds) and run the migration again"
        )
    found = revision(engine)
    if found is None:
        raise MigrationError(f"{url} holds no JupyterHub database (no {ALEMBIC} table)")
    try:
        orm.check_db_revision(engine)
    except orm.DatabaseSchemaMismatch as error:
        raise MigrationError(
            f"{url} is at JupyterHub schema {found}, not this JupyterHub's: run "
            f"`jupyterhub upgrade-db` on it first ({error})"
        ) from None
    return found


def prepare_target(engine: Engine, url: str, source_revision: str) -> None:
    """JupyterHub's tables in an empty target, stamped with the source's schema revision."""
    existing = [
        t.name for t in orm.Base.metadata.sorted_tables if inspect(engine).has_table(t.name)
    ]
    if existing:
        with engine.connect() as connection:
            filled = [
                name
                for name in existing
                if connection.execute(select(func.count()).select_from(text(name))).scalar()
            ]
        if filled:
            raise MigrationError(
                f"{url} already holds hub data (tables {', '.join(filled)}); migrate into an "
                "empty database (createdb) so that nothing is mixed or overwritten"
            )
    orm.Base.metadata.create_all(engine)
    ALEMBIC_TABLE.create(engine, checkfirst=True)
    with engine.begin() as connection:
        connection.execute(delete(ALEMBIC_TABLE))
        connection.execute(ALEMBIC_TABLE.insert(), {"version_num": source_revision})


def copy_tables(source: Engine, target: Engine) -> list[Copied]:
    """Every ORM table's rows, parents before children, in one transaction on the target."""
    copied = []
    with source.connect() as reading, target.begin() as writing:
        for table in orm.Base.metadata.sorted_tables:
            rows = 0
            result = reading.execution_options(stream_results=True).execute(select(table))
            while batch := result.fetchmany(BATCH):
                writing.execute(table.insert(), [row._asdict() for row in batch])
                rows += len(batch)
            copied.append(Copied(table.name, rows))
        reset_sequences(writing)
    return copied


def reset_sequences(connection) -> None:
    """Set each serial id's sequence past the highest id copied (PostgreSQL only)."""
    if connection.dialect.name != "postgresql":
        return
    for table in orm.Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer) or column.autoincrement is False:
                continue
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence:
                highest = connection.execute(select(func.max(column))).scalar() or 0
                connection.execute(
                    text("SELECT setval(:s, :next, false)"), {"s": sequence, "next": highest + 1}
                )


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows per ORM table (what a migration must carry over)."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in orm.Base.metadata.sorted_tables
        }


def migrate(from_url: str, to_url: str) -> list[Copied]:
    """Copy the hub database at `from_url` into the empty database at `to_url`."""
    if make_url(to_url).get_backend_name() != "postgresql":
        raise MigrationError(f"--to {to_url!r}: write a postgresql://USER@HOST:PORT/DB URL")
    source, target = create_engine(from_url), create_engine(to_url)
    try:
        found = check_source(source, from_url)
        prepare_target(target, to_url, found)
        copied = copy_tables(source, target)
        if count_rows(target) != count_rows(source):
            raise MigrationError("the copy does not hold the source's rows; nothing uses it yet")
        return copied
    finally:
        source.dispose()
        target.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    deployment = Deployment(state_dir=args.state_dir)
    from_url = args.from_url or f"sqlite:///{deployment.state / 'jupyterhub.sqlite'}"
    copied = migrate(from_url, args.to)
    for row in copied:
        print(f"{row.table:<18} {row.rows:>8} rows")
    shown = make_url(args.to).render_as_string(hide_password=True)
    print(
        f"copied {sum(r.rows for r in copied)} rows from {from_url} to {shown}.\n"
        f"Now write in $HDS_CONFIG_DIR (e.g. 10-database.py):\n"
        f"    c.Deployment.db_url = {shown!r}\n"
        f"then start the hub; keep {from_url} until you have checked it."
    )
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `db migrate` to the `hds` command's subcommands."""
    db = commands.add_parser("db", help="the hub's database (run on the hub host, hub stopped)")
    actions = db.add_subparsers(dest="action", required=True)
    move = actions.add_parser(
        "migrate", help="copy the hub's SQLite database into an empty PostgreSQL database"
    )
    move.add_argument("--to", required=True, help="postgresql://USER@HOST:PORT/DATABASE")
    move.add_argument(
        "--from",
        dest="from_url",
        help="the database to copy (default: the state folder's jupyterhub.sqlite)",
    )
    move.set_defaults(func=cmd_migrate)
