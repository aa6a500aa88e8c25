package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"github.com/webhookd/webhookd/payload"
)

// ManualTrigger is what an admin asks a webhook to be sent by hand (reference/kheops.md,
// "manual trigger"): Event new_user with User, or new_series with StudyUID and SeriesUIDs.
type ManualTrigger struct {
	// Event is EventNewUser or EventNewSeries.
	Event KheopsEvent
	// User is the sub or email of a member of the album (new_user).
	User string
	// StudyUID and SeriesUIDs name series of the album (new_series); at least one series.
	StudyUID   string
	SeriesUIDs []string
}

// TriggerWebhook records one delivery of the album's webhook, whatever its enabled flag and
// events, marked is_manual_trigger, and enqueues it. A webhook of another album is
// ErrWebhookNotFound; for new_user, a user who is unknown or not a member is ErrUserNotFound;
// for new_series, a series that is not in the album is ErrSeriesNotFound.
func (s *Store) TriggerWebhook(ctx context.Context, albumID, webhookID string, req ManualTrigger, source payload.KheopsUser) error {
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		hook, err := getWebhook(tx, albumID, webhookID)
		if err != nil {
			return err
		}
		body := s.kheopsBody(albumID, source, true)
		var refs deliveryRefs
		switch req.Event {
		case EventNewUser:
			u, err := findUser(tx, req.User)
			if err != nil {
				return err
			}
			var m AlbumMember
			err = tx.Where("album_id = ? AND user_sub = ?", albumID, u.Sub).Take(&m).Error
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("%q is not a member: %w", req.User, ErrUserNotFound)
			}
			if err != nil {
				return fmt.Errorf("read membership: %w", err)
			}
			body.NewUser = &payload.KheopsUser{Email: u.Email, Name: u.Name, Sub: u.Sub, IsAdmin: m.IsAdmin}
			refs.UserSub = &u.Sub
		case EventNewSeries:
			series := slices.Clone(req.SeriesUIDs)
			slices.SortFunc(series, compareUIDs)
			series = slices.Compact(series)
			if len(series) == 0 {
				return fmt.Errorf("no series given: %w", ErrSeriesNotFound)
			}
			var n int64
			if err := tx.Model(&AlbumSeries{}).
				Where("album_id = ? AND study_uid = ? AND series_uid IN ?", albumID, req.StudyUID, series).
				Count(&n).Error; err != nil {
				return fmt.Errorf("count series: %w", err)
			}
			if int(n) != len(series) {
				return fmt.Errorf("series of study %q: %w", req.StudyUID, ErrSeriesNotFound)
			}
			body.ImportSource = ImportSourceSend
			body.UpdatedStudy = payload.NewSeriesStudy(s.cfg.PublicURL, req.StudyUID, series)
			refs.StudyUID = &req.StudyUID
			refs.SeriesUIDs = series
		default:
			return fmt.Errorf("%q cannot be triggered manually (new_series or new_user)", req.Event)
		}
		return s.createKheopsDeliveries(ctx, tx, []AlbumWebhook{hook}, req.Event, body, refs)
	})
	if err != nil {
		return fmt.Errorf("trigger webhook: %w", err)
	}
	return nil
}
