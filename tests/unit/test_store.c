/*
 * test_store.c: staging, atomic promotion, the current and candidate links
 * and pruning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "model.h"
#include "store.h"
#include "test.h"

static int stage_version(const char *dir, const char *version, int july_day)
{
    struct store_stage st;
    struct fr_error err = {{0}};
    char path[PATH_MAX], json[128];

    if (store_stage_begin(dir, version, &st, &err) != 0)
        return -1;
    snprintf(json, sizeof json, "{\"training\": {\"last_day\": "
             "\"2026-07-%02d\"}}", july_day);
    if (store_stage_file(&st, "metadata.json", path, sizeof path, &err) ||
        file_write_atomic(path, json, strlen(json), &err) ||
        store_stage_name(&st, time(NULL), &err) ||
        store_stage_commit(&st, &err)) {
        store_stage_abort(&st);
        return -1;
    }
    return 0;
}

/* Two trainers finishing in the same second: each names its version under
 * the lock just before committing, so the second gets -2, never a clash. */
static void test_naming(void)
{
    char dir[512], path[PATH_MAX], staging[PATH_MAX];
    struct store_stage a, b, c;
    struct fr_error err = {{0}};
    const time_t now = 1795807200; /* 2026-11-27T19:20:00Z */
    struct stat sb;

    snprintf(dir, sizeof dir, "%s/naming", test_temp_dir());
    mkdir(dir, 0755);
    test_cond("store-5.1 two unnamed stages at once get their own directories",
              store_stage_begin(dir, NULL, &a, &err) == 0 &&
                  store_stage_begin(dir, NULL, &b, &err) == 0 &&
                  strcmp(a.staging, b.staging) != 0 && a.version[0] == '\0' &&
                  stat(a.staging, &sb) == 0 && (sb.st_mode & 0777) == 0755);
    test_cond("store-5.2 the first to commit gets the UTC time's name",
              store_stage_name(&a, now, &err) == 0 &&
                  strcmp(a.version, "20261127T192000Z") == 0 &&
                  store_stage_commit(&a, &err) == 0);
    test_cond("store-5.3 the second in the same second gets -2",
              store_stage_name(&b, now, &err) == 0 &&
                  strcmp(b.version, "20261127T192000Z-2") == 0 &&
                  store_stage_commit(&b, &err) == 0);
    snprintf(path, sizeof path, "%s/versions/20261127T192000Z-2", dir);
    test_cond("store-5.4 both versions exist", stat(path, &sb) == 0);

    test_cond("store-5.5 a chosen name taken while staging is refused at "
              "naming",
              store_stage_begin(dir, "mine", &c, &err) == 0 &&
                  stage_version(dir, "mine", 1) == 0 &&
                  store_stage_name(&c, now, &err) != 0 &&
                  strstr(err.msg, "version 'mine' already exists"));
    snprintf(staging, sizeof staging, "%s", c.staging);
    store_stage_abort(&c);
    test_cond("store-5.6 and its staging directory can be removed",
              stat(staging, &sb) != 0);

    /* A writer that does not take the lock creates the name between
     * naming and commit: rename(2) would replace an empty directory. */
    snprintf(path, sizeof path, "%s/versions/late", dir);
    test_cond("store-5.7 commit refuses a name that appeared after naming",
              store_stage_begin(dir, "late", &c, &err) == 0 &&
                  store_stage_name(&c, now, &err) == 0 &&
                  mkdir(path, 0755) == 0 &&
                  store_stage_commit(&c, &err) != 0 &&
                  strstr(err.msg, "'late' already exists") &&
                  stat(c.staging, &sb) == 0);
    store_stage_abort(&c);
}

/* The space check with made-up file systems: a 1 GiB volume of which
 * 100 MiB are free. */
static void test_space(void)
{
    const unsigned long long MiB = 1024 * 1024;
    struct store_space sp = {100 * MiB, 1024 * MiB};
    struct fr_error err = {{0}};
    int crowded = -1;

    test_cond("store-6.1 a version that fits passes, not crowded",
              store_space_check(&sp, 50 * MiB, 5, &crowded, &err) == 0 &&
                  crowded == 0);
    test_cond("store-6.2 a version bigger than the free space is refused",
              store_space_check(&sp, 100 * MiB + 1, 1, &crowded, &err) != 0 &&
                  strstr(err.msg, "not enough space: the new version needs "
                                  "104857601 bytes, 104857600 are free"));
    test_cond("store-6.3 exactly the free space fits",
              store_space_check(&sp, 100 * MiB, 1, &crowded, &err) == 0);
    /* 450 MB x 5 on 1 GiB: each fits once, KEEP_VERSIONS of them never. */
    sp.free_bytes = 900 * MiB;
    test_cond("store-6.4 keep x size beyond the volume is crowded, still "
              "allowed",
              store_space_check(&sp, 450 * MiB, 5, &crowded, &err) == 0 &&
                  crowded == 1);
    test_cond("store-6.5 keep x size exactly the volume is not crowded",
              store_space_check(&sp, 256 * MiB, 4, &crowded, &err) == 0 &&
                  crowded == 0);
    sp.free_bytes = sp.total_bytes = ~0ull;
    test_cond("store-6.6 huge sizes do not overflow",
              store_space_check(&sp, ~0ull / 2, 10000, &crowded, &err) == 0 &&
                  crowded == 1);
    test_cond("store-6.7 the space of a real directory can be read",
              store_space_read(test_temp_dir(), &sp, &err) == 0 &&
                  sp.total_bytes > 0 && sp.free_bytes <= sp.total_bytes);
}

/* The candidate pointer: set, read, cleared beside current, and kept by
 * pruning however old its version. */
static void test_candidate(void)
{
    char dir[512], version[STORE_VERSION_MAX + 1], path[PATH_MAX];
    char target[256];
    struct fr_error err = {{0}};
    struct stat sb;
    ssize_t n;

    snprintf(dir, sizeof dir, "%s/candidate", test_temp_dir());
    mkdir(dir, 0755);
    for (int i = 1; i <= 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        stage_version(dir, name, 1);
        usleep(2000); /* distinct modification times: c1 the oldest */
    }
    test_cond("store-7.1 no candidate at first",
              store_pointer(dir, STORE_CANDIDATE, version, &err) == 0);
    test_cond("store-7.2 clearing an absent candidate answers 0",
              store_pointer_clear(dir, STORE_CANDIDATE, &err) == 0);
    test_cond("store-7.3 the candidate is set beside current",
              store_promote(dir, "c6", &err) == 0 &&
                  store_pointer_set(dir, STORE_CANDIDATE, "c1", &err) == 0 &&
                  store_pointer(dir, STORE_CANDIDATE, version, &err) == 1 &&
                  strcmp(version, "c1") == 0 &&
                  store_current(dir, version, &err) == 1 &&
                  strcmp(version, "c6") == 0);
    snprintf(path, sizeof path, "%s/candidate", dir);
    n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    test_cond("store-7.4 the candidate is a relative link like current",
              strcmp(target, "versions/c1") == 0);
    test_cond("store-7.5 KEEP_VERSIONS 1 keeps current and the candidate "
              "(the oldest)",
              store_prune(dir, 1, NULL, 0, &err) == 4);
    snprintf(path, sizeof path, "%s/versions/c1", dir);
    test_cond("store-7.6 the candidate's version is still there",
              stat(path, &sb) == 0);
    snprintf(path, sizeof path, "%s/versions/c6", dir);
    test_cond("store-7.7 so is current's", stat(path, &sb) == 0);
    test_cond("store-7.8 clear removes the candidate, answers 1, keeps "
              "current and the version",
              store_pointer_clear(dir, STORE_CANDIDATE, &err) == 1 &&
                  store_pointer(dir, STORE_CANDIDATE, version, &err) == 0 &&
                  store_current(dir, version, &err) == 1 &&
                  strcmp(version, "c6") == 0 &&
                  stat(path, &sb) == 0);
    test_cond("store-7.9 once cleared, prune may delete the old candidate",
              store_prune(dir, 1, NULL, 0, &err) == 1);
    snprintf(path, sizeof path, "%s/candidate", dir);
    symlink("/etc", path);
    test_cond("store-7.10 a candidate outside versions/ is an error, and "
              "clear leaves it",
              store_pointer(dir, STORE_CANDIDATE, version, &err) < 0 &&
                  strstr(err.msg, "candidate' points at '/etc'") &&
                  store_pointer_clear(dir, STORE_CANDIDATE, &err) < 0 &&
                  lstat(path, &sb) == 0);
    test_cond("store-7.11 prune refuses to guess with a broken candidate",
              store_prune(dir, 1, NULL, 0, &err) < 0);
    unlink(path);
    test_cond("store-7.12 only current and candidate are pointers",
              store_pointer_valid("current") &&
                  store_pointer_valid("candidate") &&
                  !store_pointer_valid("versions") &&
                  !store_pointer_valid("../current") &&
                  !store_pointer_valid(NULL));
}

void test_store(void)
{
    char dir[512], version[STORE_VERSION_MAX + 1], path[PATH_MAX];
    struct fr_error err = {{0}};
    struct store_stage st;
    int32_t day = 0;
    struct stat sb;

    snprintf(dir, sizeof dir, "%s/store", test_temp_dir());
    mkdir(dir, 0755);
    test_cond("store-1.1 no current version at first",
              store_current(dir, version, &err) == 0);
    test_cond("store-1.2 a staged version appears only when committed",
              store_stage_begin(dir, "v1", &st, &err) == 0 &&
                  snprintf(path, sizeof path, "%s/versions/v1", dir) > 0 &&
                  stat(path, &sb) != 0 &&
                  store_stage_name(&st, time(NULL), &err) == 0 &&
                  stat(path, &sb) != 0 && store_stage_commit(&st, &err) == 0 &&
                  stat(path, &sb) == 0);
    test_cond("store-1.3 an existing version name is refused when naming",
              store_stage_begin(dir, "v1", &st, &err) == 0 &&
                  store_stage_name(&st, time(NULL), &err) != 0 &&
                  strstr(err.msg, "version 'v1' already exists"));
    store_stage_abort(&st);
    test_cond("store-1.4 bad version names are refused",
              !store_version_valid("../x") && !store_version_valid(".hidden") &&
                  !store_version_valid("") && !store_version_valid("a/b") &&
                  store_version_valid("20261127T213000Z-2"));
    test_cond("store-1.5 promote points current at the version",
              store_promote(dir, "v1", &err) == 0 &&
                  store_current(dir, version, &err) == 1 &&
                  strcmp(version, "v1") == 0);
    snprintf(path, sizeof path, "%s/current", dir);
    {
        char target[256];
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        test_cond("store-1.6 the link is relative", strcmp(target,
                                                          "versions/v1") == 0);
    }
    {
        char staging[sizeof st.staging];
        int began = store_stage_begin(dir, "abandoned", &st, &err) == 0;
        int existed;

        snprintf(staging, sizeof staging, "%s", st.staging);
        existed = began && staging[0] != '\0' && stat(staging, &sb) == 0;
        store_stage_abort(&st);
        snprintf(path, sizeof path, "%s/versions/abandoned", dir);
        test_cond("store-1.7 an aborted stage leaves no version",
                  existed && stat(path, &sb) != 0 && stat(staging, &sb) != 0);
    }

    test_cond("store-2.1 training.last_day is read from metadata.json",
              stage_version(dir, "v2", 5) == 0 &&
                  store_version_last_day(dir, "v2", &day, &err) == 0 &&
                  day == 20639 /* 2026-07-05 */);
    test_cond("store-2.2 a version without metadata.json is an error",
              store_version_last_day(dir, "v1", &day, &err) == -1);
    {
        char p2[PATH_MAX + 32];
        snprintf(p2, sizeof p2, "%s/versions/v2/metadata.json", dir);
        file_write_atomic(p2, "{\"metrics\": {}}", 15, &err);
        test_cond("store-2.3 metadata without training.last_day (an older "
                  "release) answers 1",
                  store_version_last_day(dir, "v2", &day, &err) == 1);
        file_write_atomic(p2, "{\"training\": {\"last_day\": 7}}", 29, &err);
        test_cond("store-2.4 a last_day that is not a date is an error",
                  store_version_last_day(dir, "v2", &day, &err) == -1 &&
                      strstr(err.msg, "not a date"));
    }

    /* Six more versions, eight in all; current stays v1 (the oldest).
     * Keeping 3 deletes the 5 oldest others: v2 to v6. */
    for (int i = 3; i <= 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        stage_version(dir, name, 1);
        usleep(2000); /* distinct modification times */
    }
    test_cond("store-3.1 prune deletes the oldest beyond KEEP_VERSIONS",
              store_prune(dir, 3, NULL, 0, &err) == 5);
    snprintf(path, sizeof path, "%s/versions/v1", dir);
    test_cond("store-3.2 the current version is never pruned",
              stat(path, &sb) == 0);
    snprintf(path, sizeof path, "%s/versions/v8", dir);
    test_cond("store-3.3 the newest versions stay", stat(path, &sb) == 0);
    snprintf(path, sizeof path, "%s/versions/v2", dir);
    test_cond("store-3.4 older ones are gone", stat(path, &sb) != 0);

    /* v1 (current), v7, v8 and a just-written v9: keeping 1 with v9 spared
     * deletes v7 and v8 only, though that leaves two. */
    stage_version(dir, "v9", 9);
    test_cond("store-3.5 prune spares the version just written and current",
              store_prune(dir, 1, "v9", 0, &err) == 2);
    snprintf(path, sizeof path, "%s/versions/v9", dir);
    test_cond("store-3.6 the spared version is still there",
              stat(path, &sb) == 0);
    snprintf(path, sizeof path, "%s/versions/v1", dir);
    test_cond("store-3.7 so is current", stat(path, &sb) == 0);

    snprintf(path, sizeof path, "%s/current", dir);
    unlink(path);
    symlink("/etc", path);
    test_cond("store-4.1 a current link outside versions/ is an error",
              store_current(dir, version, &err) < 0 &&
                  strstr(err.msg, "not at versions/"));
    test_cond("store-4.2 a missing MODEL_DIR is named",
              store_stage_begin("/nonexistent/models", NULL, &st, &err) != 0 &&
                  strstr(err.msg, "'/nonexistent/models' is not a directory"));
    test_naming();
    test_space();
    test_candidate();
}
