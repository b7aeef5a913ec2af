#!/usr/bin/env python3
"""storage: bytes on disk per delivery once a broadcast has completed.

Import the households, checkpoint (PRAGMA wal_checkpoint(TRUNCATE) from a
second connection) and measure the state directory (database, WAL, SHM);
send one notice to all through the sandbox answering at once until the
broadcast is done; checkpoint and measure again, then again after loaxad
has stopped. Per delivery = growth / households. Table sizes come from
SQLite's dbstat when it is available.
"""
import sqlite3

import common as c

DOC = __doc__.split("\n\n")[0]


def table_sizes(path):
    try:
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            rows = con.execute("SELECT name, SUM(pgsize) FROM dbstat "
                               "GROUP BY name ORDER BY 2 DESC").fetchall()
        finally:
            con.close()
        return {k: v for k, v in rows}
    except sqlite3.Error as e:
        return {"error": str(e)}


def run(args, rep):
    n = args.households
    with c.Env(sandbox_args=c.sandbox_args(n), rate=0,
               max_in_flight=64) as env:
        d = env.d
        c.import_households(d, n, quiet=True)
        d.checkpoint()
        before = c.dir_size(d.state_dir)
        b, _ = c.create_broadcast(d, c.notice())
        while c.get_broadcast(d, b["id"])["state"] != "done":
            c.time.sleep(1.0)
        bb = c.get_broadcast(d, b["id"])
        after_run = c.dir_size(d.state_dir)
        ck = d.checkpoint()
        after = c.dir_size(d.state_dir)
        d.stop()
        stopped = c.dir_size(d.state_dir)
        tables = table_sizes(d.db_path)
    rep.add("state dir before the broadcast (households only)",
            before / 1e6, "MB")
    rep.add("state dir after the broadcast, before a checkpoint",
            after_run / 1e6, "MB")
    rep.add("state dir after the broadcast and a checkpoint", after / 1e6,
            "MB")
    rep.add("state dir after loaxad stopped", stopped / 1e6, "MB")
    rep.add("bytes per delivery (checkpointed growth / %d)" % n,
            (after - before) / n, "B")
    rep.add("bytes per household (households only)", before / n, "B")
    rep.note("checkpoint answer (busy, log, checkpointed): %r; deliveries "
             "sent: %d" % (ck, bb["counts"]["sent"]))
    if "error" not in tables:
        top = sorted(tables.items(), key=lambda kv: -kv[1])[:8]
        rep.note("largest tables/indexes (dbstat): " + ", ".join(
            "%s %.1f MB" % (k, v / 1e6) for k, v in top))
    rep.extra["tables"] = tables


MAIN_KW = dict(households=c.FULL_HOUSEHOLDS,
               quick_households=c.QUICK_HOUSEHOLDS)


if __name__ == "__main__":
    c.main("storage", DOC, run, **MAIN_KW)
