#!/usr/bin/env python3
"""report.py ROWS RESULTS META OUT_BASE: tools/bench's table.

ROWS     TSV: id, label, unit, better ("higher" or "lower"), in table order
RESULTS  TSV: id, side ("ustack" or "kernel"), round, value (empty if the run failed or was
         skipped), note
META     JSON object: how the run was made (date, kernel, cpu, sizes ...)

Writes OUT_BASE.md (a Markdown table of medians and the ratio ustack/kernel per row, then the
notes) and OUT_BASE.json (every sample), and prints the Markdown. Medians, not means: one run
disturbed by the other programs on a shared machine moves a mean, not a median.
"""
import json
import statistics
import sys

rows_path, results_path, meta_path, out_base = sys.argv[1:5]

rows = []
with open(rows_path, encoding="utf-8") as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 4:
            rows.append({"id": parts[0], "label": parts[1], "unit": parts[2], "better": parts[3]})

samples = {}
with open(results_path, encoding="utf-8") as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 5:
            continue
        rid, side, rnd, value, note = parts[:5]
        entry = samples.setdefault(
            (rid, side), {"samples": [], "failed": 0, "skipped": False, "notes": []}
        )
        if value:
            entry["samples"].append(float(value))
        elif note.startswith("failed"):
            entry["failed"] += 1
        else:
            entry["skipped"] = True
        if note and note not in entry["notes"]:
            entry["notes"].append(note)

with open(meta_path, encoding="utf-8") as f:
    meta = json.load(f)


def fmt(v):
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


out_rows = []
md = []
md.append(f"# ustack vs Linux kernel — {meta.get('date', '')}")
md.append("")
md.append(
    f"{meta.get('mode', '')} run, {meta.get('rounds', '?')} interleaved rounds (ustack, kernel, "
    f"ustack, kernel …); medians. Kernel {meta.get('kernel', '?')}, {meta.get('cpu', '?')}, "
    f"{meta.get('cpus', '?')} CPUs. ustack: ustackd on a TAP; kernel: a veth pair between two "
    "namespaces. The same client program (loadgen, wrk, ping) on the kernel side in both."
)
md.append("")
md.append("| benchmark | unit | ustack | kernel | ustack/kernel | better | samples |")
md.append("|---|---|---:|---:|---:|---|---|")
notes = []
for r in rows:
    row = dict(r)
    medians = {}
    for side in ("ustack", "kernel"):
        e = samples.get(
            (r["id"], side), {"samples": [], "failed": 0, "skipped": False, "notes": []}
        )
        med = statistics.median(e["samples"]) if e["samples"] else None
        medians[side] = med
        row[side] = {"median": med, "samples": e["samples"], "failed": e["failed"],
                     "skipped": e["skipped"], "notes": e["notes"]}
        for n in e["notes"]:
            notes.append(f"- {r['label']} ({side}): {n}")
    u, k = medians["ustack"], medians["kernel"]
    ratio = u / k if u is not None and k not in (None, 0) else None
    row["ratio"] = ratio
    out_rows.append(row)
    counts = []
    for side in ("ustack", "kernel"):
        n_ok = len(row[side]["samples"])
        n_bad = row[side]["failed"]
        if n_ok or n_bad:
            counts.append(f"{n_ok}" + (f"+{n_bad} failed" if n_bad else ""))
        elif row[side]["skipped"]:
            counts.append("skipped")
    md.append(
        f"| {r['label']} | {r['unit']} | {fmt(u)} | {fmt(k)} | "
        f"{'n/a' if ratio is None else f'{ratio:.2f}'} | {r['better']} | "
        f"{' / '.join(counts) if counts else '-'} |"
    )
# The performance issue's goals, judged from this run's medians (never a pass/fail test: a
# reading aid). Each: label, the value as text, met (True/False/None when a figure is missing).
by_id = {r["id"]: r for r in out_rows}


def med(rid, side="ustack"):
    r = by_id.get(rid)
    return None if r is None else r[side]["median"]


def goal_ratio(label, value, limit, higher):
    if value is None:
        return (label, "n/a", None)
    ok = value >= limit if higher else value <= limit
    return (label, f"{value:.2f}", ok)


goals = []
if "ping" in by_id and "ping_tap" in by_id:
    p, t = med("ping"), med("ping_tap")
    goals.append(goal_ratio("ping RTT / bare TAP echo's ≤ 1.1", p / t if p and t else None, 1.1,
                            False))
for rid, what in (("bulk_in", "bulk host→stack"), ("bulk_out", "bulk stack→host"),
                  ("http_ka", "HTTP keep-alive"), ("http_close", "HTTP connection per request")):
    if rid in by_id:
        goals.append(goal_ratio(f"{what} / kernel's ≥ 1", by_id[rid]["ratio"], 1.0, True))
if "echo" in by_id:
    e = med("echo")
    goals.append(("echo ≥ 600 MB/s", "n/a" if e is None else f"{e:.0f} MB/s",
                  None if e is None else e >= 600))
if "hold_mem" in by_id:
    n, m = med("hold"), med("hold_mem")
    goals.append((f"idle connections: {0 if n is None else n:.0f} held at ≤ 4 KiB each "
                  "(the goal: 50,000)",
                  "n/a" if m is None else f"{m:.2f} KiB",
                  None if m is None or n is None else (m <= 4.0 and n >= 50000)))
if goals:
    md.append("")
    md.append("Goals (the performance issue's; read from the medians above):")
    md.append("")
    md.append("| goal | this run | met |")
    md.append("|---|---:|---|")
    for label, value, ok in goals:
        md.append(f"| {label} | {value} | {'n/a' if ok is None else ('yes' if ok else 'no')} |")

if notes:
    md.append("")
    md.append("Notes:")
    md.extend(notes)
md.append("")
text = "\n".join(md)
with open(out_base + ".md", "w", encoding="utf-8") as f:
    f.write(text)
with open(out_base + ".json", "w", encoding="utf-8") as f:
    json.dump({"meta": meta, "rows": out_rows,
               "goals": [{"goal": g[0], "value": g[1], "met": g[2]} for g in goals]}, f, indent=2)
    f.write("\n")
print(text)
