// Command echoceiling is the ceiling of webhookd's list endpoints: a bare Echo server answering
// GET /albums/:album_id/webhooks with a fixed body read once from a file (the page webhookd
// served), with no authentication, database or encoding. bench/lists loads it the same way as
// webhookd, in the same run.
//
// Usage: echoceiling -addr 127.0.0.1:9100 -file page.json
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	file := flag.String("file", "", "the body to serve")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoceiling:", err)
		os.Exit(1)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/albums/:album_id/webhooks", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/json", body)
	})
	if err := e.Start(*addr); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "echoceiling:", err)
		os.Exit(1)
	}
}
