package image

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Waiting reasons and event reasons of image pulls, as the kubelet's.
const (
	ReasonErrImagePull      = "ErrImagePull"
	ReasonImagePullBackOff  = "ImagePullBackOff"
	ReasonInvalidImageName  = "InvalidImageName"
	ReasonErrImageNeverPull = "ErrImageNeverPull"
	EventPulling            = "Pulling"
	EventPulled             = "Pulled"
	EventFailed             = "Failed"
	EventBackOff            = "BackOff"
)

// Backoff of failed pulls of one image: 10 s doubling to 300 s, as the
// kubelet's image backoff.
const (
	BackoffInitial = 10 * time.Second
	BackoffMax     = 300 * time.Second
)

// Action is what to do about a container's image.
type Action struct {
	// Pull from the registry now.
	Pull bool
	// Use the stored image as it is.
	Use bool
	// Waiting is the container's waiting state when it cannot start.
	Waiting *corev1.ContainerStateWaiting
	// Event is the event to record (Type, Reason, Message), if any.
	EventType, EventReason, EventMessage string
	// RetryAt is when a pull backed off may be tried again.
	RetryAt time.Time
	// Unavailable is why the image cannot be had, for a pod that may run
	// without it (DecideAuto); empty otherwise.
	Unavailable string
}

// PullState is what the node remembers of one image's failed pulls.
type PullState struct {
	Failures int
	LastErr  string
	Last     time.Time
}

// Decide is the kubelet's image decision for a container: the image's pull
// policy, whether it is stored, and the backoff of its earlier failed pulls.
// A name that does not parse is InvalidImageName; Never without the image is
// ErrImageNeverPull; IfNotPresent with it is an "already present" Pulled
// event; otherwise a pull, unless the last one failed less than the backoff
// ago (ImagePullBackOff).
func Decide(image string, policy corev1.PullPolicy, present bool, st PullState, now time.Time) Action {
	if _, err := Normalize(image); err != nil {
		msg := err.Error()
		return Action{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonInvalidImageName, Message: msg},
			EventType: corev1.EventTypeWarning, EventReason: "InspectFailed", EventMessage: msg}
	}
	switch {
	case policy == corev1.PullNever && !present:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", image)
		return Action{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonErrImageNeverPull, Message: msg},
			EventType: corev1.EventTypeWarning, EventReason: ReasonErrImageNeverPull, EventMessage: msg}
	case policy == corev1.PullNever || (policy == corev1.PullIfNotPresent && present):
		return Action{Use: true, EventType: corev1.EventTypeNormal, EventReason: EventPulled,
			EventMessage: fmt.Sprintf("Container image %q already present on machine", image)}
	}
	if st.Failures > 0 {
		if retry := st.Last.Add(Backoff(st.Failures)); now.Before(retry) {
			msg := fmt.Sprintf("Back-off pulling image %q", image)
			return Action{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonImagePullBackOff, Message: msg},
				EventType: corev1.EventTypeNormal, EventReason: EventBackOff, EventMessage: msg, RetryAt: retry}
		}
	}
	return Action{Pull: true, EventType: corev1.EventTypeNormal, EventReason: EventPulling, EventMessage: fmt.Sprintf("Pulling image %q", image)}
}

// DecideAuto is Decide for a container whose pod may run its command on the
// host instead (a node's --default-runtime auto). A stored image is used
// when the pull its policy asks for is backing off; an image that is neither
// stored nor pullable now (Never, or its last pull failed less than
// AutoRetry ago: the negative cache of an offline machine) is Unavailable,
// with why, and no waiting state or event. A name that does not parse stays
// InvalidImageName, as on a cluster. A pull that fails is FallBack's to judge.
func DecideAuto(image string, policy corev1.PullPolicy, present bool, st PullState, now time.Time) Action {
	if st.Failures > 0 && now.Before(st.Last.Add(AutoRetry)) {
		// Within AutoRetry of a failed pull the image is not tried again:
		// every pod of it runs on the host (or from the stored image).
		st.Failures = max(st.Failures, backoffSteps(AutoRetry))
	}
	a := Decide(image, policy, present, st, now)
	if a.Waiting == nil || a.Waiting.Reason == ReasonInvalidImageName {
		return a
	}
	if present {
		return Action{Use: true}
	}
	why := a.Waiting.Message
	if a.Waiting.Reason == ReasonImagePullBackOff && st.LastErr != "" {
		why = "its last pull failed " + now.Sub(st.Last).Round(time.Second).String() + " ago: " + st.LastErr
	}
	return Action{Unavailable: why}
}

// AutoRetry is how long DecideAuto remembers a failed pull: an offline
// machine tries an image's registry again at most this often, not on the
// kubelet's back-off from 10 s, so its pods do not wait on pulls that fail.
const AutoRetry = BackoffMax

// backoffSteps is the number of failures whose back-off is at least d.
func backoffSteps(d time.Duration) int {
	n := 1
	for Backoff(n) < d {
		n++
	}
	return n
}

// FallBack is what a failed pull under DecideAuto leaves: the stored image
// when there is one, else Unavailable with the pull's error.
func FallBack(present bool, err error) Action {
	if present {
		return Action{Use: true}
	}
	return Action{Unavailable: "pull failed: " + err.Error()}
}

// Backoff is the wait after the n-th consecutive failed pull.
func Backoff(n int) time.Duration {
	d := BackoffInitial
	for i := 1; i < n && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

// PullFailed is the waiting state and event of a failed pull.
func PullFailed(image string, err error) Action {
	msg := fmt.Sprintf("Failed to pull image %q: %v", image, err)
	return Action{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonErrImagePull, Message: msg},
		EventType: corev1.EventTypeWarning, EventReason: EventFailed, EventMessage: msg}
}

// Pulled is the event of a successful pull, in the kubelet's words.
func Pulled(image string, took time.Duration, size int64) Action {
	return Action{Use: true, EventType: corev1.EventTypeNormal, EventReason: EventPulled,
		EventMessage: fmt.Sprintf("Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.", image, took.Round(time.Millisecond), took.Round(time.Millisecond), size)}
}
