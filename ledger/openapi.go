package ledger

import _ "embed"

// OpenAPI is the description of ledgerd's HTTP API (OpenAPI 3).
//
//go:embed openapi.yaml
var OpenAPI []byte
