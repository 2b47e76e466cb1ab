package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tappos/emv/tags"
	"tappos/internal/pgtest"
	"tappos/ledger"
	"tappos/ledger/api"
	"tappos/ledger/client"
	"tappos/ledger/ledgertest"
	"tappos/ledger/sqlitestore"
	"tappos/ledger/storetest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const cardsDir = "../../testdata/cards"

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgs); args != "" {
		os.Exit(run(context.Background(), strings.Split(args, "\x1f"), nil, os.Stdout, os.Stderr))
	}
	os.Exit(pgtest.Main(m))
}

// startDev runs ledgerd --dev until the test ends and returns its URL and
// output.
func startDev(t *testing.T, dir string, extra ...string) (string, *syncBuffer) {
	t.Helper()
	url, out, _ := startDevLogs(t, dir, extra...)
	return url, out
}

// startDevLogs is startDev that returns the log (stderr) too.
func startDevLogs(t *testing.T, dir string, extra ...string) (string, *syncBuffer, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errs := &syncBuffer{}, &syncBuffer{}
	done := make(chan int)
	go func() {
		args := []string{"--dev", "--db", filepath.Join(dir, "ledger.db"), "--addr", "127.0.0.1:0",
			"--cards", cardsDir, "--dev-keys", filepath.Join(dir, "keys.json")}
		done <- run(ctx, append(args, extra...), nil, out, errs)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("ledgerd exited %d: %s", code, errs.String())
		}
	})
	re := regexp.MustCompile(`listening on (\S+)`)
	for range 200 {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], out, errs
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("ledgerd did not start: %s %s", out.String(), errs.String())
	return "", nil, nil
}

// TestServerErrorLog: the HTTP server's own errors, such as a failed TLS
// handshake, are JSON log lines at WARN like the rest.
func TestServerErrorLog(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _, logs := startDevLogs(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("not a TLS client hello\r\n\r\n"))
	io.Copy(io.Discard, c) // until the server hangs up
	c.Close()
	for range 200 {
		if strings.Contains(logs.String(), `"level":"WARN","msg":"http: TLS handshake error from`) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Errorf("no JSON warning of the failed handshake: %s", logs.String())
}

func TestDevSeedServeVerify(t *testing.T) {
	url, out := startDev(t, t.TempDir())
	tapProfile(t, url, out)
}

// TestPostgres serves from PostgreSQL, as several ledgerd would.
func TestPostgres(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	db := pgtest.URL(t)
	url, out := startDev(t, dir, "--db", db, "--secret-file", secret)
	tapProfile(t, url, out)
	var vout, verrs syncBuffer
	if code := run(context.Background(), []string{"verify", "--db", db}, nil, &vout, &verrs); code != 0 ||
		!strings.Contains(vout.String(), "journal:purchase 1") {
		t.Errorf("verify: exit %d: %s %s", code, vout.String(), verrs.String())
	}
}

// tapProfile pays with the first card profile at a --dev ledgerd.
func tapProfile(t *testing.T, url string, out *syncBuffer) {
	t.Helper()
	profiles, err := loadProfiles(cardsDir)
	if err != nil || len(profiles) == 0 {
		t.Fatalf("card profiles: %d, %v", len(profiles), err)
	}
	key := regexp.MustCompile(`terminal \S+ key (\S+)`).FindStringSubmatch(out.String())
	if key == nil {
		t.Fatalf("no terminal key printed: %s", out.String())
	}
	p := profiles[0]
	imk, _ := hex.DecodeString(p.IMK)
	psn, _ := hex.DecodeString(p.PSN)
	card := &ledgertest.Card{PAN: p.PAN, PSN: psn[0], Scheme: p.Scheme, IMK: imk, ATC: 7}
	emv, err := card.Tap(1_999, 156, ledgertest.Options{UN: [4]byte{9, 9, 9, 9}})
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{BaseURL: url, Key: key[1]}
	r, err := c.Authorize(context.Background(), "t1", api.AuthorizationRequest{TerminalTxnID: "t1", Amount: 1_999,
		Currency: "CNY", EMV: hex.EncodeToString(emv)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || r.Result.Outcome != ledger.OutcomeApproved || r.Result.MaskedPAN != tags.MaskPAN(p.PAN) {
		t.Fatalf("authorization of %s: %+v", p.Name, r)
	}
	if strings.Contains(out.String(), p.PAN) {
		t.Error("ledgerd printed a full PAN")
	}
}

func TestDevSeedsOnce(t *testing.T) {
	dir := t.TempDir()
	_, first := startDev(t, dir)
	if !strings.Contains(first.String(), "seeded;") {
		t.Fatalf("first run: %s", first.String())
	}
	// A second ledgerd on the same files (it writes between the first
	// one's commits) prints the same keys without seeding again.
	_, second := startDev(t, dir)
	if !strings.Contains(second.String(), "already seeded") {
		t.Fatalf("second run: %s", second.String())
	}
	adminKey := regexp.MustCompile(`admin key (\S+)`)
	if a, b := adminKey.FindString(first.String()), adminKey.FindString(second.String()); a == "" || a != b {
		t.Errorf("admin keys %q and %q", a, b)
	}
}

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	s, err := sqlitestore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	e := storetest.Setup(t, s, 2, 1_000)
	e.Ledger.Close()
	s.Close()
	tests := []struct {
		name   string
		tamper string
		code   int
		want   string
	}{
		{"clean", "", 0, "ok:"},
		{"tampered", `UPDATE accounts SET balance = balance + 1 WHERE kind = 'wallet'`, 1, "FAIL account_balance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tamper != "" {
				s, err := sqlitestore.Open(db)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Exec(context.Background(), tt.tamper); err != nil {
					t.Fatal(err)
				}
				s.Close()
			}
			var out, errs syncBuffer
			code := run(context.Background(), []string{"verify", "--db", db}, nil, &out, &errs)
			if code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d, output %q %q; want %d and %q", code, out.String(), errs.String(), tt.code, tt.want)
			}
		})
	}
}

// TestMissingDatabase: verify and the admin commands refuse an SQLite
// path with no database rather than create an empty one there.
func TestMissingDatabase(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"verify", []string{"verify"}},
		{"merchant add", []string{"merchant", "add", "--name", "Kiosk"}},
		{"wallet add", []string{"wallet", "add", "--currency", "EUR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "ledgr.db")
			var out, errs syncBuffer
			code := run(context.Background(), append(tc.args, "--db", db), nil, &out, &errs)
			if code != 1 || !strings.Contains(errs.String(), "no database at "+db) {
				t.Errorf("exit %d, output %q %q; want 1 and no database", code, out.String(), errs.String())
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("left %d files behind, first %s", len(left), left[0].Name())
			}
		})
	}
}

// newDB creates an empty SQLite ledger, as a first ledgerd serve would.
func newDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlitestore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return db
}

func TestAdminCommands(t *testing.T) {
	db := newDB(t)
	var merchant, wallet, terminal, key, ownerKey string
	steps := []struct {
		name  string
		args  func() []string
		stdin string
		want  string
		save  *string
	}{
		{"merchant", func() []string { return []string{"merchant", "add", "--name", "Kiosk"} }, "", `merchant (\S+)`, &merchant},
		{"terminal", func() []string { return []string{"terminal", "add", "--merchant", merchant, "--name", "till"} }, "", `terminal (\S+) key tpk_\S+`, &terminal},
		{"manager key", func() []string { return []string{"key", "add", "--role", "manager", "--merchant", merchant} }, "", `key (\S+) manager tpk_`, &key},
		{"revoke key", func() []string { return []string{"key", "revoke", "--id", key} }, "", `revoked (1) key`, nil},
		{"revoke terminal", func() []string { return []string{"key", "revoke", "--terminal", terminal} }, "", `revoked (1) key`, nil},
		{"wallet", func() []string { return []string{"wallet", "add", "--currency", "EUR"} }, "", `wallet (\S+) EUR`, &wallet},
		{"deposit", func() []string { return []string{"wallet", "deposit", "--wallet", wallet, "--amount", "2500"} }, "", `balance 2500 EUR`, nil},
		{"card", func() []string { return []string{"wallet", "link-card", "--wallet", wallet} }, "5413330089010345\n", `card 541333\*\*\*\*\*\*0345 linked`, nil},
		{"owner key", func() []string { return []string{"wallet", "owner-key", "--wallet", wallet} }, "", `key \S+ wallet_owner (tpk_\S+) wallet `, &ownerKey},
		{"catalog", func() []string {
			return []string{"catalog", "put", "--merchant", merchant, "--sku", "COF-250", "--name", "Espresso beans 250 g",
				"--price", "1250", "--currency", "EUR", "--stock", "7"}
		}, "", `catalog \S+ (COF-250) price 1250 EUR stock 7`, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var out, errs syncBuffer
			code := run(context.Background(), append(s.args(), "--db", db), strings.NewReader(s.stdin), &out, &errs)
			m := regexp.MustCompile(s.want).FindStringSubmatch(out.String())
			if code != 0 || m == nil {
				t.Fatalf("exit %d, output %q %q; want %s", code, out.String(), errs.String(), s.want)
			}
			if s.save != nil {
				*s.save = m[1]
			}
		})
	}
	// What chat checkout needs was set up: the owner's key and the item.
	s, err := sqlitestore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if k, err := s.APIKey(ctx, ledger.HashKey([]byte(ownerKey))); err != nil || k.Role != ledger.RoleWalletOwner {
		t.Errorf("owner key: %+v, %v", k, err)
	}
	var items []ledger.CatalogItem
	err = s.Write(ctx, func(tx ledger.Tx) (err error) {
		items, err = tx.(ledger.ChatTx).CatalogItems(ctx, merchant, []string{"COF-250"})
		return err
	})
	if err != nil || len(items) != 1 || items[0].Price != 12_50 || items[0].Stock != 7 {
		t.Errorf("catalog items: %+v, %v", items, err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"owner key of no wallet", []string{"wallet", "owner-key", "--wallet", "wal_nosuch"}},
		{"catalog item without a name", []string{"catalog", "put", "--merchant", merchant, "--sku", "X", "--price", "100"}},
		{"catalog item in no currency", []string{"catalog", "put", "--merchant", merchant, "--sku", "X", "--name", "X", "--price", "1", "--currency", "XYZ"}},
		{"negative stock", []string{"catalog", "put", "--merchant", merchant, "--sku", "X", "--name", "X", "--price", "1", "--stock", "-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs syncBuffer
			if code := run(ctx, append(tc.args, "--db", db), nil, &out, &errs); code != 1 {
				t.Errorf("exit %d, output %q %q; want 1", code, out.String(), errs.String())
			}
		})
	}
	var out, errs syncBuffer
	if code := run(ctx, []string{"verify", "--db", db}, nil, &out, &errs); code != 0 {
		t.Errorf("verify: %d %s", code, out.String())
	}
}
