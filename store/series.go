package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/webhookd/webhookd/payload"
)

// ErrSeriesNotFound is returned (wrapped) when a series or study is not in the album.
var ErrSeriesNotFound = errors.New("series not found")

// ImportSourceSend is the import_source of the new_series requests webhookd sends: series are
// added to albums by sharing ("send"), never uploaded here.
const ImportSourceSend = "send"

// flushGrace is how early a flush may come without the study being forgotten: a flush this close
// to the study's due time schedules another at that time.
const flushGrace = 2 * time.Second

// pendingSeries is a series added to an album whose new_series notification has not been sent:
// it waits until its study has been quiet in the album for Config.NewSeriesDelay.
type pendingSeries struct {
	AlbumID   string `gorm:"primaryKey"`
	StudyUID  string `gorm:"primaryKey"`
	SeriesUID string `gorm:"primaryKey"`
	Source    string // JSON of the payload.KheopsUser who added it
	AddedAt   time.Time
}

func (pendingSeries) TableName() string { return "pending_new_series" }

// AddSeries shares a series in an album. It reports false, changing nothing, when the series was
// already there. A new series waits in pending_new_series, and the engine is asked (in the same
// transaction) to flush the study once it has been quiet for Config.NewSeriesDelay: see
// FlushNewSeries.
func (s *Store) AddSeries(ctx context.Context, albumID, studyUID, seriesUID string, source payload.KheopsUser) (bool, error) {
	src, err := json.Marshal(source)
	if err != nil {
		return false, fmt.Errorf("add series: encode source: %w", err)
	}
	now := time.Now().UTC()
	added := false
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&AlbumSeries{AlbumID: albumID, StudyUID: studyUID, SeriesUID: seriesUID, CreatedAt: now})
		if errors.Is(res.Error, gorm.ErrForeignKeyViolated) {
			return fmt.Errorf("album %q: %w", albumID, ErrNotFound) // deleted meanwhile
		}
		if res.Error != nil {
			return fmt.Errorf("insert series: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		added = true
		err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "album_id"}, {Name: "study_uid"}, {Name: "series_uid"}},
			DoUpdates: clause.AssignmentColumns([]string{"source", "added_at"}),
		}).Create(&pendingSeries{AlbumID: albumID, StudyUID: studyUID, SeriesUID: seriesUID, Source: string(src), AddedAt: now}).Error
		if err != nil {
			return fmt.Errorf("insert pending series: %w", err)
		}
		sqlTx, err := SQLTx(tx)
		if err != nil {
			return err
		}
		if err := s.enq.ScheduleSeriesFlush(ctx, sqlTx, albumID, studyUID, now.Add(s.cfg.NewSeriesDelay)); err != nil {
			return fmt.Errorf("schedule new_series: %w", err)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("add series: %w", err)
	}
	return added, nil
}

// FlushNewSeries sends the coalesced new_series notification of a study of an album, when the
// study has been quiet (no series added) for Config.NewSeriesDelay at now; otherwise it sends
// nothing, a later flush being scheduled by the latest addition (and, when now is within
// flushGrace of the study's due time, by this call too, in case it was that flush come early).
// The engine calls it when a scheduled flush comes due.
//
// The pending series are deleted and their notification recorded in one transaction; only the
// rows this call deleted are announced, so concurrent flushes of a study send one notification.
// It creates one delivery per enabled webhook subscribed to new_series, carrying every series
// flushed (sorted), with the user of the most recent addition as source. It reports whether it
// flushed series (true even when no webhook was subscribed).
func (s *Store) FlushNewSeries(ctx context.Context, albumID, studyUID string, now time.Time) (bool, error) {
	fired := false
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		var pending []pendingSeries
		if err := tx.Where("album_id = ? AND study_uid = ?", albumID, studyUID).Find(&pending).Error; err != nil {
			return fmt.Errorf("read pending series: %w", err)
		}
		if len(pending) == 0 {
			return nil
		}
		byUID := make(map[string]pendingSeries, len(pending))
		candidates := make([]string, len(pending))
		newest := pending[0].AddedAt
		for i, p := range pending {
			byUID[p.SeriesUID] = p
			candidates[i] = p.SeriesUID
			if p.AddedAt.After(newest) {
				newest = p.AddedAt
			}
		}
		if due := newest.Add(s.cfg.NewSeriesDelay); now.Before(due) {
			// Not quiet yet: the flush scheduled by the latest addition sends. Unless this is
			// that flush, run a little early (clocks of two instances that disagree, the queue's
			// millisecond timestamps): then the series would wait forever. A flush that comes
			// within flushGrace of the due time therefore schedules one more, at that time.
			if due.Sub(now) > flushGrace {
				return nil
			}
			sqlTx, err := SQLTx(tx)
			if err != nil {
				return err
			}
			if err := s.enq.ScheduleSeriesFlush(ctx, sqlTx, albumID, studyUID, due); err != nil {
				return fmt.Errorf("schedule new_series: %w", err)
			}
			return nil
		}
		var flushed []string
		if err := tx.Raw(`DELETE FROM pending_new_series WHERE album_id = ? AND study_uid = ? AND series_uid IN ?
			RETURNING series_uid`, albumID, studyUID, candidates).Scan(&flushed).Error; err != nil {
			return fmt.Errorf("delete pending series: %w", err)
		}
		if len(flushed) == 0 {
			return nil // another flush took them
		}
		slices.SortFunc(flushed, compareUIDs)
		// The source is the user of the most recent addition (ties: the last series UID).
		last := byUID[flushed[0]]
		for _, uid := range flushed[1:] {
			if p := byUID[uid]; !p.AddedAt.Before(last.AddedAt) {
				last = p
			}
		}
		var source payload.KheopsUser
		if err := json.Unmarshal([]byte(last.Source), &source); err != nil {
			return fmt.Errorf("decode source of pending series: %w", err)
		}
		fired = true
		hooks, err := subscribedWebhooks(tx, albumID, EventNewSeries)
		if err != nil {
			return err
		}
		body := s.kheopsBody(albumID, source, false)
		body.ImportSource = ImportSourceSend
		body.UpdatedStudy = payload.NewSeriesStudy(s.cfg.PublicURL, studyUID, flushed)
		return s.createKheopsDeliveries(ctx, tx, hooks, EventNewSeries, body,
			deliveryRefs{StudyUID: &studyUID, SeriesUIDs: flushed})
	})
	if err != nil {
		return false, fmt.Errorf("flush new series: %w", err)
	}
	return fired, nil
}

// RemoveSeries removes a series from an album and fires remove_series (remove_all_series
// false) to the enabled webhooks subscribed to it. A series not in the album is ErrSeriesNotFound.
// A series still waiting for its new_series notification is not announced any more.
func (s *Store) RemoveSeries(ctx context.Context, albumID, studyUID, seriesUID string, source payload.KheopsUser) error {
	if err := s.removeSeries(ctx, albumID, studyUID, &seriesUID, source); err != nil {
		return fmt.Errorf("remove series: %w", err)
	}
	return nil
}

// RemoveStudy removes every series of a study from an album and fires remove_series
// (remove_all_series true) with all of them. A study with no series in the album is
// ErrSeriesNotFound.
func (s *Store) RemoveStudy(ctx context.Context, albumID, studyUID string, source payload.KheopsUser) error {
	if err := s.removeSeries(ctx, albumID, studyUID, nil, source); err != nil {
		return fmt.Errorf("remove study: %w", err)
	}
	return nil
}

// removeSeries removes one series (seriesUID set) or the whole study, in one transaction with
// its pending new_series rows and its remove_series deliveries.
func (s *Store) removeSeries(ctx context.Context, albumID, studyUID string, seriesUID *string, source payload.KheopsUser) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		q := "DELETE FROM album_series WHERE album_id = ? AND study_uid = ?"
		args := []any{albumID, studyUID}
		if seriesUID != nil {
			q += " AND series_uid = ?"
			args = append(args, *seriesUID)
		}
		var removed []string
		if err := tx.Raw(q+" RETURNING series_uid", args...).Scan(&removed).Error; err != nil {
			return fmt.Errorf("delete series: %w", err)
		}
		if len(removed) == 0 {
			if seriesUID != nil {
				return fmt.Errorf("series %q of study %q: %w", *seriesUID, studyUID, ErrSeriesNotFound)
			}
			return fmt.Errorf("study %q: %w", studyUID, ErrSeriesNotFound)
		}
		slices.SortFunc(removed, compareUIDs)
		if err := tx.Where("album_id = ? AND study_uid = ? AND series_uid IN ?", albumID, studyUID, removed).
			Delete(&pendingSeries{}).Error; err != nil {
			return fmt.Errorf("delete pending series: %w", err)
		}
		hooks, err := subscribedWebhooks(tx, albumID, EventRemoveSeries)
		if err != nil {
			return err
		}
		all := seriesUID == nil
		body := s.kheopsBody(albumID, source, false)
		body.RemoveAllSeries = &all
		body.RemovedStudy = payload.RemovedStudy(studyUID, removed)
		return s.createKheopsDeliveries(ctx, tx, hooks, EventRemoveSeries, body,
			deliveryRefs{StudyUID: &studyUID, SeriesUIDs: removed})
	})
}

// compareUIDs orders DICOM UIDs component by component, numerically (1.2.3 < 1.2.10), the order
// in which series are listed in requests. Components that are not numbers compare as text.
func compareUIDs(a, b string) int {
	for a != "" || b != "" {
		ca, ra, _ := strings.Cut(a, ".")
		cb, rb, _ := strings.Cut(b, ".")
		if c := compareComponents(ca, cb); c != 0 {
			return c
		}
		a, b = ra, rb
	}
	return 0
}

func compareComponents(a, b string) int {
	if isDigits(a) && isDigits(b) && len(a) != len(b) {
		return cmp.Compare(len(a), len(b)) // no leading zeros: the longer number is the greater
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
