import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql


class Command(BaseCommand):
    help = "Create the configured PostgreSQL database when it does not exist yet."
    requires_system_checks = []

    def handle(self, *args, **options):
        db = settings.DATABASES["default"]
        params = {
            "host": db.get("HOST") or "127.0.0.1",
            "port": db.get("PORT") or 5432,
            "user": db.get("USER") or "postgres",
            "password": db.get("PASSWORD") or None,
            "dbname": "postgres",
            "autocommit": True,
            "connect_timeout": 5,
        }
        try:
            with psycopg.connect(**params) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
                    self.stdout.write(f"Created database {db['NAME']}")
        except psycopg.OperationalError as exc:
            raise CommandError(
                f"Cannot reach PostgreSQL at {params['host']}:{params['port']} ({exc}). "
                "Start PostgreSQL or set DATABASE_URL."
            ) from exc
