"""lv.py: helpers for end-to-end tests: run the levee binary under test, find fixtures, and build
events from Canvas's documented examples."""
import copy
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
# The binary under test is built with ASan/UBSan (slower, and its memory use is not levee's).
SANITIZED = os.environ.get("LEVEE_SANITIZED") == "1"


def levee_path():
    return os.environ["LEVEE"]


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out_bytes = proc.stdout
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def records(self):
        """stdout as a list of JSON documents, one per line."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def diag_lines(self):
        """stderr lines other than the summary."""
        return [l for l in self.err.splitlines() if l and not l.startswith("levee ")]

    def json_diags(self):
        return [json.loads(l) for l in self.err.splitlines() if l.startswith("{")]


def run(*args, input=None, timeout=120, env=None):
    """Runs levee with args; input may be str or bytes."""
    if isinstance(input, str):
        input = input.encode()
    proc = subprocess.run([levee_path(), *args], input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=env)
    return Result(proc)


def docs_example(relative):
    """The first example payload of one of Canvas's documentation files (tests/fixtures/canvas-docs)."""
    with open(os.path.join(FIXTURES, "canvas-docs", relative)) as f:
        return json.load(f)["examples"][0]["payload"]


def canvas_example(event):
    return docs_example(os.path.join("canvas", "event-types", event + ".json"))


def caliper_example(event):
    return docs_example(os.path.join("caliper", "event-types", event + ".json"))


def compact(doc):
    return json.dumps(doc, separators=(",", ":"))


def mutate(doc, path, value=None, delete=False):
    """A copy of doc with the member at '/'-path set to value (or deleted)."""
    doc = copy.deepcopy(doc)
    parts = path.strip("/").split("/")
    cur = doc
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    if delete:
        del cur[parts[-1]]
    elif isinstance(cur, list):
        cur[int(parts[-1])] = value
    else:
        cur[parts[-1]] = value
    return doc
