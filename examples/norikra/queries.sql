-- Norikra queries over uwsgi-forward's records, as td-agent.conf delivers them: tag uwsgi.summary
-- becomes target "summary" and uwsgi.worker target "worker" (remove_tag_prefix uwsgi, target_map_tag true).
-- Register each with: norikra-client query add NAME 'SELECT ...' (the name is in the comment above it).
-- Rates (*_per_sec, response_time_us) are absent on a poll where counters were reset (reload,
-- restart, respawn): aggregates skip those polls instead of seeing a negative or spiking value.

-- name: uwsgi_listen_queue
-- The backlog of the listen socket per uWSGI each minute; listen_queue_errors counts refused connections.
SELECT target, max(listen_queue) AS listen_queue_max, max(listen_queue_errors) AS listen_queue_errors
FROM summary.win:time_batch(1 min)
GROUP BY target;

-- name: uwsgi_response_time
-- Mean response time per minute, weighted by requests: response_time_us is the mean over one poll
-- interval (running time / requests finished), requests_per_sec its weight.
SELECT target, sum(response_time_us * requests_per_sec) / sum(requests_per_sec) AS response_time_us_mean,
       max(response_time_us) AS response_time_us_max
FROM summary.win:time_batch(1 min)
GROUP BY target;

-- name: uwsgi_memory
-- Resident and virtual memory of all workers of a uWSGI, peak per minute (needs memory-report in the ini).
SELECT target, max(rss) AS rss_max, max(vsz) AS vsz_max
FROM summary.win:time_batch(1 min)
GROUP BY target;

-- name: uwsgi_worker_memory
-- The same per worker: spots the one worker that leaks.
SELECT target, id, max(rss) AS rss_max
FROM worker.win:time_batch(1 min)
GROUP BY target, id;

-- name: uwsgi_exceptions_harakiri
-- Exceptions and harakiri (requests killed for running too long) per minute: rate times interval.
SELECT target, sum(exceptions_per_sec * interval_ms / 1000.0) AS exceptions,
       sum(harakiri_per_sec * interval_ms / 1000.0) AS harakiri
FROM summary.win:time_batch(1 min)
GROUP BY target;

-- name: uwsgi_requests
-- Requests per minute and the busiest moment of the minute.
SELECT target, sum(requests_per_sec * interval_ms / 1000.0) AS requests, max(workers_busy) AS workers_busy_max
FROM summary.win:time_batch(1 min)
GROUP BY target;
