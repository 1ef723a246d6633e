"""One operation of one peer engine (DuckDB or chdb) on the generated audit events.

Run by bench/peers/peers_bench.py in a process of its own, so that the parent measures the
CPU the operation used (RUSAGE_CHILDREN) and each cold query starts without a warm process.
Prints one JSON object: {"seconds": ..., "rows": ..., "digest": ...}. "seconds" is the time of
the operation inside the process (after the engine's module is imported).

usage: engine.py ENGINE load DB JSONL
       engine.py ENGINE query DB NAME RUNS       (RUNS > 1: the first run warms, median of the rest)
       engine.py ENGINE export DB OUT BOUND_US   (rows with stageTimestamp < BOUND_US, as CSV)
       engine.py ENGINE size DB
"""
import hashlib
import json
import os
import statistics
import sys
import time

WRITE_VERBS = "('create','update','patch','delete','deletecollection')"

# The four aggregations of the issue, in each engine's dialect. Each answer is ordered so that
# the digests of the engines (and ktrail's) can be compared.
QUERIES = {
    "duckdb": {
        "count_by_verb": "SELECT verb, count(*) FROM audit GROUP BY verb ORDER BY verb",
        "secret_readers": "SELECT namespace, count(DISTINCT username) FROM audit "
                          "WHERE resource = 'secrets' AND verb IN ('get','list','watch') "
                          "GROUP BY namespace ORDER BY namespace",
        "top_writers": "SELECT username, count(*) AS n FROM audit WHERE verb IN " + WRITE_VERBS +
                       " GROUP BY username ORDER BY n DESC, username LIMIT 10",
        "per_day_resource": "SELECT ts // 86400000000 AS day, resource, count(*) FROM audit "
                            "GROUP BY day, resource ORDER BY day, resource",
    },
    "chdb": {
        "count_by_verb": "SELECT verb, count() FROM audit GROUP BY verb ORDER BY verb",
        "secret_readers": "SELECT namespace, uniqExact(username) FROM audit "
                          "WHERE resource = 'secrets' AND verb IN ('get','list','watch') "
                          "GROUP BY namespace ORDER BY namespace",
        "top_writers": "SELECT username, count() AS n FROM audit WHERE verb IN " + WRITE_VERBS +
                       " GROUP BY username ORDER BY n DESC, username LIMIT 10",
        "per_day_resource": "SELECT intDiv(ts, 86400000000) AS day, resource, count() FROM audit "
                            "GROUP BY day, resource ORDER BY day, resource",
    },
}

COLUMNS = ("ts, received, audit_id, stage, level, verb, username, groups, impersonated_user, "
           "resource, subresource, namespace, name, code, source_ips, user_agent")

DUCKDB_JSON_COLUMNS = ("{stageTimestamp: 'TIMESTAMP', requestReceivedTimestamp: 'TIMESTAMP', "
                       "auditID: 'VARCHAR', stage: 'VARCHAR', level: 'VARCHAR', verb: 'VARCHAR', "
                       "user: 'STRUCT(username VARCHAR, groups VARCHAR[])', "
                       "impersonatedUser: 'STRUCT(username VARCHAR)', "
                       "objectRef: 'STRUCT(resource VARCHAR, subresource VARCHAR, "
                       "namespace VARCHAR, name VARCHAR)', "
                       "responseStatus: 'STRUCT(code INTEGER)', sourceIPs: 'VARCHAR[]', "
                       "userAgent: 'VARCHAR'}")


def digest(rows):
    h = hashlib.sha256()
    for row in rows:
        h.update(("|".join("" if v is None else str(v) for v in row) + "\n").encode())
    return h.hexdigest()[:16]


class DuckDB:
    def __init__(self, path):
        import duckdb
        self.con = duckdb.connect(path)

    def load(self, jsonl):
        self.con.execute(f"""
CREATE TABLE audit AS SELECT
  epoch_us(stageTimestamp) AS ts, epoch_us(requestReceivedTimestamp) AS received,
  auditID AS audit_id, stage, level, verb, user.username AS username,
  array_to_string(user.groups, ',') AS groups, impersonatedUser.username AS impersonated_user,
  objectRef.resource AS resource, objectRef.subresource AS subresource,
  objectRef.namespace AS namespace, objectRef.name AS name, responseStatus.code AS code,
  array_to_string(sourceIPs, ',') AS source_ips, userAgent AS user_agent
FROM read_json('{jsonl}', format = 'newline_delimited', columns = {DUCKDB_JSON_COLUMNS})""")
        self.con.execute("CHECKPOINT")
        return self.con.execute("SELECT count(*) FROM audit").fetchone()[0]

    def rows(self, sql):
        return self.con.execute(sql).fetchall()

    def export(self, out, bound):
        self.con.execute(f"COPY (SELECT {COLUMNS} FROM audit WHERE ts < {bound} ORDER BY ts) "
                         f"TO '{out}' (HEADER, DELIMITER ',')")


class Chdb:
    def __init__(self, path):
        from chdb import session
        self.sess = session.Session(path)

    def load(self, jsonl):
        self.sess.query("""
CREATE TABLE audit (
  ts Int64, received Int64, audit_id String, stage LowCardinality(String),
  level LowCardinality(String), verb LowCardinality(String), username LowCardinality(String),
  groups LowCardinality(String), impersonated_user LowCardinality(String),
  resource LowCardinality(String), subresource LowCardinality(String),
  namespace LowCardinality(String), name String, code Int32, source_ips LowCardinality(String),
  user_agent LowCardinality(String)
) ENGINE = MergeTree ORDER BY ts""")
        self.sess.query(f"""
INSERT INTO audit SELECT
  toUnixTimestamp64Micro(parseDateTime64BestEffort(JSONExtractString(j, 'stageTimestamp'), 6)),
  toUnixTimestamp64Micro(parseDateTime64BestEffort(
      JSONExtractString(j, 'requestReceivedTimestamp'), 6)),
  JSONExtractString(j, 'auditID'), JSONExtractString(j, 'stage'), JSONExtractString(j, 'level'),
  JSONExtractString(j, 'verb'), JSONExtractString(j, 'user', 'username'),
  arrayStringConcat(JSONExtract(j, 'user', 'groups', 'Array(String)'), ','),
  JSONExtractString(j, 'impersonatedUser', 'username'),
  JSONExtractString(j, 'objectRef', 'resource'), JSONExtractString(j, 'objectRef', 'subresource'),
  JSONExtractString(j, 'objectRef', 'namespace'), JSONExtractString(j, 'objectRef', 'name'),
  JSONExtractInt(j, 'responseStatus', 'code'),
  arrayStringConcat(JSONExtract(j, 'sourceIPs', 'Array(String)'), ','),
  JSONExtractString(j, 'userAgent')
FROM file('{jsonl}', 'JSONAsString', 'j String')""")
        self.sess.query("OPTIMIZE TABLE audit FINAL")
        return int(str(self.sess.query("SELECT count() FROM audit", "CSV")).strip())

    def rows(self, sql):
        text = str(self.sess.query(sql, "TSV"))
        # ClickHouse prints empty strings where DuckDB has NULL: both become "" in the digest.
        return [tuple(line.split("\t")) for line in text.splitlines()]

    def export(self, out, bound):
        self.sess.query(f"SELECT {COLUMNS} FROM audit WHERE ts < {bound} ORDER BY ts "
                        f"INTO OUTFILE '{out}' TRUNCATE FORMAT CSVWithNames")


def open_engine(name, path):
    return DuckDB(path) if name == "duckdb" else Chdb(path)


def dir_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    engine, op, db = sys.argv[1], sys.argv[2], sys.argv[3]
    if op == "size":
        print(json.dumps({"bytes": dir_size(db)}))
        return
    start = time.perf_counter()
    e = open_engine(engine, db)
    if op == "load":
        rows = e.load(sys.argv[4])
        print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))
    elif op == "query":
        sql = QUERIES[engine][sys.argv[4]]
        runs = int(sys.argv[5])
        times = []
        cpus = []
        result = []
        for _ in range(runs):
            t = time.perf_counter()
            c = time.process_time()
            result = e.rows(sql)
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        # A cold run counts the open too; warm runs are the median after the first.
        seconds = times[0] + (time.perf_counter() - start - sum(times)) if runs == 1 \
            else statistics.median(times[1:])
        # Normalized like ktrail's CSV: NULL and '' alike, numbers as text.
        norm = [tuple("" if v is None else str(v) for v in r) for r in result]
        # CPU (every thread of the process) of the warm runs: less distorted than wall time on a
        # machine shared with other work.
        cpu = statistics.median(cpus[1:]) if runs > 1 else cpus[0]
        print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": len(result),
                          "digest": digest(norm)}))
    elif op == "export":
        e.export(sys.argv[4], int(sys.argv[5]))
        print(json.dumps({"seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
