package policy

import (
	"fmt"
	"time"
	_ "time/tzdata" // time zones on machines without a zoneinfo database
)

// OpenWindow is a Window parsed: when a wave may start.
type OpenWindow struct {
	days       map[time.Weekday]bool
	start, end int // minutes after midnight
	loc        *time.Location
}

var weekdays = map[string]time.Weekday{"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday, "Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday}

// Parse checks the window and makes it usable.
func (w *Window) Parse() (*OpenWindow, error) {
	ow := &OpenWindow{loc: time.UTC}
	if w.TimeZone != "" {
		loc, err := time.LoadLocation(w.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("timeZone %q: not an IANA time zone such as Europe/Berlin", w.TimeZone)
		}
		ow.loc = loc
	}
	for _, d := range w.Days {
		wd, ok := weekdays[d]
		if !ok {
			return nil, fmt.Errorf("days: %q is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun", d)
		}
		if ow.days == nil {
			ow.days = map[time.Weekday]bool{}
		}
		ow.days[wd] = true
	}
	for _, b := range []struct {
		name, v string
		out     *int
	}{{"start", w.Start, &ow.start}, {"end", w.End, &ow.end}} {
		t, err := time.Parse("15:04", b.v)
		if err != nil {
			return nil, fmt.Errorf("%s %q: use HH:MM, such as 09:00", b.name, b.v)
		}
		*b.out = t.Hour()*60 + t.Minute()
	}
	if ow.start == ow.end {
		return nil, fmt.Errorf("start and end are both %s: the window would never open", w.Start)
	}
	return ow, nil
}

// Open reports whether t falls in the window. A window whose end is before
// its start spans midnight (22:00–02:00); its day is the day it opens.
func (w *OpenWindow) Open(t time.Time) bool {
	t = t.In(w.loc)
	m := t.Hour()*60 + t.Minute()
	day := t.Weekday()
	if w.start < w.end {
		return (w.days == nil || w.days[day]) && m >= w.start && m < w.end
	}
	if m >= w.start {
		return w.days == nil || w.days[day]
	}
	return m < w.end && (w.days == nil || w.days[(day+6)%7])
}

// Next is the first time at or after t when the window is open (within a week).
func (w *OpenWindow) Next(t time.Time) time.Time {
	t = t.Truncate(time.Minute)
	for i := 0; i < 8*24*60; i++ {
		if w.Open(t) {
			return t
		}
		t = t.Add(time.Minute)
	}
	return t
}
