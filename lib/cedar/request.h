/*
 * The request object (module-private view for the authorizer; the API is in warden/cedar.h).
 */
#ifndef WD_CEDAR_REQUEST_H
#define WD_CEDAR_REQUEST_H

#include <stdbool.h>

#include "cedar/value.h"

struct wd_cedar_request {
    struct wd_cedar_zone zone;                                 /* uids and context values */
    struct wd_cedar_vb vb;                                     /* context builder */
    const struct wd_cedar_euid *principal, *action, *resource; /* NULL until set */
    struct wd_cedar_value context; /* a record; the empty record by default */
    bool in_context;               /* wd_cedar_request_context called, not yet ended */
    bool borrow;                   /* strings are borrowed, not copied */
};

#endif
