// Command client shows the generated Go client of package gen in use: it creates an album and
// a webhook subscribed to two events, adds a third event with add_event, then lists the
// album's webhooks reading X-Total-Count, and creates a facility webhook.
//
//	TOKEN=$(./webhookd token --sub alice --client-id app --facilities P-1,P-2)
//	go run ./examples/client -url http://localhost:8080 -token "$TOKEN"
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/webhookd/webhookd/gen"
)

func main() {
	url := flag.String("url", "http://localhost:8080", "webhookd's base URL")
	token := flag.String("token", os.Getenv("TOKEN"), "a bearer token (webhookd token ...); default $TOKEN")
	flag.Parse()
	if err := run(context.Background(), *url, *token, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run makes the calls against the server at baseURL and prints what they answer to out.
func run(ctx context.Context, baseURL, token string, out io.Writer) error {
	c, err := gen.NewClientWithResponses(baseURL, gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}))
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}

	album, err := c.CreateAlbumWithFormdataBodyWithResponse(ctx, nil, gen.CreateAlbumFormdataRequestBody{Name: "Chest CT"})
	if err != nil {
		return fmt.Errorf("create album: %w", err)
	}
	if album.JSON201 == nil {
		return fmt.Errorf("create album: %s %s", album.Status(), album.Body)
	}
	albumID := album.JSON201.AlbumId
	fmt.Fprintf(out, "album %s\n", albumID)

	events := []gen.KheopsEventOrNone{gen.FormNewSeries, gen.FormNewUser}
	hook, err := c.CreateWebhookWithFormdataBodyWithResponse(ctx, albumID, nil, gen.CreateWebhookFormdataRequestBody{
		Url: "https://receiver.example.org/hook", Name: "my-hook", Event: &events})
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	if hook.JSON201 == nil {
		return fmt.Errorf("create webhook: %s %s", hook.Status(), hook.Body)
	}
	fmt.Fprintf(out, "webhook %s events %v\n", hook.JSON201.Id, hook.JSON201.Events)

	add := []gen.KheopsEvent{gen.RemoveSeries}
	edited, err := c.UpdateWebhookWithFormdataBodyWithResponse(ctx, albumID, hook.JSON201.Id, nil,
		gen.UpdateWebhookFormdataRequestBody{AddEvent: &add})
	if err != nil {
		return fmt.Errorf("edit webhook: %w", err)
	}
	if edited.JSON200 == nil {
		return fmt.Errorf("edit webhook: %s %s", edited.Status(), edited.Body)
	}
	fmt.Fprintf(out, "edited: events %v\n", edited.JSON200.Events)

	limit := 10
	list, err := c.ListWebhooksWithResponse(ctx, albumID, &gen.ListWebhooksParams{Limit: &limit})
	if err != nil {
		return fmt.Errorf("list webhooks: %w", err)
	}
	if list.JSON200 == nil {
		return fmt.Errorf("list webhooks: %s %s", list.Status(), list.Body)
	}
	fmt.Fprintf(out, "%d webhook(s) on this page, X-Total-Count %s\n", len(*list.JSON200), list.HTTPResponse.Header.Get("X-Total-Count"))

	// A facility webhook (the token's client_id owns it; facilities left out: the token's).
	fw, err := c.CreateFacilityWebhookWithResponse(ctx, gen.FacilityWebhookCreate{
		Url: "https://receiver.example.org/shifts", Events: []gen.FacilityEvent{gen.FacilityEventShiftCreated, gen.FacilityEventShiftCancelled}})
	if err != nil {
		return fmt.Errorf("create facility webhook: %w", err)
	}
	if fw.JSON201 == nil {
		return fmt.Errorf("create facility webhook: %s %s", fw.Status(), fw.Body)
	}
	fmt.Fprintf(out, "facility webhook %s for %v\n", fw.JSON201.Data.Id, fw.JSON201.Data.Facilities)
	return nil
}
