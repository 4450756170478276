// The container supervisor: a small process per container run, like conmon.
//
// It runs from an ELF constructor, before the Go runtime starts, when the
// binary is executed as `batchd-supervise __batchd_supervise` with its
// arguments on file descriptor 3 (each ended by a NUL byte):
//
//   DIR [--log FILE [--log-max-size BYTES --log-max-files N]] [--cgroup DIR]... [--hostname H] [--env KEY=VALUE]...
//       [--attach] [--stdin [--stdin-once]] [--tty]
//       [--workdir W] [--mount SRC DST ro|rw]... [--mask PATH]...
//       [--user UID GID [GROUPS]] [--oom FILE KEY]
//       [--overlay LOWER UPPER WORK TARGET] [--runc-delete RUNTIME ID] [--join PID] -- ARGV...
//
// File descriptor 4, when open, is closed by the supervisor once the exec's
// outcome is recorded (DIR/started, or a StartError in DIR/exit): the node
// agent's Start waits for that instead of polling for the files.
// `batchd-supervise __batchd_supervise_echo` parses the same arguments and
// prints them back, for the runtime's encoder test; `batchd-exec
// __batchd_nsenter` reads them too and runs ARGV inside the running
// container whose pid is DIR (kubectl exec into a host run, sup_nsenter).
// --attach, --stdin, --stdin-once and --tty: see "Attach" below.
//
// The arguments come through a pipe, not the command line, because
// /proc/PID/cmdline is world-readable: it would show every user on the
// machine the pod's directories (its UID) and the container's command.
//
// --mask hides PATH from the container (an empty read-only tmpfs over a
// directory, /dev/null over a file) after the bind mounts are made, so the
// data dir's keys are out of its view while its own volumes stay mounted.
// --overlay mounts an overlay of LOWER (an image's root file system) with
// UPPER and WORK at TARGET in the container's mount namespace, and
// --runc-delete RUNTIME ID has the OCI runtime delete container ID once it
// ended (it runs with --keep, so that its cgroup's OOM count can be read):
// together they run an OCI bundle with `runc run --keep` as ARGV.
// --join PID starts the container in the namespaces of the running process
// PID (an ephemeral container joining the container it debugs): its user
// namespace when it has one of its own, its UTS namespace, and a private
// copy of its mount namespace and root, over which --mount adds the
// container's own mounts (--mask hides again what it hid; --hostname and
// --overlay are not used: the other's namespaces have them already).
// --user runs the container as UID:GID with the comma-separated supplementary
// GROUPS ("-" for none), as the pod's runAsUser/runAsGroup say.
//
// so that a container start costs one fork and two execs of a process that
// never initialises Go (the batchd binary spends tens of milliseconds in
// package init). The supervisor is started in its own session by the node
// agent and outlives it: it holds the container's stdout/stderr and writes
// them to FILE in the CRI log format, waits for the container, kills what is
// left of its process group, and records the exit in DIR/exit. DIR/started
// records the container's pid once exec succeeded; a failed exec is recorded
// as exit code 128 with the reason in DIR/exit.
//
// The supervisor runs as root with a fixed, clean environment (set by the
// node agent): the container's environment (--env) is only given to the
// final execve of the container, after the switch to its user, so that a
// pod's LD_PRELOAD or LD_LIBRARY_PATH never reaches a root process.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SUP_LINE_MAX 16384

// tree: with --join, a detached copy of src taken before the namespaces
// are joined (where src is out of view), attached at dst after (-1: none).
struct sup_mount { const char *src, *dst; int ro, tree; };

struct sup_opts {
	char **env; // the container's environment, NULL-terminated
	int nenv;
	const char *dir, *log, *hostname, *workdir, *oom_file, *oom_key;
	// Lists grow as needed: a pod may have any number of volume mounts
	// and up to NGROUPS_MAX supplementary groups, as upstream allows.
	const char **cgroups;
	int ncgroups;
	struct sup_mount *mounts;
	int nmounts;
	const char **masks;
	int nmasks;
	const char *ov_lower, *ov_upper, *ov_work, *ov_target;
	const char *runc_path, *runc_id;
	int set_user;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char **argv;
	const char *argv0_name; // how messages name argv[0] (a Secret's value redacted)
	// Attach: a socket in DIR for kubectl attach; the container's stdin
	// kept as a pipe (stdin), closed after the first attach session
	// (stdin_once); a terminal (tty).
	int attach, stdin_pipe, stdin_once, tty;
	pid_t join; // --join: the process whose namespaces the container joins
};

static int sup_logfd = -1;
// Rotation, as the kubelet's container log manager does it (but at once,
// by the writer, so that a flood never outgrows the cap): past
// sup_log_max bytes the log is renamed to LOG.<timestamp> and a new one
// started; sup_log_files files are kept in all.
static const char *sup_logpath;
static long long sup_log_max, sup_logsize;
static int sup_log_files;

static int sup_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// sup_prune removes the oldest rotated files beyond keep.
static void sup_prune(int keep) {
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", sup_logpath);
	char *slash = strrchr(dir, '/');
	if (!slash) return;
	*slash = 0;
	const char *base = sup_logpath + (slash - dir) + 1;
	size_t blen = strlen(base);
	DIR *d = opendir(dir);
	if (!d) return;
	char **names = NULL;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.') continue;
		char **grown = realloc(names, sizeof *names * (size_t)(n + 1));
		if (!grown) break;
		names = grown;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, sup_cmp);
	for (int i = 0; i < n; i++) {
		if (i < n - keep && names[i]) {
			char p[4096];
			snprintf(p, sizeof p, "%s/%s", dir, names[i]);
			unlink(p);
		}
		free(names[i]);
	}
	free(names);
}

static void sup_rotate(void) {
	struct timespec ts;
	struct tm tm;
	char dst[4096];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(dst, sizeof dst, "%s.%04d%02d%02d-%02d%02d%02d.%09ld", sup_logpath, tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
	// Room first, as the kubelet's removeExcessLogs: with the log about to
	// become a rotated file and a new one started, sup_log_files - 2
	// rotated files may stay, so that there are never more than
	// sup_log_files (pruning after the new log was opened left one too many
	// for a moment).
	sup_prune(sup_log_files - 2);
	if (rename(sup_logpath, dst) < 0) return;
	int fd = open(sup_logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd >= 0) {
		close(sup_logfd);
		sup_logfd = fd;
		sup_logsize = 0;
	}
}

static void sup_now(char *buf, size_t n) {
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

static void sup_write_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR) continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

// sup_write_record writes content to path, forces it to disk when durable,
// and reads it back: 0 only if the file holds exactly content.
static int sup_write_record(const char *path, const char *content, int durable) {
	size_t n = strlen(content);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return -1;
	const char *p = content;
	size_t left = n;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) { close(fd); return -1; }
		p += w;
		left -= (size_t)w;
	}
	if (durable && fsync(fd) < 0) { close(fd); return -1; }
	char back[8192];
	ssize_t r = n < sizeof back ? pread(fd, back, sizeof back, 0) : -1;
	if (close(fd) < 0 || r != (ssize_t)n || memcmp(back, content, n) != 0) return -1;
	return 0;
}

// sup_file atomically replaces DIR/name with content; durable forces it to
// disk first (the exit record must survive a machine crash; the start record
// is only read while the machine is up, and an fsync here would delay the
// container's first output behind the disk). The record is renamed into
// place only once it is known to be whole: on a full disk an empty or cut
// record would read as another outcome (an empty exit record as exit code
// 0), where no record at all reads as an unknown one. A durable record is
// retried for a while, as the disk may get space back.
static void sup_file(const char *dir, const char *name, const char *content, int durable) {
	char tmp[4096], dst[4096];
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	for (int try = 0; try < (durable ? 10 : 1); try++) {
		if (try > 0) { struct timespec d = {0, 500000000}; nanosleep(&d, NULL); }
		if (sup_write_record(tmp, content, durable) < 0) continue;
		if (rename(tmp, dst) < 0) continue;
		if (durable) {
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) { fsync(dfd); close(dfd); }
		}
		return;
	}
	unlink(tmp);
}

// One stream's partial line.
struct sup_stream { int fd; const char *name; char buf[SUP_LINE_MAX]; size_t len; };

static void sup_emit(struct sup_stream *s, const char *p, size_t n, char tag) {
	char ts[64], head[96];
	if (sup_logfd < 0) return;
	sup_now(ts, sizeof ts);
	int h = snprintf(head, sizeof head, "%s %s %c ", ts, s->name, tag);
	// One write per line keeps lines whole for concurrent readers.
	char *line = malloc((size_t)h + n + 1);
	if (!line) return;
	memcpy(line, head, (size_t)h);
	memcpy(line + h, p, n);
	line[h + n] = '\n';
	long long len = (long long)((size_t)h + n + 1);
	if (sup_log_max > 0 && sup_logsize > 0 && sup_logsize + len > sup_log_max) sup_rotate();
	sup_write_all(sup_logfd, line, (size_t)h + n + 1);
	sup_logsize += len;
	free(line);
}

// sup_feed splits data into CRI log lines: full lines are tagged F, lines
// longer than the buffer are cut into P chunks.
static void sup_feed(struct sup_stream *s, const char *p, size_t n) {
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		while (s->len + take >= SUP_LINE_MAX) {
			size_t room = SUP_LINE_MAX - s->len;
			memcpy(s->buf + s->len, p, room);
			sup_emit(s, s->buf, SUP_LINE_MAX, 'P');
			s->len = 0;
			p += room; n -= room; take -= room;
		}
		memcpy(s->buf + s->len, p, take);
		s->len += take;
		p += take; n -= take;
		if (nl) {
			sup_emit(s, s->buf, s->len, 'F');
			s->len = 0;
			p++; n--;
		}
	}
}

static void sup_flush(struct sup_stream *s) {
	if (s->len > 0) sup_emit(s, s->buf, s->len, 'F');
	s->len = 0;
}

// Attach (kubectl attach, kubectl run -i): the supervisor listens on
// DIR/attach, a SOCK_SEQPACKET socket only root can reach (DIR is the
// node agent's, mode 0700), and every message starts with a type byte:
// to the supervisor 'i' + stdin data, 'c' (the client's stdin ended), 'r'
// + "ROWS COLS" (a terminal resize); from it '1' + stdout and '2' + stderr
// data. The container's output goes to every client as well as to the
// log. Its stdin, when the pod asks for one, is a pipe (or, with tty, the
// terminal) the supervisor holds, so that it stays open between attach
// sessions; with stdinOnce it is closed when the first session's ends.
#define SUP_MAX_CLIENTS 16
#define SUP_MSG_MAX 32768
static struct {
	int listen;
	int clients[SUP_MAX_CLIENTS];
	int nclients;
	int in;        // the container's stdin (pipe write end or pty master), -1: none
	int once;      // stdinOnce
	int tty;       // in is the terminal's master
	char *pend;    // stdin data not yet written
	size_t pend_len, pend_off;
	int close_in;  // close in once pend is written
} sup_att = {.listen = -1, .in = -1};

static void sup_drop_client(int i) {
	close(sup_att.clients[i]);
	sup_att.clients[i] = sup_att.clients[--sup_att.nclients];
}

// sup_broadcast sends output to every attached client; one that cannot
// take it within a second is dropped rather than stall the container.
static void sup_broadcast(char tag, const char *p, size_t n) {
	char msg[SUP_MSG_MAX + 1];
	while (n > 0) {
		size_t take = n < SUP_MSG_MAX ? n : SUP_MSG_MAX;
		msg[0] = tag;
		memcpy(msg + 1, p, take);
		for (int i = 0; i < sup_att.nclients;) {
			ssize_t w = send(sup_att.clients[i], msg, take + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno == EAGAIN) {
				struct pollfd pf = {.fd = sup_att.clients[i], .events = POLLOUT};
				if (poll(&pf, 1, 1000) == 1) continue;
			}
			if (w < 0) { sup_drop_client(i); continue; }
			i++;
		}
		p += take;
		n -= take;
	}
}

static void sup_close_in(void) {
	if (sup_att.in >= 0 && !sup_att.tty) close(sup_att.in);
	if (!sup_att.tty) sup_att.in = -1;
	free(sup_att.pend);
	sup_att.pend = NULL;
	sup_att.pend_len = sup_att.pend_off = 0;
	sup_att.close_in = 0;
}

// sup_flush_in writes pending stdin data as far as the container takes it.
static void sup_flush_in(void) {
	while (sup_att.in >= 0 && sup_att.pend_off < sup_att.pend_len) {
		ssize_t w = write(sup_att.in, sup_att.pend + sup_att.pend_off, sup_att.pend_len - sup_att.pend_off);
		if (w < 0 && errno == EINTR) continue;
		if (w < 0 && errno == EAGAIN) return;
		if (w < 0) { sup_close_in(); return; } // the container closed its stdin
		sup_att.pend_off += (size_t)w;
	}
	free(sup_att.pend);
	sup_att.pend = NULL;
	sup_att.pend_len = sup_att.pend_off = 0;
	if (sup_att.close_in) sup_close_in();
}

// sup_client_read handles one message of client i.
static void sup_client_read(int i) {
	char msg[SUP_MSG_MAX + 1];
	ssize_t r = recv(sup_att.clients[i], msg, sizeof msg, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
	if (r <= 0) {
		// A session that ends ends stdinOnce's stdin too.
		if (sup_att.once && !sup_att.tty) sup_att.close_in = 1;
		sup_drop_client(i);
		if (sup_att.close_in && !sup_att.pend) sup_close_in();
		return;
	}
	switch (msg[0]) {
	case 'i':
		if (sup_att.in < 0 || r == 1) break;
		{
			char *grown = realloc(sup_att.pend, sup_att.pend_len + (size_t)r - 1);
			if (!grown) break;
			sup_att.pend = grown;
			memcpy(sup_att.pend + sup_att.pend_len, msg + 1, (size_t)r - 1);
			sup_att.pend_len += (size_t)r - 1;
		}
		sup_flush_in();
		break;
	case 'c':
		if (sup_att.once && !sup_att.tty) {
			sup_att.close_in = 1;
			if (!sup_att.pend) sup_close_in();
		}
		break;
	case 'r':
		if (sup_att.tty && sup_att.in >= 0) {
			msg[r] = 0;
			unsigned rows = 0, cols = 0;
			if (sscanf(msg + 1, "%u %u", &rows, &cols) == 2) {
				struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
				ioctl(sup_att.in, TIOCSWINSZ, &ws);
			}
		}
		break;
	}
}

// sup_end_clients ends the attach sessions once the container has ended.
// Each client's socket is shut for writing — its end reads the output
// already sent, then end of file — and what it sent meanwhile (stdin not
// read since, its 'c') is read and dropped until it closes its end, a
// second at most: a unix socket closed with data unread resets the
// connection, and the peer's next read then fails with ECONNRESET before
// it reads the output still queued for it (kubectl attach -i printed
// nothing although the container had answered).
static void sup_end_clients(void) {
	for (int i = 0; i < sup_att.nclients; i++) shutdown(sup_att.clients[i], SHUT_WR);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (sup_att.nclients > 0) {
		struct pollfd pf[SUP_MAX_CLIENTS];
		for (int i = 0; i < sup_att.nclients; i++) { pf[i].fd = sup_att.clients[i]; pf[i].events = POLLIN; pf[i].revents = 0; }
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = 1000 - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0 || poll(pf, (nfds_t)sup_att.nclients, (int)left) <= 0) break;
		for (int i = sup_att.nclients - 1; i >= 0; i--) {
			if (!pf[i].revents) continue;
			char msg[SUP_MSG_MAX + 1];
			ssize_t r = recv(sup_att.clients[i], msg, sizeof msg, MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
			if (r <= 0) sup_drop_client(i); // closed by its end: nothing unread
		}
	}
	while (sup_att.nclients > 0) sup_drop_client(0);
}

// sup_listen makes DIR/attach. The path is reached through /proc/self/fd,
// as DIR may be longer than a socket address holds.
static int sup_listen(const char *dir) {
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) return -1;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach", dfd);
	unlink(addr.sun_path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 8) < 0)) {
		close(fd);
		fd = -1;
	}
	close(dfd);
	return fd;
}

static int sup_drain(struct sup_stream *s) {
	char buf[65536];
	for (;;) {
		ssize_t r = read(s->fd, buf, sizeof buf);
		if (r > 0) {
			sup_feed(s, buf, (size_t)r);
			if (sup_att.nclients > 0) sup_broadcast(s->name[3] == 'o' ? '1' : '2', buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR) continue;
		if (r < 0 && errno == EAGAIN) return 0;
		sup_flush(s);
		close(s->fd);
		s->fd = -1;
		return 1;
	}
}

#define CLONE_USERNS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS)

static int sup_write_path(const char *path, const char *value) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t w = write(fd, value, strlen(value));
	int saved = errno;
	close(fd);
	errno = saved;
	return w < 0 ? -1 : 0;
}

// Mount points are never made on the host's file systems: a container's
// mount namespace is private, but its files are the host's, and a mkdir
// there would leave /data, /scratch … behind on the host's root, made as
// root for any pod. A mount point that is missing is made on a tmpfs of the
// container's own: the deepest existing directory above it is "shadowed" by
// a tmpfs holding a bind mount of each of its entries (so the container
// still sees them all), and the missing directories are made in that
// tmpfs. Shadowing / itself builds a new root the same way and pivots into
// it. Everything lives in the container's mount namespace and goes with it.

// The devices of the tmpfs mounts made so far: a directory on one of them
// is the container's own, and can be written to.
struct sup_shadows { dev_t *devs; int n; int seq; };

static int sup_is_ours(struct sup_shadows *sh, const char *path) {
	struct stat st;
	if (stat(path, &st) < 0) return 0;
	for (int i = 0; i < sh->n; i++) if (sh->devs[i] == st.st_dev) return 1;
	return 0;
}

// sup_populate fills tmpfs dir with a bind mount (or, for a symlink, a copy)
// of each entry of src, and gives it src's owner and mode.
static int sup_populate(const char *src, const char *dir, char *msg, size_t msgn) {
	struct stat st;
	if (stat(src, &st) < 0 || chmod(dir, st.st_mode & 07777) < 0 || chown(dir, st.st_uid, st.st_gid) < 0) {
		if (errno != EPERM && errno != EINVAL) { snprintf(msg, msgn, "shadow %s: %s", src, strerror(errno)); return -1; }
	}
	DIR *d = opendir(src);
	if (!d) { snprintf(msg, msgn, "shadow %s: %s", src, strerror(errno)); return -1; }
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
		char from[4096], to[4096];
		snprintf(from, sizeof from, "%s/%s", strcmp(src, "/") == 0 ? "" : src, e->d_name);
		snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
		struct stat es;
		if (lstat(from, &es) < 0) continue; // gone meanwhile
		int rc = 0;
		if (S_ISLNK(es.st_mode)) {
			char link[4096];
			ssize_t n = readlink(from, link, sizeof link - 1);
			if (n < 0) continue;
			link[n] = 0;
			rc = symlink(link, to);
		} else {
			if (S_ISDIR(es.st_mode)) rc = mkdir(to, 0755);
			else {
				int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
				if (fd < 0) rc = -1;
				else close(fd);
			}
			if (rc == 0) rc = mount(from, to, NULL, MS_BIND | MS_REC, NULL);
		}
		if (rc < 0) {
			snprintf(msg, msgn, "shadow %s: %s: %s", src, e->d_name, strerror(errno));
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

// sup_shadow puts a tmpfs of the container's own, showing all of dir's
// entries, over dir.
// sup_stage is where shadows are staged: the run's directory, or, in a
// joined mount namespace that masks it, a private tmpfs over a masked
// directory (masked again once the mounts are made).
static const char *sup_stage;

static int sup_shadow(struct sup_opts *o, struct sup_shadows *sh, const char *dir, char *msg, size_t msgn) {
	char stage[4096];
	snprintf(stage, sizeof stage, "%s/shadow-%d", sup_stage ? sup_stage : o->dir, sh->seq++);
	if (mkdir(stage, 0700) < 0 && errno != EEXIST) { snprintf(msg, msgn, "shadow %s: %s", dir, strerror(errno)); return -1; }
	if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0) {
		snprintf(msg, msgn, "shadow %s: mount tmpfs: %s", dir, strerror(errno));
		return -1;
	}
	if (sup_populate(dir, stage, msg, msgn) < 0) return -1;
	struct stat st;
	if (stat(stage, &st) < 0) { snprintf(msg, msgn, "shadow %s: %s", dir, strerror(errno)); return -1; }
	dev_t *devs = realloc(sh->devs, sizeof *devs * (size_t)(sh->n + 1));
	if (!devs) { snprintf(msg, msgn, "shadow %s: out of memory", dir); return -1; }
	sh->devs = devs;
	sh->devs[sh->n++] = st.st_dev;
	if (strcmp(dir, "/") != 0) {
		if (mount(stage, dir, NULL, MS_MOVE, NULL) < 0) {
			snprintf(msg, msgn, "shadow %s: move tmpfs: %s", dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	// A new root: pivot into it (or, where / is not a mount point, move it
	// over / and chroot).
	if (chdir(stage) < 0) { snprintf(msg, msgn, "shadow /: %s", strerror(errno)); return -1; }
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0) { snprintf(msg, msgn, "shadow /: detach old root: %s", strerror(errno)); return -1; }
	} else if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0) {
		snprintf(msg, msgn, "shadow /: %s", strerror(errno));
		return -1;
	}
	if (chdir("/") < 0) { snprintf(msg, msgn, "shadow /: %s", strerror(errno)); return -1; }
	return 0;
}

// sup_mount_point makes sure dst exists (a directory, or an empty file when
// the source is not a directory), making what is missing on a tmpfs of the
// container's own.
static int sup_mount_point(struct sup_opts *o, struct sup_shadows *sh, const char *dst, int is_dir, char *msg, size_t msgn) {
	struct stat st;
	if (stat(dst, &st) == 0) return 0;
	char p[4096], top[4096];
	snprintf(p, sizeof p, "%s", dst);
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/') p[--len] = 0;
	// top: the deepest directory above dst that exists.
	snprintf(top, sizeof top, "%s", p);
	for (;;) {
		char *slash = strrchr(top, '/');
		if (!slash) { snprintf(msg, msgn, "mount point %s: not an absolute path", dst); return -1; }
		if (slash == top) { top[1] = 0; break; }
		*slash = 0;
		if (stat(top, &st) == 0) {
			if (!S_ISDIR(st.st_mode)) { snprintf(msg, msgn, "mount point %s: %s is not a directory", dst, top); return -1; }
			break;
		}
	}
	if (!sup_is_ours(sh, top) && sup_shadow(o, sh, top, msg, msgn) < 0) return -1;
	// Make the rest, below top, on the tmpfs.
	size_t start = strcmp(top, "/") == 0 ? 1 : strlen(top) + 1;
	for (size_t i = start; i <= strlen(p); i++) {
		if (p[i] != '/' && p[i] != 0) continue;
		char c = p[i];
		p[i] = 0;
		int last = c == 0 || p[i + 1] == 0;
		if (last && !is_dir) {
			int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0) { snprintf(msg, msgn, "mount point %s: %s", dst, strerror(errno)); return -1; }
			close(fd);
		} else if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			snprintf(msg, msgn, "mount point %s: %s", dst, strerror(errno));
			return -1;
		}
		p[i] = c;
		if (c == 0) break;
	}
	return 0;
}

// sup_join enters the namespaces of process pid (--join): its user
// namespace when it is not ours, its UTS and mount namespaces and its root,
// then unshares a copy of that mount namespace, so that the container's
// own mounts stay out of the other's view.
static int sup_join(pid_t pid, char *msg, size_t msgn) {
	char p[128];
	struct stat mine, theirs;
	snprintf(p, sizeof p, "/proc/%d/ns/user", (int)pid);
	if (stat("/proc/self/ns/user", &mine) == 0 && stat(p, &theirs) == 0 && mine.st_ino != theirs.st_ino) {
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWUSER) < 0) { snprintf(msg, msgn, "join user namespace: %s", strerror(errno)); return -1; }
		close(fd);
	}
	snprintf(p, sizeof p, "/proc/%d/root", (int)pid);
	int root = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) { snprintf(msg, msgn, "open the root of process %d: %s", (int)pid, strerror(errno)); return -1; }
	const char *ns[] = {"uts", "mnt"};
	const int types[] = {CLONE_NEWUTS, CLONE_NEWNS};
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)pid, ns[i]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, types[i]) < 0) { snprintf(msg, msgn, "join %s namespace: %s", ns[i], strerror(errno)); close(root); return -1; }
		close(fd);
	}
	if (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0) { snprintf(msg, msgn, "enter root: %s", strerror(errno)); close(root); return -1; }
	close(root);
	if (unshare(CLONE_NEWNS) < 0) { snprintf(msg, msgn, "unshare: %s", strerror(errno)); return -1; }
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) { snprintf(msg, msgn, "make mounts private: %s", strerror(errno)); return -1; }
	return 0;
}

// sup_child runs in the forked child: it joins the cgroups, builds the
// private mount and UTS namespaces and execs the command. On failure it
// reports "step: error" on errfd.
static void sup_child(struct sup_opts *o, int in, int out, int err, int errfd) {
	char msg[4096];
	const char *step = "";
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
	if (o->tty) {
		// A session of its own whose controlling terminal is the pty
		// (out): the container's shell gets job control and SIGWINCH.
		if (setsid() < 0 || ioctl(out, TIOCSCTTY, 0) < 0) { step = "set controlling terminal"; goto fail; }
	} else {
		setpgid(0, 0);
	}
	for (int i = 0; i < o->ncgroups; i++) {
		char p[4096], pid[32];
		snprintf(p, sizeof p, "%s/cgroup.procs", o->cgroups[i]);
		snprintf(pid, sizeof pid, "%d", getpid());
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, pid, strlen(pid)) < 0) { step = "join cgroup"; goto fail; }
		close(fd);
	}
	if (o->join > 0) {
		// The mounts' sources are this namespace's (the pod's volumes,
		// which the joined one masks with the data dir): copied now,
		// attached once there.
		for (int i = 0; i < o->nmounts; i++) {
			o->mounts[i].tree = open_tree(AT_FDCWD, o->mounts[i].src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
			if (o->mounts[i].tree < 0) {
				snprintf(msg, sizeof msg, "mount %s at %s: %s", o->mounts[i].src, o->mounts[i].dst, strerror(errno));
				goto failmsg;
			}
		}
		if (sup_join(o->join, msg, sizeof msg) < 0) goto failmsg;
		// The run's directory is out of the joined namespace's view (the
		// data dir is masked, or under the other's private /tmp): shadows
		// are staged on a private tmpfs over a directory that is there,
		// unmounted again once the mounts are made.
		struct stat st;
		const char *spare[] = {"/dev/shm", "/run", "/mnt", "/media", "/srv", "/opt"};
		for (int i = 0; stat(o->dir, &st) < 0 && i < o->nmasks + 6 && !sup_stage; i++) {
			const char *d = i < o->nmasks ? o->masks[i] : spare[i - o->nmasks];
			if (stat(d, &st) == 0 && S_ISDIR(st.st_mode) &&
			    mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=0700") == 0)
				sup_stage = d;
		}
	} else if (o->nmounts > 0 || o->nmasks > 0 || o->hostname || o->ov_target) {
		if (unshare(CLONE_NEWNS | CLONE_NEWUTS) < 0) {
			// Not root: a user namespace that maps only our own ids grants the
			// right to mount and set the hostname inside it.
			if (errno != EPERM) { step = "unshare"; goto fail; }
			uid_t uid = getuid();
			gid_t gid = getgid();
			if (unshare(CLONE_USERNS_FLAGS) < 0) { step = "unshare user namespace"; goto fail; }
			char map[64];
			snprintf(map, sizeof map, "%d %d 1", (int)uid, (int)uid);
			if (sup_write_path("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) { step = "write setgroups"; goto fail; }
			if (sup_write_path("/proc/self/uid_map", map) < 0) { step = "write uid_map"; goto fail; }
			snprintf(map, sizeof map, "%d %d 1", (int)gid, (int)gid);
			if (sup_write_path("/proc/self/gid_map", map) < 0) { step = "write gid_map"; goto fail; }
		}
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) { step = "make mounts private"; goto fail; }
	}
	struct sup_shadows shadows = {0};
	for (int i = 0; i < o->nmounts; i++) {
		struct sup_mount *m = &o->mounts[i];
		struct stat st;
		int is_dir = m->tree >= 0 ? !(fstat(m->tree, &st) == 0 && !S_ISDIR(st.st_mode)) : !(stat(m->src, &st) == 0 && !S_ISDIR(st.st_mode));
		if (sup_mount_point(o, &shadows, m->dst, is_dir, msg, sizeof msg) < 0) goto failmsg;
		if (m->tree >= 0 ? move_mount(m->tree, "", AT_FDCWD, m->dst, MOVE_MOUNT_F_EMPTY_PATH) < 0 : mount(m->src, m->dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
			snprintf(msg, sizeof msg, "mount %s at %s: %s", m->src, m->dst, strerror(errno));
			goto failmsg;
		}
		if (m->ro && mount(NULL, m->dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0) {
			snprintf(msg, sizeof msg, "remount %s read-only: %s", m->dst, strerror(errno));
			goto failmsg;
		}
	}
	if (sup_stage) umount2(sup_stage, MNT_DETACH); // what it staged was moved to its place
	if (o->ov_target) {
		char data[12288];
		snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", o->ov_lower, o->ov_upper, o->ov_work);
		if (mount("overlay", o->ov_target, "overlay", 0, data) < 0) {
			snprintf(msg, sizeof msg, "mount the image's root file system: %s", strerror(errno));
			goto failmsg;
		}
	}
	for (int i = 0; i < o->nmasks; i++) {
		struct stat st;
		if (stat(o->masks[i], &st) < 0) continue; // nothing there to hide
		int rc = S_ISDIR(st.st_mode)
			? mount("tmpfs", o->masks[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
			: mount("/dev/null", o->masks[i], NULL, MS_BIND, NULL);
		if (rc < 0) {
			snprintf(msg, sizeof msg, "hide %s: %s", o->masks[i], strerror(errno));
			goto failmsg;
		}
	}
	if (o->hostname && sethostname(o->hostname, strlen(o->hostname)) < 0) { step = "sethostname"; goto fail; }
	if (o->workdir && chdir(o->workdir) < 0) {
		snprintf(msg, sizeof msg, "chdir to cwd (\"%s\") set in config.json failed: %s", o->workdir, strerror(errno));
		goto failmsg;
	}
	if (o->set_user) {
		if (setgroups((size_t)o->ngroups, o->groups) < 0) { step = "setgroups"; goto fail; }
		if (setgid(o->gid) < 0) { step = "setgid"; goto fail; }
		if (setuid(o->uid) < 0) { step = "setuid"; goto fail; }
	}
	if (in >= 0) {
		dup2(in, 0);
		if (in != out) close(in);
	} else {
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0) { dup2(null, 0); close(null); }
	}
	dup2(out, 1);
	dup2(err, 2);
	if (out > 2) close(out);
	if (err > 2 && err != out) close(err);
	// The container's environment, at last: execvp searches its PATH.
	environ = o->env;
	execvp(o->argv[0], o->argv);
	const char *name = o->argv0_name ? o->argv0_name : o->argv[0];
	if (errno == ENOENT && strchr(o->argv[0], '/') == NULL)
		snprintf(msg, sizeof msg, "exec: \"%s\": executable file not found in $PATH", name);
	else
		snprintf(msg, sizeof msg, "exec: \"%s\": %s", name, strerror(errno));
	goto failmsg;
fail:
	snprintf(msg, sizeof msg, "%s: %s", step, strerror(errno));
failmsg:
	sup_write_all(errfd, msg, strlen(msg));
	_exit(127);
}

static long sup_oom_count(struct sup_opts *o) {
	if (!o->oom_file) return 0;
	FILE *f = fopen(o->oom_file, "re");
	if (!f) return 0;
	char key[128];
	long v, n = 0;
	while (fscanf(f, "%127s %ld", key, &v) == 2)
		if (strcmp(key, o->oom_key) == 0) n = v;
	fclose(f);
	return n;
}

static void sup_kill_cgroups(struct sup_opts *o) {
	for (int i = 0; i < o->ncgroups; i++) {
		char p[4096];
		snprintf(p, sizeof p, "%s/cgroup.procs", o->cgroups[i]);
		FILE *f = fopen(p, "re");
		if (!f) continue;
		int pid;
		while (fscanf(f, "%d", &pid) == 1) kill(pid, SIGKILL);
		fclose(f);
	}
}

// sup_grow makes room for one more element after n of size each.
static void *sup_grow(void *p, int n, size_t each) {
	return realloc(p, each * (size_t)(n + 1));
}

static int sup_parse(int argc, char **argv, struct sup_opts *o) {
	memset(o, 0, sizeof *o);
	if (argc < 4) return -1;
	o->dir = argv[2];
	int i = 3;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) { i++; break; }
		if (strcmp(a, "--log") == 0 && i + 1 < argc) o->log = argv[++i];
		else if (strcmp(a, "--log-max-size") == 0 && i + 1 < argc) sup_log_max = strtoll(argv[++i], NULL, 10);
		else if (strcmp(a, "--log-max-files") == 0 && i + 1 < argc) sup_log_files = atoi(argv[++i]);
		else if (strcmp(a, "--hostname") == 0 && i + 1 < argc) o->hostname = argv[++i];
		else if (strcmp(a, "--workdir") == 0 && i + 1 < argc) o->workdir = argv[++i];
		else if (strcmp(a, "--argv0-name") == 0 && i + 1 < argc) o->argv0_name = argv[++i];
		else if (strcmp(a, "--attach") == 0) o->attach = 1;
		else if (strcmp(a, "--stdin") == 0) o->stdin_pipe = 1;
		else if (strcmp(a, "--stdin-once") == 0) o->stdin_once = 1;
		else if (strcmp(a, "--tty") == 0) o->tty = 1;
		else if (strcmp(a, "--join") == 0 && i + 1 < argc) o->join = (pid_t)atoi(argv[++i]);
		else if (strcmp(a, "--env") == 0 && i + 1 < argc) {
			char **env = realloc(o->env, sizeof *env * (size_t)(o->nenv + 2));
			if (!env) return -1;
			o->env = env;
			o->env[o->nenv++] = argv[++i];
			o->env[o->nenv] = NULL;
		}
		else if (strcmp(a, "--cgroup") == 0 && i + 1 < argc) {
			if (!(o->cgroups = sup_grow(o->cgroups, o->ncgroups, sizeof *o->cgroups))) return -1;
			o->cgroups[o->ncgroups++] = argv[++i];
		}
		else if (strcmp(a, "--oom") == 0 && i + 2 < argc) { o->oom_file = argv[++i]; o->oom_key = argv[++i]; }
		else if (strcmp(a, "--overlay") == 0 && i + 4 < argc) {
			o->ov_lower = argv[++i];
			o->ov_upper = argv[++i];
			o->ov_work = argv[++i];
			o->ov_target = argv[++i];
		} else if (strcmp(a, "--runc-delete") == 0 && i + 2 < argc) {
			o->runc_path = argv[++i];
			o->runc_id = argv[++i];
		}
		else if (strcmp(a, "--mask") == 0 && i + 1 < argc) {
			if (!(o->masks = sup_grow(o->masks, o->nmasks, sizeof *o->masks))) return -1;
			o->masks[o->nmasks++] = argv[++i];
		}
		else if (strcmp(a, "--user") == 0 && i + 3 < argc) {
			o->set_user = 1;
			o->uid = (uid_t)strtoul(argv[++i], NULL, 10);
			o->gid = (gid_t)strtoul(argv[++i], NULL, 10);
			const char *g = argv[++i];
			while (strcmp(g, "-") != 0 && *g) {
				char *end;
				if (!(o->groups = sup_grow(o->groups, o->ngroups, sizeof *o->groups))) return -1;
				o->groups[o->ngroups++] = (gid_t)strtoul(g, &end, 10);
				if (*end != ',') break;
				g = end + 1;
			}
		}
		else if (strcmp(a, "--mount") == 0 && i + 3 < argc) {
			if (!(o->mounts = sup_grow(o->mounts, o->nmounts, sizeof *o->mounts))) return -1;
			struct sup_mount *m = &o->mounts[o->nmounts++];
			m->src = argv[++i];
			m->dst = argv[++i];
			m->ro = strcmp(argv[++i], "ro") == 0;
			m->tree = -1;
		} else return -1;
	}
	if (i >= argc) return -1;
	o->argv = argv + i;
	if (!o->env) {
		o->env = calloc(1, sizeof *o->env);
		if (!o->env) return -1;
	}
	return 0;
}

// sup_read_args reads the NUL-terminated arguments from fd into an argv
// array that starts with the two words of the command line. The first
// field is the byte count of the rest: arguments cut short (their writer
// killed in the middle) are refused with EBADMSG, as a whole.
static char **sup_read_args(int fd, int *argc) {
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf) return NULL;
	for (;;) {
		if (len == cap) {
			char *b = realloc(buf, cap *= 2);
			if (!b) return NULL;
			buf = b;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) return NULL;
		if (r == 0) break;
		len += (size_t)r;
	}
	close(fd);
	char *nul = memchr(buf, 0, len);
	if (!nul || nul == buf) { errno = EBADMSG; return NULL; }
	size_t want = 0, head = (size_t)(nul - buf) + 1;
	for (char *c = buf; c < nul; c++) {
		if (*c < '0' || *c > '9' || want > (SIZE_MAX - 9) / 10) { errno = EBADMSG; return NULL; }
		want = want * 10 + (size_t)(*c - '0');
	}
	if (len - head != want) { errno = EBADMSG; return NULL; }
	buf += head;
	len = want;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) if (buf[i] == 0) n++;
	char **v = calloc(n + 3, sizeof *v);
	if (!v) return NULL;
	int k = 0;
	v[k++] = "batchd-supervise";
	v[k++] = "__batchd_supervise";
	for (size_t i = 0, start = 0; i < len; i++)
		if (buf[i] == 0) { v[k++] = buf + start; start = i + 1; }
	v[k] = NULL;
	*argc = k;
	return v;
}

// sup_notify is the write end of the node agent's start pipe (fd 4): it is
// closed once the outcome of the exec is recorded (the started record, or a
// StartError exit record), which is how the agent learns that Start is over
// without polling for the files. Close-on-exec, so that the container never
// holds it.
static int sup_notify = -1;

static void sup_notified(void) {
	if (sup_notify >= 0) close(sup_notify);
	sup_notify = -1;
}

static int sup_main(int argc, char **argv) {
	struct sup_opts o;
	char buf[8192], ts[64];
	if (fcntl(4, F_SETFD, FD_CLOEXEC) == 0) sup_notify = 4;
	if (sup_parse(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: %s __batchd_supervise DIR [options] -- ARGV...\n", argv[0]);
		if (argc >= 3) {
			// The run's directory is known: say why nothing ran, rather
			// than leave a run with no record at all.
			sup_now(ts, sizeof ts);
			snprintf(buf, sizeof buf, "code=128\nreason=StartError\nstarted=%s\nfinished=%s\nmessage=invalid supervisor arguments\n", ts, ts);
			sup_file(argv[2], "exit", buf, 1);
		}
		return 2;
	}
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (o.log) {
		sup_logfd = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		struct stat st;
		if (sup_logfd >= 0 && fstat(sup_logfd, &st) == 0) sup_logsize = st.st_size;
		sup_logpath = o.log;
	}

	int outp[2], errp[2], syncp[2], inp[2] = {-1, -1};
	if (pipe2(syncp, O_CLOEXEC) < 0) return 1;
	if (o.tty) {
		// The terminal: the master is the container's stdout (and, for
		// attach, its stdin); the slave its stdin, stdout and stderr.
		int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) return 1;
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0) return 1;
		outp[0] = master; outp[1] = slave;
		errp[0] = -1; errp[1] = slave;
		inp[1] = dup(master);
		fcntl(inp[1], F_SETFD, FD_CLOEXEC);
		inp[0] = slave;
		sup_att.tty = 1;
	} else {
		if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) return 1;
		if (o.stdin_pipe && pipe2(inp, O_CLOEXEC) < 0) return 1;
	}
	sup_att.in = inp[1];
	sup_att.once = o.stdin_once;
	if (sup_att.in >= 0) fcntl(sup_att.in, F_SETFL, O_NONBLOCK);
	// Before the run is recorded as started: an attach may follow at once.
	if (o.attach) sup_att.listen = sup_listen(o.dir);
	sup_now(ts, sizeof ts);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(buf, sizeof buf, "code=128\nreason=StartError\nstarted=%s\nfinished=%s\nmessage=fork: %s\n", ts, ts, strerror(errno));
		sup_file(o.dir, "exit", buf, 1);
		sup_notified();
		return 1;
	}
	if (pid == 0) {
		close(outp[0]);
		if (errp[0] >= 0) close(errp[0]);
		if (inp[1] >= 0) close(inp[1]);
		if (sup_att.listen >= 0) close(sup_att.listen);
		close(syncp[0]);
		sup_child(&o, inp[0], outp[1], errp[1], syncp[1]);
	}
	close(outp[1]);
	if (errp[1] != outp[1]) close(errp[1]);
	if (inp[0] >= 0 && inp[0] != outp[1]) close(inp[0]);
	close(syncp[1]);

	// The sync pipe closes on a successful exec (CLOEXEC) or carries the error.
	char why[4096];
	ssize_t n, got = 0;
	while ((n = read(syncp[0], why + got, sizeof why - 1 - (size_t)got)) != 0) {
		if (n < 0) { if (errno == EINTR) continue; break; }
		got += n;
		if ((size_t)got >= sizeof why - 1) break;
	}
	why[got] = 0;
	close(syncp[0]);
	// The message may quote the pod's command or paths: a line break in it
	// would start another line, and so another field, of the record.
	for (char *c = why; *c; c++) if (*c == '\n' || *c == '\r') *c = ' ';
	if (got > 0) {
		int status;
		waitpid(pid, &status, 0);
		char fin[64];
		sup_now(fin, sizeof fin);
		snprintf(buf, sizeof buf, "code=128\nreason=StartError\nstarted=%s\nfinished=%s\nmessage=%s\n", ts, fin, why);
		sup_file(o.dir, "exit", buf, 1);
		sup_notified();
		return 0;
	}
	snprintf(buf, sizeof buf, "pid=%d\nsupervisor=%d\nstarted=%s\n", pid, getpid(), ts);
	sup_file(o.dir, "started", buf, 0);
	sup_notified();

	struct sup_stream streams[2] = {{.fd = outp[0], .name = "stdout"}, {.fd = errp[0], .name = "stderr"}};
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	if (errp[0] >= 0) fcntl(errp[0], F_SETFL, O_NONBLOCK);
	int status = 0, exited = 0;
	struct timespec exit_at = {0};
	for (;;) {
		struct pollfd pf[4 + SUP_MAX_CLIENTS];
		int np = 0, nstreams = 0;
		for (int i = 0; i < 2; i++)
			if (streams[i].fd >= 0) { pf[np].fd = streams[i].fd; pf[np].events = POLLIN; np++; nstreams++; }
		if (nstreams == 0 && exited) break;
		int attach_at = np;
		if (!exited) {
			if (sup_att.listen >= 0) { pf[np].fd = sup_att.listen; pf[np].events = POLLIN; np++; }
			if (sup_att.pend) { pf[np].fd = sup_att.in; pf[np].events = POLLOUT; np++; }
			// Clients are not read while stdin data waits for the container.
			for (int i = 0; i < sup_att.nclients && !sup_att.pend; i++) { pf[np].fd = sup_att.clients[i]; pf[np].events = POLLIN; np++; }
		}
		if (np > 0) poll(pf, (nfds_t)np, exited ? 20 : 100);
		else { struct timespec d = {0, 20000000}; nanosleep(&d, NULL); }
		for (int i = 0; i < 2; i++)
			if (streams[i].fd >= 0) sup_drain(&streams[i]);
		for (int k = attach_at; k < np; k++) {
			if (!(pf[k].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR))) continue;
			if (pf[k].fd == sup_att.listen) {
				int c = accept4(sup_att.listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (c >= 0 && sup_att.nclients < SUP_MAX_CLIENTS) sup_att.clients[sup_att.nclients++] = c;
				else if (c >= 0) close(c);
			} else if (sup_att.pend && pf[k].fd == sup_att.in) {
				sup_flush_in();
			} else {
				for (int i = 0; i < sup_att.nclients; i++)
					if (sup_att.clients[i] == pf[k].fd) { sup_client_read(i); break; }
			}
		}
		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			clock_gettime(CLOCK_MONOTONIC, &exit_at);
			// A container ends with its main process: nothing else of it may stay.
			kill(-pid, SIGKILL);
			sup_kill_cgroups(&o);
		}
		if (exited) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			// Output still buffered in the pipes is read; a descendant that escaped
			// the group and holds them open does not keep the container alive.
			if ((now.tv_sec - exit_at.tv_sec) * 1000 + (now.tv_nsec - exit_at.tv_nsec) / 1000000 > 500) break;
		}
	}
	for (int i = 0; i < 2; i++) if (streams[i].fd >= 0) { sup_flush(&streams[i]); close(streams[i].fd); }
	// The container ended: so do attach sessions.
	if (sup_att.listen >= 0) {
		char p[4096];
		snprintf(p, sizeof p, "%s/attach", o.dir);
		unlink(p);
		close(sup_att.listen);
	}
	sup_end_clients();
	if (sup_att.in >= 0) close(sup_att.in);
	int code = 0, sig = 0;
	if (WIFEXITED(status)) code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status)) { sig = WTERMSIG(status); code = 128 + sig; }
	long oom = sup_oom_count(&o);
	if (o.runc_path) {
		// The container ran with --keep: now that its OOM count is read,
		// have the runtime forget it (and remove its cgroup).
		pid_t d = fork();
		if (d == 0) {
			int null = open("/dev/null", O_RDWR);
			if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); }
			execl(o.runc_path, o.runc_path, "delete", "--force", o.runc_id, (char *)NULL);
			_exit(127);
		}
		if (d > 0) waitpid(d, NULL, 0);
	}
	char fin[64];
	sup_now(fin, sizeof fin);
	snprintf(buf, sizeof buf, "code=%d\nsignal=%d\noom=%ld\nstarted=%s\nfinished=%s\n", code, sig, oom, ts, fin);
	sup_file(o.dir, "exit", buf, 1);
	if (sup_logfd >= 0) { fsync(sup_logfd); close(sup_logfd); }
	return 0;
}

// sup_nsenter is `batchd-supervise __batchd_nsenter`: it runs ARGV in the
// running container whose pid is DIR (the supervisor's parser reads the
// same arguments: --cgroup, --env, --workdir, --user), the way runc exec
// enters an OCI container: it joins the container's cgroups, its user
// namespace when it has one of its own, its mount and UTS namespaces and its
// root, then switches to the container's user and runs ARGV with the
// container's environment, on the stdio it was given. File descriptor 4,
// close-on-exec, carries the reason when ARGV could not be executed: the
// node agent tells a failed start from an exit code by it. The namespaces
// are joined here, before the Go runtime starts, because setns of a mount
// namespace needs a single-threaded process.
static int sup_nsenter(struct sup_opts *o) {
	char msg[4096], p[128];
	const char *step = "";
	int errfd = fcntl(4, F_SETFD, FD_CLOEXEC) == 0 ? 4 : 2;
	pid_t pid = (pid_t)atoi(o->dir);
	if (pid <= 0) { snprintf(msg, sizeof msg, "invalid container pid %s", o->dir); goto failmsg; }
	for (int i = 0; i < o->ncgroups; i++) {
		char cp[4096], self[32];
		snprintf(cp, sizeof cp, "%s/cgroup.procs", o->cgroups[i]);
		snprintf(self, sizeof self, "%d", getpid());
		int fd = open(cp, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, self, strlen(self)) < 0) { step = "join cgroup"; goto fail; }
		close(fd);
	}
	struct stat mine, theirs;
	snprintf(p, sizeof p, "/proc/%d/ns/user", (int)pid);
	if (stat("/proc/self/ns/user", &mine) == 0 && stat(p, &theirs) == 0 && mine.st_ino != theirs.st_ino) {
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWUSER) < 0) { step = "join user namespace"; goto fail; }
		close(fd);
	}
	snprintf(p, sizeof p, "/proc/%d/root", (int)pid);
	int root = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) { step = "open container root"; goto fail; }
	const char *ns[] = {"uts", "mnt"};
	const int types[] = {CLONE_NEWUTS, CLONE_NEWNS};
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)pid, ns[i]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, types[i]) < 0) { snprintf(msg, sizeof msg, "join %s namespace: %s", ns[i], strerror(errno)); goto failmsg; }
		close(fd);
	}
	if (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0) { step = "enter container root"; goto fail; }
	close(root);
	if (o->workdir && chdir(o->workdir) < 0) {
		snprintf(msg, sizeof msg, "chdir to cwd (\"%s\") set in config.json failed: %s", o->workdir, strerror(errno));
		goto failmsg;
	}
	if (o->set_user) {
		if (setgroups((size_t)o->ngroups, o->groups) < 0) { step = "setgroups"; goto fail; }
		if (setgid(o->gid) < 0) { step = "setgid"; goto fail; }
		if (setuid(o->uid) < 0) { step = "setuid"; goto fail; }
	}
	signal(SIGPIPE, SIG_DFL);
	environ = o->env;
	execvp(o->argv[0], o->argv);
	if (errno == ENOENT && strchr(o->argv[0], '/') == NULL)
		snprintf(msg, sizeof msg, "exec: \"%s\": executable file not found in $PATH", o->argv[0]);
	else
		snprintf(msg, sizeof msg, "exec: \"%s\": %s", o->argv[0], strerror(errno));
	goto failmsg;
fail:
	snprintf(msg, sizeof msg, "%s: %s", step, strerror(errno));
failmsg:
	sup_write_all(errfd, msg, strlen(msg));
	return 127;
}

// sup_echo prints the options parsed from argv, one per line, for the
// runtime's test that the Go encoder and this parser agree.
static int sup_echo(int argc, char **argv) {
	struct sup_opts o;
	if (sup_parse(argc, argv, &o) < 0) {
		printf("invalid\n");
		return 2;
	}
	printf("dir=%s\n", o.dir);
	if (o.log) printf("log=%s\n", o.log);
	if (sup_log_max > 0) printf("log-max-size=%lld\n", sup_log_max);
	if (sup_log_files > 0) printf("log-max-files=%d\n", sup_log_files);
	if (o.hostname) printf("hostname=%s\n", o.hostname);
	if (o.workdir) printf("workdir=%s\n", o.workdir);
	if (o.argv0_name) printf("argv0-name=%s\n", o.argv0_name);
	if (o.attach) printf("attach\n");
	if (o.stdin_pipe) printf("stdin\n");
	if (o.stdin_once) printf("stdin-once\n");
	if (o.tty) printf("tty\n");
	if (o.join) printf("join=%d\n", (int)o.join);
	for (int i = 0; i < o.nenv; i++) printf("env=%s\n", o.env[i]);
	for (int i = 0; i < o.ncgroups; i++) printf("cgroup=%s\n", o.cgroups[i]);
	if (o.oom_file) printf("oom=%s %s\n", o.oom_file, o.oom_key);
	if (o.ov_target) printf("overlay=%s %s %s %s\n", o.ov_lower, o.ov_upper, o.ov_work, o.ov_target);
	if (o.runc_path) printf("runc-delete=%s %s\n", o.runc_path, o.runc_id);
	for (int i = 0; i < o.nmasks; i++) printf("mask=%s\n", o.masks[i]);
	if (o.set_user) {
		printf("user=%u %u ", (unsigned)o.uid, (unsigned)o.gid);
		if (o.ngroups == 0) printf("-");
		for (int i = 0; i < o.ngroups; i++) printf("%s%u", i ? "," : "", (unsigned)o.groups[i]);
		printf("\n");
	}
	for (int i = 0; i < o.nmounts; i++) printf("mount=%s %s %s\n", o.mounts[i].src, o.mounts[i].dst, o.mounts[i].ro ? "ro" : "rw");
	for (char **a = o.argv; *a; a++) printf("argv=%s\n", *a);
	fflush(stdout);
	return 0;
}

__attribute__((constructor)) static void batchd_supervise_init(int argc, char **argv, char **envp) {
	(void)envp;
	if (argc != 2) return;
	int echo = strcmp(argv[1], "__batchd_supervise_echo") == 0;
	int nsenter = strcmp(argv[1], "__batchd_nsenter") == 0;
	if (!echo && !nsenter && strcmp(argv[1], "__batchd_supervise") != 0) return;
	int n;
	char **args = sup_read_args(3, &n);
	if (!args) {
		fprintf(stderr, "batchd-supervise: read arguments from fd 3: %s\n", strerror(errno));
		_exit(2);
	}
	if (nsenter) {
		struct sup_opts o;
		if (sup_parse(n, args, &o) < 0) {
			const char *m = "invalid exec arguments";
			sup_write_all(fcntl(4, F_GETFD) >= 0 ? 4 : 2, m, strlen(m));
			_exit(127);
		}
		_exit(sup_nsenter(&o));
	}
	_exit(echo ? sup_echo(n, args) : sup_main(n, args));
}
