"""Keeps the schemathesis run bounded in time.

Two kinds of valid request are slow on purpose: a paced produce (`count`
messages at `rate` per second takes count/rate seconds, up to ten minutes)
and a browse that waits for new messages (`wait_ms`, up to ten seconds).
Cases that would take more than about a second are dropped, and so are
simulated producers faster than 100 messages per second (they run until
stopped and would load the machine for the rest of the run); everything
else schemathesis generates is sent as is.
"""

import schemathesis


@schemathesis.hook
def filter_case(context, case):
    body = case.body if isinstance(case.body, dict) else {}
    rate, count = body.get("rate"), body.get("count", 1)
    path = getattr(getattr(case, "operation", None), "path", "") or ""
    if path.endswith("/simulations/producers") and isinstance(rate, (int, float)) and rate > 100:
        return False
    if isinstance(rate, (int, float)) and isinstance(count, (int, float)) and rate > 0:
        if count / rate > 1:
            return False
    query = case.query or {}
    wait = query.get("wait_ms")
    if isinstance(wait, (int, float)) and wait > 1000:
        return False
    if isinstance(wait, str) and wait.isdigit() and int(wait) > 1000:
        return False
    return True
