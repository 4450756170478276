package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/serverproc"
)

// killSupervisors kills with SIGKILL the supervisors of pod uid's runs, found
// through their start records (their command lines do not name the pod).
func killSupervisors(t *testing.T, podsDir, uid string) {
	t.Helper()
	starts, _ := filepath.Glob(filepath.Join(podsDir, uid, "containers", "*", "*", "started"))
	if len(starts) == 0 {
		t.Fatalf("no start records of pod %s in %s", uid, podsDir)
	}
	for _, s := range starts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "supervisor="); ok {
				pid, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("%s: %v", s, err)
				}
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill supervisor %d: %v", pid, err)
				}
			}
		}
	}
}

// processes lists the command lines on this machine containing marker.
func processes(marker string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, marker) && !strings.Contains(cmd, "__batchd_supervise") {
			if stat, err := os.ReadFile(filepath.Join(filepath.Dir(d), "stat")); err == nil {
				if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
					continue
				}
			}
			out = append(out, cmd)
		}
	}
	return out
}

func TestNodeIsRegisteredWithLease(t *testing.T) {
	r := kubectl(t, "", "get", "nodes", "-o", "wide")
	must(t, r, "Ready", "v1.37.2", "batchd://")
	name := strings.Fields(strings.Split(r.stdout, "\n")[1])[0]
	must(t, kubectl(t, "", "get", "node", name, "--show-labels"), "kubernetes.io/os=linux", "kubernetes.io/hostname="+name, "kubernetes.io/arch=")
	must(t, kubectl(t, "", "describe", "node", name), "KubeletReady", "kubelet is posting ready status", "pods:", "HolderIdentity:  "+name,
		"Starting kubelet.", "NodeHasSufficientMemory", "Node "+name+" status is now: NodeReady")
	must(t, kubectl(t, "", "get", "lease", name, "-n", "kube-node-lease", "-o", "jsonpath={.spec.holderIdentity}"), name)
}

const envPod = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast, "color": blue}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata:
  name: env
  labels: {app: demo}
  annotations: {note: hello}
spec:
  restartPolicy: Never
  hostname: worker-0
  subdomain: workers
  containers:
  - name: main
    image: busybox:1.36
    workingDir: /tmp
    command: ["sh", "-c"]
    args:
    - |
      echo "greeting=$GREETING"
      echo 'expanded=$(GREETING) $$(GREETING)'

      echo "name=$POD_NAME ns=$POD_NS app=$APP note=$NOTE node=$NODE ip=$POD_IP"
      echo "uidlen=${#POD_UID} mem=$MEM_MI"
      echo "mode=$MODE password=$PASSWORD missing=${MISSING-unset} cfg_color=$CFG_color"
      echo "hostname=$(hostname) HOSTNAME=$HOSTNAME pwd=$(pwd)"
      echo "file=$(cat /etc/demo/mode) secret=$(cat /etc/creds/password) label=$(cat /etc/info/labels)"
      echo scratch > /scratch/x && echo "emptydir=$(cat /scratch/x)"
      echo "fqdn=$(grep -o 'worker-0.workers.[a-z-]*.svc.cluster.local' /etc/hosts)"
      touch /etc/demo/new 2>/dev/null && echo configmap-writable || echo configmap-read-only
    env:
    - {name: GREETING, value: hi}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: POD_UID
      valueFrom: {fieldRef: {fieldPath: metadata.uid}}
    - name: APP
      valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
    - name: NOTE
      valueFrom: {fieldRef: {fieldPath: "metadata.annotations['note']"}}
    - name: NODE
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: MEM_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    - name: MODE
      valueFrom: {configMapKeyRef: {name: settings, key: mode}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    - name: MISSING
      valueFrom: {configMapKeyRef: {name: nothing-here, key: x, optional: true}}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: settings}
    resources:
      limits: {memory: 256Mi}
    volumeMounts:
    - {name: demo, mountPath: /etc/demo, readOnly: true}
    - {name: creds, mountPath: /etc/creds}
    - {name: info, mountPath: /etc/info}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: demo
    configMap: {name: settings}
  - name: creds
    secret: {secretName: creds}
  - name: info
    downwardAPI:
      items:
      - path: labels
        fieldRef: {fieldPath: metadata.labels}
  - name: scratch
    emptyDir: {medium: Memory, sizeLimit: 16Mi}
`

func TestPodEnvironmentAndVolumes(t *testing.T) {
	n := ns(t)
	must(t, kubectl(t, envPod, "apply", "-n", n, "-f", "-"), "pod/env created")
	waitFor(t, n, "pod/env", "{.status.phase}", "Succeeded")
	ip := get(t, n, "pod/env", "{.status.podIP}")
	node := get(t, n, "pod/env", "{.spec.nodeName}")
	must(t, kubectl(t, "", "logs", "env", "-n", n),
		"greeting=hi\n",
		"expanded=hi $(GREETING)\n",
		"name=env ns="+n+" app=demo note=hello node="+node+" ip="+ip+"\n",
		"uidlen=36 mem=256\n",
		"mode=fast password=s3cret missing=unset cfg_color=blue\n",
		"hostname=worker-0 HOSTNAME=worker-0 pwd=/tmp\n",
		`file=fast secret=s3cret label=app="demo"`,
		"emptydir=scratch\n",
		"fqdn=worker-0.workers."+n+".svc.cluster.local\n",
		"configmap-read-only\n")
	r := kubectl(t, "", "get", "pod", "env", "-n", n)
	if !regexp.MustCompile(`(?m)^env\s+0/1\s+Completed\s+0\s+\S+$`).MatchString(r.stdout) {
		t.Errorf("get pod:\n%s", r)
	}
	must(t, kubectl(t, "", "describe", "pod", "env", "-n", n), "Reason:       Completed", "Exit Code:    0",
		"Successfully assigned "+n+"/env to "+node, "Created container: main", "Started container main")
}

func TestMissingConfigMapWaitsThenRuns(t *testing.T) {
	t.Parallel()
	n := ns(t)
	pod := `apiVersion: v1
kind: Pod
metadata: {name: needs-config}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo level=$LEVEL"]
    env:
    - name: LEVEL
      valueFrom: {configMapKeyRef: {name: late, key: level}}
`
	must(t, kubectl(t, pod, "apply", "-n", n, "-f", "-"), "pod/needs-config created")
	waitFor(t, n, "pod/needs-config", "{.status.containerStatuses[0].state.waiting.reason}", "CreateContainerConfigError")
	must(t, kubectl(t, "", "get", "pod", "needs-config", "-n", n), "CreateContainerConfigError")
	if msg := get(t, n, "pod/needs-config", "{.status.containerStatuses[0].state.waiting.message}"); msg != `configmap "late" not found` {
		t.Errorf("waiting message = %q", msg)
	}
	must(t, kubectl(t, "", "create", "configmap", "late", "-n", n, "--from-literal=level=3"), "configmap/late created")
	waitFor(t, n, "pod/needs-config", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "needs-config", "-n", n), "level=3")

	noCommand := `apiVersion: v1
kind: Pod
metadata: {name: no-command}
spec:
  restartPolicy: Never
  containers: [{name: web, image: nginx}]
`
	must(t, kubectl(t, noCommand, "apply", "-n", n, "-f", "-"), "pod/no-command created")
	waitFor(t, n, "pod/no-command", "{.status.containerStatuses[0].state.waiting.reason}", "CreateContainerConfigError")
	if msg := get(t, n, "pod/no-command", "{.status.containerStatuses[0].state.waiting.message}"); !strings.Contains(msg, `cannot use the default command of image "nginx"`) {
		t.Errorf("waiting message = %q", msg)
	}
}

func TestMemoryLimitOOMKilled(t *testing.T) {
	n := ns(t)
	if cond := kubectl(t, "", "get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="ResourceLimits")].status}`); cond.stdout != "True" {
		t.Skipf("the node does not enforce limits on this machine: %s", kubectl(t, "", "describe", "nodes").stdout)
	}
	pod := `apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: perl
    command: ["perl", "-e", "my $x = 'a' x (300*1024*1024); print length($x)"]
    resources:
      limits: {memory: 32Mi, cpu: 500m}
`
	must(t, kubectl(t, pod, "apply", "-n", n, "-f", "-"), "pod/hog created")
	waitFor(t, n, "pod/hog", "{.status.phase}", "Failed")
	if got := get(t, n, "pod/hog", "{.status.containerStatuses[0].state.terminated.reason}/{.status.containerStatuses[0].state.terminated.exitCode}"); got != "OOMKilled/137" {
		t.Errorf("terminated = %s", got)
	}
	must(t, kubectl(t, "", "get", "pod", "hog", "-n", n), "OOMKilled")
}

func TestOnFailureRestartsCountAndPreviousLogs(t *testing.T) {
	t.Parallel()
	n := ns(t)
	job := `apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 6
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - name: work
        image: busybox
        command: ["sh", "-c"]
        args:
        - |
          n=$(cat /state/n 2>/dev/null || echo 0)
          echo $((n+1)) > /state/n
          echo "attempt $n"
          [ "$n" -ge 2 ]
        volumeMounts: [{name: state, mountPath: /state}]
      volumes: [{name: state, emptyDir: {}}]
`
	must(t, kubectl(t, job, "apply", "-n", n, "-f", "-"), "job.batch/flaky created")
	// Two failures: the first restart is immediate, the second waits out a 10s back-off.
	eventually(t, "CrashLoopBackOff", func() bool {
		return strings.Contains(kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=flaky").stdout, "CrashLoopBackOff")
	})
	mustSoon(t, func() result { return kubectl(t, "", "get", "events", "-n", n) }, "BackOff", "Back-off restarting failed container work in pod flaky-")
	r := kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/flaky", "--timeout=60s")
	must(t, r, "condition met")
	r = kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=flaky")
	if !regexp.MustCompile(`(?m)^flaky-\S+\s+0/1\s+Completed\s+2 \(\d+s ago\)\s+\S+$`).MatchString(r.stdout) {
		t.Errorf("get pods:\n%s", r)
	}
	must(t, kubectl(t, "", "logs", "job/flaky", "-n", n), "attempt 2")
	must(t, kubectl(t, "", "logs", "job/flaky", "-n", n, "--previous"), "attempt 1")
	must(t, kubectl(t, "", "get", "job", "flaky", "-n", n), "Complete", "1/1")
}

func TestSidecarJobCompletes(t *testing.T) {
	n := ns(t)
	job := `apiVersion: batch/v1
kind: Job
metadata: {name: with-sidecar}
spec:
  template:
    spec:
      restartPolicy: Never
      initContainers:
      - name: setup
        image: busybox
        command: ["sh", "-c", "echo prepared > /shared/ready"]
        volumeMounts: [{name: shared, mountPath: /shared}]
      - name: proxy
        image: busybox
        restartPolicy: Always
        command: ["sleep", "3601"]
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "cat /shared/ready"]
        volumeMounts: [{name: shared, mountPath: /shared}]
      volumes: [{name: shared, emptyDir: {}}]
`
	must(t, kubectl(t, job, "apply", "-n", n, "-f", "-"), "job.batch/with-sidecar created")
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/with-sidecar", "--timeout=60s"), "condition met")
	must(t, kubectl(t, "", "logs", "job/with-sidecar", "-n", n, "-c", "main"), "prepared")
	eventually(t, "sidecar process gone", func() bool { return len(processes("sleep 3601")) == 0 })
	r := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=with-sidecar")
	if !regexp.MustCompile(`(?m)^with-sidecar-\S+\s+0/2\s+Completed\s+0\s+\S+$`).MatchString(r.stdout) {
		t.Errorf("get pods:\n%s", r)
	}
}

func TestDeleteStopsEveryProcessAfterGrace(t *testing.T) {
	n := ns(t)
	hookDir := t.TempDir()
	pod := `apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "trap '' TERM; sleep 3602 & wait; wait"]
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo bye > /hook/prestop"]}
    volumeMounts: [{name: hook, mountPath: /hook}]
  volumes:
  - name: hook
    hostPath: {path: ` + hookDir + `}
`
	must(t, kubectl(t, pod, "apply", "-n", n, "-f", "-"), "pod/stubborn created")
	waitFor(t, n, "pod/stubborn", "{.status.phase}", "Running")
	must(t, kubectl(t, "", "get", "pod", "stubborn", "-n", n), "1/1", "Running")
	eventually(t, "container process", func() bool { return len(processes("sleep 3602")) > 0 })
	start := time.Now()
	must(t, kubectl(t, "", "delete", "pod", "stubborn", "-n", n), `pod "stubborn" deleted`)
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("deleted after %v: the grace period was not honoured", took)
	}
	if ps := processes("sleep 3602"); len(ps) != 0 {
		t.Errorf("processes left behind: %v", ps)
	}
	if b, err := os.ReadFile(filepath.Join(hookDir, "prestop")); err != nil || string(b) != "bye\n" {
		t.Errorf("preStop hook did not run: %q %v", b, err)
	}
	mustSoon(t, func() result { return kubectl(t, "", "get", "events", "-n", n) }, "Killing", "Stopping container main")
}

func TestLogsFlags(t *testing.T) {
	n := ns(t)
	job := `apiVersion: batch/v1
kind: Job
metadata: {name: chatty}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: first
        image: busybox
        command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; sleep 1; echo last"]
      - name: second
        image: busybox
        command: ["sh", "-c", "echo from second >&2"]
`
	must(t, kubectl(t, job, "apply", "-n", n, "-f", "-"), "job.batch/chatty created")
	// -f follows until the container ends.
	eventually(t, "pod started", func() bool {
		return get(t, n, "pods", "{.items[0].status.containerStatuses[0].state.running.startedAt}{.items[0].status.containerStatuses[0].state.terminated.exitCode}") != ""
	})
	r := kubectl(t, "", "logs", "-f", "job/chatty", "-n", n, "-c", "first")
	must(t, r, "line 1\nline 2\nline 3\nline 4\nline 5\nlast\n")
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/chatty", "--timeout=60s"), "condition met")
	pod := strings.TrimPrefix(strings.TrimSpace(kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=chatty", "-o", "name").stdout), "pod/")
	if r := kubectl(t, "", "logs", pod, "-n", n, "-c", "first", "--tail=2"); r.stdout != "line 5\nlast\n" {
		t.Errorf("--tail=2:\n%s", r)
	}
	r = kubectl(t, "", "logs", pod, "-n", n, "-c", "first", "--timestamps", "--tail=1")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z last\n$`).MatchString(r.stdout) {
		t.Errorf("--timestamps:\n%s", r)
	}
	must(t, kubectl(t, "", "logs", pod, "-n", n, "--all-containers", "--prefix"),
		"[pod/"+pod+"/first] line 1\n", "[pod/"+pod+"/second] from second\n")
	must(t, kubectl(t, "", "logs", pod, "-n", n, "-c", "second", "--since=1h"), "from second")
	if r := kubectl(t, "", "logs", pod, "-n", n, "-c", "second", "--since-time=2999-01-01T00:00:00Z"); r.stdout != "" {
		t.Errorf("--since-time in the future:\n%s", r)
	}
	fails(t, kubectl(t, "", "logs", pod, "-n", n, "-c", "first", "--previous"), `previous terminated container "first" in pod "`+pod+`" not found`)
	if r := kubectl(t, "", "logs", pod, "-n", n); r.stdout != "line 1\nline 2\nline 3\nline 4\nline 5\nlast\n" || !strings.Contains(r.stderr, `Defaulted container "first" out of: first, second`) {
		t.Errorf("default container:\n%s", r)
	}
}

func TestUnschedulablePodStaysPending(t *testing.T) {
	n := ns(t)
	pod := `apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers:
  - name: main
    image: busybox
    command: ["true"]
    resources:
      requests: {cpu: "1000"}
`
	must(t, kubectl(t, pod, "apply", "-n", n, "-f", "-"), "pod/huge created")
	waitFor(t, n, "pod/huge", `{.status.conditions[?(@.type=="PodScheduled")].reason}`, "Unschedulable")
	must(t, kubectl(t, "", "get", "pod", "huge", "-n", n), "Pending")
	must(t, kubectl(t, "", "describe", "pod", "huge", "-n", n), "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.")
	must(t, kubectl(t, "", "delete", "pod", "huge", "-n", n), `pod "huge" deleted`)
}

func TestPodActiveDeadline(t *testing.T) {
	n := ns(t)
	pod := `apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  activeDeadlineSeconds: 2
  restartPolicy: Never
  containers: [{name: main, image: busybox, command: ["sleep", "3603"]}]
`
	must(t, kubectl(t, pod, "apply", "-n", n, "-f", "-"), "pod/slow created")
	waitFor(t, n, "pod/slow", "{.status.phase}/{.status.reason}", "Failed/DeadlineExceeded")
	must(t, kubectl(t, "", "describe", "pod", "slow", "-n", n), "Reason:           DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
	eventually(t, "process gone", func() bool { return len(processes("sleep 3603")) == 0 })
}

// TestContainersSurviveServerCrash crashes a second server while its pods run:
// a container that ends meanwhile is reported with its real exit code, one
// whose supervisor died too as ContainerStatusUnknown.
func TestContainersSurviveServerCrash(t *testing.T) {
	dir := t.TempDir()
	release := filepath.Join(t.TempDir(), "release")
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv, err := serverproc.Start(batchd, filepath.Join(dir, "data"), logf, time.Minute, "--node-name", "crashy")
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.KillAll(filepath.Join(dir, "data", "pods"))
	kc := srv.Kubeconfig
	k := func(stdin string, args ...string) result {
		return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", kc}, args...), stdin)
	}
	pods := `apiVersion: v1
kind: Pod
metadata: {name: waits}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "while [ ! -f /signal/release ]; do sleep 0.1; done; echo released; exit 3"]
    volumeMounts: [{name: signal, mountPath: /signal}]
  volumes:
  - name: signal
    hostPath: {path: ` + filepath.Dir(release) + `}
---
apiVersion: v1
kind: Pod
metadata: {name: lost}
spec:
  restartPolicy: Never
  containers: [{name: main, image: busybox, command: ["sleep", "3604"]}]
`
	must(t, k(pods, "apply", "-f", "-"), "pod/waits created", "pod/lost created")
	eventually(t, "both running", func() bool {
		return k("", "get", "pods", "-o", "jsonpath={.items[*].status.phase}").stdout == "Running Running"
	})
	lostUID := k("", "get", "pod", "lost", "-o", "jsonpath={.metadata.uid}").stdout
	srv.Kill()
	// While the server is down: one container ends, the other loses its supervisor.
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The supervisor and the container both go.
	killSupervisors(t, filepath.Join(dir, "data", "pods"), lostUID)
	if out, err := exec.Command("pkill", "-KILL", "-f", "sleep 3604").CombinedOutput(); err != nil {
		t.Fatalf("pkill: %v %s", err, out)
	}
	srv, err = serverproc.Start(batchd, filepath.Join(dir, "data"), logf, time.Minute, "--node-name", "crashy")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(30 * time.Second)
	eventually(t, "waits reported", func() bool {
		return k("", "get", "pod", "waits", "-o", "jsonpath={.status.phase}/{.status.containerStatuses[0].state.terminated.exitCode}").stdout == "Failed/3"
	})
	must(t, k("", "logs", "waits"), "released")
	eventually(t, "lost reported", func() bool {
		return k("", "get", "pod", "lost", "-o", "jsonpath={.status.containerStatuses[0].state.terminated.reason}/{.status.containerStatuses[0].state.terminated.exitCode}").stdout == "ContainerStatusUnknown/137"
	})
}

func TestPersistentVolumeClaimAndProjectedVolumes(t *testing.T) {
	n := ns(t)
	objs := `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {app.conf: "threads=4"}
---
apiVersion: v1
kind: Pod
metadata: {name: writer, labels: {role: writer}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo persisted > /data/out/result; cat /etc/proj/app.conf; echo; cat /etc/proj/role; echo; cat /etc/single.conf"]
    volumeMounts:
    - {name: data, mountPath: /data/out}
    - {name: proj, mountPath: /etc/proj}
    - {name: cfg, mountPath: /etc/single.conf, subPath: app.conf}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
  - name: cfg
    configMap: {name: app}
  - name: proj
    projected:
      sources:
      - configMap: {name: app}
      - downwardAPI:
          items: [{path: role, fieldRef: {fieldPath: "metadata.labels['role']"}}]
`
	must(t, kubectl(t, objs, "apply", "-n", n, "-f", "-"), "persistentvolumeclaim/data created", "pod/writer created")
	waitFor(t, n, "pod/writer", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "writer", "-n", n), "threads=4\nwriter\nthreads=4")
	r := kubectl(t, "", "get", "pvc", "data", "-n", n)
	if !regexp.MustCompile(`(?m)^data\s+Bound\s+pvc-\S+\s+1Gi\s+RWO\s`).MatchString(r.stdout) {
		t.Errorf("get pvc:\n%s", r)
	}
	reader := `apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["cat", "/in/result"]
    volumeMounts: [{name: data, mountPath: /in, readOnly: true}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
`
	must(t, kubectl(t, reader, "apply", "-n", n, "-f", "-"), "pod/reader created")
	waitFor(t, n, "pod/reader", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "reader", "-n", n), "persisted")
}

// TestSeedJobsRunToCompletion runs the seed Jobs whose commands exist on this
// machine, as written, to completion.
func TestSeedJobsRunToCompletion(t *testing.T) {
	t.Parallel()
	n := ns(t)
	for _, f := range []string{"pi.yaml", "hello-job.yaml", "indexed-job.yaml"} {
		must(t, kubectl(t, "", "apply", "-n", n, "-f", filepath.Join("..", "..", "examples", f)), "created")
	}
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/pi", "job/hello-job", "job/indexed-job", "--timeout=90s"), "condition met")
	if r := kubectl(t, "", "logs", "job/pi", "-n", n); !strings.HasPrefix(r.stdout, "3.14159265358979323846") || len(r.stdout) < 2000 {
		t.Errorf("pi:\n%s", r)
	}
	must(t, kubectl(t, "", "logs", "job/hello-job", "-n", n), "Hello from a Kubernetes Job")
	r := kubectl(t, "", "logs", "-n", n, "-l", "job-name=indexed-job", "--tail=-1")
	for i := 0; i < 5; i++ {
		if !strings.Contains(r.stdout, "Processing shard number "+string(rune('0'+i))) {
			t.Errorf("indexed-job logs lack shard %d:\n%s", i, r)
		}
	}
	// Who wrote what, as on a cluster: the Job's status is
	// kube-controller-manager's, its pod's status the kubelet's.
	managers := `jsonpath={range .metadata.managedFields[*]}{.manager}/{.subresource}{"\n"}{end}`
	must(t, kubectl(t, "", "get", "job", "hello-job", "-n", n, "-o", managers), "kube-controller-manager/status\n")
	pod := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=hello-job", "-o", "name").stdout
	must(t, kubectl(t, "", "get", strings.TrimSpace(pod), "-n", n, "-o", managers), "kubelet/status\n", "kube-controller-manager/\n")
	r = kubectl(t, "", "get", "jobs", "-n", n)
	for _, want := range []string{`(?m)^pi\s+Complete\s+1/1\s`, `(?m)^hello-job\s+Complete\s+1/1\s`, `(?m)^indexed-job\s+Complete\s+5/5\s`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("get jobs lacks %s:\n%s", want, r)
		}
	}
}

// The other runnable seed Jobs: countdown (10 completions, 4 at a time, 18 s
// each), parallel-processing (20 completions, 5 at a time) and failing-job
// (OnFailure: the same pod restarts, RESTARTS grows).
func TestSeedCountdownParallelAndFailingJobs(t *testing.T) {
	t.Parallel()
	n := ns(t)
	for _, f := range []string{"countdown-job.yaml", "parallel-job.yaml", "failing-job.yaml"} {
		must(t, kubectl(t, "", "apply", "-n", n, "-f", filepath.Join("..", "..", "examples", f)), "created")
	}
	eventually(t, "failing-job restarts its pod", func() bool {
		r := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=failing-job", "-o", "jsonpath={range .items[*]}{.status.containerStatuses[0].restartCount}{end}")
		return r.stdout != "" && r.stdout != "0"
	})
	if c := len(strings.Fields(kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=failing-job", "-o", "name").stdout)); c != 1 {
		t.Errorf("failing-job has %d pods; OnFailure restarts the same one", c)
	}
	must(t, kubectl(t, "", "logs", "job/failing-job", "-n", n, "--previous"), "Attempt #0", "Failed!")
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/parallel-processing", "--timeout=90s"), "condition met")
	must(t, kubectl(t, "", "logs", "-n", n, "-l", "job-name=parallel-processing", "--tail=-1"), "Processing task #", "completed!")
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/countdown-job", "--timeout=180s"), "condition met")
	must(t, kubectl(t, "", "logs", "job/countdown-job", "-n", n), "9\n8\n7\n6\n5\n4\n3\n2\n1\n")
	r := kubectl(t, "", "get", "jobs", "-n", n)
	for _, want := range []string{`(?m)^countdown-job\s+Complete\s+10/10\s`, `(?m)^parallel-processing\s+Complete\s+20/20\s`, `(?m)^failing-job\s+Running\s+0/1\s`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("get jobs lacks %s:\n%s", want, r)
		}
	}
}

// fsGroupPod runs as user 1000, group 3000, with fsGroup 2000: the process
// has 2000 among its groups; the emptyDir and the Secret volume belong to
// group 2000 (the directory setgid, the 0440 key readable through the group).
func fsGroupPod(name, class, image string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  runtimeClassName: ` + class + `
  restartPolicy: Never
  securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000}
  volumes:
  - {name: data, emptyDir: {}}
  - {name: creds, secret: {secretName: fsgroup-creds, defaultMode: 0440}}
  containers:
  - name: c
    image: ` + image + `
    command: ["sh", "-c", "id -G; stat -c '%g %a' /data; touch /data/f && stat -c '%g' /data/f; cat /creds/token"]
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: creds, mountPath: /creds}
`
}

// The last line has no newline; like containerd, the log ends it with one.
const fsGroupOutput = "3000 2000\n2000 2777\n2000\ns3cret\n"

func TestFSGroupOwnsVolumes(t *testing.T) {
	t.Parallel()
	n := ns(t)
	must(t, kubectl(t, "", "create", "secret", "generic", "fsgroup-creds", "-n", n, "--from-literal=token=s3cret"), "created")
	apply(t, n, fsGroupPod("fsgroup", "host", "busybox"))
	waitFor(t, n, "pod/fsgroup", "{.status.phase}", "Succeeded")
	if got := kubectl(t, "", "logs", "-n", n, "fsgroup").stdout; got != fsGroupOutput {
		t.Errorf("logs = %q, want %q", got, fsGroupOutput)
	}
}

// TestContainerRestartRules: a container's restartPolicyRules (KEP-5307)
// restart it in place on a listed exit code, whatever its restartPolicy
// (Never here, which upstream's validation asks for beside rules): exit 42 restarts it (RESTARTS 1), its second run's exit 0 ends the
// pod Succeeded.
func TestContainerRestartRules(t *testing.T) {
	t.Parallel()
	n := ns(t)
	must(t, kubectl(t, `apiVersion: v1
kind: Pod
metadata: {name: rules}
spec:
  restartPolicy: Never
  volumes: [{name: d, emptyDir: {}}]
  containers:
  - name: c
    image: busybox
    volumeMounts: [{name: d, mountPath: /data}]
    command: ["sh", "-c", "if [ -f /data/again ]; then echo second; exit 0; fi; touch /data/again; echo first; exit 42"]
    restartPolicy: Never
    restartPolicyRules:
    - action: Restart
      exitCodes: {operator: In, values: [42]}
`, "apply", "-n", n, "-f", "-"), "pod/rules created")
	waitFor(t, n, "pod/rules", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "get", "pod", "rules", "-n", n, "-o", "jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.exitCode}"), "1 42")
	must(t, kubectl(t, "", "logs", "rules", "-n", n), "second")
}
