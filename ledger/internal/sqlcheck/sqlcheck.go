// Package sqlcheck holds the SQL of the ledger's invariant checks, shared
// by the SQLite and PostgreSQL stores. Each query returns rows of
// (object, detail) for the violations it finds.
package sqlcheck

// Checks are the invariants of the books, by name.
var Checks = []struct{ Name, Query string }{
	{"journal_balanced", `
SELECT journal_id, currency || ' sums to ' || SUM(amount)
FROM entries GROUP BY journal_id, currency HAVING SUM(amount) <> 0`},
	{"journal_legs", `
SELECT j.id, 'has ' || COUNT(e.journal_id) || ' entries'
FROM journals j LEFT JOIN entries e ON e.journal_id = j.id
GROUP BY j.id HAVING COUNT(e.journal_id) < 2`},
	{"entry_currency", `
SELECT e.journal_id, 'entry in ' || e.currency || ' on an account in ' || a.currency
FROM entries e JOIN accounts a ON a.id = e.account_id WHERE a.currency <> e.currency`},
	{"account_balance", `
SELECT a.id, 'balance ' || a.balance || ', entries sum to ' || COALESCE(s.total, 0)
FROM accounts a LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM entries GROUP BY account_id) s
ON s.account_id = a.id WHERE a.balance <> COALESCE(s.total, 0)`},
	{"account_held", `
SELECT a.id, 'held ' || a.held || ', active holds sum to ' || COALESCE(h.total, 0)
FROM accounts a LEFT JOIN (SELECT wallet_id, SUM(held) AS total FROM authorizations WHERE status = 'held' GROUP BY wallet_id) h
ON h.wallet_id = a.id WHERE a.held <> COALESCE(h.total, 0)`},
	{"wallet_floor", `
SELECT id, 'balance ' || balance || ' less held ' || held || ' is below floor ' || floor
FROM accounts WHERE floor IS NOT NULL AND balance - held < floor`},
	{"authorization_amounts", `
SELECT id, 'held ' || held || ', captured ' || captured || ', refunded ' || refunded || ' of ' || amount
FROM authorizations WHERE held < 0 OR captured < 0 OR refunded < 0 OR refunded > captured
OR captured > amount OR held > amount OR (status = 'held') <> (held > 0)`},
	{"authorization_posted_once", `
SELECT a.id, a.status || ': merchant got ' || COALESCE(p.total, 0) || ', want ' ||
  CASE WHEN a.status IN ('approved', 'captured') THEN a.captured - a.refunded ELSE 0 END
FROM authorizations a LEFT JOIN (
  SELECT j.auth_id, SUM(e.amount) AS total FROM journals j
  JOIN entries e ON e.journal_id = j.id JOIN accounts ac ON ac.id = e.account_id AND ac.kind = 'settlement'
  WHERE j.auth_id <> '' GROUP BY j.auth_id) p ON p.auth_id = a.id
WHERE COALESCE(p.total, 0) <> CASE WHEN a.status IN ('approved', 'captured') THEN a.captured - a.refunded ELSE 0 END`},
	{"offline_receivable", `
SELECT a.id, 'balance ' || a.balance || ', open overdrafts not recovered ' || COALESCE(o.total, 0)
FROM accounts a LEFT JOIN (SELECT currency, SUM(amount - recovered) AS total FROM overdrafts WHERE status = 'open' GROUP BY currency) o
ON o.currency = a.currency WHERE a.kind = 'offline_receivable' AND a.balance <> -COALESCE(o.total, 0)`},
	{"overdraft_recovered", `
SELECT id, status || ', recovered ' || recovered || ' of ' || amount
FROM overdrafts WHERE recovered < 0 OR recovered > amount OR (status = 'recovered') <> (recovered = amount)`},
	// The entries of an authorization's journals never leave its wallet
	// better off: refunds and voids give back at most what it paid, not
	// an overdraft's shortfall it never had.
	{"authorization_wallet_gain", `
SELECT j.auth_id, 'its journals credit wallet ' || e.account_id || ' with ' || SUM(e.amount)
FROM journals j JOIN entries e ON e.journal_id = j.id JOIN accounts ac ON ac.id = e.account_id AND ac.kind = 'wallet'
WHERE j.auth_id <> '' GROUP BY j.auth_id, e.account_id HAVING SUM(e.amount) > 0`},
}

// Counts counts journals by kind ("journal:purchase") and authorizations
// by kind and status ("authorization:preauth:held").
const Counts = `
SELECT 'journal:' || kind, COUNT(*) FROM journals GROUP BY kind
UNION ALL
SELECT 'authorization:' || kind || ':' || status, COUNT(*) FROM authorizations GROUP BY kind, status`
