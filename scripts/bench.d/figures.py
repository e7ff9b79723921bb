#!/usr/bin/env python3
"""The machine-readable side of scripts/bench: every section prints its figures as human lines, and where
ZK_BENCH_JSON names a file it also appends one JSON record per line there (JSON Lines). This tool appends such
records from shell sections and assembles the file into one document at the end.

  figures.py figure SECTION FIGURE VALUE UNIT [--baseline B] [--ratio R] [--target T] [--note TEXT]
      appends {"section", "figure", "value", "unit", "baseline", "ratio", "target", "note"}; VALUE and B are
      numbers (a ratio is computed from them when not given); without ZK_BENCH_JSON it does nothing
  figures.py lines SECTION FILE      appends {"section", "line"} for each line of FILE: what the section printed
  figures.py failed SECTION REASON    appends {"section", "failed"}: the section did not produce its figures
  figures.py report FILE RUNS MODE    prints the document: date, git commit, machine, runs, and the records
                                      grouped by section in the order they came

Java benchmarks append the same records (io.zonekeeper.itests.bench.BenchFigures)."""
import json
import os
import subprocess
import sys
import time


def append(record):
    path = os.environ.get("ZK_BENCH_JSON")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def number(text, what):
    try:
        v = float(text)
    except ValueError:
        raise SystemExit("figures.py: %s %r is not a number" % (what, text))
    return int(v) if v.is_integer() and "." not in text else v


def figure(args):
    if len(args) < 4:
        raise SystemExit("usage: figures.py figure SECTION FIGURE VALUE UNIT [--baseline B] [--ratio R]"
                         " [--target T] [--note TEXT]")
    section, name, value, unit = args[:4]
    rec = {"section": section, "figure": name, "value": number(value, "value"), "unit": unit}
    rest = args[4:]
    if len(rest) % 2:
        raise SystemExit("figures.py: option %s has no value" % rest[-1])
    for key, val in zip(rest[::2], rest[1::2]):
        if key == "--baseline":
            rec["baseline"] = number(val, "baseline")
        elif key == "--ratio":
            rec["ratio"] = number(val, "ratio")
        elif key == "--target":
            rec["target"] = val
        elif key == "--note":
            rec["note"] = val
        else:
            raise SystemExit("figures.py: unknown option %s" % key)
    if "baseline" in rec and "ratio" not in rec and rec["baseline"]:
        rec["ratio"] = round(rec["value"] / rec["baseline"], 3)
    append(rec)


def machine():
    m = {"cores": os.cpu_count()}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    m["memory_mib"] = int(line.split()[1]) // 1024
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    # What a zone's QEMU gets: KVM where /dev/kvm opens, else TCG (the figures differ by an order of magnitude).
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        m["accel"] = "kvm"
    except OSError:
        m["accel"] = "tcg"
    with open("/proc/loadavg") as f:
        m["load_at_end"] = f.read().split()[:3]
    return m


def report(args):
    path, runs, mode = args[0], int(args[1]), args[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip() != ""
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = None, None
    sections = {}
    bad = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    rec = json.loads(line)
                except ValueError:
                    bad.append("line %d: %s" % (n, line.strip()[:200]))
                    continue
                s = sections.setdefault(rec.pop("section", "?"), {"figures": [], "lines": []})
                if "line" in rec:
                    s["lines"].append(rec["line"])
                elif "failed" in rec:
                    s.setdefault("failed", []).append(rec["failed"])
                else:
                    s["figures"].append(rec)
    doc = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
        "uncommitted_changes": dirty,
        "machine": machine(),
        "runs": runs,
        "mode": mode,
        "sections": [dict(name=k, **v) for k, v in sections.items()],
    }
    if bad:
        doc["unreadable_records"] = bad
    print(json.dumps(doc, indent=1, ensure_ascii=False))


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "figure":
        figure(args)
    elif cmd == "lines" and len(args) == 2:
        with open(args[1], encoding="utf-8", errors="replace") as f:
            for line in f:
                append({"section": args[0], "line": line.rstrip("\n")})
    elif cmd == "failed" and len(args) == 2:
        append({"section": args[0], "failed": args[1]})
    elif cmd == "report" and len(args) == 3:
        report(args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
