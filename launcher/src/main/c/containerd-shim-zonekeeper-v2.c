/*
 * containerd-shim-zonekeeper-v2: the binary containerd runs for the runtime io.containerd.zonekeeper.v2.
 *
 * containerd's runtime v2 contract (containerd 1.6, runtime/v2/README.md): containerd runs
 *   containerd-shim-zonekeeper-v2 -namespace NS -address GRPC -publish-binary CONTAINERD -id ID [-debug] start
 *   containerd-shim-zonekeeper-v2 -namespace NS -address GRPC -publish-binary CONTAINERD -id ID -bundle B delete
 * with the container's bundle as the working directory and TTRPC_ADDRESS in the environment.
 *
 * The appliance itself serves containerd.task.v2.Task over ttrpc on <state>/run/shim.ttrpc.sock (bundle zone-shim).
 * `start` finds (or starts) the appliance, then leaves a relay for the container: a small process of this binary
 * that holds containerd's connections and passes ttrpc frames to the appliance's socket unchanged. containerd 1.6
 * takes a closed shim connection for a dead task (it runs `delete` and forgets the task), so without the relay a
 * kill -9 or an upgrade restart of the appliance would lose every container from containerd although its zone
 * runs on. While the appliance is away, the relay answers requests with UNAVAILABLE and reconnects on the next
 * one. It ends when containerd shuts the task's shim down (Shutdown, after Delete) or the bundle is gone.
 * containerd waits for `start` on every container, so this is a small static C program and not a JVM.
 * `delete` is containerd's cleanup when it cannot talk to the task any more: it asks the appliance to delete the
 * task, or, when no appliance answers, reports the task as killed (137), as the runc shim does.
 *
 * Success writes nothing on stderr: containerd 1.6 reads `start`'s stdout and stderr together as the address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "containerd-shim-zonekeeper-v2"
#define TASK_SERVICE "containerd.task.v2.Task"
/* containerd's namespace travels in this ttrpc metadata key (containerd namespaces/ttrpc.go). */
#define NAMESPACE_HEADER "containerd-namespace-ttrpc"
#define TTRPC_HEADER_LEN 10
#define TTRPC_TYPE_REQUEST 1
#define TTRPC_TYPE_RESPONSE 2
#define TTRPC_MAX_MESSAGE (4 << 20)
/* gRPC status codes the task service answers with. */
#define CODE_NOT_FOUND 5
#define CODE_FAILED_PRECONDITION 9
#define SIGKILL_EXIT_STATUS 137
#define CODE_UNAVAILABLE 14
#define CODE_TRANSPORT (-1) /* no answer at all */

struct options {
    const char *namespace;
    const char *address;
    const char *publish_binary;
    const char *id;
    const char *bundle;
    int debug;
    const char *action;
};

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
    va_list ap;
    fputs(PROGRAM ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(void) __attribute__((noreturn));
static void usage(void) {
    fprintf(stderr,
            "usage: " PROGRAM " [-namespace NS] [-address ADDR] [-publish-binary PATH] -id ID [-bundle DIR] [-debug]"
            " start|delete\n"
            "  start   print the ttrpc address of the Zonekeeper appliance's task service (<state>/run/shim.ttrpc.sock),\n"
            "          starting the appliance (<home>/bin/zonekeeper --state STATE --no-shell) if none answers there\n"
            "  delete  delete task ID on the appliance and print containerd's DeleteResponse (protobuf) on stdout\n"
            "The state directory is $ZONEKEEPER_STATE, else <home>/state (<home>: the distribution holding this binary).\n"
            "$ZONEKEEPER_SHIM_START_TIMEOUT: seconds `start` waits for a newly started appliance (default 120).\n");
    exit(2);
}

/* Go's flag package, which containerd's own shims use: -name value, --name value, -name=value; stops at the first
 * argument that is not a flag. */
static void parse_options(int argc, char **argv, struct options *o) {
    static const char *const valued[] = {"namespace", "address", "publish-binary", "id", "bundle", "socket"};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0)
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if ((len == 5 && strncmp(name, "debug", 5) == 0)) {
            o->debug = 1;
            continue;
        }
        if ((len == 1 && name[0] == 'v') || (len == 7 && strncmp(name, "version", 7) == 0)) {
            printf(PROGRAM " (Zonekeeper): serves containerd's runtime v2 task API from the Zonekeeper appliance\n");
            exit(0);
        }
        if ((len == 1 && name[0] == 'h') || (len == 4 && strncmp(name, "help", 4) == 0))
            usage();
        const char *value = NULL;
        size_t k;
        for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
            if (strlen(valued[k]) == len && strncmp(valued[k], name, len) == 0)
                break;
        if (k == sizeof(valued) / sizeof(valued[0])) {
            fprintf(stderr, PROGRAM ": unknown flag %s\n", a);
            usage();
        }
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else
            fail("flag %s needs a value", a);
        switch (k) {
        case 0: o->namespace = value; break;
        case 1: o->address = value; break;
        case 2: o->publish_binary = value; break;
        case 3: o->id = value; break;
        case 4: o->bundle = value; break;
        default: break; /* -socket: the runc shim's own daemon flag, meaningless here */
        }
    }
    if (i >= argc) {
        fprintf(stderr, PROGRAM ": no action; containerd runs it as `... start` or `... delete` (the Zonekeeper "
                        "appliance serves the task API itself, there is no shim daemon to run)\n");
        usage();
    }
    o->action = argv[i];
    if (i + 1 < argc)
        fail("unexpected argument after %s: %s", o->action, argv[i + 1]);
}

/* ---- where things are ---- */

/* The distribution's home: the folder above bin/ that holds this binary. /proc/self/exe is already the target of
 * every symlink (e.g. /usr/local/bin/containerd-shim-zonekeeper-v2 made by scripts/setup). */
static void distribution_home(char *home, size_t size) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        fail("cannot read /proc/self/exe to find the distribution: %s", strerror(errno));
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        fail("unexpected executable path %s", exe);
    *slash = 0; /* <home>/bin */
    slash = strrchr(exe, '/');
    if (!slash || strcmp(slash, "/bin") != 0)
        fail("%s/" PROGRAM " is not in the bin/ folder of a Zonekeeper distribution", exe);
    *slash = 0;
    if (snprintf(home, size, "%s", exe[0] ? exe : "/") >= (int)size)
        fail("distribution path too long: %s", exe);
}

static void state_dir(const char *home, char *state, size_t size) {
    const char *env = getenv("ZONEKEEPER_STATE");
    int n = env && *env ? snprintf(state, size, "%s", env) : snprintf(state, size, "%s/state", home);
    if (n >= (int)size)
        fail("state directory path too long");
}

static int unix_connect(const char *path) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int answers(const char *path) {
    int fd = unix_connect(path);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* ---- start ---- */

static void write_file_atomically(const char *path, const char *content) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        fail("path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fail("cannot write %s: %s", tmp, strerror(errno));
    size_t len = strlen(content), off = 0;
    while (off < len) {
        ssize_t w = write(fd, content + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail("cannot write %s: %s", tmp, strerror(errno));
        off += (size_t)w;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        fail("cannot write %s: %s", path, strerror(e));
    }
}

/* Appends s as a JSON string (quotes included). */
static void json_string(char **out, size_t *left, const char *s) {
    char buf[8];
    const char *p;
#define PUT(str)                                                                                                       \
    do {                                                                                                               \
        size_t l_ = strlen(str);                                                                                       \
        if (l_ >= *left)                                                                                               \
            fail("bundle metadata too long");                                                                          \
        memcpy(*out, str, l_);                                                                                         \
        *out += l_;                                                                                                    \
        *left -= l_;                                                                                                   \
        **out = 0;                                                                                                     \
    } while (0)
    PUT("\"");
    for (p = s ? s : ""; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[0] = '\\';
            buf[1] = (char)c;
            buf[2] = 0;
        } else if (c < 0x20) {
            snprintf(buf, sizeof(buf), "\\u%04x", c);
        } else {
            buf[0] = (char)c;
            buf[1] = 0;
        }
        PUT(buf);
    }
    PUT("\"");
#undef PUT
}

static void write_bundle_metadata(const struct options *o, const char *ttrpc_address) {
    char json[4 * PATH_MAX + 512];
    char *p = json;
    size_t left = sizeof(json);
    const char *keys[] = {"namespace", "id", "address", "ttrpcAddress", "publishBinary"};
    const char *values[] = {o->namespace, o->id, o->address, ttrpc_address, o->publish_binary};
    *p = 0;
    for (size_t i = 0; i < 5; i++) {
        int n = snprintf(p, left, "%s\"%s\":", i == 0 ? "{" : ",", keys[i]);
        if (n < 0 || (size_t)n >= left)
            fail("bundle metadata too long");
        p += n;
        left -= (size_t)n;
        json_string(&p, &left, values[i]);
    }
    if (left < 3)
        fail("bundle metadata too long");
    strcpy(p, "}\n");
    write_file_atomically("zonekeeper-shim.json", json);
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Starts <home>/bin/zonekeeper --state STATE --no-shell in a session of its own, detached from containerd: its
 * output goes to <state>/shim-appliance.log, never to the pipe containerd reads `start`'s answer from (containerd
 * would wait for that pipe to close). Returns the appliance's pid. */
static pid_t start_appliance(const char *home, const char *state, const char *log) {
    char launcher[PATH_MAX];
    if (snprintf(launcher, sizeof(launcher), "%s/bin/zonekeeper", home) >= (int)sizeof(launcher))
        fail("distribution path too long");
    if (access(launcher, X_OK) != 0)
        fail("cannot run %s to start the appliance: %s", launcher, strerror(errno));
    int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        fail("cannot open the appliance's log %s: %s", log, strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        fail("cannot fork to start the appliance: %s", strerror(errno));
    if (pid == 0) {
        setsid();
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(127);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        signal(SIGPIPE, SIG_DFL);
        execl(launcher, "zonekeeper", "--state", state, "--no-shell", (char *)NULL);
        dprintf(2, PROGRAM ": cannot run %s: %s\n", launcher, strerror(errno));
        _exit(127);
    }
    close(logfd);
    return pid;
}

static void wait_for_socket(const char *socket_path, pid_t appliance, const char *log) {
    const char *env = getenv("ZONEKEEPER_SHIM_START_TIMEOUT");
    double timeout = env && *env ? atof(env) : 120.0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (answers(socket_path))
            return;
        int status;
        if (appliance > 0 && waitpid(appliance, &status, WNOHANG) == appliance)
            fail("the appliance (pid %d) exited (%s %d) before %s answered; see %s", (int)appliance,
                 WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                 socket_path, log);
        if (seconds_since(&t0) > timeout)
            fail("%s did not answer within %.0f s of starting the appliance (pid %d); is the zone-shim bundle in its "
                 "features? See %s",
                 socket_path, timeout, (int)appliance, log);
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static void start_relay(const char *state, const char *socket_path, const struct options *o, char *relay_path,
                        size_t size);

static int do_start(const struct options *o, const char *home, const char *state) {
    char socket_path[PATH_MAX], control[PATH_MAX], lock[PATH_MAX], log[PATH_MAX];
    if (!o->id || !*o->id)
        fail("start needs -id");
    if (snprintf(socket_path, sizeof(socket_path), "%s/run/shim.ttrpc.sock", state) >= (int)sizeof(socket_path) ||
        snprintf(control, sizeof(control), "%s/run/control.sock", state) >= (int)sizeof(control) ||
        snprintf(lock, sizeof(lock), "%s/shim-start.lock", state) >= (int)sizeof(lock) ||
        snprintf(log, sizeof(log), "%s/shim-appliance.log", state) >= (int)sizeof(log))
        fail("state directory path too long: %s", state);
    struct sockaddr_un sa;
    if (strlen(socket_path) >= sizeof(sa.sun_path))
        fail("the socket path %s is longer than a Unix socket allows (%zu bytes); use a shorter state directory",
             socket_path, sizeof(sa.sun_path) - 1);
    if (access("config.json", F_OK) != 0)
        fail("no config.json in the bundle %s: %s", getcwd(lock, sizeof(lock)) ? lock : "(working directory)",
             strerror(errno));

    if (!answers(socket_path)) {
        /* Several containers may start at once: one of them starts the appliance, the others wait for it. */
        if (mkdir(state, 0700) < 0 && errno != EEXIST)
            fail("cannot create the state directory %s: %s", state, strerror(errno));
        int lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0)
            fail("cannot lock %s: %s", lock, strerror(errno));
        if (!answers(socket_path)) {
            if (answers(control))
                fail("the appliance on %s runs but does not serve %s; is the zone-shim bundle in its features?", state,
                     socket_path);
            pid_t appliance = start_appliance(home, state, log);
            wait_for_socket(socket_path, appliance, log);
        }
        close(lockfd);
    }

    char relay_path[PATH_MAX], address[PATH_MAX + 16];
    start_relay(state, socket_path, o, relay_path, sizeof(relay_path));
    snprintf(address, sizeof(address), "unix://%s", relay_path);
    char ttrpc_address[PATH_MAX + 16];
    const char *env_ttrpc = getenv("TTRPC_ADDRESS");
    if (env_ttrpc && *env_ttrpc)
        snprintf(ttrpc_address, sizeof(ttrpc_address), "%s", env_ttrpc);
    else if (o->address && *o->address)
        snprintf(ttrpc_address, sizeof(ttrpc_address), "%s.ttrpc", o->address); /* containerd's own convention */
    else
        ttrpc_address[0] = 0;
    write_bundle_metadata(o, ttrpc_address);
    /* containerd reads <bundle>/address to reconnect to the task after it restarts: the relay, which outlives it. */
    char address_line[PATH_MAX + 16];
    snprintf(address_line, sizeof(address_line), "%s", address);
    write_file_atomically("address", address_line);
    printf("%s\n", address);
    return 0;
}

/* ---- delete: a tiny ttrpc client ---- */

struct buf {
    uint8_t data[8192];
    size_t len;
};

static void put_byte(struct buf *b, uint8_t v) {
    if (b->len >= sizeof(b->data))
        fail("request too large");
    b->data[b->len++] = v;
}

static void put_varint(struct buf *b, uint64_t v) {
    while (v >= 0x80) {
        put_byte(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put_byte(b, (uint8_t)v);
}

static void put_bytes_field(struct buf *b, int field, const void *data, size_t len) {
    put_varint(b, ((uint64_t)field << 3) | 2);
    put_varint(b, len);
    if (len > sizeof(b->data) - b->len)
        fail("request too large");
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void put_string_field(struct buf *b, int field, const char *s) {
    if (s && *s)
        put_bytes_field(b, field, s, strlen(s));
}

static void put_varint_field(struct buf *b, int field, uint64_t v) {
    if (v) {
        put_varint(b, (uint64_t)field << 3);
        put_varint(b, v);
    }
}

struct reader {
    const uint8_t *p, *end;
};

static int get_varint(struct reader *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t c = *r->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return 0;
    }
    return -1;
}

/* Calls the next field's callback-free walk: returns the field number and wire type, and for length-delimited
 * fields the bytes; skips nothing it does not understand (varint, 64-bit, length, 32-bit). */
static int next_field(struct reader *r, int *field, int *wire, uint64_t *value, const uint8_t **data, size_t *len) {
    uint64_t key;
    if (r->p >= r->end)
        return 0;
    if (get_varint(r, &key) < 0)
        return -1;
    *field = (int)(key >> 3);
    *wire = (int)(key & 7);
    switch (*wire) {
    case 0:
        return get_varint(r, value) < 0 ? -1 : 1;
    case 1:
        if (r->end - r->p < 8)
            return -1;
        r->p += 8;
        return 1;
    case 2:
        if (get_varint(r, value) < 0 || *value > (uint64_t)(r->end - r->p))
            return -1;
        *data = r->p;
        *len = (size_t)*value;
        r->p += *len;
        return 1;
    case 5:
        if (r->end - r->p < 4)
            return -1;
        r->p += 4;
        return 1;
    default:
        return -1;
    }
}

static int write_all(int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *data, size_t len) {
    uint8_t *p = data;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

struct call_result {
    int code; /* gRPC status code, 0 = OK */
    char message[512];
    uint8_t *payload;
    size_t payload_len;
};

/* One unary ttrpc call: header (length and stream id big-endian, type, flags) and a ttrpc Request
 * {service=1, method=2, payload=3, timeout_nano=4, metadata=5}; the answer is a Response {status=1, payload=2}. */
static void ttrpc_call(int fd, uint32_t stream, const char *ns, const char *method, const struct buf *payload,
                       struct call_result *res) {
    static struct buf req;
    req.len = 0;
    put_string_field(&req, 1, TASK_SERVICE);
    put_string_field(&req, 2, method);
    put_bytes_field(&req, 3, payload->data, payload->len);
    put_varint_field(&req, 4, 30ULL * 1000 * 1000 * 1000);
    if (ns && *ns) {
        struct buf kv = {.len = 0};
        put_string_field(&kv, 1, NAMESPACE_HEADER);
        put_string_field(&kv, 2, ns);
        put_bytes_field(&req, 5, kv.data, kv.len);
    }
    uint8_t header[TTRPC_HEADER_LEN] = {
        (uint8_t)(req.len >> 24), (uint8_t)(req.len >> 16), (uint8_t)(req.len >> 8), (uint8_t)req.len,
        (uint8_t)(stream >> 24),  (uint8_t)(stream >> 16),  (uint8_t)(stream >> 8),  (uint8_t)stream,
        TTRPC_TYPE_REQUEST,       0};
    res->code = CODE_TRANSPORT;
    res->payload = NULL;
    res->payload_len = 0;
    if (write_all(fd, header, sizeof(header)) < 0 || write_all(fd, req.data, req.len) < 0) {
        snprintf(res->message, sizeof(res->message), "cannot send %s.%s to the appliance: %s", TASK_SERVICE, method,
                 strerror(errno));
        return;
    }
    for (;;) {
        if (read_all(fd, header, sizeof(header)) < 0) {
            snprintf(res->message, sizeof(res->message),
                     "the appliance closed the connection or timed out before answering %s.%s", TASK_SERVICE, method);
            return;
        }
        uint32_t len = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 | header[3];
        uint32_t sid = (uint32_t)header[4] << 24 | (uint32_t)header[5] << 16 | (uint32_t)header[6] << 8 | header[7];
        if (len > TTRPC_MAX_MESSAGE)
            fail("the appliance answered %s.%s with a message of %u bytes (more than ttrpc's 4 MiB)", TASK_SERVICE,
                 method, len);
        uint8_t *msg = malloc(len ? len : 1);
        if (!msg || read_all(fd, msg, len) < 0)
            fail("the appliance's answer to %s.%s was cut short", TASK_SERVICE, method);
        if (sid != stream || header[8] != TTRPC_TYPE_RESPONSE) {
            free(msg); /* not ours: another stream or message type */
            continue;
        }
        struct reader r = {msg, msg + len};
        int field, wire, more;
        uint64_t v;
        const uint8_t *data = NULL;
        size_t dlen = 0;
        res->code = 0;
        res->message[0] = 0;
        res->payload = NULL;
        res->payload_len = 0;
        while ((more = next_field(&r, &field, &wire, &v, &data, &dlen)) > 0) {
            if (field == 1 && wire == 2) { /* google.rpc.Status {code=1, message=2, details=3} */
                struct reader s = {data, data + dlen};
                int f2, w2;
                uint64_t v2;
                const uint8_t *d2 = NULL;
                size_t l2 = 0;
                while (next_field(&s, &f2, &w2, &v2, &d2, &l2) > 0) {
                    if (f2 == 1 && w2 == 0)
                        res->code = (int)v2;
                    else if (f2 == 2 && w2 == 2)
                        snprintf(res->message, sizeof(res->message), "%.*s", (int)l2, (const char *)d2);
                }
            } else if (field == 2 && wire == 2) {
                res->payload = (uint8_t *)data;
                res->payload_len = dlen;
            }
        }
        if (more < 0)
            fail("the appliance's answer to %s.%s is not a ttrpc Response", TASK_SERVICE, method);
        return; /* msg stays allocated: payload points into it; the process ends soon */
    }
}

/* containerd.task.v2.DeleteResponse {pid=1, exit_status=2, exited_at=3 (google.protobuf.Timestamp)} for a task
 * whose appliance is gone: killed, now. */
static void print_killed_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct buf ts = {.len = 0}, out = {.len = 0};
    put_varint_field(&ts, 1, (uint64_t)now.tv_sec);
    put_varint_field(&ts, 2, (uint64_t)now.tv_nsec);
    put_varint_field(&out, 2, SIGKILL_EXIT_STATUS);
    put_bytes_field(&out, 3, ts.data, ts.len);
    if (write_all(1, out.data, out.len) < 0)
        fail("cannot write the DeleteResponse: %s", strerror(errno));
}

/* The relay that `start` left for this task: the socket in the bundle's address file, if any. */
static int task_relay(const struct options *o, char *path, size_t size) {
    char file[PATH_MAX];
    const char *bundle = o->bundle && *o->bundle ? o->bundle : ".";
    if ((size_t)snprintf(file, sizeof(file), "%s/address", bundle) >= sizeof(file))
        fail("bundle path too long: %s", bundle);
    FILE *f = fopen(file, "re");
    if (!f)
        return 0;
    char line[PATH_MAX + 16];
    int found = 0;
    if (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        const char *p = strncmp(line, "unix://", 7) == 0 ? line + 7 : line;
        found = *p && (size_t)snprintf(path, size, "%s", p) < size;
    }
    fclose(f);
    return found;
}

static int do_delete(const struct options *o, const char *state) {
    char relay_path[PATH_MAX], socket_path[PATH_MAX];
    if (!o->id || !*o->id)
        fail("delete needs -id");
    if ((size_t)snprintf(socket_path, sizeof(socket_path), "%s/run/shim.ttrpc.sock", state) >= sizeof(socket_path))
        fail("state directory path too long: %s", state);
    int via_relay = 0, fd = -1;
    if (task_relay(o, relay_path, sizeof(relay_path)) && (fd = unix_connect(relay_path)) >= 0)
        via_relay = 1;
    else
        fd = unix_connect(socket_path);
    if (fd < 0) {
        /* No appliance: nothing runs the task any more (its zone went with a host restart or was never made). */
        print_killed_now();
        return 0;
    }
    struct timeval tv = {.tv_sec = 40};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    struct buf del = {.len = 0};
    put_string_field(&del, 1, o->id); /* DeleteRequest {id=1, exec_id=2} */
    struct call_result res;
    uint32_t stream = 1;
    ttrpc_call(fd, stream, o->namespace, "Delete", &del, &res);
    if (res.code == CODE_FAILED_PRECONDITION) {
        /* Still running: containerd gave up on it, so it is ended, as the runc shim's delete --force does. */
        struct buf kill = {.len = 0};
        put_string_field(&kill, 1, o->id); /* KillRequest {id=1, exec_id=2, signal=3, all=4} */
        put_varint_field(&kill, 3, SIGKILL);
        put_varint_field(&kill, 4, 1);
        struct call_result killed;
        ttrpc_call(fd, stream += 2, o->namespace, "Kill", &kill, &killed);
        if (killed.code == CODE_TRANSPORT)
            fail("%s", killed.message);
        if (killed.code != 0 && killed.code != CODE_NOT_FOUND)
            fail("task %s runs and the appliance refused to kill it: %s (code %d)", o->id, killed.message,
                 killed.code);
        for (int i = 0; i < 300 && res.code == CODE_FAILED_PRECONDITION; i++) {
            struct timespec pause = {0, 100 * 1000 * 1000};
            nanosleep(&pause, NULL);
            ttrpc_call(fd, stream += 2, o->namespace, "Delete", &del, &res);
        }
    }
    if (via_relay) {
        /* containerd will not talk to this task again: the relay may end (ShutdownRequest {id=1, now=2}). */
        struct buf shutdown = {.len = 0};
        struct call_result ignored;
        put_string_field(&shutdown, 1, o->id);
        ttrpc_call(fd, stream += 2, o->namespace, "Shutdown", &shutdown, &ignored);
    }
    close(fd);
    if (res.code == CODE_NOT_FOUND || res.code == CODE_UNAVAILABLE) {
        /* Never made, already deleted, or the appliance is gone: nothing left to clean. */
        print_killed_now();
        return 0;
    }
    if (res.code == CODE_TRANSPORT)
        fail("%s", res.message);
    if (res.code != 0)
        fail("the appliance could not delete task %s: %s (code %d)", o->id, res.message, res.code);
    if (write_all(1, res.payload, res.payload_len) < 0)
        fail("cannot write the DeleteResponse: %s", strerror(errno));
    return 0;
}

/* ---- the relay: containerd <-> appliance, frame by frame ---- */

struct frame_buffer {
    uint8_t *data;
    size_t len, cap;
};

struct relay_link {
    int client;              /* containerd's connection */
    int appliance;           /* -1 while the appliance is away */
    struct frame_buffer from_client, from_appliance;
    uint32_t *pending;       /* request stream ids the appliance has not answered */
    size_t npending, cap_pending;
    uint32_t shutdown_stream; /* non-zero: containerd asked this link's appliance to shut the task's shim down */
};

static const char *relay_socket_path; /* the appliance's task socket */
static char relay_listen_path[PATH_MAX]; /* the relay's own socket, removed when it ends */

static void relay_end(void) __attribute__((noreturn));
static void relay_end(void) {
    char pidfile[PATH_MAX + 8];
    unlink(relay_listen_path);
    snprintf(pidfile, sizeof(pidfile), "%.*s.pid", (int)(strlen(relay_listen_path) - 5), relay_listen_path);
    unlink(pidfile);
    _exit(0);
}
static char relay_bundle[PATH_MAX];

static int buffer_append(struct frame_buffer *b, const uint8_t *data, size_t len) {
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

/* The length of the first complete frame in b, 0 if it is not all there yet, -1 if it cannot be a ttrpc frame. */
static long complete_frame(const struct frame_buffer *b) {
    if (b->len < TTRPC_HEADER_LEN)
        return 0;
    uint32_t len = (uint32_t)b->data[0] << 24 | (uint32_t)b->data[1] << 16 | (uint32_t)b->data[2] << 8 | b->data[3];
    if (len > TTRPC_MAX_MESSAGE)
        return -1;
    return b->len >= TTRPC_HEADER_LEN + len ? (long)(TTRPC_HEADER_LEN + len) : 0;
}

static void buffer_consume(struct frame_buffer *b, size_t n) {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static uint32_t frame_stream(const uint8_t *f) {
    return (uint32_t)f[4] << 24 | (uint32_t)f[5] << 16 | (uint32_t)f[6] << 8 | f[7];
}

/* Whether a request frame calls Task.Shutdown. */
static int is_shutdown_request(const uint8_t *frame, size_t len) {
    struct reader r = {frame + TTRPC_HEADER_LEN, frame + len};
    int field, wire, more, service = 0, method = 0;
    uint64_t v;
    const uint8_t *data = NULL;
    size_t dlen = 0;
    while ((more = next_field(&r, &field, &wire, &v, &data, &dlen)) > 0) {
        if (field == 1 && wire == 2)
            service = dlen == strlen(TASK_SERVICE) && memcmp(data, TASK_SERVICE, dlen) == 0;
        else if (field == 2 && wire == 2)
            method = dlen == 8 && memcmp(data, "Shutdown", 8) == 0;
    }
    return more == 0 && service && method;
}

static void answer_status(int fd, uint32_t stream, int code, const char *message) {
    struct buf status = {.len = 0}, resp = {.len = 0};
    put_varint_field(&status, 1, (uint64_t)code);
    put_string_field(&status, 2, message);
    if (code)
        put_bytes_field(&resp, 1, status.data, status.len);
    uint8_t header[TTRPC_HEADER_LEN] = {
        (uint8_t)(resp.len >> 24), (uint8_t)(resp.len >> 16), (uint8_t)(resp.len >> 8), (uint8_t)resp.len,
        (uint8_t)(stream >> 24),   (uint8_t)(stream >> 16),   (uint8_t)(stream >> 8),   (uint8_t)stream,
        TTRPC_TYPE_RESPONSE,       0};
    if (write_all(fd, header, sizeof(header)) == 0)
        write_all(fd, resp.data, resp.len);
}

static void appliance_gone(struct relay_link *l) {
    if (l->appliance >= 0)
        close(l->appliance);
    l->appliance = -1;
    l->from_appliance.len = 0;
    for (size_t i = 0; i < l->npending; i++)
        answer_status(l->client, l->pending[i], CODE_UNAVAILABLE,
                      "the Zonekeeper appliance went away before answering; it keeps the zone, retry when it is back");
    l->npending = 0;
}

static int pending_add(struct relay_link *l, uint32_t stream) {
    if (l->npending == l->cap_pending) {
        size_t cap = l->cap_pending ? l->cap_pending * 2 : 16;
        uint32_t *p = realloc(l->pending, cap * sizeof(*p));
        if (!p)
            return -1;
        l->pending = p;
        l->cap_pending = cap;
    }
    l->pending[l->npending++] = stream;
    return 0;
}

static void pending_remove(struct relay_link *l, uint32_t stream) {
    for (size_t i = 0; i < l->npending; i++)
        if (l->pending[i] == stream) {
            l->pending[i] = l->pending[--l->npending];
            return;
        }
}

static void link_close(struct relay_link *l) {
    close(l->client);
    if (l->appliance >= 0)
        close(l->appliance);
    free(l->from_client.data);
    free(l->from_appliance.data);
    free(l->pending);
    memset(l, 0, sizeof(*l));
    l->client = l->appliance = -1;
}

/* containerd's frames to the appliance. Returns 1 when containerd's Shutdown was answered while the appliance is
 * away (the relay may end), 0 otherwise, -1 when containerd's side is unusable. */
static int relay_from_client(struct relay_link *l) {
    long n;
    while ((n = complete_frame(&l->from_client)) > 0) {
        uint8_t *f = l->from_client.data;
        int request = f[8] == TTRPC_TYPE_REQUEST;
        uint32_t stream = frame_stream(f);
        int shutdown = request && is_shutdown_request(f, (size_t)n);
        if (l->appliance < 0)
            l->appliance = unix_connect(relay_socket_path);
        if (l->appliance >= 0 && write_all(l->appliance, f, (size_t)n) < 0)
            appliance_gone(l);
        if (l->appliance < 0) {
            if (shutdown) { /* nothing to shut down on the appliance's side: the relay is all that is left */
                answer_status(l->client, stream, 0, NULL);
                buffer_consume(&l->from_client, (size_t)n);
                return 1;
            }
            if (request)
                answer_status(l->client, stream, CODE_UNAVAILABLE,
                              "the Zonekeeper appliance is not running; it keeps the zone, retry when it is back");
        } else if (request) {
            if (pending_add(l, stream) < 0)
                return -1;
            if (shutdown)
                l->shutdown_stream = stream;
        }
        buffer_consume(&l->from_client, (size_t)n);
    }
    return n < 0 ? -1 : 0;
}

/* The appliance's frames to containerd. Returns 1 when the answer to containerd's Shutdown went through. */
static int relay_from_appliance(struct relay_link *l) {
    long n;
    while ((n = complete_frame(&l->from_appliance)) > 0) {
        uint8_t *f = l->from_appliance.data;
        uint32_t stream = frame_stream(f);
        if (f[8] == TTRPC_TYPE_RESPONSE)
            pending_remove(l, stream);
        if (write_all(l->client, f, (size_t)n) < 0)
            return -1;
        buffer_consume(&l->from_appliance, (size_t)n);
        if (f[8] == TTRPC_TYPE_RESPONSE && l->shutdown_stream && stream == l->shutdown_stream)
            return 1;
    }
    if (n < 0)
        appliance_gone(l);
    return 0;
}

#define RELAY_LINKS 32

static void relay(int listener) {
    struct relay_link links[RELAY_LINKS];
    for (int i = 0; i < RELAY_LINKS; i++) {
        memset(&links[i], 0, sizeof(links[i]));
        links[i].client = links[i].appliance = -1;
    }
    uint8_t chunk[65536];
    for (;;) {
        struct pollfd pfd[1 + 2 * RELAY_LINKS];
        int owner[1 + 2 * RELAY_LINKS], nfd = 0, clients = 0;
        pfd[nfd].fd = listener;
        pfd[nfd].events = POLLIN;
        owner[nfd++] = -1;
        for (int i = 0; i < RELAY_LINKS; i++) {
            if (links[i].client < 0)
                continue;
            clients++;
            pfd[nfd].fd = links[i].client;
            pfd[nfd].events = POLLIN;
            owner[nfd++] = i;
            if (links[i].appliance >= 0) {
                pfd[nfd].fd = links[i].appliance;
                pfd[nfd].events = POLLIN;
                owner[nfd++] = i;
            }
        }
        int ready = poll(pfd, (nfds_t)nfd, 10000);
        if (ready < 0 && errno != EINTR)
            _exit(1);
        if (ready <= 0) {
            /* Quiet: end once containerd has dropped the task's bundle and holds no connection. */
            struct stat st;
            if (clients == 0 && stat(relay_bundle, &st) < 0 && errno == ENOENT)
                relay_end();
            continue;
        }
        for (int k = 0; k < nfd; k++) {
            if (!pfd[k].revents)
                continue;
            if (owner[k] < 0) {
                int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                    continue;
                int i = 0;
                while (i < RELAY_LINKS && links[i].client >= 0)
                    i++;
                if (i == RELAY_LINKS) {
                    close(c);
                    continue;
                }
                links[i].client = c;
                links[i].appliance = unix_connect(relay_socket_path);
                continue;
            }
            struct relay_link *l = &links[owner[k]];
            if (l->client < 0)
                continue; /* closed earlier in this round */
            int from_client = pfd[k].fd == l->client;
            if (!from_client && pfd[k].fd != l->appliance)
                continue;
            ssize_t got = read(pfd[k].fd, chunk, sizeof(chunk));
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (from_client) {
                int r = got > 0 && buffer_append(&l->from_client, chunk, (size_t)got) == 0 ? relay_from_client(l) : -1;
                if (r == 1)
                    relay_end();
                if (r < 0)
                    link_close(l);
            } else if (got <= 0 || buffer_append(&l->from_appliance, chunk, (size_t)got) < 0) {
                appliance_gone(l);
            } else {
                int r = relay_from_appliance(l);
                if (r == 1)
                    relay_end();
                if (r < 0)
                    link_close(l);
            }
        }
    }
}

/* FNV-1a: a short, stable name for the relay's socket from the container's namespace and id. */
static uint64_t name_hash(const char *ns, const char *id) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = ns ? ns : ""; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h;
}

/* Binds the container's relay socket and leaves a relay process on it, detached from containerd (its stdio is
 * not the pipe containerd reads `start`'s answer from). */
static void start_relay(const char *state, const char *socket_path, const struct options *o, char *relay_path,
                        size_t size) {
    if ((size_t)snprintf(relay_path, size, "%s/run/shim-%016llx.sock", state,
                         (unsigned long long)name_hash(o->namespace, o->id)) >= size)
        fail("state directory path too long: %s", state);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(relay_path) >= sizeof(sa.sun_path))
        fail("the socket path %s is longer than a Unix socket allows; use a shorter state directory", relay_path);
    if (answers(relay_path))
        return; /* containerd asked again for the same container: its relay is there */
    unlink(relay_path);
    strcpy(sa.sun_path, relay_path);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Owner only from the start: the relay speaks to the appliance as containerd's user, so whoever could connect
     * to it could drive zones through it (the appliance's own socket is 0600 and checks SO_PEERCRED). */
    mode_t old_umask = umask(077);
    int bound = listener >= 0 && bind(listener, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    umask(old_umask);
    if (!bound || listen(listener, 16) < 0)
        fail("cannot listen on %s: %s", relay_path, strerror(errno));
    if (!getcwd(relay_bundle, sizeof(relay_bundle)))
        fail("cannot read the bundle's path: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        fail("cannot fork the relay: %s", strerror(errno));
    if (pid == 0) {
        setsid();
        int devnull = open("/dev/null", O_RDWR);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
            _exit(127);
        for (int fd = 3; fd < 1024; fd++)
            if (fd != listener)
                close(fd);
        if (chdir("/") < 0)
            _exit(127);
        prctl(PR_SET_NAME, "zk-shim-relay"); /* what ps and top show for it */
        relay_socket_path = socket_path;
        snprintf(relay_listen_path, sizeof(relay_listen_path), "%s", relay_path);
        relay(listener);
    }
    close(listener);
    /* Beside the socket, for whoever has to end relays by PID (the tests); the relay removes both. */
    char pidfile[PATH_MAX + 8], pidtext[32];
    snprintf(pidfile, sizeof(pidfile), "%.*s.pid", (int)(strlen(relay_path) - 5), relay_path);
    snprintf(pidtext, sizeof(pidtext), "%d\n", (int)pid);
    write_file_atomically(pidfile, pidtext);
}

int main(int argc, char **argv) {
    struct options o = {0};
    signal(SIGPIPE, SIG_IGN);
    parse_options(argc, argv, &o);
    char home[PATH_MAX], state[PATH_MAX];
    distribution_home(home, sizeof(home));
    state_dir(home, state, sizeof(state));
    if (strcmp(o.action, "start") == 0)
        return do_start(&o, home, state);
    if (strcmp(o.action, "delete") == 0)
        return do_delete(&o, state);
    fail("unknown action %s; the actions are start and delete", o.action);
}
