/*
 * zonekeeper-client: bin/zonekeeper -c without a JVM. Runs a command line on the appliance that listens on the
 * state directory's control socket (<state>/run/control.sock), speaking the control protocol that
 * bundles/control-socket/README.md documents (protocol 1, and protocol 2 for command lines with a zone:exec
 * statement: stdin, byte-exact output, signals). A JVM costs about 200 ms before its first byte; this costs ~1 ms.
 *
 * bin/zonekeeper calls it as
 *     zonekeeper-client DEFAULT_STATE N ARG1 .. ARGN [FALLBACK ...]
 * where ARG1..ARGN are bin/zonekeeper's own arguments and FALLBACK the JVM launcher's command line without them.
 * Whatever this client does not handle itself goes to FALLBACK ARG1 .. ARGN, by execvp: arguments other than
 * [--state DIR] -c COMMANDS (help, --no-shell, a wrong argument: the JVM launcher explains), and a state directory
 * where no appliance answers (the JVM launcher then starts a one-shot appliance for the commands, as before).
 *
 * Exit status: the command's (its {"exit":N} frame); 1 when the appliance breaks off or answers outside the
 * protocol (the message on stderr says which); 2 when the arguments to this program itself are wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* The request line and each frame stay within the appliance's own limit of 64 KiB a line; answers may be longer
 * (an "out" frame holds what one write produced), so the reading buffer grows, up to this. */
#define MAX_FRAME (16 * 1024 * 1024)
/* stdin goes in pieces of this size; base64 makes 4/3 of it, well under the 64 KiB input line limit. */
#define STDIN_CHUNK 32768

static const char *socket_name = "";

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("zonekeeper: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *grow(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        die("out of memory (%zu bytes)", n);
    }
    return q;
}

/* ---- a growing byte buffer ---- */
struct bytes {
    char *data;
    size_t len, cap;
};

static void put(struct bytes *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) {
            cap *= 2;
        }
        b->data = grow(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

static void puts_b(struct bytes *b, const char *s) { put(b, s, strlen(s)); }

static void drop(struct bytes *b, size_t n) {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* ---- JSON: the request's string, and the flat answer frames ---- */

/* Appends s as a JSON string; UTF-8 passes through, control characters become \u00XX. */
static void put_json_string(struct bytes *b, const char *s) {
    put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            put(b, esc, 6);
        } else {
            put(b, p, 1);
        }
    }
    put(b, "\"", 1);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(struct bytes *b, const unsigned char *in, size_t n) {
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        q[0] = B64[(v >> 18) & 63];
        q[1] = B64[(v >> 12) & 63];
        q[2] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? B64[v & 63] : '=';
        put(b, q, 4);
    }
}

/* Decodes base64 (with padding, as java.util.Base64 writes it) in place; returns the length, or -1. */
static long base64_decode(char *s, size_t n) {
    if (n % 4) {
        return -1;
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i + k];
            const char *at = c ? strchr(B64, c) : NULL;
            if (c == '=' && i + 4 == n && k >= 2) {
                pad++;
                v <<= 6;
            } else if (at && !pad) {
                v = (v << 6) | (uint32_t)(at - B64);
            } else {
                return -1;
            }
        }
        s[out++] = (char)(v >> 16);
        if (pad < 2) s[out++] = (char)(v >> 8);
        if (pad < 1) s[out++] = (char)v;
    }
    return (long)out;
}

static void put_utf8(struct bytes *b, uint32_t c) {
    unsigned char u[4];
    size_t n;
    if (c < 0x80) {
        u[0] = (unsigned char)c;
        n = 1;
    } else if (c < 0x800) {
        u[0] = (unsigned char)(0xc0 | c >> 6);
        u[1] = (unsigned char)(0x80 | (c & 63));
        n = 2;
    } else if (c < 0x10000) {
        u[0] = (unsigned char)(0xe0 | c >> 12);
        u[1] = (unsigned char)(0x80 | ((c >> 6) & 63));
        u[2] = (unsigned char)(0x80 | (c & 63));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | c >> 18);
        u[1] = (unsigned char)(0x80 | ((c >> 12) & 63));
        u[2] = (unsigned char)(0x80 | ((c >> 6) & 63));
        u[3] = (unsigned char)(0x80 | (c & 63));
        n = 4;
    }
    put(b, u, n);
}

static int hex4(const char *p, uint32_t *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n')) c->p++;
}

/* Reads a JSON string at c into out (UTF-8); returns 0, or -1 when it is not one. */
static int read_string(struct cursor *c, struct bytes *out) {
    out->len = 0;
    if (c->p >= c->end || *c->p != '"') return -1;
    c->p++;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"') return 0;
        if ((unsigned char)ch < 0x20) return -1;
        if (ch != '\\') {
            put(out, &ch, 1);
            continue;
        }
        if (c->p >= c->end) return -1;
        char e = *c->p++;
        uint32_t u, lo;
        switch (e) {
            case '"': case '\\': case '/': put(out, &e, 1); break;
            case 'b': put(out, "\b", 1); break;
            case 'f': put(out, "\f", 1); break;
            case 'n': put(out, "\n", 1); break;
            case 'r': put(out, "\r", 1); break;
            case 't': put(out, "\t", 1); break;
            case 'u':
                if (c->end - c->p < 4 || hex4(c->p, &u)) return -1;
                c->p += 4;
                if (u >= 0xd800 && u < 0xdc00 && c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u'
                        && !hex4(c->p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                    c->p += 6;
                } else if (u >= 0xd800 && u < 0xe000) {
                    u = 0xfffd; /* a lone surrogate, as Java prints it */
                }
                put_utf8(out, u);
                break;
            default: return -1;
        }
    }
    return -1;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("cannot write the command's output: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

static void bad_frame(const char *line, size_t n, const char *why) {
    die("the appliance on %s answered a line this client does not understand (%s; this client speaks control "
        "protocol 1 and 2): %.*s", socket_name, why, (int)(n > 400 ? 400 : n), line);
}

/* Handles one answer line: prints out/err/outb/errb; returns the exit code of an exit frame, else -1. */
static int handle_frame(const char *line, size_t n) {
    static struct bytes key, value;
    struct cursor c = {line, line + n};
    int exit_code = -1;
    skip_ws(&c);
    if (c.p >= c.end || *c.p++ != '{') bad_frame(line, n, "not a JSON object");
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') bad_frame(line, n, "an empty frame");
    for (;;) {
        skip_ws(&c);
        if (read_string(&c, &key)) bad_frame(line, n, "malformed member name");
        put(&key, "", 1);
        skip_ws(&c);
        if (c.p >= c.end || *c.p++ != ':') bad_frame(line, n, "malformed member");
        skip_ws(&c);
        if (!strcmp(key.data, "exit")) {
            char *end;
            errno = 0;
            long v = strtol(c.p, &end, 10);
            if (end == c.p || end > c.end || errno) bad_frame(line, n, "exit is not a whole number");
            c.p = end;
            exit_code = (int)(v & 0xff);
        } else if (!strcmp(key.data, "out") || !strcmp(key.data, "err") || !strcmp(key.data, "outb")
                   || !strcmp(key.data, "errb")) {
            if (read_string(&c, &value)) bad_frame(line, n, "output that is not a JSON string");
            long len = (long)value.len;
            if (key.data[3] == 'b' && (len = base64_decode(value.data, value.len)) < 0) {
                bad_frame(line, n, "binary output that is not base64");
            }
            write_all(key.data[0] == 'o' ? 1 : 2, value.data, (size_t)len);
        } else {
            bad_frame(line, n, "an unknown frame member");
        }
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        if (c.p < c.end && *c.p == '}') {
            c.p++;
            break;
        }
        bad_frame(line, n, "malformed object");
    }
    skip_ws(&c);
    if (c.p != c.end) bad_frame(line, n, "text after the object");
    return exit_code;
}

/* ---- arguments ---- */

/* Whether a command line runs zone:exec, whose program reads the caller's stdin (same rule as the JVM client's
 * ControlClient.streamsStdin: "zone:exec" at the start or after a blank or ';', followed by a blank). */
static int streams_stdin(const char *cmd) {
    for (const char *p = cmd; (p = strstr(p, "zone:exec")) != NULL; p++) {
        char before = p == cmd ? ' ' : p[-1];
        char after = p[9];
        int blank_before = before == ' ' || before == '\t' || before == '\n' || before == '\r' || before == '\f'
                           || before == '\v' || before == ';';
        int blank_after = after == ' ' || after == '\t' || after == '\n' || after == '\r' || after == '\f'
                          || after == '\v';
        if (blank_before && blank_after) return 1;
    }
    return 0;
}

static int blank(const char *s) {
    for (; *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f' && *s != '\v') return 0;
    }
    return 1;
}

/* Parses [--state DIR | --state=DIR] (-c CMD | --command CMD | --command=CMD); returns 0 when that is all the
 * arguments hold, else -1 (the JVM launcher then handles them, with its messages). */
static int parse_args(int argc, char **argv, const char **state, const char **cmd) {
    *state = NULL;
    *cmd = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot;
        const char *value;
        if (!strcmp(a, "--state") || !strncmp(a, "--state=", 8)) {
            slot = state;
            value = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
        } else if (!strcmp(a, "-c") || !strcmp(a, "--command") || !strncmp(a, "--command=", 10)) {
            slot = cmd;
            value = a[1] == '-' && a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
        } else {
            return -1;
        }
        if (*slot || !value || blank(value)) return -1;
        *slot = value;
    }
    return *cmd ? 0 : -1;
}

/* ---- the conversation ---- */

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    unsigned char s = (unsigned char)sig;
    int saved = errno;
    (void)!write(signal_pipe[1], &s, 1);
    errno = saved;
}

/* With zone:exec --tty on a terminal, the local terminal is raw: keys (Ctrl-C included) go to the zone's
 * pseudo-terminal as bytes, which echoes and interprets them; restored however this program ends. */
static struct termios saved_tty;
static int tty_raw;

static void restore_tty(void) {
    if (tty_raw) {
        tcsetattr(0, TCSADRAIN, &saved_tty);
        tty_raw = 0;
    }
}

static int wants_tty(const char *cmd) {
    const char *p = strstr(cmd, "--tty");
    return p && (p[5] == ' ' || p[5] == '\t' || p[5] == '=');
}

/* {"winsize":"ROWSxCOLS"} of the local terminal, for the request (as a member) or as a line of its own. */
static int winsize_text(char *out, size_t n) {
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return 0;
    snprintf(out, n, "%u" "x%u", (unsigned)ws.ws_row, (unsigned)ws.ws_col);
    return 1;
}

static int talk(int sock, const char *cmd) {
    int exec = streams_stdin(cmd);
    int tty = exec && isatty(0) && wants_tty(cmd);
    struct bytes pending = {0}; /* what still has to go to the appliance */
    struct bytes answer = {0};  /* what came from it and is not a whole line yet */
    puts_b(&pending, "{\"command\":");
    put_json_string(&pending, cmd);
    /* Protocol 2 only for zone:exec, so that no other command takes the caller's stdin. */
    char size[32];
    if (tty && winsize_text(size, sizeof size)) {
        puts_b(&pending, ",\"winsize\":\"");
        puts_b(&pending, size);
        puts_b(&pending, "\"");
    }
    puts_b(&pending, exec ? ",\"stdin\":true,\"binary\":true}\n" : "}\n");

    int stdin_open = 0;
    if (exec) {
        stdin_open = 1;
        if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK)) die("cannot make a pipe: %s", strerror(errno));
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGINT, &sa, NULL);  /* SIGINT and SIGTERM go to the running program, whose exit ends us */
        sigaction(SIGTERM, &sa, NULL);
        if (tty) {
            sigaction(SIGWINCH, &sa, NULL); /* a new window size goes as a winsize line */
            if (tcgetattr(0, &saved_tty) == 0) {
                struct termios raw = saved_tty;
                cfmakeraw(&raw);
                if (tcsetattr(0, TCSADRAIN, &raw) == 0) {
                    tty_raw = 1;
                    atexit(restore_tty);
                }
            }
        }
    }
    int sock_open_for_writing = 1;
    static char buf[65536];
    for (;;) {
        struct pollfd fds[3];
        int nfds = 0;
        fds[nfds++] = (struct pollfd){sock, POLLIN | (pending.len && sock_open_for_writing ? POLLOUT : 0), 0};
        /* stdin is read only when what it gave is sent, so a command that reads slowly holds the client back
         * instead of filling its memory, and answers are still read meanwhile. */
        int stdin_at = -1, sig_at = -1;
        if (stdin_open && !pending.len) {
            stdin_at = nfds;
            fds[nfds++] = (struct pollfd){0, POLLIN, 0};
        }
        if (exec) {
            sig_at = nfds;
            fds[nfds++] = (struct pollfd){signal_pipe[0], POLLIN, 0};
        }
        if (poll(fds, (nfds_t)nfds, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll: %s", strerror(errno));
        }
        if (sig_at >= 0 && fds[sig_at].revents) {
            unsigned char s;
            while (read(signal_pipe[0], &s, 1) == 1) {
                char line[64];
                if (s == SIGWINCH) {
                    char now[32];
                    if (!winsize_text(now, sizeof now)) continue;
                    snprintf(line, sizeof line, "{\"winsize\":\"%s\"}\n", now);
                } else {
                    snprintf(line, sizeof line, "{\"signal\":%d}\n", s);
                }
                puts_b(&pending, line);
            }
        }
        if (stdin_at >= 0 && fds[stdin_at].revents) {
            ssize_t r = read(0, buf, STDIN_CHUNK);
            if (r < 0 && errno == EINTR) continue;
            if (r > 0) {
                puts_b(&pending, "{\"in\":\"");
                put_base64(&pending, (unsigned char *)buf, (size_t)r);
                puts_b(&pending, "\"}\n");
            } else {
                /* end of stdin, or stdin that cannot be read (closed): the program sees its end either way */
                puts_b(&pending, "{\"eof\":true}\n");
                stdin_open = 0;
            }
        }
        if (fds[0].revents & POLLOUT && pending.len) {
            ssize_t w = send(sock, pending.data, pending.len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                drop(&pending, (size_t)w);
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                /* The appliance closed its reading side (a refusal, or the command ended): what it says
                 * comes on the reading side, which tells more than a broken pipe. */
                sock_open_for_writing = 0;
                pending.len = 0;
                stdin_open = 0;
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(sock, buf, sizeof buf, MSG_DONTWAIT);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                die("cannot talk to the appliance on %s: %s", socket_name, strerror(errno));
            }
            if (r == 0) {
                die("the appliance on %s closed the connection before the command finished (did it stop?)",
                    socket_name);
            }
            put(&answer, buf, (size_t)r);
            size_t start = 0;
            char *nl;
            while ((nl = memchr(answer.data + start, '\n', answer.len - start)) != NULL) {
                size_t n = (size_t)(nl - (answer.data + start));
                int code = handle_frame(answer.data + start, n);
                if (code >= 0) return code;
                start += n + 1;
            }
            drop(&answer, start);
            if (answer.len > MAX_FRAME) bad_frame(answer.data, answer.len, "a line over 16 MiB");
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("usage: zonekeeper-client DEFAULT_STATE N ARG1..ARGN [FALLBACK-COMMAND ...]\n"
              "(bin/zonekeeper runs it; run bin/zonekeeper -c COMMANDS instead)\n", stderr);
        return 2;
    }
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*end || end == argv[2] || n < 0 || n > argc - 3) {
        fprintf(stderr, "zonekeeper-client: N must count the arguments that follow it, got %s\n", argv[2]);
        return 2;
    }
    /* A caller that closed stdin, stdout or stderr must not have the socket take that number. */
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd) {
            return 1;
        }
    }
    char **args = argv + 3;
    char **fallback = argv + 3 + n;
    int fallback_len = argc - 3 - (int)n;

    const char *state, *cmd;
    int sock = -1;
    static char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    if (parse_args((int)n, args, &state, &cmd) == 0) {
        if (!state) {
            const char *env = getenv("ZONEKEEPER_STATE");
            state = env && !blank(env) ? env : argv[1];
        }
        int len = snprintf(path, sizeof path, "%s/run/control.sock", state);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (len > 0 && (size_t)len < sizeof addr.sun_path) {
            memcpy(addr.sun_path, path, (size_t)len + 1);
            sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
                close(sock);
                sock = -1;
            }
        }
    }
    if (sock < 0) {
        if (fallback_len == 0) {
            fprintf(stderr, "zonekeeper: no appliance answers on %s\n", path[0] ? path : "its control socket");
            return 1;
        }
        char **jvm = grow(NULL, sizeof(char *) * (size_t)(fallback_len + n + 1));
        memcpy(jvm, fallback, sizeof(char *) * (size_t)fallback_len);
        memcpy(jvm + fallback_len, args, sizeof(char *) * (size_t)n);
        jvm[fallback_len + n] = NULL;
        execvp(jvm[0], jvm); /* a path, or "java" from PATH when JAVA_HOME is not set */
        fprintf(stderr, "zonekeeper: cannot run %s: %s\n", fallback[0], strerror(errno));
        return 1;
    }
    socket_name = path;
    return talk(sock, cmd);
}
