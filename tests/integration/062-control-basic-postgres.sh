#!/usr/bin/env bash
# 060-control-basic against PostgreSQL: the same API checks, restarts and audit, with the
# store on a private PostgreSQL server the test starts (lib.sh pg_up) instead of SQLite.
WD_CONTROL_STORE=postgresql exec bash "$(dirname "$0")/060-control-basic.sh"
