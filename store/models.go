package store

import (
	"context"
	"database/sql"
	"time"
)

// User is a person known from the tokens they called with.
type User struct {
	Sub       string `gorm:"primaryKey"`
	Email     string
	Name      string
	CreatedAt time.Time
}

// Album groups studies and members; its admins manage its webhooks.
type Album struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description string
	CreatedAt   time.Time
}

// AlbumMember is a user's membership of an album.
type AlbumMember struct {
	AlbumID   string `gorm:"primaryKey"`
	UserSub   string `gorm:"primaryKey"`
	IsAdmin   bool
	CreatedAt time.Time
}

// AlbumSeries is a series shared in an album.
type AlbumSeries struct {
	AlbumID   string `gorm:"primaryKey"`
	StudyUID  string `gorm:"primaryKey"`
	SeriesUID string `gorm:"primaryKey"`
	CreatedAt time.Time
}

// TableName keeps the plural table name.
func (AlbumSeries) TableName() string { return "album_series" }

// AlbumWebhook is a Kheops album webhook.
type AlbumWebhook struct {
	ID      string `gorm:"primaryKey"`
	AlbumID string
	URL     string `gorm:"column:url"`
	Name    string
	Secret  *string
	Events  EventSet
	Enabled bool
	// DisabledReason says why the service disabled it (410 Gone, sustained failure); nil when
	// it did not. Enabling the webhook clears it.
	DisabledReason *string
	CreatedAt      time.Time
	// Triggers counts the webhook's deliveries, kept in step with them (so lists need not
	// count them).
	Triggers int `gorm:"column:number_of_triggers"`
}

// Delivery families.
const (
	FamilyKheops   = "kheops"
	FamilyFacility = "facility"
	FamilyUser     = "user"
)

// Delivery statuses.
const (
	DeliveryPending = "pending"
	DeliverySuccess = "success"
	DeliveryFailure = "failure"
)

// Delivery is one event sent to one webhook, over one or more attempts. Its target (url and
// secrets) is captured when it is created, so a delivery outlives its webhook (delete_album).
type Delivery struct {
	ID          string `gorm:"primaryKey"`
	Family      string
	WebhookID   string
	Event       string
	IsManual    bool
	URL         string `gorm:"column:url"`
	Secrets     string // JSON array of strings
	Payload     string // JSON body sent
	UserSub     *string
	StudyUID    *string
	SeriesUIDs  *string `gorm:"column:series_uids"` // JSON array of strings
	FacilityID  *string
	ClientID    *string
	EventID     *string
	Status      string
	MaxAttempts int
	// Resend is set while an extra attempt asked by resend or recover is queued.
	Resend    bool
	CreatedAt time.Time
}

// TableName keeps the plural table name.
func (Delivery) TableName() string { return "deliveries" }

// DeliveryAttempt is one HTTP request of a delivery.
type DeliveryAttempt struct {
	DeliveryID   string `gorm:"primaryKey"`
	Attempt      int    `gorm:"primaryKey;autoIncrement:false"`
	Status       int    // HTTP status, -1 when no response came
	Error        string
	DurationMS   int64 `gorm:"column:duration_ms"`
	ResponseBody string
	CreatedAt    time.Time
}

// DeliveryRef names a delivery and its webhook, for the engine's jobs.
type DeliveryRef struct {
	ID, WebhookID string
	// Ctx, when set, is the context of the request that caused the delivery, whose trace its job
	// carries (deliveries of events published together are enqueued together); nil means the
	// context EnqueueDeliveries is called with. Not a column (recover scans refs with GORM).
	Ctx context.Context `gorm:"-"`
	// Row is the delivery as inserted, when the store has it at hand (new deliveries; nil for
	// resends). Not a column.
	Row *Delivery `gorm:"-"`
	// Healthy tells that the delivery's webhook had nothing failing, postponed or paced (no
	// webhook_health row) when the delivery was made: with Row, all its first attempt needs,
	// so the engine may make it without reading the database again. Not a column.
	Healthy bool `gorm:"-"`
}

// Enqueuer is the delivery engine's hook: the store calls it inside the transaction that creates
// deliveries or series, so that a job exists if and only if the change committed.
type Enqueuer interface {
	// EnqueueDeliveries schedules the first attempt of each delivery.
	EnqueueDeliveries(ctx context.Context, tx *sql.Tx, deliveries []DeliveryRef) error
	// EnqueueResends schedules one extra attempt of each delivery, now (resend and recover).
	EnqueueResends(ctx context.Context, tx *sql.Tx, deliveries []DeliveryRef) error
	// ScheduleSeriesFlush schedules the coalesced new_series notification of a study at `at`.
	ScheduleSeriesFlush(ctx context.Context, tx *sql.Tx, albumID, studyUID string, at time.Time) error
	// DeliveriesCommitted is called after a transaction that enqueued deliveries or resends has
	// committed, so that the engine starts them at once.
	DeliveriesCommitted()
}

type noEnqueuer struct{}

func (noEnqueuer) EnqueueDeliveries(context.Context, *sql.Tx, []DeliveryRef) error { return nil }
func (noEnqueuer) EnqueueResends(context.Context, *sql.Tx, []DeliveryRef) error    { return nil }
func (noEnqueuer) DeliveriesCommitted()                                            {}
func (noEnqueuer) ScheduleSeriesFlush(context.Context, *sql.Tx, string, string, time.Time) error {
	return nil
}
