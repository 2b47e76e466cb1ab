package sqlitestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// A redoLog makes a batch's changes durable before SQLite commits them.
//
// An SQLite commit writes every page the batch changed to the WAL, and an
// authorization changes pages scattered by terminal, card, wallet and
// idempotency key: ~5.6 pages, 23 KB, for 1.5 KB of rows. So the writer
// keeps one SQLite transaction open across many batches and appends each
// batch's changes to this log, which is synced before the batch's
// answers go out. A page changed by many batches is then written once,
// when the transaction commits (see Store.flush), after which the log
// starts over. On open, the changes the database lacks are applied again
// from the log (see Store.replayLocked).
//
// A record is the batch's writes as the writer ran them: each statement
// by its place in hotQueries and its arguments (see sqliteTx.record). On
// disk: length, CRC-32C, then sequence number, the fingerprint of
// hotQueries and the statements. The log is written from its start again
// after each commit, over the old records: a record ends the log where
// its CRC fails or its sequence number does not follow the previous one.
type redoLog struct {
	f *os.File
	// owner is set while this process holds the log's lock: only the
	// owner writes records. Another process writing the database at the
	// same time commits each write at once (see Store.writeShared).
	owner bool

	off  int64  // where the next record goes
	last uint64 // sequence number of the last record written
	buf  []byte

	// Group sync: a batch waits until a sync that began after its record
	// was written has finished; one sync serves every batch written
	// before it began.
	mu      sync.Mutex
	cond    *sync.Cond
	written uint64 // last sequence number written, for the syncer
	synced  uint64
	syncing bool
	err     error // a failed sync: the log cannot be trusted after it
}

// A redoRecord is one batch's statements (see sqliteTx.record).
type redoRecord struct {
	seq  uint64
	body []byte
}

// queriesPrint identifies hotQueries: a record names its statements by
// their place there, so it can only be replayed by a ledgerd with the same
// list.
var queriesPrint = crc32.Checksum([]byte(strings.Join(hotQueries, "\x00")), crcTable)

// errOtherVersion is returned for a log written with other hotQueries.
var errOtherVersion = errors.New("redo log written by another version of ledgerd: open the database with that version once to commit it")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openRedo opens or creates the log at path, and takes it over unless
// another process owns it.
func openRedo(path string) (*redoLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// Syncing the log makes its records durable, but not a new file's
	// name: sync the directory too.
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		err = dir.Sync()
		dir.Close()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("syncing the directory of %s: %w", path, err)
		}
	}
	l := &redoLog{f: f}
	l.cond = sync.NewCond(&l.mu)
	if _, err := l.own(); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return l, nil
}

// own takes the log over if no other process owns it, and reports
// whether this process owns it now.
func (l *redoLog) own() (bool, error) {
	if l.owner {
		return true, nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	l.owner = err == nil
	return l.owner, err
}

// ownerAlive reports whether another process owns the log. The lock dies
// with its process.
func (l *redoLog) ownerAlive() (bool, error) {
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
}

// records returns the records of the log with sequence numbers after
// committed, and leaves the log to be written from its start.
func (l *redoLog) records(committed uint64) ([]redoRecord, error) {
	data, err := io.ReadAll(io.NewSectionReader(l.f, 0, 1<<62))
	if err != nil {
		return nil, fmt.Errorf("reading redo log: %w", err)
	}
	out, prev, err := parseRecords(data, committed)
	if err != nil {
		return nil, err
	}
	l.last = max(prev, committed)
	// The caller commits these records before it writes another; a
	// batch waiting for one of them need not wait for a sync.
	l.mu.Lock()
	l.written, l.synced = l.last, l.last
	l.cond.Broadcast()
	l.mu.Unlock()
	return out, nil
}

// parseRecords returns the records in data with sequence numbers after
// committed, and the sequence number of the last record.
func parseRecords(data []byte, committed uint64) (out []redoRecord, last uint64, err error) {
	var prev uint64
	for len(data) >= 8 {
		n := binary.LittleEndian.Uint32(data)
		if n < 12 || uint64(n) > uint64(len(data)-8) || crc32.Checksum(data[8:8+n], crcTable) != binary.LittleEndian.Uint32(data[4:]) {
			break // a torn write: never synced, never answered
		}
		r := redoRecord{seq: binary.LittleEndian.Uint64(data[8:]), body: data[20 : 8+n]}
		if prev != 0 && r.seq != prev+1 {
			break // an older record, from before the last commit
		}
		prev = r.seq
		if r.seq > committed {
			if binary.LittleEndian.Uint32(data[16:]) != queriesPrint {
				return nil, 0, errOtherVersion
			}
			out = append(out, r)
		}
		data = data[8+n:]
	}
	return out, prev, nil
}

// append writes a batch's record (it is not yet durable: see wait) and
// returns its sequence number. The caller serializes appends.
func (l *redoLog) append(body []byte) (uint64, error) {
	seq := l.last + 1
	l.buf = append(l.buf[:0], make([]byte, 8)...)
	l.buf = binary.LittleEndian.AppendUint64(l.buf, seq)
	l.buf = binary.LittleEndian.AppendUint32(l.buf, queriesPrint)
	l.buf = append(l.buf, body...)
	binary.LittleEndian.PutUint32(l.buf, uint32(len(l.buf)-8))
	binary.LittleEndian.PutUint32(l.buf[4:], crc32.Checksum(l.buf[8:], crcTable))
	if _, err := l.f.WriteAt(l.buf, l.off); err != nil {
		return 0, fmt.Errorf("writing redo log: %w", err)
	}
	l.off += int64(len(l.buf))
	l.last = seq
	l.mu.Lock()
	l.written = seq
	l.mu.Unlock()
	return seq, nil
}

// size returns how many bytes of records the log holds.
func (l *redoLog) size() int64 { return l.off }

// committed is called once the database has committed every record in
// the log: they are durable, and the next record goes to the log's start.
// The caller serializes it with append.
func (l *redoLog) committed() {
	l.off = 0
	l.mu.Lock()
	l.synced = max(l.synced, l.last)
	l.cond.Broadcast()
	l.mu.Unlock()
}

// wait returns once the record seq is on disk.
func (l *redoLog) wait(seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.synced < seq && l.err == nil {
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncing = true
		upTo := l.written
		l.mu.Unlock()
		err := syscall.Fdatasync(int(l.f.Fd()))
		l.mu.Lock()
		l.syncing = false
		if err != nil {
			l.err = fmt.Errorf("syncing redo log: %w", err)
		} else {
			l.synced = max(l.synced, upTo)
		}
		l.cond.Broadcast()
	}
	return l.err
}

func (l *redoLog) close() error { return l.f.Close() }
