package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapiserver "k8s.io/apiserver/pkg/server"
)

// ClockPath serves the server's clock: GET reads it, POST moves a virtual
// one. It sits behind the API server's authentication and authorization
// like every path: RBAC's default policy lets batchd:view and batchd:edit
// read it (get), only system:masters move it (no role grants the post verb
// on it), as `batchd clock` does with the admin kubeconfig.
const ClockPath = "/batchd/v1/clock"

// VirtualClock is a clock that can be moved (vclock.Clock).
type VirtualClock interface {
	Now() time.Time
	Rate() float64
	Advance(time.Duration) error
	Set(time.Time) error
}

// ClockState is what ClockPath answers.
type ClockState struct {
	Kind string `json:"kind"`
	// Mode is real or virtual.
	Mode string    `json:"mode"`
	Now  time.Time `json:"now"`
	// Rate is a virtual clock's virtual seconds per real second (0: frozen).
	Rate float64 `json:"rate"`
}

// ClockMove is what a POST to ClockPath carries: one of the two.
type ClockMove struct {
	// Advance moves the clock forward by a duration such as 90m.
	Advance string `json:"advance,omitempty"`
	// Set moves the clock forward to an RFC 3339 time.
	Set string `json:"set,omitempty"`
}

func installClock(s *genericapiserver.GenericAPIServer, vc VirtualClock) {
	s.Handler.NonGoRestfulMux.Handle(ClockPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			if vc == nil {
				writeStatus(w, http.StatusConflict, metav1.StatusReasonConflict, "the server's clock is real: only a virtual clock (batchd server --clock virtual) can be moved")
				return
			}
			if code, msg := moveClock(vc, r.Body); code != http.StatusOK {
				writeStatus(w, code, metav1.StatusReasonBadRequest, msg)
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "the clock is read with GET and moved with POST")
			return
		}
		st := ClockState{Kind: "Clock", Mode: "real", Now: time.Now()}
		if vc != nil {
			st.Mode, st.Now, st.Rate = "virtual", vc.Now(), vc.Rate()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	}))
}

// moveClock applies a ClockMove read from body.
func moveClock(vc VirtualClock, body io.Reader) (int, string) {
	var m ClockMove
	if err := json.NewDecoder(io.LimitReader(body, 4096)).Decode(&m); err != nil {
		return http.StatusBadRequest, fmt.Sprintf("the body must be {\"advance\": \"90m\"} or {\"set\": \"2027-03-28T00:00:00+01:00\"}: %v", err)
	}
	var err error
	switch {
	case (m.Advance == "") == (m.Set == ""):
		return http.StatusBadRequest, "give one of advance (a duration such as 90m) and set (an RFC 3339 time)"
	case m.Advance != "":
		d, perr := time.ParseDuration(m.Advance)
		if perr != nil || d < 0 {
			return http.StatusBadRequest, fmt.Sprintf("advance %q is not a positive duration such as 90m or 36h", m.Advance)
		}
		err = vc.Advance(d)
	default:
		t, perr := time.Parse(time.RFC3339, m.Set)
		if perr != nil {
			return http.StatusBadRequest, fmt.Sprintf("set %q is not an RFC 3339 time such as 2027-03-28T00:00:00+01:00", m.Set)
		}
		err = vc.Set(t)
	}
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	return http.StatusOK, ""
}

// writeStatus answers with a metav1.Status, as every API error is.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code)})
}
