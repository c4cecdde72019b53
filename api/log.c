/*
 * log.c: JSON lines on stdout (see log.h).
 *
 * stdout rather than stderr because that is where container runtimes and
 * log collectors look first; the lines are small (well under PIPE_BUF), so
 * one write(2) per line keeps them whole even when threads log together.
 */
#include "log.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

int log_parse_level(const char *name, enum log_level *level)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcmp(name, LEVEL_NAMES[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_enabled(enum log_level level)
{
    return level >= min_level;
}

void log_begin(struct log_line *l, enum log_level level, const char *event)
{
    struct timespec now;
    struct tm tm;
    char ts[40];

    buf_init(&l->text);
    l->on = log_enabled(level);
    if (!l->on)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_printf(&l->text, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":",
               ts, now.tv_nsec / 1000000, LEVEL_NAMES[level]);
    buf_json_string(&l->text, event);
}

static void key(struct log_line *l, const char *name)
{
    buf_add(&l->text, ",\"", 2);
    buf_puts(&l->text, name);
    buf_add(&l->text, "\":", 2);
}

void log_str(struct log_line *l, const char *name, const char *value)
{
    if (!l->on)
        return;
    key(l, name);
    if (value == NULL)
        buf_puts(&l->text, "null");
    else
        buf_json_string(&l->text, value);
}

void log_num(struct log_line *l, const char *name, double value)
{
    if (!l->on)
        return;
    key(l, name);
    buf_json_double(&l->text, value);
}

void log_int(struct log_line *l, const char *name, long long value)
{
    if (!l->on)
        return;
    key(l, name);
    buf_printf(&l->text, "%lld", value);
}

void log_bool(struct log_line *l, const char *name, int value)
{
    if (!l->on)
        return;
    key(l, name);
    buf_puts(&l->text, value ? "true" : "false");
}

void log_end(struct log_line *l)
{
    size_t off = 0;

    if (l->on) {
        buf_add(&l->text, "}\n", 2);
        while (!l->text.failed && off < l->text.len) {
            ssize_t n = write(STDOUT_FILENO, l->text.data + off,
                              l->text.len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    buf_release(&l->text);
}

void log_msg(enum log_level level, const char *event, const char *msg)
{
    struct log_line l;

    log_begin(&l, level, event);
    log_str(&l, "msg", msg);
    log_end(&l);
}
