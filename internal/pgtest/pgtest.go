// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb
// in a temporary directory, a unix socket in it, a free port, stopped and
// removed when the tests end. Each call of [URL] gets a fresh database.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// As root, the server runs as the postgres user (runuser). With
// PGTEST_URL set, an existing server is used instead.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tappos/internal/needs"
)

var (
	mu       sync.Mutex
	cluster  *server
	startErr error
	started  bool
	dbs      int
)

type server struct {
	dir    string // temporary directory: data/, sock/, log
	bin    string
	asUser string // "postgres" when running as root
	base   string // URL of the maintenance database
}

// Main runs the tests and stops the cluster if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if cluster != nil {
		cluster.stop()
		cluster = nil
	}
	return code
}

// URL returns the URL of a new empty database, starting the cluster on
// first use. Without PostgreSQL installed it fails the test as root and
// skips it loudly otherwise (see [needs.Missing]).
func URL(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	base := os.Getenv("PGTEST_URL")
	if base == "" {
		if !started {
			started = true
			cluster, startErr = start()
		}
		if errors.Is(startErr, errNoBinaries) {
			needs.Missing(t, "PostgreSQL", startErr)
		}
		if startErr != nil {
			t.Fatalf("pgtest: starting PostgreSQL: %v", startErr)
		}
		base = cluster.base
	}
	dbs++
	name := fmt.Sprintf("pgtest_%d_%d", os.Getpid(), dbs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: creating database: %v", err)
	}
	return withDatabase(base, name)
}

// withDatabase replaces the database of a URL.
func withDatabase(base, name string) string {
	u, q, _ := strings.Cut(base, "?")
	i := strings.LastIndex(u, "/")
	if i < len("postgres://") {
		u += "/"
		i = len(u) - 1
	}
	u = u[:i+1] + name
	if q != "" {
		u += "?" + q
	}
	return u
}

var errNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found")

// findBin returns the directory of initdb and pg_ctl, newest version first.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errNoBinaries
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func start() (*server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.asUser = "postgres"
	}
	sock := filepath.Join(dir, "sock")
	if err := s.run("mkdir", sock); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := s.run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w", err)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Durability stays at its defaults (fsync, synchronous_commit on): the
	// ledger's tests measure durable commits.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses='' -c max_connections=200", port, sock)
	if err := s.run(filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %w\n%s", err, log)
	}
	s.base = fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable", sock, port)
	return s, nil
}

// run runs a command, as the postgres user if needed.
func (s *server) run(name string, args ...string) error {
	if s.asUser != "" {
		args = append([]string{"-u", s.asUser, "--", name}, args...)
		name = "runuser"
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func (s *server) stop() {
	s.run(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
