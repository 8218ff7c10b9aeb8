"""pg.py: a throwaway PostgreSQL server for the tests: initdb and pg_ctl from Debian's packages
(/usr/lib/postgresql/*/bin) in a temporary directory, listening on 127.0.0.1 at a free port with its unix
socket in that directory, stopped by pg_ctl (and its directory removed) when the tests are done. initdb and
the server refuse to run as root: as root they run as the postgres user (runuser), which Debian's postgresql
package makes. One cluster per test class (starting one takes about two seconds), a fresh database per test.

    cluster = pg.Cluster.shared()      # None, with pg.SKIP saying why, when PostgreSQL is not installed
    cluster = pg.shared_or_skip()      # the same, or unittest.SkipTest(pg.SKIP) (in a setUpClass)
    url = cluster.new_database()       # postgresql://postgres@127.0.0.1:PORT/levee_N

A Bouncer is a pgbouncer (Debian's package) in front of a cluster, in a temporary directory of its own,
listening on 127.0.0.1 at a free port (no unix socket), trusting the cluster's postgres user, in transaction
mode by default with a small pool, so that clients really share server connections. pgbouncer refuses to
run as root: as root it runs as the user the cluster runs as.

    bouncer = pg.Bouncer(cluster)       # pg.Bouncer.missing() says why when pgbouncer is not installed
    url = bouncer.url("levee_1")        # postgresql://postgres@127.0.0.1:PORT/levee_1 through pgbouncer
    bouncer.stop()

`make test` sets LEVEE_TEST_REQUIRE_POSTGRESQL=1: then a PostgreSQL or pgbouncer that cannot be started
fails the tests that need it instead of skipping them (scripts/deps.sh test installs both), so that a
machine where they are missing does not pass `make test` without having run them.
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
import unittest

SKIP = None
REQUIRED = os.environ.get("LEVEE_TEST_REQUIRE_POSTGRESQL") == "1"


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
        self.opts = opts
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

    def pause(self):
        """Stops the server (fast: connections are ended), keeping its data, until resume()."""
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop"],
                  timeout=90)

    def crash(self):
        """Stops the server as a crash would (immediate: no checkpoint, and what its shared memory held, WAL
        not yet written among it, is gone), keeping its data, until resume() recovers it from the WAL."""
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "-t", "60", "stop"],
                  timeout=90)

    def resume(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", self.opts, "-w", "-t",
                   "60", "start"], timeout=90)

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
        if cls._shared is None and REQUIRED:
            raise RuntimeError("%s (and LEVEE_TEST_REQUIRE_POSTGRESQL=1: make test runs these tests)" % SKIP)
        return cls._shared


def shared_or_skip():
    """Cluster.shared(), or unittest.SkipTest with the reason when there is none (for a setUpClass)."""
    cluster = Cluster.shared()
    if cluster is None:
        raise unittest.SkipTest(SKIP)
    return cluster


class OnSharedCluster:
    """A mixin: the class's tests run against the run's cluster (cls.cluster), skipped with the reason
    when there is none; before the test class it runs on another engine."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = shared_or_skip()
        super().setUpClass()


class Bouncer:
    """pgbouncer in front of a cluster (see the top of this file)."""

    BIN = "/usr/sbin/pgbouncer"

    @classmethod
    def missing(cls):
        """Why no pgbouncer can be started (None when one can)."""
        if not os.path.exists(cls.BIN):
            why = "pgbouncer is not installed (%s): scripts/deps.sh test installs it" % cls.BIN
            if REQUIRED:
                raise RuntimeError("%s (and LEVEE_TEST_REQUIRE_POSTGRESQL=1: make test runs these tests)" % why)
            return why
        return None

    def __init__(self, cluster, pool_mode="transaction", pool_size=2):
        self.cluster = cluster
        self.dir = tempfile.mkdtemp(prefix="levee-pgbouncer-")
        os.chmod(self.dir, 0o755)
        self.port = _free_port()
        self.log = os.path.join(self.dir, "pgbouncer.log")
        conf = os.path.join(self.dir, "pgbouncer.ini")
        with open(os.path.join(self.dir, "userlist.txt"), "w") as f:
            f.write('"postgres" ""\n')
        with open(conf, "w") as f:
            f.write("[databases]\n* = host=127.0.0.1 port=%d\n\n[pgbouncer]\n" % cluster.port)
            f.write("listen_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n" % self.port)
            f.write("auth_type = trust\nauth_file = %s/userlist.txt\n" % self.dir)
            f.write("pool_mode = %s\ndefault_pool_size = %d\nmin_pool_size = 0\nreserve_pool_size = 0\n"
                    % (pool_mode, pool_size))
            f.write("max_client_conn = 200\nmax_db_connections = %d\n" % pool_size)
            f.write("logfile = %s\nadmin_users = postgres\nstats_users = postgres\n" % self.log)
            f.write("log_connections = 0\nlog_disconnections = 0\nserver_check_delay = 1\n")
        kw = {}
        if os.geteuid() == 0:
            for name in ("userlist.txt", "pgbouncer.ini"):
                shutil.chown(os.path.join(self.dir, name), "postgres", "postgres")
            shutil.chown(self.dir, "postgres", "postgres")
            kw = {"user": "postgres", "group": "postgres", "extra_groups": []}
        self.proc = subprocess.Popen([self.BIN, conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, **kw)
        if not wait_until(self._listening, 15):
            self.stop()
            raise RuntimeError("pgbouncer did not start: %s" % self.log_text())

    def _listening(self):
        if self.proc.poll() is not None:
            return True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def url(self, database, **kw):
        """The cluster's url(database, **kw), through pgbouncer."""
        return self.cluster.url(database, **kw).replace(":%d/" % self.cluster.port, ":%d/" % self.port, 1)

    def admin(self, command):
        """A command of pgbouncer's console (SHOW POOLS, ...): its rows, as lists of fields."""
        r = subprocess.run([os.path.join(self.cluster.bindir, "psql"), "-X", "-q", "-A", "-t", "-F", "\t",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "pgbouncer",
                            "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("pgbouncer console: %s" % r.stderr.decode(errors="replace"))
        return [line.split("\t") for line in r.stdout.decode().splitlines() if line]

    def query(self, database, sql):
        """What one statement answers through pgbouncer, on whichever server connection it hands psql."""
        r = subprocess.run([os.path.join(self.cluster.bindir, "psql"), "-X", "-q", "-A", "-t", "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("psql through pgbouncer: %s" % r.stderr.decode(errors="replace"))
        return r.stdout.decode().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_until(pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False
