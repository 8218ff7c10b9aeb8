"""pg.py: a throwaway PostgreSQL server for the tests: initdb and pg_ctl from Debian's packages
(/usr/lib/postgresql/*/bin) in a temporary directory, listening on 127.0.0.1 at a free port with its unix
socket in that directory, stopped by pg_ctl (and its directory removed) when the tests are done. initdb and
the server refuse to run as root: as root they run as the postgres user (runuser), which Debian's postgresql
package makes. One cluster per test class (starting one takes about two seconds), a fresh database per test.

    cluster = pg.Cluster.shared()      # None, with pg.SKIP saying why, when PostgreSQL is not installed
    url = cluster.new_database()       # postgresql://postgres@127.0.0.1:PORT/levee_N
"""
import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

SKIP = None


def _bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    _shared = None

    def __init__(self, settings=None):
        """settings: server settings (-c name=value, a list) instead of the tests' fast, unsafe ones."""
        self.bindir = _bindir()
        if not self.bindir:
            raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                               "scripts/deps.sh test installs it")
        self.as_user = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root needs the postgres user (Debian's postgresql package makes it)")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.dir = tempfile.mkdtemp(prefix="levee-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "log")
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = _free_port()
        self.started = False
        self.n = 0
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120)
        if settings is None:
            settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=50",
                        "shared_buffers=32MB"]
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s %s" % (self.port, self.dir,
                                                                " ".join("-c " + x for x in settings))
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", opts, "-w", "-t", "60",
                   "start"], timeout=90)
        self.started = True

    def _run(self, argv, timeout):
        r = subprocess.run(self.as_user + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (argv[0], r.stdout.decode(errors="replace")))

    def url(self, database="postgres", user="postgres", password=None, options=None):
        auth = user + (":" + password if password else "")
        url = "postgresql://%s@127.0.0.1:%d/%s" % (auth, self.port, database)
        if options:
            url += "?options=" + options.replace(" ", "%20").replace("=", "%3D")
        return url

    def psql(self, sql, database="postgres"):
        """Runs SQL with psql; returns its output (unaligned, tuples only)."""
        r = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr.decode(errors="replace"))
        return r.stdout.decode()

    def new_database(self, **kw):
        """A fresh, empty database; its URL (kw as for url())."""
        self.n += 1
        name = "levee_%d" % self.n
        self.psql("CREATE DATABASE %s" % name)
        return self.url(name, **kw)

    def restart(self):
        # -l: the restarted server's output goes to the log, not to the pipe _run reads until it closes
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log, "-m", "fast", "-w", "-t", "60",
                   "restart"], timeout=90)

    def stop(self):
        if self.started:
            try:
                self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "-t", "60",
                           "stop"], timeout=90)
            except Exception:
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    @classmethod
    def shared(cls):
        """The cluster of this test run (started on first use, stopped at exit), or None with SKIP set."""
        global SKIP
        if cls._shared is None and SKIP is None:
            try:
                cls._shared = Cluster()
                atexit.register(cls._shared.stop)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                SKIP = "no PostgreSQL for the tests: %s" % e
        return cls._shared


def wait_until(pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False
