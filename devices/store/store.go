// Package store keeps devices, entities, their current state and the
// commands sent to them in hubd's SQLite database. Its tables and their
// migrations belong to it.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"hubd/devices"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Database is the handle the store needs; hub/sqlite's DB satisfies it.
type Database interface {
	SQL() *sql.DB
	Migrate(ctx context.Context, owner string, fsys fs.FS, dir string) error
}

// Store reads and writes devices, entities, states and commands.
type Store struct {
	db *sql.DB
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// New returns a Store on db. Call Migrate before use.
func New(db Database) (*Store, error) {
	return &Store{db: db.SQL(), Now: time.Now}, nil
}

// Migrate creates or updates the store's tables.
func Migrate(ctx context.Context, db Database) error {
	return db.Migrate(ctx, "devices", migrations, "migrations")
}

func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func notFound(what, id string) error {
	return devices.Errorf(devices.ENOTFOUND, "%s %q not found", what, id)
}

// UpsertDevice stores d. An existing device keeps its status and creation
// time, and its client id and username when d has none; a paired device
// announced by another client goes back to pending. A new one starts with
// d.Status (pending if unset). It returns the
// stored device and whether it was new.
func (s *Store) UpsertDevice(ctx context.Context, d devices.Device) (devices.Device, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return d, false, err
	}
	defer tx.Rollback()
	old, err := findDevice(ctx, tx, d.ID)
	created := false
	switch {
	case err == nil:
		d.Status, d.CreatedAt = old.Status, old.CreatedAt
		switch {
		case d.ClientID == "": // re-read from a retained config: the speaker is unknown
			d.ClientID, d.Username = old.ClientID, old.Username
		case old.ClientID != "" && d.ClientID != old.ClientID && d.Status == devices.StatusPaired:
			// Another client speaks for a paired device: its access must
			// not move with it. The user pairs it again if that is right.
			d.Status = devices.StatusPending
		}
	case devices.ErrorCode(err) == devices.ENOTFOUND:
		created = true
		if !d.Status.Valid() {
			d.Status = devices.StatusPending
		}
		d.CreatedAt = s.now()
	default:
		return d, false, err
	}
	d.UpdatedAt = s.now()
	d.Entities = nil
	data, err := json.Marshal(d)
	if err != nil {
		return d, false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, data, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data, status = excluded.status, updated_at = excluded.updated_at`,
		d.ID, data, d.Status, d.CreatedAt.Format(time.RFC3339Nano), d.UpdatedAt.Format(time.RFC3339Nano)); err != nil {
		return d, false, fmt.Errorf("store device %s: %w", d.ID, err)
	}
	if d.Entities, err = entityIDs(ctx, tx, d.ID); err != nil {
		return d, false, err
	}
	return d, created, tx.Commit()
}

// SetDeviceStatus changes a device's status. ENOTFOUND.
func (s *Store) SetDeviceStatus(ctx context.Context, id string, status devices.Status) (devices.Device, error) {
	if !status.Valid() {
		return devices.Device{}, devices.Errorf(devices.EINVALID, "status %q is not pending, paired or ignored", status)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return devices.Device{}, err
	}
	defer tx.Rollback()
	d, err := findDevice(ctx, tx, id)
	if err != nil {
		return d, err
	}
	d.Status, d.UpdatedAt = status, s.now()
	ents := d.Entities
	d.Entities = nil
	data, err := json.Marshal(d)
	if err != nil {
		return d, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET data = ?, status = ?, updated_at = ? WHERE id = ?`,
		data, status, d.UpdatedAt.Format(time.RFC3339Nano), id); err != nil {
		return d, fmt.Errorf("set status of %s: %w", id, err)
	}
	d.Entities = ents
	return d, tx.Commit()
}

// FindDevice returns one device with its entity ids. ENOTFOUND.
func (s *Store) FindDevice(ctx context.Context, id string) (devices.Device, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return devices.Device{}, err
	}
	defer tx.Rollback()
	return findDevice(ctx, tx, id)
}

// FindDevices returns the devices filter selects, by id.
func (s *Store) FindDevices(ctx context.Context, filter devices.DeviceFilter) ([]devices.Device, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	q, args := `SELECT data FROM devices`, []any{}
	if filter.Status != nil {
		q, args = q+` WHERE status = ?`, append(args, *filter.Status)
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find devices: %w", err)
	}
	var out []devices.Device
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			rows.Close()
			return nil, err
		}
		var d devices.Device
		if err := json.Unmarshal(data, &d); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find devices: %w", err)
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ents, err := allEntityIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Entities = ents[out[i].ID]
		if out[i].Entities == nil {
			out[i].Entities = []string{}
		}
	}
	return out, nil
}

func findDevice(ctx context.Context, tx *sql.Tx, id string) (devices.Device, error) {
	var data []byte
	err := tx.QueryRowContext(ctx, `SELECT data FROM devices WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return devices.Device{}, notFound("device", id)
	} else if err != nil {
		return devices.Device{}, fmt.Errorf("find device %s: %w", id, err)
	}
	var d devices.Device
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("find device %s: %w", id, err)
	}
	d.Entities, err = entityIDs(ctx, tx, id)
	return d, err
}

func entityIDs(ctx context.Context, tx *sql.Tx, deviceID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM entities WHERE device_id = ? ORDER BY id`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func allEntityIDs(ctx context.Context, tx *sql.Tx) (map[string][]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT device_id, id FROM entities WHERE device_id IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var dev, id string
		if err := rows.Scan(&dev, &id); err != nil {
			return nil, err
		}
		out[dev] = append(out[dev], id)
	}
	return out, rows.Err()
}

// DeleteDevice removes a device with its entities and their states.
// ENOTFOUND.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete device %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("device", id)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM states WHERE entity_id IN (SELECT id FROM entities WHERE device_id = ?)`, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM entities WHERE device_id = ?`, id); err != nil {
		return err
	}
	return tx.Commit()
}

// UpsertEntity stores e and reports whether it was new.
func (s *Store) UpsertEntity(ctx context.Context, e devices.Entity) (bool, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM entities WHERE id = ?`, e.ID).Scan(&n); err != nil {
		return false, err
	}
	var dev any
	if e.DeviceID != "" {
		dev = e.DeviceID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO entities (id, device_id, discovery_topic, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET device_id = excluded.device_id, discovery_topic = excluded.discovery_topic, data = excluded.data`,
		e.ID, dev, e.DiscoveryTopic, data); err != nil {
		return false, fmt.Errorf("store entity %s: %w", e.ID, err)
	}
	return n == 0, tx.Commit()
}

// FindEntities returns every entity, by id.
func (s *Store) FindEntities(ctx context.Context) ([]devices.Entity, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM entities ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find entities: %w", err)
	}
	defer rows.Close()
	var out []devices.Entity
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var e devices.Entity
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("find entities: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteEntity removes an entity and its state; a device left without
// entities is removed too. It returns the device id ("" if none) and
// whether the device went with it. ENOTFOUND.
func (s *Store) DeleteEntity(ctx context.Context, id string) (deviceID string, deviceGone bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", false, err
	}
	defer tx.Rollback()
	var dev sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT device_id FROM entities WHERE id = ?`, id).Scan(&dev)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, notFound("entity", id)
	} else if err != nil {
		return "", false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM entities WHERE id = ?`, id); err != nil {
		return "", false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM states WHERE entity_id = ?`, id); err != nil {
		return "", false, err
	}
	if dev.Valid {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM entities WHERE device_id = ?`, dev.String).Scan(&n); err != nil {
			return "", false, err
		}
		if n == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ?`, dev.String); err != nil {
				return "", false, err
			}
			deviceGone = true
		}
	}
	return dev.String, deviceGone, tx.Commit()
}

// SaveStates stores the given states in one transaction.
func (s *Store) SaveStates(ctx context.Context, states []devices.State) error {
	if len(states) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, st := range states {
		data, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO states (entity_id, data) VALUES (?, ?)
			ON CONFLICT (entity_id) DO UPDATE SET data = excluded.data`, st.EntityID, data); err != nil {
			return fmt.Errorf("save state of %s: %w", st.EntityID, err)
		}
	}
	return tx.Commit()
}

// FindStates returns every stored state, keyed by entity id.
func (s *Store) FindStates(ctx context.Context) (map[string]devices.State, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM states`)
	if err != nil {
		return nil, fmt.Errorf("find states: %w", err)
	}
	defer rows.Close()
	out := map[string]devices.State{}
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var st devices.State
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("find states: %w", err)
		}
		out[st.EntityID] = st
	}
	return out, rows.Err()
}

// CreateCommand records a new command.
func (s *Store) CreateCommand(ctx context.Context, c devices.Command) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO commands (id, entity_id, status, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.EntityID, c.Status, data, c.CreatedAt.Format(time.RFC3339Nano), c.UpdatedAt.Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record command %s: %w", c.ID, err)
	}
	return nil
}

// UpdateCommand moves a command to status with reason, unless it is
// already final; it returns the command as stored and whether it changed.
// ENOTFOUND.
func (s *Store) UpdateCommand(ctx context.Context, id string, status devices.CommandStatus, reason string) (devices.Command, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return devices.Command{}, false, err
	}
	defer tx.Rollback()
	c, err := findCommand(ctx, tx, id)
	if err != nil {
		return c, false, err
	}
	if c.Status.Final() || c.Status == status || rank(status) < rank(c.Status) {
		return c, false, nil
	}
	c.Status, c.Reason, c.UpdatedAt = status, reason, s.now()
	data, err := json.Marshal(c)
	if err != nil {
		return c, false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE commands SET status = ?, data = ?, updated_at = ? WHERE id = ?`,
		c.Status, data, c.UpdatedAt.Format(time.RFC3339Nano), id); err != nil {
		return c, false, fmt.Errorf("update command %s: %w", id, err)
	}
	return c, true, tx.Commit()
}

// rank orders statuses so that a late, older report cannot move a
// command backwards.
func rank(s devices.CommandStatus) int {
	switch s {
	case devices.CommandPending:
		return 0
	case devices.CommandSent:
		return 1
	case devices.CommandDelivered:
		return 2
	}
	return 3
}

// FindCommand returns one command. ENOTFOUND.
func (s *Store) FindCommand(ctx context.Context, id string) (devices.Command, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return devices.Command{}, err
	}
	defer tx.Rollback()
	return findCommand(ctx, tx, id)
}

func findCommand(ctx context.Context, tx *sql.Tx, id string) (devices.Command, error) {
	var data []byte
	err := tx.QueryRowContext(ctx, `SELECT data FROM commands WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return devices.Command{}, notFound("command", id)
	} else if err != nil {
		return devices.Command{}, fmt.Errorf("find command %s: %w", id, err)
	}
	var c devices.Command
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("find command %s: %w", id, err)
	}
	return c, nil
}

// FindOpenCommands returns the commands not yet in a final status,
// oldest first.
func (s *Store) FindOpenCommands(ctx context.Context) ([]devices.Command, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM commands WHERE status IN ('pending', 'sent', 'delivered') ORDER BY created_at`)
	if err != nil {
		return nil, fmt.Errorf("find open commands: %w", err)
	}
	defer rows.Close()
	var out []devices.Command
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var c devices.Command
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, rows.Err()
}
