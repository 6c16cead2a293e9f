/*
 * cedar_probe: decide many Cedar cases read from stdin, one JSON object per line, for the
 * differential test against cedar-wasm (tests/cedar/diff-wasm).
 *
 *   cedar_probe < cases.jsonl
 *
 * A case is
 *   {"policies": TEXT,                     policies and templates, named policy0, policy1, ...
 *    "links": [{"template": ID, "id": NEW, "principal": UIDTEXT|null,
 *               "resource": UIDTEXT|null}, ...],                 (optional)
 *    "entities": [...],                    Cedar entities JSON
 *    "request": {"principal", "action", "resource", "context"}}
 * and the answer, one line per case, is
 *   {"decision": "allow"|"deny", "reasons": [ID...], "errors": [{"policy", "message"}...]}
 * with reasons and errors in policy-set order, or
 *   {"fail": STAGE, "message": TEXT}
 * when the case cannot be decided; STAGE is "case" (the line is not a case), "policies",
 * "link", "entities", "request" or "authorize". Each case gets a fresh policy set and entity
 * store; the request and the scratch are reused (as the proxy reuses them).
 */
#include <stdio.h>
#include <string.h>

#include "warden/buf.h"
#include "warden/cedar.h"
#include "warden/doc.h"
#include "warden/err.h"

#define MAX_INPUT ((size_t)1 << 30)
#define MAX_OUT   ((size_t)64 << 20)

static int fail(struct wd_buf *out, const char *stage, const char *msg)
{
    WD_TRY(wd_buf_printf(out, "{\"fail\":\"%s\",\"message\":", stage));
    WD_TRY(wd_json_append_string(out, msg, strlen(msg)));
    return wd_buf_append_str(out, "}\n");
}

static const char *opt_str(const struct wd_node *obj, const char *key, bool *bad)
{
    const struct wd_node *n = wd_node_get(obj, key);
    if (n == NULL || n->type == WD_NODE_NULL) {
        return NULL;
    }
    if (n->type != WD_NODE_STR) {
        *bad = true;
        return NULL;
    }
    return n->u.s.p;
}

static int answer(const struct wd_cedar_response *r, struct wd_buf *out)
{
    WD_TRY(wd_buf_printf(out, "{\"decision\":\"%s\",\"reasons\":[", r->allow ? "allow" : "deny"));
    for (size_t i = 0; i < r->nreasons; i++) {
        WD_TRY(wd_buf_append_str(out, i > 0 ? "," : ""));
        WD_TRY(wd_json_append_string(out, r->reasons[i], strlen(r->reasons[i])));
    }
    WD_TRY(wd_buf_append_str(out, "],\"errors\":["));
    for (size_t i = 0; i < r->nerrors; i++) {
        WD_TRY(wd_buf_append_str(out, i > 0 ? ",{\"policy\":" : "{\"policy\":"));
        WD_TRY(wd_json_append_string(out, r->errors[i].policy_id, strlen(r->errors[i].policy_id)));
        WD_TRY(wd_buf_append_str(out, ",\"message\":"));
        WD_TRY(wd_json_append_string(out, r->errors[i].message, strlen(r->errors[i].message)));
        WD_TRY(wd_buf_append_str(out, "}"));
    }
    return wd_buf_append_str(out, "]}\n");
}

/* Decide one case (line[0..len)) and append its answer line to out. */
static int run_case(const char *line, size_t len, struct wd_cedar_request *req,
                    struct wd_cedar_scratch *scratch, struct wd_buf *out)
{
    struct wd_diag d;
    struct wd_doc *doc = NULL;
    struct wd_cedar_policyset *ps = NULL;
    struct wd_cedar_entities *ents = NULL;
    struct wd_cedar_authz *az = NULL;
    static const struct wd_doc_limits lim = {.max_bytes = (size_t)64 << 20};
    int rc = wd_json_parse("case", line, len, &lim, &doc, &d);
    if (rc < 0) {
        rc = fail(out, "case", d.msg);
        goto out;
    }
    const struct wd_node *top = wd_doc_root(doc);
    const struct wd_node *pol = wd_node_get(top, "policies");
    const struct wd_node *links = wd_node_get(top, "links");
    const struct wd_node *ent = wd_node_get(top, "entities");
    const struct wd_node *rq = wd_node_get(top, "request");
    if (top->type != WD_NODE_OBJ || pol == NULL || pol->type != WD_NODE_STR || ent == NULL
        || rq == NULL || (links != NULL && links->type != WD_NODE_ARR)) {
        rc = fail(out, "case", "expected {policies, links?, entities, request}");
        goto out;
    }
    if (wd_cedar_policyset_parse("policies", pol->u.s.p, pol->u.s.len, &ps, &d) < 0) {
        rc = fail(out, "policies", d.msg);
        goto out;
    }
    for (size_t i = 0; links != NULL && i < links->u.arr.n; i++) {
        const struct wd_node *l = links->u.arr.items[i];
        bool bad = l->type != WD_NODE_OBJ;
        const char *tid = bad ? NULL : opt_str(l, "template", &bad);
        const char *nid = bad ? NULL : opt_str(l, "id", &bad);
        const char *p = bad ? NULL : opt_str(l, "principal", &bad);
        const char *r = bad ? NULL : opt_str(l, "resource", &bad);
        if (bad || tid == NULL || nid == NULL) {
            rc = fail(out, "case", "malformed link");
            goto out;
        }
        rc = wd_cedar_policyset_link(ps, tid, nid, p, r, &d);
        if (rc < 0) {
            rc = fail(out, "link", rc == WD_EPROTO ? d.msg : wd_strerror(rc));
            goto out;
        }
    }
    rc = wd_cedar_entities_new(NULL, &ents);
    if (rc == WD_OK) {
        rc = wd_cedar_entities_add_json(ents, doc, ent, NULL, &d);
    }
    if (rc == WD_OK) {
        rc = wd_cedar_entities_freeze(ents, &d);
    }
    if (rc < 0) {
        rc = fail(out, "entities", rc == WD_ENOMEM ? "out of memory" : d.msg);
        goto out;
    }
    wd_cedar_request_reset(req);
    if (wd_cedar_request_set_json(req, doc, rq, NULL, false, &d) < 0) {
        rc = fail(out, "request", d.msg);
        goto out;
    }
    if (wd_cedar_authz_new(ps, &az) < 0) {
        rc = WD_ENOMEM;
        goto out;
    }
    struct wd_cedar_response resp;
    rc = wd_cedar_authorize(az, ents, req, scratch, &resp);
    rc = rc < 0 ? fail(out, "authorize", wd_strerror(rc)) : answer(&resp, out);
out:
    wd_cedar_authz_free(az);
    wd_cedar_entities_free(ents);
    wd_cedar_policyset_free(ps);
    wd_doc_free(doc);
    return rc;
}

int main(void)
{
    struct wd_buf in, out;
    wd_buf_init(&in, MAX_INPUT);
    wd_buf_init(&out, MAX_OUT);
    struct wd_cedar_request *req = NULL;
    struct wd_cedar_scratch *scratch = NULL;
    int status = 1;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (wd_buf_append(&in, chunk, n) < 0) {
            (void)fprintf(stderr, "cedar_probe: input too large\n");
            goto out;
        }
    }
    if (wd_cedar_request_new(&req) < 0 || wd_cedar_scratch_new(&scratch) < 0) {
        (void)fprintf(stderr, "cedar_probe: out of memory\n");
        goto out;
    }
    const char *p = (const char *)in.p;
    size_t left = in.len;
    while (left > 0) {
        const char *nl = memchr(p, '\n', left);
        size_t len = nl != NULL ? (size_t)(nl - p) : left;
        if (len > 0) {
            wd_buf_reset(&out);
            if (run_case(p, len, req, scratch, &out) < 0) {
                (void)fprintf(stderr, "cedar_probe: out of memory\n");
                goto out;
            }
            if (fwrite(out.p, 1, out.len, stdout) != out.len) {
                goto out;
            }
        }
        p += len;
        left -= len;
        if (left > 0) {
            p++;
            left--;
        }
    }
    status = fflush(stdout) == 0 ? 0 : 1;
out:
    wd_cedar_scratch_free(scratch);
    wd_cedar_request_free(req);
    wd_buf_cleanup(&out);
    wd_buf_cleanup(&in);
    return status;
}
