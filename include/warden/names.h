/*
 * Names warden gives things, checked the same way everywhere: the control plane's API, the
 * agent's configuration and the CLI all accept exactly the same node names.
 */
#ifndef WD_NAMES_H
#define WD_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* Longest node name, in bytes. */
#define WD_NODE_NAME_MAX 255u

/*
 * Whether s[0..n) is a node name: 1..WD_NODE_NAME_MAX bytes of A-Z a-z 0-9 . _ - (safe in a
 * SPIFFE ID path segment, a URL path segment and a file name; no NUL). s may be NULL (false).
 */
bool wd_node_name_valid(const char *s, size_t n);

#endif
