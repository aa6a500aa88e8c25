// Package openapi holds the contract of webhookd, openapi.yaml, the source of the generated code
// in gen/. It embeds the document as written so the server can serve it byte for byte.
package openapi

import _ "embed"

// YAML is openapi.yaml as written.
//
//go:embed openapi.yaml
var YAML []byte
