package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"tappos/terminal/sale"
)

func init() {
	register(command{path: []string{"refund"}, short: "refund a sale, found by its transaction id", run: runRefund})
	register(command{path: []string{"void"}, short: "void a sale before settlement", run: runVoid})
}

const refundUsage = `usage: posctl refund --txn ID [--amount AMOUNT] --ledger URL --key KEY [--journal FILE]

Refunds a sale found in the journal by its transaction id: all that is left
of it, or --amount (in the sale's currency). The refund has its own
transaction id and receipt. An offline sale can be refunded once it has
been synced to the ledger.
Exit status: 0 approved, 3 declined, 1 error (a request the ledger did not
answer stays pending and is resent by the next command), 2 usage.

Example:
  posctl refund --txn CN000001-261127101259-9D2083 --amount 5.00 \
      --ledger http://127.0.0.1:8080 --key $TAPPOS_LEDGER_KEY

Flags:
`

const voidUsage = `usage: posctl void --txn ID --ledger URL --key KEY [--journal FILE]

Voids a sale before settlement, found in the journal by its transaction id:
the ledger releases or reverses the payment and the sale leaves the batch
totals (it is listed as voided).

Example:
  posctl void --txn CN000001-261127101259-9D2083 \
      --ledger http://127.0.0.1:8080 --key $TAPPOS_LEDGER_KEY

Flags:
`

func runRefund(args []string, stdout, stderr io.Writer) int {
	return refundOrVoid("refund", refundUsage, args, stdout, stderr)
}

func runVoid(args []string, stdout, stderr io.Writer) int {
	return refundOrVoid("void", voidUsage, args, stdout, stderr)
}

func refundOrVoid(name, usage string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("posctl "+name, usage, stderr)
	pf := addPosFlags(fs)
	txn := fs.String("txn", "", "the sale's transaction `ID`")
	var amountS *string
	if name == "refund" {
		amountS = fs.String("amount", "", "the `AMOUNT` to refund, e.g. 5.00 (default: all that is left)")
	}
	receiptOut := fs.Bool("receipt", true, "print the receipt")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the ledger")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *txn == "" || *pf.ledger == "" {
		fmt.Fprintf(stderr, "posctl %s: --txn and --ledger are required\n", name)
		return 2
	}
	p, err := openPosQueue(pf, true, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "posctl %s: %v\n", name, err)
		return 1
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	p.catchUp(ctx, stderr)

	var res *sale.Result
	if name == "void" {
		res, err = p.term.Void(ctx, *txn)
	} else {
		var amount int64
		if *amountS != "" {
			// In the sale's currency, which need not be the
			// configuration's (posctl tap --currency).
			orig, err := p.term.Journal.Get(ctx, *txn)
			if err != nil {
				fmt.Fprintf(stderr, "posctl refund: %v\n", err)
				return 1
			}
			if amount, err = orig.Currency.ParseAmount(*amountS); err != nil {
				fmt.Fprintf(stderr, "posctl refund: %v\n", err)
				return 2
			}
		}
		res, err = p.term.Refund(ctx, *txn, amount)
	}
	if err != nil {
		fmt.Fprintf(stderr, "posctl %s: %v\n", name, err)
		return 1
	}
	r := res.Record
	fmt.Fprintf(stdout, "txn_id: %s\norig_txn_id: %s\nresult: %s\namount: %s %s\n", r.TxnID, r.OrigTxnID,
		r.Status, r.Currency.Alpha, r.Currency.Decimal(r.Amount))
	if r.Reason != "" {
		fmt.Fprintf(stdout, "decline_reason: %s\n", r.Reason)
	}
	if *receiptOut {
		fmt.Fprintln(stdout)
		res.Receipt.WriteText(stdout)
	}
	if !res.Approved() {
		return 3
	}
	return 0
}
