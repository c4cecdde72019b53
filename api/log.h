/*
 * log.h: the server's log, one JSON object per line on stdout.
 *
 *   {"ts":"2026-11-27T21:57:28.123Z","level":"info","event":"model_loaded",
 *    "version":"v1","checksum":"crc32:749c94f8"}
 *
 * A line is built in memory and written with a single write(2), so lines
 * from different threads never interleave and no lock is needed. Lines
 * below the configured level cost one comparison.
 */
#ifndef FS_LOG_H
#define FS_LOG_H

#include "buf.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Parses "debug", "info", "warn" or "error". Returns 0, or -1 when the
 * name is none of them. */
int log_parse_level(const char *name, enum log_level *level);

/* Sets the lowest level written (default LOG_INFO). Call before threads
 * start. */
void log_set_level(enum log_level level);

/* 1 when lines of this level are written. */
int log_enabled(enum log_level level);

struct log_line {
    struct buf text; /* the object so far, without the closing brace */
    int on;          /* 0 when the level is filtered out: calls do nothing */
};

/* Starts a line with the time, level and event name. */
void log_begin(struct log_line *l, enum log_level level, const char *event);

/* Adds "key": value. Keys are written as given (they are literals). */
void log_str(struct log_line *l, const char *key, const char *value);
void log_num(struct log_line *l, const char *key, double value);
void log_int(struct log_line *l, const char *key, long long value);
void log_bool(struct log_line *l, const char *key, int value);

/* Writes the line to stdout and frees it. Never fails visibly: a line that
 * cannot be built or written is dropped. */
void log_end(struct log_line *l);

/* One-call form for a line with a message: {"event":..,"msg":..}. */
void log_msg(enum log_level level, const char *event, const char *msg);

#endif
