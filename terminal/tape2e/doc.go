// Package tape2e tests the tap end to end, through the same PC/SC stack a
// shop's reader uses: a simulated card or phone (terminal/cardsim) is
// presented through the vpcd driver to a real pcscd, the terminal reads it
// with terminal/pcsc and emv/kernel takes the tap to an outcome.
//
// The package holds only tests and benchmarks, so that bringing the card
// simulator, the reader and the kernel together creates no import between
// them. The tests reserve a virtual reader with internal/pcsctest.
package tape2e
