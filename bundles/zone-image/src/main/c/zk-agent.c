/*
 * zk-agent: the Zonekeeper guest agent. One static program (musl) in every zone image, started by the zone init.
 * It runs commands for the host (zone:exec) over one byte stream, the agent port: on KVM a virtio-serial port named
 * io.zonekeeper.agent, found through /sys/class/virtio-ports/<port>/name; elsewhere any character device named
 * with -d, or (-l PATH, on Xen) a Unix socket it listens on, to which the zone's vchan proxy connects whenever the
 * host opens the agent's channel; a newer connection takes the place of the one before. The protocol is docs/AGENT-PROTOCOL.md; the host side is io.zonekeeper.agent.AgentCodec.
 *
 * Sessions live in the agent, not in the connection: when the host goes away (an appliance restart, a driver
 * upgrade) the commands keep running, their output waits in bounded buffers (a command that fills them blocks on
 * its write, nothing is dropped), and the host takes them up again with REATTACH. There is no idle timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define VERSION 1
#define PORT_NAME "io.zonekeeper.agent"
#define MAX_PAYLOAD 65536
#define HEADER 9 /* u32 length, u8 type, u32 session */
#define MAX_SESSIONS 64
#define RING 262144   /* per output stream: bytes kept until the host acknowledges them */
#define WINDOW 262144 /* per session: stdin bytes the host may send beyond what was written to the command */
#define CHUNK 16384   /* output bytes per frame */
#define MAX_STRINGS 4096

/* host to agent */
enum { T_HELLO = 0x01, T_EXEC = 0x02, T_STDIN = 0x03, T_STDIN_CLOSE = 0x04, T_SIGNAL = 0x05, T_RESIZE = 0x06,
       T_REATTACH = 0x07, T_RELEASE = 0x08, T_OUTPUT_ACK = 0x09 };
/* agent to host */
enum { T_HELLO_OK = 0x81, T_STARTED = 0x82, T_STDOUT = 0x83, T_STDERR = 0x84, T_EXIT = 0x85, T_ERROR = 0x86,
       T_ATTACHED = 0x87, T_STDIN_ACK = 0x88 };

static const unsigned char SYNC[8] = {'Z', 'K', 'A', 'G', 'S', 'Y', 'N', 'C'};

struct ring {
    unsigned char *buf; /* RING bytes, allocated on first use */
    uint64_t acked;     /* the host has these; they may go */
    uint64_t sent;      /* framed and queued for the port */
    uint64_t produced;  /* read from the command */
    int fd;             /* the command's end, -1 at EOF */
};

struct session {
    uint32_t id;
    int used;
    pid_t pid;
    int tty;
    int in_fd;           /* -1 once closed */
    int in_close_wanted; /* STDIN_CLOSE came: close when the buffer is written */
    unsigned char *in_buf;
    uint32_t in_len;     /* bytes waiting for the command, at in_buf[0..in_len) */
    uint64_t in_received, in_written, in_acked;
    struct ring out[2];
    int reaped, exit_kind, exit_code, exit_sent;
};

static struct session sessions[MAX_SESSIONS];
static int port = -1;
static const char *device;
static int listener = -1; /* -l: the socket the host's connections come in on */
static const char *exec_root; /* -r: an image zone's root, where every exec runs (chroot) */
static int host_here;     /* a SYNC and HELLO came on this connection */
static unsigned char rbuf[HEADER + MAX_PAYLOAD + 16];
static size_t rlen;
static unsigned char wbuf[4 * (HEADER + MAX_PAYLOAD)];
static size_t wlen;

static void logf_(const char *fmt, const char *a) {
    fprintf(stderr, "zk-agent: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
}

static void put32(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put64(unsigned char *p, uint64_t v) { put32(p, v >> 32); put32(p + 4, (uint32_t)v); }
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static size_t wroom(void) { return sizeof wbuf - wlen; }

/* Queues one frame; the caller checked the room (HEADER + n). */
static void frame(int type, uint32_t sid, const void *payload, size_t n) {
    put32(wbuf + wlen, 5 + n);
    wbuf[wlen + 4] = type;
    put32(wbuf + wlen + 5, sid);
    if (n) memcpy(wbuf + wlen + HEADER, payload, n);
    wlen += HEADER + n;
}

static void error_frame(uint32_t sid, int err, const char *msg) {
    unsigned char p[4 + 2 + 1024];
    size_t n = strlen(msg);
    if (n > 1024) n = 1024;
    put32(p, err);
    p[4] = n >> 8; p[5] = n;
    memcpy(p + 6, msg, n);
    if (wroom() >= HEADER + 6 + n) frame(T_ERROR, sid, p, 6 + n);
}

static struct session *find(uint32_t id) {
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i].used && sessions[i].id == id) return &sessions[i];
    return NULL;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void free_session(struct session *s) {
    close_fd(&s->in_fd);
    for (int k = 0; k < 2; k++) {
        if (s->tty && k == 1) s->out[1].fd = -1; /* one master, closed through out[0] */
        close_fd(&s->out[k].fd);
        free(s->out[k].buf);
    }
    free(s->in_buf);
    memset(s, 0, sizeof *s);
}

/* A strict reader of the EXEC payload: every length is checked against what is left. */
struct reader { const unsigned char *p; size_t left; int bad; };
static unsigned rd16(struct reader *r) {
    if (r->left < 2) { r->bad = 1; return 0; }
    unsigned v = r->p[0] << 8 | r->p[1];
    r->p += 2; r->left -= 2;
    return v;
}
static char *rdstr(struct reader *r) {
    unsigned n = rd16(r);
    if (r->bad || r->left < n || memchr(r->p, 0, n)) { r->bad = 1; return NULL; }
    char *s = malloc(n + 1);
    if (!s) { r->bad = 1; return NULL; }
    memcpy(s, r->p, n); s[n] = 0;
    r->p += n; r->left -= n;
    return s;
}

/*
 * user: NAME or UID, optionally :GROUP or :GID, as docker takes it; names are resolved through the /etc/passwd and
 * /etc/group of the root this process sees (an image zone's workload resolves them after its chroot). A user found
 * in /etc/passwd without a group gets its supplementary groups too (initgroups).
 */
static int become(const char *spec, char *why, size_t whylen) {
    char user[256];
    const char *group = NULL;
    snprintf(user, sizeof user, "%s", spec);
    char *colon = strchr(user, ':');
    if (colon) { *colon = 0; group = colon + 1; }
    uid_t uid; gid_t gid; char *end;
    struct passwd *pw;
    unsigned long u = strtoul(user, &end, 10);
    if (*user && !*end) {
        uid = u; gid = u;
        pw = getpwuid(uid);
        if (pw) gid = pw->pw_gid;
    } else {
        pw = getpwnam(user);
        if (!pw) { snprintf(why, whylen, "user %s: not in /etc/passwd", user); return -1; }
        uid = pw->pw_uid; gid = pw->pw_gid;
    }
    if (group) {
        unsigned long g = strtoul(group, &end, 10);
        if (*group && !*end) {
            gid = g;
        } else {
            struct group *gr = getgrnam(group);
            if (!gr) { snprintf(why, whylen, "group %s: not in /etc/group", group); return -1; }
            gid = gr->gr_gid;
        }
    }
    if (pw && !group) {
        if (initgroups(pw->pw_name, gid) < 0) { snprintf(why, whylen, "initgroups %s: %s", user, strerror(errno)); return -1; }
    } else {
        gid_t g1 = gid;
        if (setgroups(1, &g1) < 0 && errno != EPERM) { snprintf(why, whylen, "setgroups: %s", strerror(errno)); return -1; }
    }
    if (setgid(gid) < 0) { snprintf(why, whylen, "setgid %u: %s", (unsigned)gid, strerror(errno)); return -1; }
    if (setuid(uid) < 0) { snprintf(why, whylen, "setuid %u: %s", (unsigned)uid, strerror(errno)); return -1; }
    return 0;
}

/*
 * "HOME=..." for an environment that sets no HOME: the home folder that /etc/passwd gives the uid this process now
 * has (in an image zone, the image's own file, after the chroot and the user switch), or "/" as docker gives a user
 * /etc/passwd does not know. NULL when the environment sets HOME itself.
 */
static char *home_entry(char *const *env) {
    for (; *env; env++)
        if (strncmp(*env, "HOME=", 5) == 0) return NULL;
    static char entry[5 + 4096];
    struct passwd *pw = getpwuid(getuid());
    snprintf(entry, sizeof entry, "HOME=%s", pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/");
    return entry;
}

/*
 * A command starts with every signal at its default action, as under docker. The zone init starts the agent with
 * "&" in a shell without job control, which ignores SIGINT and SIGQUIT for it; an ignored signal stays ignored
 * across exec, and a shell that finds SIGINT ignored cannot even trap it, so Ctrl-C would never reach a command.
 */
static void default_signals(void) {
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
}

static void start_exec(uint32_t sid, const unsigned char *p, size_t n) {
    char msg[600];
    if (find(sid)) { error_frame(sid, EEXIST, "session id already in use"); return; }
    struct session *s = NULL;
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (!sessions[i].used) { s = &sessions[i]; break; }
    if (!s) { error_frame(sid, EAGAIN, "too many sessions (64): release finished ones"); return; }

    struct reader r = {p, n, 0};
    int tty = 0;
    if (r.left < 1) r.bad = 1; else { tty = r.p[0] & 1; r.p++; r.left--; }
    struct winsize ws = {0};
    ws.ws_row = rd16(&r); ws.ws_col = rd16(&r);
    unsigned argc = rd16(&r);
    char **argv = NULL, **envp = NULL, *cwd = NULL, *user = NULL;
    unsigned envc = 0;
    if (!r.bad && (argc == 0 || argc > MAX_STRINGS)) r.bad = 1;
    if (!r.bad) argv = calloc(argc + 1, sizeof *argv);
    for (unsigned i = 0; !r.bad && i < argc; i++) argv[i] = rdstr(&r);
    if (!r.bad) envc = rd16(&r);
    if (!r.bad && envc > MAX_STRINGS) r.bad = 1;
    if (!r.bad) envp = calloc(envc + 3, sizeof *envp); /* PATH and HOME may be added, then NULL */
    for (unsigned i = 0; !r.bad && i < envc; i++) envp[i] = rdstr(&r);
    if (!r.bad) cwd = rdstr(&r);
    if (!r.bad) user = rdstr(&r);
    if (!r.bad && r.left) r.bad = 1;
    if (r.bad || !argv || !envp) {
        error_frame(sid, EINVAL, "malformed EXEC");
        goto out;
    }
    int have_path = 0;
    for (unsigned i = 0; i < envc; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0) have_path = 1;
    if (!have_path) envp[envc] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");

    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1}, report[2] = {-1, -1}, master = -1, slave = -1;
    if (pipe2(report, O_CLOEXEC) < 0) { error_frame(sid, errno, "pipe"); goto out; }
    if (tty) {
        if (openpty(&master, &slave, NULL, NULL, (ws.ws_row && ws.ws_col) ? &ws : NULL) < 0) {
            snprintf(msg, sizeof msg, "openpty: %s", strerror(errno));
            error_frame(sid, errno, msg);
            close(report[0]); close(report[1]);
            goto out;
        }
    } else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
        int err = errno;
        snprintf(msg, sizeof msg, "pipe: %s", strerror(err));
        error_frame(sid, err, msg);
        for (int i = 0; i < 2; i++) { if (in[i] >= 0) close(in[i]); if (o[i] >= 0) close(o[i]); if (e[i] >= 0) close(e[i]); }
        close(report[0]); close(report[1]);
        goto out;
    }
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        default_signals();
        setsid();
        if (tty) {
            ioctl(slave, TIOCSCTTY, 0);
            dup2(slave, 0); dup2(slave, 1); dup2(slave, 2);
        } else {
            dup2(in[0], 0); dup2(o[1], 1); dup2(e[1], 2);
        }
        char why[512] = "";
        int err = 0;
        if (exec_root && (chroot(exec_root) < 0 || chdir("/") < 0)) {
            err = errno; snprintf(why, sizeof why, "chroot %s: %s", exec_root, strerror(err));
        }
        if (!err && *cwd && chdir(cwd) < 0) { err = errno; snprintf(why, sizeof why, "chdir %s: %s", cwd, strerror(err)); }
        if (!err && *user && become(user, why, sizeof why) < 0) err = errno ? errno : EPERM;
        if (!err) {
            char *home = home_entry(envp);
            if (home) {
                size_t i = 0;
                while (envp[i]) i++;
                envp[i] = home;
            }
            execvpe(argv[0], argv, envp);
            err = errno;
            snprintf(why, sizeof why, "exec %s: %s", argv[0], strerror(err));
        }
        unsigned char b[4 + sizeof why];
        put32(b, err);
        size_t l = strlen(why);
        memcpy(b + 4, why, l);
        if (write(report[1], b, 4 + l) < 0) _exit(127);
        _exit(127);
    }
    int ferr = errno;
    close(report[1]);
    if (tty) close(slave); else { close(in[0]); close(o[1]); close(e[1]); }
    if (pid < 0) {
        snprintf(msg, sizeof msg, "fork: %s", strerror(ferr));
        error_frame(sid, ferr, msg);
        if (tty) close(master); else { close(in[1]); close(o[0]); close(e[0]); }
        close(report[0]);
        goto out;
    }
    /* The report pipe closes on a successful exec (CLOEXEC): an exec that fails says so here, at once. */
    unsigned char rep[4 + 512];
    ssize_t got;
    size_t have = 0;
    while ((got = read(report[0], rep + have, sizeof rep - have)) > 0 || (got < 0 && errno == EINTR))
        if (got > 0) have += got;
    close(report[0]);
    if (have >= 4) {
        waitpid(pid, NULL, 0);
        if (tty) close(master); else { close(in[1]); close(o[0]); close(e[0]); }
        rep[have < sizeof rep ? have : sizeof rep - 1] = 0;
        error_frame(sid, get32(rep), (char *)rep + 4);
        goto out;
    }
    memset(s, 0, sizeof *s);
    s->used = 1; s->id = sid; s->pid = pid; s->tty = tty;
    s->in_fd = tty ? dup(master) : in[1];
    s->out[0].fd = tty ? master : o[0];
    s->out[1].fd = tty ? -1 : e[0];
    fcntl(s->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(s->out[0].fd, F_SETFL, O_NONBLOCK);
    if (!tty) fcntl(s->out[1].fd, F_SETFL, O_NONBLOCK);
    fcntl(s->in_fd, F_SETFD, FD_CLOEXEC);
    unsigned char pp[4];
    put32(pp, pid);
    frame(T_STARTED, sid, pp, 4);
out:
    if (argv) { for (unsigned i = 0; i < argc; i++) free(argv[i]); free(argv); }
    if (envp) { for (unsigned i = 0; i <= envc; i++) free(envp[i]); free(envp); }
    free(cwd); free(user);
}

static void stdin_data(struct session *s, const unsigned char *p, size_t n) {
    if (s->in_fd < 0 || s->in_close_wanted) return; /* the command closed its stdin: dropped, as a pipe would */
    if (s->in_len + n > WINDOW) { error_frame(s->id, EOVERFLOW, "stdin beyond the window"); return; }
    if (!s->in_buf && !(s->in_buf = malloc(WINDOW))) { error_frame(s->id, ENOMEM, "no memory for stdin"); return; }
    memcpy(s->in_buf + s->in_len, p, n);
    s->in_len += n;
    s->in_received += n;
}

static void handle(int type, uint32_t sid, const unsigned char *p, size_t n) {
    struct session *s = find(sid);
    switch (type) {
    case T_HELLO: {
        /* u16 version, 8 bytes nonce. The answer starts with SYNC and the nonce, raw, so that the host finds it
         * behind whatever stale bytes of an earlier connection were still on their way. */
        if (n != 10) { error_frame(0, EINVAL, "malformed HELLO"); return; }
        wlen = 0; /* frames queued for an earlier host: REATTACH asks again for what it needs */
        memcpy(wbuf, SYNC, 8);
        memcpy(wbuf + 8, p + 2, 8);
        wlen = 16;
        unsigned char h[2 + 32];
        h[0] = 0; h[1] = VERSION;
        const char *ident = "zk-agent 1";
        size_t l = strlen(ident);
        memcpy(h + 2, ident, l);
        frame(T_HELLO_OK, 0, h, 2 + l);
        return;
    }
    case T_EXEC: start_exec(sid, p, n); return;
    }
    if (!s) { if (type != T_RELEASE) error_frame(sid, ESRCH, "no such session"); return; }
    switch (type) {
    case T_STDIN: stdin_data(s, p, n); break;
    case T_STDIN_CLOSE:
        s->in_close_wanted = 1;
        if (s->tty && s->in_fd >= 0) {
            /* A terminal has no end of input: EOF is the terminal's VEOF character at the start of a line. */
            unsigned char eof = 4;
            stdin_data(s, &eof, 1);
            s->in_close_wanted = 0;
        }
        break;
    case T_SIGNAL:
        if (n == 1 && p[0] > 0 && p[0] < 65 && !s->reaped) {
            if (kill(-s->pid, p[0]) < 0) kill(s->pid, p[0]);
        }
        break;
    case T_RESIZE:
        if (n == 4 && s->tty && s->out[0].fd >= 0) {
            struct winsize ws = {0};
            ws.ws_row = p[0] << 8 | p[1]; ws.ws_col = p[2] << 8 | p[3];
            ioctl(s->out[0].fd, TIOCSWINSZ, &ws);
        }
        break;
    case T_OUTPUT_ACK:
    case T_REATTACH:
        if (n != 16) { error_frame(sid, EINVAL, "malformed offsets"); break; }
        for (int k = 0; k < 2; k++) {
            uint64_t at = get64(p + 8 * k);
            struct ring *r = &s->out[k];
            if (at < r->acked || at > r->produced || (type == T_OUTPUT_ACK && at > r->sent)) {
                error_frame(sid, ERANGE, "offset outside what was kept");
                return;
            }
            r->acked = at;
            if (type == T_REATTACH) r->sent = at;
        }
        if (type == T_REATTACH) {
            unsigned char a[8];
            put64(a, s->in_received);
            frame(T_ATTACHED, sid, a, 8);
            s->exit_sent = 0;
        }
        break;
    case T_RELEASE: free_session(s); break;
    default: error_frame(sid, EINVAL, "unknown message type");
    }
}

/* Parses what came from the port. Until a SYNC and HELLO arrive on a connection nothing else is taken. */
static void parse(void) {
    size_t at = 0;
    for (;;) {
        if (!host_here) {
            /* Looking for SYNC: everything before it is the rest of a previous connection. */
            size_t i = at;
            /* SYNC and the host's 8-byte nonce (which HELLO repeats); then frames. */
            while (i + 8 <= rlen && memcmp(rbuf + i, SYNC, 8) != 0) i++;
            if (i + 16 > rlen) { at = i; break; }
            at = i + 16;
            host_here = 1;
        }
        if (rlen - at < HEADER) break;
        uint32_t len = get32(rbuf + at);
        if (len < 5 || len > 5 + MAX_PAYLOAD) {
            /* Most likely a new host whose SYNC arrived where the rest of the old one's frame was awaited (its
             * hang-up went unseen): look for SYNC from here, this very byte included. */
            logf_("bad frame length from the host: %s", "resynchronising");
            host_here = 0;
            continue;
        }
        if (rlen - at < 4 + len) break;
        /* A frame is handled only when its answers fit, so that no answer is ever dropped. */
        if (wroom() < 2 * (HEADER + 1100) + 16) break;
        handle(rbuf[at + 4], get32(rbuf + at + 5), rbuf + at + HEADER, len - 5);
        at += 4 + len;
    }
    memmove(rbuf, rbuf + at, rlen - at);
    rlen -= at;
}

static int find_port(char *path, size_t len) {
    DIR *d = opendir("/sys/class/virtio-ports");
    if (!d) return -1;
    struct dirent *e;
    int found = -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char f[300], name[64] = "";
        snprintf(f, sizeof f, "/sys/class/virtio-ports/%s/name", e->d_name);
        FILE *fp = fopen(f, "r");
        if (!fp) continue;
        if (fgets(name, sizeof name, fp)) name[strcspn(name, "\n")] = 0;
        fclose(fp);
        if (strcmp(name, PORT_NAME) == 0) {
            snprintf(path, len, "/dev/%s", e->d_name);
            found = 0;
            break;
        }
    }
    closedir(d);
    return found;
}

/* -l PATH: listens there; the connections come later, in the main loop. */
static void listen_on(const char *path) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) { logf_("socket path too long: %s", path); exit(2); }
    strcpy(a.sun_path, path);
    unlink(path);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) < 0 || listen(listener, 4) < 0) {
        logf_("cannot listen on the agent socket: %s", strerror(errno));
        exit(1);
    }
    chmod(path, 0600);
    logf_("listening on %s", path);
}

static void open_port(void) {
    char path[300];
    for (int tries = 0;; tries++) {
        if (device) snprintf(path, sizeof path, "%s", device);
        else if (find_port(path, sizeof path) < 0) path[0] = 0;
        if (path[0] && (port = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) >= 0) break;
        if (tries == 200) logf_("still waiting for the agent port %s", device ? device : PORT_NAME);
        usleep(10000);
    }
    logf_("listening on %s", path);
}

/* Frames output of each session into the write buffer, round-robin, then the exits that are due. */
static void produce_frames(void) {
    static int next;
    for (int round = 0; round < MAX_SESSIONS; round++) {
        struct session *s = &sessions[(next + round) % MAX_SESSIONS];
        if (!s->used) continue;
        for (int k = 0; k < 2; k++) {
            struct ring *r = &s->out[k];
            while (r->sent < r->produced && wroom() >= HEADER + CHUNK) {
                size_t n = r->produced - r->sent, off = r->sent % RING;
                if (n > CHUNK) n = CHUNK;
                if (off + n > RING) n = RING - off;
                frame(k ? T_STDERR : T_STDOUT, s->id, r->buf + off, n);
                r->sent += n;
            }
        }
        if (s->in_written - s->in_acked >= 32768 || (s->in_len == 0 && s->in_written != s->in_acked)) {
            if (wroom() >= HEADER + 8) {
                unsigned char a[8];
                put64(a, s->in_written);
                frame(T_STDIN_ACK, s->id, a, 8);
                s->in_acked = s->in_written;
            }
        }
        if (s->reaped && !s->exit_sent && s->out[0].fd < 0 && s->out[1].fd < 0
                && s->out[0].sent == s->out[0].produced && s->out[1].sent == s->out[1].produced
                && wroom() >= HEADER + 5) {
            unsigned char x[5];
            x[0] = s->exit_kind;
            put32(x + 1, s->exit_code);
            frame(T_EXIT, s->id, x, 5);
            s->exit_sent = 1;
        }
    }
    next = (next + 1) % MAX_SESSIONS;
}

static void reap(void) {
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_SESSIONS; i++) {
            struct session *s = &sessions[i];
            if (s->used && s->pid == pid && !s->reaped) {
                s->reaped = 1;
                s->exit_kind = WIFSIGNALED(st) ? 1 : 0;
                s->exit_code = WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st);
            }
        }
    }
}

/*
 * An image zone's workload (zk-agent --workload FILE ROOT, started by the zone init). FILE is what the driver wrote
 * (io.zonekeeper.image.WorkloadFile): the line "zk-workload 1", then NUL-terminated records, each a tag letter and
 * its value: 'a' an argument (in order), 'e' an environment entry, 'd' the working folder, 'u' the user; then the
 * record "." and padding. Runs the workload in ROOT (chroot) as its user, forwards SIGTERM, SIGINT and SIGHUP to it,
 * reaps every orphan below it (a child subreaper) and returns its exit status (128 + N for a signal N).
 */
#define MAX_WORKLOAD (64 * 1024)
static int run_workload(const char *file, const char *root) {
    static char buf[MAX_WORKLOAD + 1];
    static char *args[MAX_STRINGS + 1], *envs[MAX_STRINGS + 2]; /* HOME may be added */
    int na = 0, ne = 0, done = 0;
    const char *dir = "", *user = "";
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { fprintf(stderr, "zonekeeper: workload %s: %s\n", file, strerror(errno)); return 125; }
    size_t n = 0;
    ssize_t r;
    while (n < MAX_WORKLOAD && (r = read(fd, buf + n, MAX_WORKLOAD - n)) > 0) n += r;
    close(fd);
    buf[n] = 0;
    const char *magic = "zk-workload 1\n";
    if (n < strlen(magic) || memcmp(buf, magic, strlen(magic)) != 0) {
        fprintf(stderr, "zonekeeper: workload %s: not a zk-workload 1 file\n", file);
        return 125;
    }
    for (size_t at = strlen(magic); at < n && !done;) {
        char *rec = buf + at;
        size_t len = strnlen(rec, n - at);
        if (at + len >= n) break; /* no NUL: cut short */
        at += len + 1;
        switch (rec[0]) {
            case 'a': if (na < MAX_STRINGS) args[na++] = rec + 1; break;
            case 'e': if (ne < MAX_STRINGS) envs[ne++] = rec + 1; break;
            case 'd': dir = rec + 1; break;
            case 'u': user = rec + 1; break;
            case '.': done = 1; break;
            default: fprintf(stderr, "zonekeeper: workload %s: unknown record '%c'\n", file, rec[0]); return 125;
        }
    }
    if (!done || na == 0) {
        fprintf(stderr, "zonekeeper: workload %s: %s\n", file, done ? "no command (the image has no Entrypoint or"
                " Cmd, and the spec gives none)" : "cut short");
        return 125;
    }
    args[na] = NULL; envs[ne] = NULL;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD); sigaddset(&set, SIGTERM); sigaddset(&set, SIGINT); sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    /* Started with "&" by the init, this process ignores SIGINT; an ignored signal never reaches sigwaitinfo. */
    signal(SIGTERM, SIG_DFL); signal(SIGINT, SIG_DFL); signal(SIGHUP, SIG_DFL);
    pid_t pid = fork();
    if (pid < 0) { fprintf(stderr, "zonekeeper: workload: fork: %s\n", strerror(errno)); return 125; }
    if (pid == 0) {
        char why[300];
        sigprocmask(SIG_SETMASK, &old, NULL);
        default_signals();
        setsid();
        if (chroot(root) < 0 || chdir("/") < 0) { fprintf(stderr, "zonekeeper: workload: chroot %s: %s\n", root, strerror(errno)); _exit(125); }
        if (*user && become(user, why, sizeof why) < 0) { fprintf(stderr, "zonekeeper: workload: %s\n", why); _exit(125); }
        if (*dir && chdir(dir) < 0) { fprintf(stderr, "zonekeeper: workload: workdir %s: %s\n", dir, strerror(errno)); _exit(125); }
        char *home = home_entry(envs);
        if (home) envs[ne] = home;
        /* execvp looks the command up in this process's PATH, so the workload's environment comes first. */
        environ = envs;
        execvp(args[0], args);
        fprintf(stderr, "zonekeeper: workload: %s: %s\n", args[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    for (;;) {
        siginfo_t si;
        if (sigwaitinfo(&set, &si) < 0) continue;
        if (si.si_signo != SIGCHLD) { kill(pid, si.si_signo); continue; }
        int st;
        pid_t w;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
            if (w == pid) return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
        }
    }
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--workload") == 0) return run_workload(argv[2], argv[3]);
    const char *listen_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) device = argv[++i];
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) exec_root = argv[++i];
        else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc) listen_path = argv[++i];
        else {
            fprintf(stderr, "usage: zk-agent [-d DEVICE | -l SOCKET] [-r ROOT] | zk-agent --workload FILE ROOT\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    /* SIGIO: the port's owner hears of the host connecting (below); blocked, it only makes the signalfd readable. */
    sigaddset(&chld, SIGIO);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    /* Terminals (exec --tty) need devpts; a zone image's init mounts only devtmpfs. EBUSY: already there. */
    mkdir("/dev/pts", 0755);
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=620,ptmxmode=666") < 0 && errno != EBUSY)
        logf_("no devpts, so no terminals: %s", strerror(errno));
    if (listen_path) listen_on(listen_path);
    else open_port();
    /* With the host away a virtio-serial port polls as POLLHUP at once, and no read or poll blocks until the host
     * comes: the guest kernel tells of it only with SIGIO to the port's owner (virtio_console sends one when the host
     * opens or closes the port, and when data arrives). Without it the agent looks again every 50 ms, which woke an
     * idle zone 20 times a second (40 of its 44 timer interrupts a second, measured), and its QEMU with it. */
    int port_signals = !device && port >= 0 && listener < 0 && fcntl(port, F_SETOWN, getpid()) == 0
            && fcntl(port, F_SETFL, fcntl(port, F_GETFL) | O_ASYNC) == 0;

    struct pollfd fds[3 + 3 * MAX_SESSIONS];
    struct { struct session *s; int what; } who[3 + 3 * MAX_SESSIONS];
    int hup_wait = 0;
    /* Whether the port has polled without POLLHUP (the kernel knows the host is there) since the last hang-up, and
     * whether bytes came from the host since then. The kernel hears of a host in a control message that it handles
     * in a work queue, but takes the host's bytes at once: a host that connects and writes its HELLO and EXEC at
     * once can have them read here while the port still says the host is away (POLLHUP, a read of 0). That is the
     * host arriving, not leaving: dropping the answers then left it waiting for its HELLO_OK until it gave up. */
    int port_seen_open = 0, bytes_since_hup = 0;
    for (;;) {
        produce_frames();
        int nf = 0;
        fds[nf].fd = sfd; fds[nf].events = POLLIN; nf++;
        /* With the host away the port reports POLLHUP without pause: wait for its SIGIO instead (a look every
         * 5 s in case one was missed), or where the port sends none look again in 50 ms. */
        fds[nf].fd = hup_wait ? -1 : port;
        fds[nf].events = (wlen ? POLLOUT : 0) | (rlen < sizeof rbuf ? POLLIN : 0);
        nf++;
        fds[nf].fd = listener; fds[nf].events = POLLIN; nf++; /* -1 (ignored) without -l */
        for (int i = 0; i < MAX_SESSIONS; i++) {
            struct session *s = &sessions[i];
            if (!s->used) continue;
            for (int k = 0; k < 2; k++) {
                struct ring *r = &s->out[k];
                if (r->fd >= 0 && r->produced - r->acked < RING) {
                    fds[nf].fd = r->fd; fds[nf].events = POLLIN; who[nf].s = s; who[nf].what = k; nf++;
                }
            }
            if (s->in_fd >= 0 && (s->in_len || s->in_close_wanted)) {
                fds[nf].fd = s->in_fd; fds[nf].events = POLLOUT; who[nf].s = s; who[nf].what = 2; nf++;
            }
        }
        int ready = poll(fds, nf, hup_wait ? (port_signals ? 5000 : 50) : -1);
        if (ready < 0) { if (errno == EINTR) continue; logf_("poll: %s", strerror(errno)); return 1; }
        if (hup_wait) { hup_wait = 0; continue; }
        if (fds[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {}
            reap();
        }
        if (fds[2].revents & POLLIN) {
            int c = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c >= 0) {
                /* A new host: the old connection's hang-up may not have been seen yet. */
                if (port >= 0) close(port);
                port = c;
                host_here = 0; rlen = 0; wlen = 0;
                fds[1].revents = 0;
            }
        }
        short pr = fds[1].revents;
        if (fds[1].fd >= 0 && pr && !(pr & (POLLHUP | POLLNVAL | POLLERR))) port_seen_open = 1;
        /* Hung up: POLLHUP with nothing left to read, or a read of 0 (the port reads 0 only with the host away). */
        int hup = (pr & POLLHUP) && !(pr & POLLIN);
        if (pr & POLLIN) {
            ssize_t n = read(port, rbuf + rlen, sizeof rbuf - rlen);
            if (n > 0) { rlen += n; bytes_since_hup = 1; parse(); }
            else if (n == 0) hup = 1;
        }
        if (hup && listener < 0 && bytes_since_hup && !port_seen_open) {
            /* A host whose bytes came before the kernel heard it connect (above): keep everything and wait for
             * the port to open. */
            hup = 0;
            hup_wait = 1;
        }
        if (!hup && (pr & POLLOUT) && wlen) {
            ssize_t n = write(port, wbuf, wlen);
            if (n > 0) { memmove(wbuf, wbuf + n, wlen - n); wlen -= n; }
        }
        if (hup) {
            /* The host went away: what it had not read is lost, and REATTACH will ask for it again. */
            if (host_here) logf_("host %s", "disconnected; sessions kept");
            host_here = 0; rlen = 0; wlen = 0;
            port_seen_open = 0; bytes_since_hup = 0;
            /* A port stays and reports the next host; a socket connection is over, and the next one is accepted. */
            if (listener >= 0) { close(port); port = -1; }
            else hup_wait = 1;
        }
        for (int i = 3; i < nf; i++) {
            if (!fds[i].revents) continue;
            struct session *s = who[i].s;
            if (who[i].what == 2) {
                if (s->in_len) {
                    ssize_t n = write(s->in_fd, s->in_buf, s->in_len);
                    if (n > 0) {
                        memmove(s->in_buf, s->in_buf + n, s->in_len - n);
                        s->in_len -= n; s->in_written += n;
                    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        /* The command closed its stdin: what is left counts as written, as with a pipe. */
                        s->in_written += s->in_len; s->in_len = 0;
                        if (!s->tty) close_fd(&s->in_fd);
                    }
                }
                if (!s->in_len && s->in_close_wanted && !s->tty) close_fd(&s->in_fd);
                continue;
            }
            struct ring *r = &s->out[who[i].what];
            if (!r->buf && !(r->buf = malloc(RING))) continue;
            size_t off = r->produced % RING, room = RING - (r->produced - r->acked);
            if (off + room > RING) room = RING - off;
            ssize_t n = read(r->fd, r->buf + off, room);
            if (n > 0) r->produced += n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                /* EOF, or EIO from a terminal whose last user closed it */
                if (s->tty) { close_fd(&s->in_fd); }
                close_fd(&r->fd);
            }
        }
    }
}
