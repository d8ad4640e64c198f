"""The import's analysis alone, on bench/import.py's file (a program, not a test).

    DEVELOPMENT=true .venv/bin/python bench/analysis.py --rows 150000            # wall and CPU of one analysis
    DEVELOPMENT=true .venv/bin/python bench/analysis.py --profile 20000          # cProfile of one serial chunk

It creates its own database (BENCH_IMPORT_DB, default cdpadmin_bench_analysis), a realm with the seed's
custom attributes and no persons, writes bench/import.py's CSV, then runs services.import_job_analyze in this
process (its forked workers' CPU counted through RUSAGE_CHILDREN) and prints wall and CPU seconds with the load
average. --profile parses the first N rows serially in this process under cProfile (sorted by tottime).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import pstats
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_IMPORT_DB", "cdpadmin_bench_analysis")
sys.path.insert(0, str(ROOT / "bench"))
bench = __import__("import")  # bench/import.py: its database helpers and file generator


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _children_user_sys() -> tuple[float, float]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime, children.ru_stime


def _split() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--profile", type=int, default=0, help="cProfile the parse of the first N rows")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile-worker", action="store_true", help="cProfile worker 0 of 2, in this process")
    parser.add_argument("--profile-parent", action="store_true", help="cProfile the analysis's own process")
    args = parser.parse_args()
    bench._recreate(bench.DB_NAME)
    import django

    django.setup()
    from django.core.management import call_command

    from identities.models import Realm
    from imports import analysis, readers, services
    from imports.parsing import RowParser
    from people.seeding import seed_reference_data

    try:
        call_command("migrate", verbosity=0)
        realm = Realm.objects.create(
            name="Bench", slug="bench", default_country="HR", default_currency="EUR", cdp_enabled=True
        )
        seed_reference_data(realm)
        csv_path, _ = bench.write_files(bench.build_rows(realm, args.rows), bench.bench_folder())
        job = services.import_job_from_path(realm=realm, path=csv_path)
        job = services.import_job_map(job=job, mapping=job.mapping)
        print("mapping:", {e["header"]: e["field"] for e in job.mapping})
        if args.profile_worker:
            definitions = services.custom_attribute_definitions(realm)
            row_parser = RowParser(job.mapping, definitions, default_country="HR", default_type=job.default_type)

            class Sink:
                def send(self, message):
                    pickle.dumps(message)

            profile = cProfile.Profile()
            cpu = time.process_time()
            profile.enable()
            analysis.parallel._worker(0, 2, row_parser, Path(job.data_file.path), analysis.table_info(job), Sink())
            profile.disable()
            print(f"worker 0 of 2: {time.process_time() - cpu:.2f} s CPU under cProfile")
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return
        if args.profile:
            definitions = services.custom_attribute_definitions(realm)
            row_parser = RowParser(job.mapping, definitions, default_country="HR", default_type=job.default_type)
            _, rows = readers.table_rows(Path(job.data_file.path), analysis.table_info(job))
            read = time.process_time()
            chunk = [row for _, row in zip(range(args.profile), rows, strict=False)]
            read = time.process_time() - read
            parse = time.process_time()
            for number, cells in chunk:
                analysis.parallel._one(row_parser, number, cells)
            parse = time.process_time() - parse
            print(f"{len(chunk):,} rows: read {read:.2f} s CPU, parse (a new parser) {parse:.2f} s CPU, serial")
            row_parser = RowParser(job.mapping, definitions, default_country="HR", default_type=job.default_type)
            profile = cProfile.Profile()
            profile.enable()
            for number, cells in chunk:
                analysis.parallel._one(row_parser, number, cells)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return
        for _ in range(args.repeat):
            load = os.getloadavg()
            started, cpu, split, user_sys = time.perf_counter(), _cpu(), _split(), _children_user_sys()
            profile = cProfile.Profile() if args.profile_parent else None
            if profile:
                profile.enable()
            job = services.import_job_analyze(job=job)
            if profile:
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(30)
            wall, used = time.perf_counter() - started, _cpu() - cpu
            own, workers = (after - before for after, before in zip(_split(), split, strict=True))
            print(
                f"analysis of {job.rows_total:,} rows: {wall:.2f} s wall, {used:.2f} s CPU (this process + workers); "
                f"load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; valid {job.rows_valid:,}, "
                f"invalid {job.rows_invalid:,}, {job.analysis['duplicate_groups']:,} duplicate groups"
            )
            user, system = (after - before for after, before in zip(_children_user_sys(), user_sys, strict=True))
            print(
                f"  CPU: this process {own:.2f} s, its forked workers {workers:.2f} s "
                f"({user:.2f} user, {system:.2f} sys)"
            )
            print("  resolve:", job.analysis["resolve"], "discard:", job.analysis["discard"])
            job = services.import_job_map(job=job, mapping=job.mapping)
    finally:
        from django.db import connections

        connections.close_all()
        bench._admin_execute(f"DROP DATABASE IF EXISTS {bench.DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
