package run

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// screen serialises output: log lines above, the progress block below
// (redrawn in place on a terminal, changed lines appended otherwise).
type screen struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	drawn    int
	block    []string
	plain    map[string]string
	said     map[string]bool // problem lines printed (plain output)
}

const (
	eraseBlock = "\x1b[%dA\r\x1b[J" // cursor up n lines, to column 1, clear to the end
)

func (s *screen) erase() {
	if s.terminal && s.drawn > 0 {
		fmt.Fprintf(s.w, eraseBlock, s.drawn)
		s.drawn = 0
	}
}

func (s *screen) draw() {
	if !s.terminal {
		return
	}
	for _, l := range s.block {
		fmt.Fprintln(s.w, l)
	}
	s.drawn = len(s.block)
}

// log prints a line above the progress block.
func (s *screen) log(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.erase()
	fmt.Fprintln(s.w, line)
	s.draw()
}

// progress shows the Jobs' state and their pods' problems.
func (s *screen) progress(jobs []*batchv1.Job, problems map[string][]Problem, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminal {
		s.erase()
		s.block = Progress(jobs, problems, now)
		s.draw()
		return
	}
	for _, j := range jobs {
		if l := Line(j); s.plain[string(j.UID)] != l {
			s.plain[string(j.UID)] = l
			fmt.Fprintln(s.w, l)
		}
		if _, done := Finished(j); done {
			continue
		}
		for _, p := range problems[string(j.UID)] {
			l := name(j) + ": " + p.String()
			if !s.said[l] {
				s.said[l] = true
				fmt.Fprintln(s.w, l)
			}
		}
	}
}

// done leaves the last progress block on screen as it is.
func (s *screen) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drawn = 0
}

// logLines is how many last lines of each container run are kept for the
// failure summary.
const logLines = 20

// streamer follows container logs, each run of each container once, printing
// their lines prefixed with [pod/container] when print is set, and keeping
// each run's last lines.
type streamer struct {
	client  kubernetes.Interface
	screen  *screen
	print   bool
	mu      sync.Mutex
	started map[string]bool
	tails   map[string][]string
	wg      sync.WaitGroup
}

func newStreamer(c kubernetes.Interface, s *screen, print bool) *streamer {
	return &streamer{client: c, screen: s, print: print, started: map[string]bool{}, tails: map[string][]string{}}
}

func (s *streamer) start(ctx context.Context, jobs []*batchv1.Job, pods []*corev1.Pod) {
	uids := map[types.UID]bool{}
	for _, j := range jobs {
		uids[j.UID] = true
	}
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref == nil || !uids[ref.UID] {
			continue
		}
		for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, cs := range list {
				if cs.State.Running == nil && cs.State.Terminated == nil {
					continue
				}
				key := Run{Pod: p.UID, Container: cs.Name, Attempt: cs.RestartCount}.key()
				s.mu.Lock()
				again := s.started[key]
				s.started[key] = true
				s.mu.Unlock()
				if again {
					continue
				}
				s.wg.Add(1)
				go s.stream(ctx, p.Namespace, p.Name, cs.Name, key)
			}
		}
	}
}

func (s *streamer) stream(ctx context.Context, ns, pod, container, key string) {
	defer s.wg.Done()
	r, err := s.client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
	if err != nil {
		return
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	prefix := fmt.Sprintf("[%s/%s] ", pod, container)
	for sc.Scan() {
		s.keep(key, sc.Text())
		if s.print {
			s.screen.log(prefix + sc.Text())
		}
	}
}

func (s *streamer) keep(key, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := append(s.tails[key], line)
	if len(t) > logLines {
		t = t[len(t)-logLines:]
	}
	s.tails[key] = t
}

// last is the kept last lines of a run (nil if it was not streamed).
func (s *streamer) last(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started[key] {
		return nil
	}
	return append([]string{}, s.tails[key]...)
}

// wait waits up to d for the streams to reach the ends of their logs.
func (s *streamer) wait(d time.Duration) {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
