#!/usr/bin/env python3
"""check_layers.py: checks that levee's layers point one way. `make test` runs it.

Each folder of src/ is a stage; stages are ordered (STAGES below, lowest first). A file may include:
  - a public header (include/levee/X.h) whose stage is its own or lower; every public header names its
    stage on its first line: "/* levee/X.h (stage: keep): ...";
  - a private header in its own directory ("foo.h"), never one of another folder ("../x/foo.h").
Public headers follow the same rule among themselves. With --objects DIR (the build's object files),
it also checks that every exported function is defined in the stage whose header declares it, so a
header cannot promise what a higher stage provides.

usage: tools/check_layers.py [--root DIR] [--objects build/obj]
"""
import argparse
import os
import re
import subprocess
import sys

STAGES = ["common", "understand", "receive", "keep", "engines", "answer", "emit", "deliver", "serve", "cli"]
RANK = {s: i for i, s in enumerate(STAGES)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
STAGE_TAG = re.compile(r"^/\* levee/([a-z0-9_]+)\.h \(stage: ([a-z]+)\):")


def header_stages(root, problems):
    stages = {}
    inc = os.path.join(root, "include", "levee")
    for name in sorted(os.listdir(inc)):
        if not name.endswith(".h"):
            continue
        with open(os.path.join(inc, name), encoding="utf-8") as f:
            first = f.readline()
        m = STAGE_TAG.match(first)
        if not m or m.group(1) + ".h" != name or m.group(2) not in RANK:
            problems.append("include/levee/%s: the first line must say '/* levee/%s (stage: NAME): ...' with NAME one "
                            "of %s" % (name, name, ", ".join(STAGES)))
            continue
        stages["levee/" + name] = m.group(2)
    return stages


def check_file(path, rel, stage, stages, problems):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    here = os.path.dirname(path)
    for m in INCLUDE.finditer(text):
        target = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        where = "%s:%d" % (rel, line)
        if target.startswith("levee/"):
            if target not in stages:
                problems.append("%s: includes %s, which is not a public header of levee" % (where, target))
            elif RANK[stages[target]] > RANK[stage]:
                problems.append("%s: %s (stage %s) includes %s of the higher stage %s" %
                                (where, rel, stage, target, stages[target]))
        elif "/" in target:
            problems.append("%s: includes %s: a private header may only be included from its own folder" %
                            (where, target))
        elif not os.path.exists(os.path.join(here, target)) and not target.endswith(".inc"):
            problems.append("%s: includes %s, which is not in %s" % (where, target, os.path.relpath(here)))


def declared_functions(root, stages):
    """public function name -> stage of the header declaring it"""
    decl = {}
    # declarations start a line with their type; calls inside inline functions are indented
    pat = re.compile(r"^[A-Za-z_][\w \t\*]*?[\s\*](lv_[a-z0-9_]+)\s*\(", re.M)
    for h, stage in stages.items():
        with open(os.path.join(root, "include", h), encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r"#define[^\n]*(\\\n[^\n]*)*", "", text)
        for m in pat.finditer(text):
            decl.setdefault(m.group(1), stage)
    return decl


def check_objects(root, objects, decl, problems):
    for dirpath, _, files in os.walk(os.path.join(objects, "src")):
        for name in files:
            if not name.endswith(".o"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, objects)
            if not os.path.exists(os.path.join(root, rel[:-2] + ".c")):
                continue  # left over from a source that moved
            stage = rel.split(os.sep)[1]
            if stage not in RANK:
                continue
            out = subprocess.run(["nm", "--defined-only", "-g", path], capture_output=True, text=True)
            if out.returncode != 0:
                problems.append("%s: nm failed: %s" % (path, out.stderr.strip()))
                continue
            for line in out.stdout.splitlines():
                parts = line.split()
                if len(parts) != 3 or parts[1] not in "TDRB":
                    continue
                sym = parts[2]
                if sym in decl and decl[sym] != stage:
                    problems.append("%s defines %s, which a header of the stage %s declares" %
                                    (os.path.relpath(path, objects), sym, decl[sym]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--objects", help="the build's object folder (build/obj), to check where functions are defined")
    args = ap.parse_args()
    problems = []
    stages = header_stages(args.root, problems)
    for h, stage in stages.items():
        check_file(os.path.join(args.root, "include", h), "include/" + h, stage, stages, problems)
    src = os.path.join(args.root, "src")
    for dirpath, _, files in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        stage = rel_dir.split(os.sep)[0]
        if rel_dir == ".":
            continue
        if stage not in RANK:
            problems.append("src/%s: not a stage (%s)" % (rel_dir, ", ".join(STAGES)))
            continue
        for name in sorted(files):
            if name.endswith((".c", ".h")):
                path = os.path.join(dirpath, name)
                check_file(path, os.path.relpath(path, args.root), stage, stages, problems)
    if args.objects:
        check_objects(args.root, args.objects, declared_functions(args.root, stages), problems)
    for p in problems:
        print("layers: " + p, file=sys.stderr)
    if problems:
        print("layers: %d problem(s); the order of stages is %s" % (len(problems), " < ".join(STAGES)), file=sys.stderr)
        return 1
    print("layers: every include points down (%s)" % " < ".join(STAGES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
