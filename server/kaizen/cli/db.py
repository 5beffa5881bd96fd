"""``kaizen db``: migrate a database, export its learnings, import them into another.

The way a developer's personal learnings reach the team database::

    kaizen db export -o mine.jsonl                          # from the per-user SQLite file
    kaizen db import mine.jsonl --database postgresql://...  # into the team's PostgreSQL

Argument parsing and messages only; the format and the merge are ``memory.transfer``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_db_command(sub: Any) -> None:
    parser = sub.add_parser("db", help="migrate the database; export / import learnings")
    actions = parser.add_subparsers(dest="db_action", required=True)

    migrate = actions.add_parser(
        "migrate", help="create or upgrade the schema and the search index"
    )
    migrate.add_argument("--database", help="database path or URL (default: settings)")

    export = actions.add_parser("export", help="write learnings as JSON lines")
    export.add_argument("--database", help="database path or URL (default: settings)")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.add_argument("--repository", help="only this repository's learnings")

    imp = actions.add_parser("import", help="merge a JSON lines export into a database")
    imp.add_argument("file", help="an export file ('-' for stdin)")
    imp.add_argument("--database", help="database path or URL (default: settings)")
    imp.add_argument("--force", action="store_true", help="import a file imported before")
    parser.set_defaults(func=run_db)


def run_db(args: argparse.Namespace) -> int:
    from ..config import settings_for_database  # pydantic: not for ``kaizen serve``'s parser

    settings, problems = settings_for_database(args.database)
    for problem in problems:
        print(f"kaizen: {problem}", file=sys.stderr)
    from ..memory import transfer  # SQLAlchemy: imported when the command runs, never for
    from ..memory.db import create_db_engine  # the parser (``kaizen serve`` builds it too)

    engine = create_db_engine(settings.database_path)
    try:
        if args.db_action == "migrate":
            return migrate_command(engine, settings)
        if args.db_action == "export":
            from ..memory.migrate import migrate

            migrate(engine)  # an older file gets the columns the export reads
            if args.output:
                with open(args.output, "w", encoding="utf-8") as out:
                    counts = transfer.export(engine, out, repository=args.repository)
            else:
                counts = transfer.export(engine, sys.stdout, repository=args.repository)
            print(
                f"Exported {counts['insight']} insights and {counts['finding']} finding "
                f"outcomes from {transfer.describe(engine)}.",
                file=sys.stderr,
            )
            return 0
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        report = transfer.import_lines(engine, settings, data, force=args.force)
        if not report.ok:  # refused: nothing was imported
            print(f"kaizen: {report.summary(transfer.describe(engine))}", file=sys.stderr)
            return 2
        print(report.summary(transfer.describe(engine)))
        return 0
    finally:
        engine.dispose()


def migrate_command(engine: Any, settings: Any) -> int:
    from ..memory import insights, transfer
    from ..memory.migrate import SCHEMA_VERSION

    start, embedder = transfer.prepare(engine, settings)
    change = f"v{start} -> v{SCHEMA_VERSION}" if start != SCHEMA_VERSION else f"v{start}"
    print(
        f"{transfer.describe(engine)}: schema {change}; search index ready "
        f"({embedder.name}, {insights.count(engine)} insights)."
    )
    return 0


