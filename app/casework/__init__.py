"""Working the requests: the queue, statuses and contact work, notices, audit, retention, dashboard."""
