"""What reading a long document's chunks that hold a question's rare words costs
(`select.expand`, `Store.document_chunks(about=...)`). For up to `--docs` documents of a
collection with more chunks than `--siblings`, from their sixth chunk: the chunks read by
position alone, and by the rare words (`bearing.rare_terms`) of a line of the document's own
last chunk (a name or a term it holds, as a question would ask), interleaved; the median and
the largest time per call. No model is loaded.

Run: OUTWEIGH_HOME=... .venv/bin/python benchmarks/bench_expand.py COLLECTION [--docs 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

from outweigh.errors import OutweighError
from outweigh.retrieval.bearing import rare_terms
from outweigh.retrieval.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--siblings", type=int, default=12)
    args = parser.parse_args()
    store = Store()
    try:
        coll = store.collection(args.collection)
    except OutweighError as e:
        raise SystemExit(f"bench_expand: {e}") from None
    rows = store.conn.execute(
        "SELECT me.id, d.source, (SELECT text FROM chunks WHERE document_id = d.id "
        "ORDER BY ord DESC LIMIT 1) FROM chunks me JOIN documents d ON d.id = me.document_id "
        "WHERE me.collection_id = ? AND me.ord = 5 AND (SELECT count(*) FROM chunks "
        "WHERE document_id = d.id) > ? LIMIT ?",
        (coll.id, args.siblings, args.docs),
    ).fetchall()
    if not rows:
        raise SystemExit(
            f"bench_expand: no document of {args.collection} has over {args.siblings} chunks"
        )
    near, rare = [], []
    for cid, source, last in rows:
        words = sorted(rare_terms(max(last.splitlines(), key=len, default="")))[:4]
        t0 = time.perf_counter()
        store.document_chunks(source, cid, args.siblings)
        near.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.document_chunks(source, cid, args.siblings, words)
        rare.append(time.perf_counter() - t0)
    print(f"{len(rows)} documents of over {args.siblings} chunks")
    for name, times in (("by position", near), ("by rare words", rare)):
        ms = [t * 1000 for t in times]
        print(f"{name:>14}: median {statistics.median(ms):.2f} ms, largest {max(ms):.2f} ms")


if __name__ == "__main__":
    main()
