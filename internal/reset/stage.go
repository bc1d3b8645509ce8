package reset

import (
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/timing"
)

// Stage is one step's outcome.
type Stage struct {
	Name       string  `json:"name"`
	OK         bool    `json:"ok"`
	DurationMS float64 `json:"duration_ms"`
	Detail     string  `json:"detail,omitempty"`
}

// stages records the steps of one run, in order, and tells progress of
// each as it ends: the one bookkeeping Read and Run share.
type stages struct {
	list     *[]Stage
	now      func() time.Time
	progress func(Stage)
}

// add records a step that began at t0. A failed step's detail is its
// error unless detail says more.
func (s stages) add(name string, t0 time.Time, err error, detail string) {
	st := Stage{Name: name, OK: err == nil, DurationMS: timing.MS(s.now().Sub(t0)), Detail: detail}
	if err != nil && detail == "" {
		st.Detail = err.Error()
	}
	*s.list = append(*s.list, st)
	if s.progress != nil {
		s.progress(st)
	}
}
