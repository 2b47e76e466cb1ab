package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"tappos/ledger"
	"tappos/ledger/pgstore"
	"tappos/ledger/sqlitestore"
)

// common are the flags of every subcommand.
type common struct {
	db         string
	secretFile string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.db, "db", "ledger.db", "SQLite `file`, or a postgres:// URL")
	fs.StringVar(&c.secretFile, "secret-file", "", "`file` with the card token secret, hex (default: ledger.secret beside an SQLite file, created if missing; env LEDGER_TOKEN_SECRET overrides)")
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// openStore opens the database. Only serve may create an SQLite file:
// verify or an admin command on a mistyped path would otherwise report
// on, or write to, a new empty database.
func openStore(ctx context.Context, db string, create bool) (ledger.Store, error) {
	if isPostgres(db) {
		return pgstore.Open(ctx, db)
	}
	if !create {
		_, err := os.Stat(db)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: check --db; serving it (ledgerd --db %s) creates it", db, db)
		}
		if err != nil {
			return nil, fmt.Errorf("opening database: %w", err)
		}
	}
	return sqlitestore.Open(db)
}

// tokenSecret returns the card token secret. Every ledgerd sharing a
// database must use the same one, or cards stop being recognised.
func (c *common) tokenSecret() ([]byte, error) {
	if v := os.Getenv("LEDGER_TOKEN_SECRET"); v != "" {
		return decodeSecret(v, "LEDGER_TOKEN_SECRET")
	}
	path := c.secretFile
	if path == "" {
		if isPostgres(c.db) {
			return nil, errors.New("with PostgreSQL, give the shared token secret with --secret-file or LEDGER_TOKEN_SECRET")
		}
		path = filepath.Join(filepath.Dir(c.db), "ledger.secret")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && c.secretFile == "" {
		var s [32]byte
		rand.Read(s[:])
		b = []byte(hex.EncodeToString(s[:]) + "\n")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("creating token secret: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("reading token secret: %w", err)
	}
	return decodeSecret(strings.TrimSpace(string(b)), path)
}

func decodeSecret(v, where string) ([]byte, error) {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) < 32 {
		return nil, fmt.Errorf("token secret in %s must be at least 32 bytes of hex", where)
	}
	return b, nil
}

// issuerFile is one entry of --issuers.
type issuerFile struct {
	Prefix string `json:"pan_prefix"`
	Scheme string `json:"scheme"`
	IMK    string `json:"imk"`
}

// loadIssuers reads issuer keys from a JSON file of
// [{"pan_prefix", "scheme", "imk"}].
func loadIssuers(path string) ([]ledger.IssuerKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []issuerFile
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	var keys []ledger.IssuerKey
	for i, e := range entries {
		imk, err := hex.DecodeString(e.IMK)
		if err != nil || len(imk) != 16 || e.Prefix == "" {
			return nil, fmt.Errorf("%s: entry %d: need pan_prefix and a 16-byte hex imk", path, i)
		}
		keys = append(keys, ledger.IssuerKey{Prefix: e.Prefix, Scheme: e.Scheme, IMK: imk})
	}
	return keys, nil
}

// profile is what the ledger reads of a card simulator profile.
type profile struct {
	Name   string `json:"name"`
	PAN    string `json:"pan"`
	PSN    string `json:"psn"`
	Scheme string `json:"scheme"`
	IMK    string `json:"imk"`
}

// loadProfiles reads the card simulator's profiles in dir; a missing
// directory has none. Profiles without a usable PAN or key are skipped.
func loadProfiles(dir string) ([]profile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var out []profile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var pr profile
		if json.Unmarshal(b, &pr) != nil || len(pr.PAN) < 12 || seen[pr.PAN] {
			continue
		}
		if imk, err := hex.DecodeString(pr.IMK); err != nil || len(imk) != 16 {
			continue
		}
		seen[pr.PAN] = true
		out = append(out, pr)
	}
	return out, nil
}

// profileIssuers makes one issuer key per profile, for its PAN alone.
func profileIssuers(ps []profile) []ledger.IssuerKey {
	var keys []ledger.IssuerKey
	for _, p := range ps {
		imk, _ := hex.DecodeString(p.IMK) // checked by loadProfiles
		keys = append(keys, ledger.IssuerKey{Prefix: p.PAN, Scheme: p.Scheme, IMK: imk})
	}
	return keys
}

func verify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ledgerd verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s, err := openStore(ctx, c.db, false)
	if err != nil {
		fmt.Fprintln(stderr, "ledgerd verify:", err)
		return 1
	}
	defer s.Close()
	v, err := s.Verify(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "ledgerd verify:", err)
		return 1
	}
	for _, x := range v {
		fmt.Fprintf(stdout, "FAIL %s %s: %s\n", x.Check, x.Object, x.Detail)
	}
	if len(v) > 0 {
		fmt.Fprintf(stdout, "%d invariant violations\n", len(v))
		return 1
	}
	counts, err := s.Counts(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "ledgerd verify:", err)
		return 1
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(stdout, "%s %d\n", k, counts[k])
	}
	fmt.Fprintln(stdout, "ok: every journal balances, every balance equals its entries, no wallet below its floor")
	return 0
}
