"""test_cli.py: the command line itself: help for every command, version, usage errors and exit
statuses."""
import os
import re
import tempfile
import unittest

from lv import run


class TestHelp(unittest.TestCase):
    def test_top_level_help_lists_commands(self):
        r = run("--help")
        self.assertEqual(r.code, 0)
        for name in ("validate", "normalize", "convert", "catalog", "help"):
            self.assertRegex(r.out, r"\n  %s\s" % name)
        self.assertIn("Exit status", r.out)
        self.assertIn("Examples:", r.out)

    def test_every_command_has_complete_help(self):
        commands = run("--help").out.split("Commands:\n")[1].split("\n\n")[0]
        listed = re.findall(r"^  ([a-z]+)\s", commands, re.M)
        self.assertGreaterEqual(len(listed), 5)
        for name in listed:
            with self.subTest(command=name):
                r = run("help", name)
                self.assertEqual(r.code, 0)
                self.assertTrue(r.out.startswith("usage: levee %s" % name), r.out[:80])
                self.assertIn("Example", r.out)
                self.assertEqual(run(name, "--help").out, r.out)

    def test_version(self):
        r = run("--version")
        self.assertEqual(r.code, 0)
        self.assertRegex(r.out, r"^levee \d+\.\d+\.\d+\n$")

    def test_no_arguments_is_a_usage_error(self):
        r = run()
        self.assertEqual(r.code, 2)
        self.assertIn("usage: levee COMMAND", r.err)


class TestUsageErrors(unittest.TestCase):
    def test_unknown_command(self):
        r = run("frobnicate")
        self.assertEqual(r.code, 2)
        self.assertIn("'frobnicate' is not a levee command", r.err)

    def test_help_for_unknown_command(self):
        r = run("help", "frobnicate")
        self.assertEqual(r.code, 2)
        self.assertIn("there is no command 'frobnicate'", r.err)

    def test_unknown_option(self):
        r = run("validate", "--bogus")
        self.assertEqual(r.code, 2)
        self.assertIn("unknown option '--bogus'", r.err)
        self.assertIn("levee help validate", r.err)

    def test_convert_needs_a_target(self):
        r = run("convert", input="")
        self.assertEqual(r.code, 2)
        self.assertIn("--to canvas or --to caliper", r.err)
        r = run("convert", "--to", "xapi", input="")
        self.assertEqual(r.code, 2)
        self.assertIn("--to must be canvas or caliper, not 'xapi'", r.err)

    def test_missing_file_is_an_io_error(self):
        r = run("validate", "/nonexistent/events.ndjson")
        self.assertEqual(r.code, 2)
        self.assertIn("cannot open /nonexistent/events.ndjson: No such file or directory", r.err)

    def test_io_error_after_good_input_still_reports(self):
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "good.ndjson")
            with open(good, "w") as f:
                f.write('{"metadata":{"event_name":"x_y","event_time":"2020-01-01T00:00:00Z"}}\n')
            r = run("normalize", good, os.path.join(d, "missing.ndjson"))
            self.assertEqual(r.code, 2)
            self.assertEqual(len(r.records()), 1)


if __name__ == "__main__":
    unittest.main()


class TestOutputErrors(unittest.TestCase):
    """Every command that writes says so, with exit status 2, when its output cannot be written."""

    def test_every_writing_command_on_a_full_disk(self):
        import subprocess
        from lv import levee_path, canvas_example, compact
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        events = os.path.join(d.name, "e.ndjson")
        with open(events, "w") as f:
            f.write(run("simulate", "--days", "3", "--seed", "2").out)
        db = os.path.join(d.name, "s.db")
        self.assertEqual(run("ingest", "--db", db, "--quiet", events).code, 0)
        courses = run("query", "courses", "--db", db, "--json").out
        course = re.search(r'"course_id":"(\d+)"', courses).group(1)
        commands = [
            ["--help"], ["--version"], ["help", "query"], ["catalog"],
            ["normalize", events], ["convert", "--to", "canvas", events],
            ["simulate", "--days", "1"], ["stats", "--db", db], ["stats", "--db", db, "--json"],
            ["query", "courses", "--db", db], ["query", "course", course, "--db", db],
            ["query", "course", course, "--db", db, "--json"], ["search", "the", "--db", db],
            ["export", "--db", db], ["ingest", "--db", os.path.join(d.name, "t.db"), "--json", events],
        ]
        with open("/dev/full", "wb") as full:
            for argv in commands:
                with self.subTest(command=" ".join(argv)):
                    p = subprocess.run([levee_path(), *argv], stdout=full, stderr=subprocess.PIPE, timeout=120)
                    err = p.stderr.decode()
                    self.assertEqual(p.returncode, 2, err)
                    self.assertIn("cannot write", err)
