/*
 * chost: load a fluent-bit Go output plugin (.so) and drive it the way fluent-bit's Go proxy
 * does (src/flb_plugin_proxy.c and src/proxy/go/go.c, fluent-bit < 4.2.3 ABI, matching
 * fluent-bit-go a7a013e). Used by the plugin's ABI test; there are no Go files in this
 * directory on purpose (cgo would compile this file into a Go package).
 *
 *   chost PLUGIN.so SCRIPT [ARG...]
 *
 * ARGs are ignored by chost; they are there for the plugin, which reads its process's command
 * line as fluent-bit's (e.g. "-c fluent-bit.conf") to check the keys of its sections.
 *
 * SCRIPT lines (blank lines and # comments ignored; a double-quoted part of a word keeps its
 * blanks, e.g. Exclude="exe=/usr/bin/true key=net"):
 *   instance NAME [expect=OK|ERROR] key=value ...   FLBPluginInit with these properties
 *   flush NAME CHUNKFILE [tag=TAG] [expect=OK|RETRY|ERROR]
 *   flushpar NAME N CHUNKFILE [expect=...]          N concurrent flushes of CHUNKFILE (Workers N)
 *   sleep MS
 *   exit NAME [expect=OK|ERROR]                     FLBPluginExitCtx
 * At the end every instance not yet exited is exited, then FLBPluginUnregister is called.
 * Every call's return code is printed; the exit status is 1 when any expectation failed,
 * 2 on a usage, load or ABI error.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FLB_ERROR 0
#define FLB_OK 1
#define FLB_RETRY 2
#define FLB_PROXY_OUTPUT_PLUGIN 2
#define FLB_PROXY_GOLANG 11

/* include/fluent-bit/flb_plugin_proxy.h before 4.2.3 (4.2.3 appends int event_type, 5.1.1
 * a config_map pointer). */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
};

/* Registration struct followed by guard bytes: a plugin built for a newer ABI would write
 * event_type/config_map past the old struct, which fluent-bit < 4.2.3 allocates exactly. */
#define GUARD_BYTES 64
struct guarded_def {
    struct flb_plugin_proxy_def def;
    unsigned char guard[GUARD_BYTES];
};

struct flb_plugin_proxy_context {
    void *remote_context;
    void *proxy;
};

/* The head of fluent-bit's struct flb_api: fluent-bit-go only calls output_get_property. */
struct flb_api {
    char *(*output_get_property)(char *, void *);
    char *(*input_get_property)(char *, void *);
};

/* src/proxy/go/go.h */
struct flbgo_output_plugin {
    char *name;
    void *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;
    int (*cb_init)(struct flbgo_output_plugin *);
    int (*cb_flush)(const void *, size_t, const char *);
    int (*cb_flush_ctx)(void *, const void *, size_t, char *);
    int (*cb_exit)(void);
    int (*cb_exit_ctx)(void *);
};

#define MAX_PROPS 64
#define MAX_INSTANCES 16

/* Our stand-in for struct flb_output_instance: its name and property list. */
struct instance {
    char name[128];
    int nprops;
    char *keys[MAX_PROPS];
    char *vals[MAX_PROPS];
    struct flb_plugin_proxy_context *ctx;
    int exited;
};

static struct instance instances[MAX_INSTANCES];
static int ninstances;
static int failures;

/* Keys fluent-bit consumes itself and never shows a plugin. */
static const char *reserved[] = {"name", "alias", "match", "match_regex", "host", "port", "retry_limit",
                                 "workers", "log_level", "tls", NULL};

static char *get_property(char *key, void *o_ins)
{
    struct instance *in = o_ins;
    int i;
    for (i = 0; reserved[i]; i++) {
        if (strcasecmp(key, reserved[i]) == 0) {
            return NULL;
        }
    }
    for (i = 0; i < in->nprops; i++) {
        if (strcasecmp(in->keys[i], key) == 0) {
            return in->vals[i];
        }
    }
    return NULL; /* flb_output_get_property returns NULL for an unset key */
}

static struct flb_api api = {get_property, NULL};

static const char *code_name(int rc)
{
    switch (rc) {
    case FLB_OK:
        return "OK";
    case FLB_RETRY:
        return "RETRY";
    case FLB_ERROR:
        return "ERROR";
    }
    return "INVALID";
}

static int parse_expect(const char *tok)
{
    const char *v = tok + strlen("expect=");
    if (strcmp(v, "OK") == 0) return FLB_OK;
    if (strcmp(v, "RETRY") == 0) return FLB_RETRY;
    if (strcmp(v, "ERROR") == 0) return FLB_ERROR;
    fprintf(stderr, "chost: bad %s (want expect=OK|RETRY|ERROR)\n", tok);
    exit(2);
}

static void check(const char *what, int rc, int expect)
{
    if (expect < 0) {
        printf("%s rc=%d (%s)\n", what, rc, code_name(rc));
    } else if (rc == expect) {
        printf("%s rc=%d (%s) expect=%s ok\n", what, rc, code_name(rc), code_name(expect));
    } else {
        printf("%s rc=%d (%s) expect=%s FAILED\n", what, rc, code_name(rc), code_name(expect));
        failures++;
    }
    fflush(stdout);
}

static struct instance *find(const char *name)
{
    int i;
    for (i = 0; i < ninstances; i++) {
        if (strcmp(instances[i].name, name) == 0) {
            return &instances[i];
        }
    }
    fprintf(stderr, "chost: unknown instance %s\n", name);
    exit(2);
}

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) {
        fprintf(stderr, "chost: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "chost: reading %s failed\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static struct flbgo_output_plugin plugin; /* proxy->data: one per .so, shared by instances */

/* fluent-bit copies the chunk and tag into buffers it frees after the callback returns;
 * doing the same here (and scribbling over them) catches a plugin that keeps pointers. */
static int flush_once(struct instance *in, const void *chunk, size_t len, const char *tag)
{
    void *data = malloc(len ? len : 1);
    char *t = strdup(tag);
    int rc;
    memcpy(data, chunk, len);
    rc = plugin.cb_flush_ctx(in->ctx->remote_context, data, len, t);
    memset(data, 0xc1, len); /* 0xc1 is msgpack's never-used code */
    memset(t, 'X', strlen(t));
    free(data);
    free(t);
    return rc;
}

struct par_arg {
    struct instance *in;
    const void *chunk;
    size_t len;
    const char *tag;
    int rc;
};

static void *par_flush(void *p)
{
    struct par_arg *a = p;
    a->rc = flush_once(a->in, a->chunk, a->len, a->tag);
    return NULL;
}

/* tokenize splits a script line on blanks, in place. A double-quoted part keeps its blanks and
 * loses its quotes, so a property value may hold spaces: Exclude="exe=/x key=net". Returns the
 * number of tokens, or -1 for an unterminated quote. */
static int tokenize(char *line, char **tok, int max)
{
    int n = 0;
    char *r = line, *w;
    while (n < max) {
        while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n') {
            r++;
        }
        if (*r == '\0') {
            break;
        }
        tok[n++] = w = r;
        while (*r && *r != ' ' && *r != '\t' && *r != '\r' && *r != '\n') {
            if (*r == '"') {
                r++;
                while (*r && *r != '"') {
                    *w++ = *r++;
                }
                if (*r != '"') {
                    return -1;
                }
                r++;
                continue;
            }
            *w++ = *r++;
        }
        if (*r) {
            r++;
        }
        *w = '\0';
    }
    return n;
}

int main(int argc, char **argv)
{
    void *so;
    int (*cb_register)(struct flb_plugin_proxy_def *);
    void (*cb_unregister)(struct flb_plugin_proxy_def *);
    struct guarded_def *gd;
    FILE *script;
    char line[8192];
    int rc, i, lineno = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: chost PLUGIN.so SCRIPT [ARG...]\n");
        return 2;
    }
    so = dlopen(argv[1], RTLD_LAZY);
    if (!so) {
        fprintf(stderr, "chost: dlopen: %s\n", dlerror());
        return 2;
    }
    cb_register = (int (*)(struct flb_plugin_proxy_def *))dlsym(so, "FLBPluginRegister");
    cb_unregister = (void (*)(struct flb_plugin_proxy_def *))dlsym(so, "FLBPluginUnregister");
    plugin.cb_init = (int (*)(struct flbgo_output_plugin *))dlsym(so, "FLBPluginInit");
    plugin.cb_flush = (int (*)(const void *, size_t, const char *))dlsym(so, "FLBPluginFlush");
    plugin.cb_flush_ctx = (int (*)(void *, const void *, size_t, char *))dlsym(so, "FLBPluginFlushCtx");
    plugin.cb_exit = (int (*)(void))dlsym(so, "FLBPluginExit");
    plugin.cb_exit_ctx = (int (*)(void *))dlsym(so, "FLBPluginExitCtx");
    if (!cb_register || !plugin.cb_init || !plugin.cb_flush_ctx || !plugin.cb_exit_ctx) {
        fprintf(stderr, "chost: missing FLBPluginRegister/Init/FlushCtx/ExitCtx\n");
        return 2;
    }

    gd = calloc(1, sizeof(*gd));
    memset(gd->guard, 0xA5, GUARD_BYTES);
    rc = cb_register(&gd->def);
    printf("register rc=%d type=%d proxy=%d flags=%d name=%s description=%s\n", rc, gd->def.type,
           gd->def.proxy, gd->def.flags, gd->def.name ? gd->def.name : "(null)",
           gd->def.description ? gd->def.description : "(null)");
    for (i = 0; i < GUARD_BYTES; i++) {
        if (gd->guard[i] != 0xA5) {
            fprintf(stderr, "chost: FLBPluginRegister wrote past struct flb_plugin_proxy_def (byte %d)\n", i);
            return 2;
        }
    }
    if (rc == -1 || gd->def.type != FLB_PROXY_OUTPUT_PLUGIN || gd->def.proxy != FLB_PROXY_GOLANG ||
        !gd->def.name) {
        fprintf(stderr, "chost: registration is not a Go output plugin\n");
        return 2;
    }
    plugin.name = strdup(gd->def.name);
    plugin.api = &api;

    script = fopen(argv[2], "r");
    if (!script) {
        fprintf(stderr, "chost: %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    while (fgets(line, sizeof(line), script)) {
        char *tok[MAX_PROPS + 4];
        int ntok = 0;
        lineno++;
        ntok = tokenize(line, tok, MAX_PROPS + 4);
        if (ntok < 0) {
            fprintf(stderr, "chost: script line %d: unterminated double quote\n", lineno);
            return 2;
        }
        if (ntok == 0 || tok[0][0] == '#') {
            continue;
        }
        if (strcmp(tok[0], "instance") == 0 && ntok >= 2) {
            struct instance *in;
            int expect = FLB_OK;
            char what[256];
            if (ninstances == MAX_INSTANCES) {
                fprintf(stderr, "chost: too many instances\n");
                return 2;
            }
            in = &instances[ninstances++];
            snprintf(in->name, sizeof(in->name), "%s", tok[1]);
            for (i = 2; i < ntok; i++) {
                char *eq = strchr(tok[i], '=');
                if (strncmp(tok[i], "expect=", 7) == 0) {
                    expect = parse_expect(tok[i]);
                    continue;
                }
                if (!eq) {
                    fprintf(stderr, "chost: line %d: property %s is not key=value\n", lineno, tok[i]);
                    return 2;
                }
                *eq = '\0';
                in->keys[in->nprops] = strdup(tok[i]);
                in->vals[in->nprops] = strdup(eq + 1);
                in->nprops++;
            }
            /* flb_proxy_output_cb_init: a fresh proxy context per instance; the shared plugin
             * struct gets this instance's o_ins and context before cb_init. */
            in->ctx = calloc(1, sizeof(*in->ctx));
            plugin.o_ins = in;
            plugin.context = in->ctx;
            rc = plugin.cb_init(&plugin);
            snprintf(what, sizeof(what), "init %.127s", in->name);
            /* fluent-bit treats rc <= 0 as failure */
            check(what, rc > 0 ? FLB_OK : FLB_ERROR, expect);
            if (rc <= 0) {
                in->exited = 1; /* fluent-bit never calls exit for an instance that failed init */
            } else if (!in->ctx->remote_context) {
                fprintf(stderr, "chost: init %s did not set a context (FLBPluginSetContext)\n", in->name);
                failures++;
            }
        } else if (strcmp(tok[0], "flush") == 0 && ntok >= 3) {
            struct instance *in = find(tok[1]);
            const char *tag = "audit";
            int expect = -1;
            size_t len;
            void *chunk = read_file(tok[2], &len);
            char what[512];
            for (i = 3; i < ntok; i++) {
                if (strncmp(tok[i], "expect=", 7) == 0) {
                    expect = parse_expect(tok[i]);
                } else if (strncmp(tok[i], "tag=", 4) == 0) {
                    tag = tok[i] + 4;
                }
            }
            rc = flush_once(in, chunk, len, tag);
            snprintf(what, sizeof(what), "flush %s %s", in->name, tok[2]);
            check(what, rc, expect);
            free(chunk);
        } else if (strcmp(tok[0], "flushpar") == 0 && ntok >= 4) {
            struct instance *in = find(tok[1]);
            int n = atoi(tok[2]), expect = -1;
            size_t len;
            void *chunk = read_file(tok[3], &len);
            pthread_t th[64];
            struct par_arg args[64];
            char what[512];
            if (n < 1 || n > 64) {
                fprintf(stderr, "chost: flushpar N must be 1..64\n");
                return 2;
            }
            for (i = 4; i < ntok; i++) {
                if (strncmp(tok[i], "expect=", 7) == 0) {
                    expect = parse_expect(tok[i]);
                }
            }
            for (i = 0; i < n; i++) {
                args[i] = (struct par_arg){in, chunk, len, "audit", -1};
                pthread_create(&th[i], NULL, par_flush, &args[i]);
            }
            for (i = 0; i < n; i++) {
                pthread_join(th[i], NULL);
                snprintf(what, sizeof(what), "flushpar %s %s #%d", in->name, tok[3], i);
                check(what, args[i].rc, expect);
            }
            free(chunk);
        } else if (strcmp(tok[0], "sleep") == 0 && ntok == 2) {
            long ms = atol(tok[1]);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            printf("slept %ldms\n", ms);
        } else if (strcmp(tok[0], "exit") == 0 && ntok >= 2) {
            struct instance *in = find(tok[1]);
            int expect = -1;
            char what[256];
            if (ntok >= 3 && strncmp(tok[2], "expect=", 7) == 0) {
                expect = parse_expect(tok[2]);
            }
            rc = plugin.cb_exit_ctx(in->ctx->remote_context);
            in->exited = 1;
            snprintf(what, sizeof(what), "exit %.127s", in->name);
            check(what, rc, expect);
        } else {
            fprintf(stderr, "chost: line %d: cannot parse %s\n", lineno, tok[0]);
            return 2;
        }
    }
    fclose(script);

    for (i = 0; i < ninstances; i++) {
        if (!instances[i].exited) {
            char what[256];
            rc = plugin.cb_exit_ctx(instances[i].ctx->remote_context);
            snprintf(what, sizeof(what), "exit %.127s", instances[i].name);
            check(what, rc, -1);
        }
    }
    if (cb_unregister) {
        cb_unregister(&gd->def);
        printf("unregister done\n");
    }
    /* fluent-bit dlclose()s here; a Go runtime never unloads, so neither do we. */
    printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
