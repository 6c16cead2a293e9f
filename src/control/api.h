/*
 * The REST API of docs/api.md: one dispatcher that the HTTP server calls for every request
 * (a wd_http_handler), routing by method and path, authorising by the caller's verified
 * SPIFFE ID, and answering JSON. Thread-safe: each call borrows its own store handle.
 */
#ifndef SRV_API_H
#define SRV_API_H

#include "warden/common.h"
#include "warden/net.h"

#include "server.h"

/*
 * Serve req into resp. arg is the struct srv. Always fills resp (errors are JSON bodies
 * with the status of docs/api.md) and returns WD_OK, except WD_EINVAL for NULL arguments.
 * resp->body must be initialised by the caller (the HTTP server does).
 */
WD_MUST_USE int srv_api_handle(void *arg, const struct wd_http_req *req, struct wd_http_resp *resp);

#endif
