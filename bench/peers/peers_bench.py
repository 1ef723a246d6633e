"""ktrail beside DuckDB and chdb on the same generated Metadata-level audit events.

Measures, for each engine on the same JSON lines (bench/gen_audit.cpp):
  - load: wall time and CPU (user + system of the loading process) per event;
  - size on disk per stored event (ktrail: the .db file; DuckDB: its file; chdb: its directory);
  - the four aggregations of issue 16, warm (median of RUNS after a warm-up run in the same
    process) and cold (the store's files dropped from the page cache with
    posix_fadvise(DONTNEED), then one run in a new process, open included);
  - export of the first EXPORT events (by stageTimestamp) as CSV to a file.
It checks that every engine gives the same answer (a digest of the rows) and prints ktrail's
ratios to each peer. Run through bench/peers_bench.sh, which prepares the Python environment.
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WRITE_VERBS = "('create','update','patch','delete','deletecollection')"

KTRAIL_QUERIES = {
    "count_by_verb": "SELECT verb, count(*) FROM audit_events GROUP BY verb ORDER BY verb",
    "secret_readers": "SELECT namespace, count(DISTINCT username) FROM audit_events "
                      "WHERE resource = 'secrets' AND verb IN ('get','list','watch') "
                      "GROUP BY namespace ORDER BY namespace",
    "top_writers": "SELECT username, count(*) AS n FROM audit_events WHERE verb IN " +
                   WRITE_VERBS + " GROUP BY username ORDER BY n DESC, username LIMIT 10",
    "per_day_resource": "SELECT ts / 86400000000 AS day, resource, count(*) FROM audit_events "
                        "GROUP BY day, resource ORDER BY day, resource",
}
KTRAIL_EXPORT = ("SELECT ts, received, audit_id, stage, level, verb, username, groups, "
                 "impersonated_user, resource, subresource, namespace, name, code, source_ips, "
                 "user_agent FROM audit_events WHERE ts < {bound} ORDER BY key")


def run(cmd, stdout=None):
    """Runs cmd; returns (wall seconds, CPU seconds of the child, stdout text)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=stdout if stdout is not None else subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)[:300]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout if stdout is None else ""


def drop_cache(path):
    """Drops the page cache of every file under path (or of path itself)."""
    files = [path] if os.path.isfile(path) else [
        os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs]
    for f in files + [path + "-wal", path + "-shm"]:
        if os.path.isfile(f):
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd) if os.access(f, os.W_OK) else None
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def csv_digest(text):
    rows = text.splitlines()[1:]  # header
    h = hashlib.sha256()
    for row in rows:
        h.update((row.replace(",", "|").replace('"', "") + "\n").encode())
    return len(rows), h.hexdigest()[:16]


class Ktrail:
    name = "ktrail"

    def __init__(self, binary, db, extra_sql_args, extra_ingest_args):
        self.binary, self.db, self.sql_args = binary, db, extra_sql_args
        self.ingest_args = extra_ingest_args

    def load(self, jsonl, events):
        wall, cpu, out = run([self.binary, "ingest", "--db", self.db, "--progress", "never",
                              "--detect-rules", "none", "-o", "json"] + self.ingest_args + [jsonl])
        return wall, cpu, json.loads(out.strip().splitlines()[-1]).get("stored", events)

    def sql(self, statement, stdout=None):
        return run([self.binary, "sql", "--db", self.db, "-o", "csv", "--timeout", "3600s",
                    "--max-memory", "4GiB"] + self.sql_args + [statement], stdout)

    def query(self, q, runs):
        times, cpus, answer = [], [], None
        for _ in range(runs):
            wall, cpu, out = self.sql(KTRAIL_QUERIES[q])
            times.append(wall)
            cpus.append(cpu)
            answer = csv_digest(out)
        self.last_cpu = statistics.median(cpus[1:]) if runs > 1 else cpus[0]
        return (statistics.median(times[1:]) if runs > 1 else times[0]), answer

    def export(self, out, bound):
        with open(out, "w") as f:
            wall, _, _ = self.sql(KTRAIL_EXPORT.format(bound=bound), stdout=f)
        return wall

    def export_audit(self, out, bound, form):
        """The same events through `ktrail query audit --limit 0` (the command line's export:
        RFC 3339 times, names instead of codes) as CSV or JSON lines."""
        window = []
        if bound < (1 << 62):  # else every event
            seconds, micros = divmod(bound - 1, 1_000_000)
            window = ["--until", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) +
                      f".{micros:06d}Z"]
        with open(out, "w") as f:
            wall, _, _ = run([self.binary, "query", "audit", "--db", self.db] + window +
                             ["--limit", "0", "--stages", "all", "-o", form], stdout=f)
        return wall

    def path(self):
        return self.db


class Peer:
    def __init__(self, name, python, path):
        self.name, self.python, self.db = name, python, path

    def call(self, *args, stdout=None):
        wall, cpu, out = run([self.python, os.path.join(HERE, "engine.py"), self.name] +
                             [str(a) for a in args])
        return wall, cpu, json.loads(out.strip().splitlines()[-1])

    def load(self, jsonl, events):
        wall, cpu, r = self.call("load", self.db, jsonl)
        return wall, cpu, r["rows"]

    def query(self, q, runs):
        _, _, r = self.call("query", self.db, q, runs)
        self.last_cpu = r["cpu"]
        return r["seconds"], (r["rows"], r["digest"])

    def export(self, out, bound):
        _, _, r = self.call("export", self.db, out, bound)
        return r["seconds"]

    def path(self):
        return self.db


def ts_of_line(jsonl, n):
    """stageTimestamp (µs) of line n (1-based) of the generated file, or None past its end."""
    from datetime import datetime, timezone
    with open(jsonl) as f:
        for i, line in enumerate(f, 1):
            if i == n:
                t = json.loads(line)["stageTimestamp"]
                d = datetime.strptime(t.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f")
                return int(d.replace(tzinfo=timezone.utc).timestamp() * 1_000_000)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ktrail", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--engines", default="ktrail,duckdb,chdb")
    ap.add_argument("--runs", type=int, default=3, help="warm runs (after one warm-up)")
    ap.add_argument("--export", type=int, default=1_000_000, help="rows to export (0: none)")
    ap.add_argument("--keep", action="store_true", help="reuse stores already loaded in --dir")
    ap.add_argument("--ktrail-sql-arg", action="append", default=[],
                    help="extra argument for `ktrail sql` (repeatable)")
    ap.add_argument("--ktrail-ingest-arg", action="append", default=[],
                    help="extra argument for `ktrail ingest`, e.g. --seal-after=1h (repeatable)")
    ap.add_argument("--baseline", default="",
                    help="another ktrail binary (e.g. main's) to run the same aggregations with, "
                         "on the same store, for a ratio in the same run")
    ap.add_argument("--baseline-runs", type=int, default=1,
                    help="warm runs of the baseline (after one warm-up)")
    ap.add_argument("--skip-queries", action="store_true",
                    help="load and size only (no aggregations, no export)")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    jsonl = os.path.join(args.dir, f"audit-{args.events}.jsonl")
    if not os.path.exists(jsonl):
        run([args.gen, "--events", str(args.events), "--out", jsonl + ".tmp"])
        os.rename(jsonl + ".tmp", jsonl)
    engines = []
    for name in args.engines.split(","):
        if name == "ktrail":
            engines.append(Ktrail(args.ktrail, os.path.join(args.dir, f"ktrail-{args.events}.db"),
                                  args.ktrail_sql_arg, args.ktrail_ingest_arg))
        else:
            ext = ".duckdb" if name == "duckdb" else ".chdb"
            engines.append(Peer(name, args.python,
                                os.path.join(args.dir, f"{name}-{args.events}{ext}")))

    results = {e.name: {} for e in engines}
    print(f"# {args.events} generated Metadata-level events, {os.path.getsize(jsonl) / 1e6:.0f} MB "
          f"of JSON lines", flush=True)
    for e in engines:
        r = results[e.name]
        if not (args.keep and os.path.exists(e.path())):
            for p in (e.path(), e.path() + "-wal", e.path() + "-shm", e.path() + ".wal"):
                if os.path.isdir(p):
                    shutil.rmtree(p)
                elif os.path.exists(p):
                    os.remove(p)
            wall, cpu, rows = e.load(jsonl, args.events)
            r["load_wall"], r["load_cpu"], r["rows"] = wall, cpu, rows
            print(f"{e.name}: loaded {rows} events in {wall:.1f} s, CPU {cpu:.1f} s "
                  f"({cpu / max(rows, 1) * 1e6:.2f} µs/event)", flush=True)
        r["size"] = size_of(e.path())
        r.setdefault("rows", args.events)
        print(f"{e.name}: {r['size'] / r['rows']:.1f} bytes/event", flush=True)
        if e.name == "ktrail":
            # Pages freed by sealing stay in SQLite's free list (reused by later writes): the
            # bytes in use are the file less the free pages.
            import sqlite3
            con = sqlite3.connect(f"file:{e.path()}?mode=ro", uri=True)
            page, count, free = (con.execute(f"PRAGMA {p}").fetchone()[0]
                                 for p in ("page_size", "page_count", "freelist_count"))
            sealed = con.execute("SELECT coalesce(sum(count), 0) FROM segments").fetchone()[0] \
                if con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'segments'"
                               ).fetchone()[0] else 0
            con.close()
            r["used"] = (count - free) * page
            print(f"{e.name}: {r['used'] / r['rows']:.1f} bytes/event in use "
                  f"({free * page / 1e6:.0f} MB free pages), {sealed} events sealed", flush=True)
    if args.skip_queries:
        return

    answers = {}
    for q in KTRAIL_QUERIES:
        for e in engines:
            warm, ans = e.query(q, args.runs + 1)
            results[e.name][q + "_cpu"] = e.last_cpu
            drop_cache(e.path())
            cold, _ = e.query(q, 1)
            results[e.name][q] = (warm, cold)
            answers.setdefault(q, {})[e.name] = ans
            print(f"{e.name}: {q}: warm {warm * 1e3:.0f} ms "
                  f"(CPU {results[e.name][q + '_cpu'] * 1e3:.0f} ms), cold {cold * 1e3:.0f} ms, "
                  f"{ans[0]} rows, digest {ans[1]}", flush=True)
        if args.baseline:
            base = Ktrail(args.baseline, engines[0].path() if engines[0].name == "ktrail" else
                          os.path.join(args.dir, f"ktrail-{args.events}.db"), [], [])
            base.name = "baseline"
            warm, ans = base.query(q, args.baseline_runs + 1)
            results.setdefault("baseline", {})[q + "_cpu"] = base.last_cpu
            drop_cache(base.path())
            cold, _ = base.query(q, 1)
            results.setdefault("baseline", {})[q] = (warm, cold)
            answers[q]["baseline"] = ans
            print(f"baseline: {q}: warm {warm * 1e3:.0f} ms, cold {cold * 1e3:.0f} ms, "
                  f"{ans[0]} rows, digest {ans[1]}", flush=True)
        if len({a for a in answers[q].values()}) != 1:
            print(f"WARNING: the engines disagree on {q}: {answers[q]}", flush=True)

    bound = ts_of_line(jsonl, args.export + 1) or (1 << 62)
    for e in (engines if args.export > 0 else []):
        out = os.path.join(args.dir, f"export-{e.name}.csv")
        wall = e.export(out, bound)
        lines = sum(1 for _ in open(out)) - 1
        results[e.name]["export"] = wall
        print(f"{e.name}: export of {lines} rows as CSV: {wall:.2f} s, "
              f"{os.path.getsize(out) / 1e6:.0f} MB", flush=True)
        os.remove(out)

    # ktrail's own export command, beside the same binary's SQL export and the baseline's.
    audit_exports = []
    if args.export > 0:
        kt = [e for e in engines if e.name == "ktrail"]
        runners = [("ktrail", kt[0])] if kt else []
        if args.baseline and kt:
            runners.append(("baseline", Ktrail(args.baseline, kt[0].path(), [], [])))
        for form in ("csv", "jsonl"):
            for name, k_engine in runners:
                out = os.path.join(args.dir, f"export-{name}.{form}")
                wall = k_engine.export_audit(out, bound, form)
                lines = sum(1 for _ in open(out)) - (1 if form == "csv" else 0)
                print(f"{name}: query audit --limit 0 -o {form}: {lines} rows, {wall:.2f} s, "
                      f"{os.path.getsize(out) / 1e6:.0f} MB", flush=True)
                os.remove(out)
                audit_exports.append((name, form, wall))

    baseline = results.pop("baseline", None)
    k = results.get("ktrail")
    if k is None:
        return
    print("\n| measure | ktrail | " + " | ".join(e.name for e in engines if e.name != "ktrail") +
          " | ktrail ÷ " + " | ktrail ÷ ".join(e.name for e in engines if e.name != "ktrail") + " |")
    peers = [e.name for e in engines if e.name != "ktrail"]
    print("|---" * (2 + 2 * len(peers)) + "|")

    def line(label, key, fmt):
        vals = [fmt(k[key])] + [fmt(results[p][key]) for p in peers]
        ratios = [f"{key_ratio(k[key], results[p][key]):.2f}" for p in peers]
        print(f"| {label} | " + " | ".join(vals) + " | " + " | ".join(ratios) + " |")

    def key_ratio(a, b):
        return a / b if b else float("inf")

    for r in results.values():
        if "load_cpu" in r:
            r["cpu_per_event"] = r["load_cpu"] / r["rows"] * 1e6
        r["bytes_per_event"] = r["size"] / r["rows"]
        for q in KTRAIL_QUERIES:
            r[q + "_warm"], r[q + "_cold"] = r[q]
    if all("cpu_per_event" in results[n] for n in results):
        line("load CPU per event (µs)", "cpu_per_event", lambda v: f"{v:.2f}")
    line("bytes per event", "bytes_per_event", lambda v: f"{v:.1f}")
    for q in KTRAIL_QUERIES:
        line(f"{q} warm (ms)", q + "_warm", lambda v: f"{v * 1e3:.0f}")
        line(f"{q} cold (ms)", q + "_cold", lambda v: f"{v * 1e3:.0f}")
        line(f"{q} warm CPU (ms)", q + "_cpu", lambda v: f"{v * 1e3:.0f}")
    if args.export > 0:
        line(f"export {args.export} rows CSV (s)", "export", lambda v: f"{v:.2f}")
        for name, form, wall in audit_exports:
            ratios = [f"{key_ratio(wall, results[p]['export']):.2f}" for p in peers]
            print(f"| export {args.export} rows, {name} query audit -o {form} (s) | {wall:.2f} | " +
                  " | ".join(f"{results[p]['export']:.2f}" for p in peers) + " | " +
                  " | ".join(ratios) + " |")
    if baseline and k:
        print(f"\n| aggregation | ktrail | baseline ({args.baseline}) | ktrail ÷ baseline |")
        print("|---|---|---|---|")
        for q in KTRAIL_QUERIES:
            for i, kind in enumerate(("warm", "cold")):
                print(f"| {q} {kind} (ms) | {k[q][i] * 1e3:.0f} | {baseline[q][i] * 1e3:.0f} | "
                      f"{key_ratio(k[q][i], baseline[q][i]):.3f} |")
            print(f"| {q} warm CPU (ms) | {k[q + '_cpu'] * 1e3:.0f} | "
                  f"{baseline[q + '_cpu'] * 1e3:.0f} | "
                  f"{key_ratio(k[q + '_cpu'], baseline[q + '_cpu']):.3f} |")


if __name__ == "__main__":
    main()
