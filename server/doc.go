// Package server implements the HTTP API: the handlers of the generated strict-server interface
// (gen.StrictServerInterface), which only translate between HTTP and the store, plus
// authentication, content negotiation, the error shapes of the two API families, the served
// contract and Swagger UI.
package server
