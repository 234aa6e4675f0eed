-- Norikra queries over uwsgi-forward's records, as examples/td-agent.conf delivers them: tag uwsgi.summary
-- becomes target "summary" and uwsgi.worker target "worker" (remove_tag_prefix uwsgi, target_map_tag true).
--
-- Set up Norikra with: uwsgi-forward norikra --norikra HOST:26571 --queries queries.sql --watch
-- It opens the targets with every field's type, then registers these queries (by the name in the
-- "-- name:" line before each), whatever Norikra holds already. --watch does it again after a Norikra restart.
-- By hand, register each statement with: norikra-client query add NAME 'SELECT ...'
-- Format: a "-- name: NAME" line before each statement, each statement ended by a semicolon. Comments
-- hold no semicolon, so any tool can split the file.
--
-- Every query groups by host and target: the same stats socket path on two hosts is two uWSGIs.
-- Rates (*_per_sec, response_time_us) are absent on the first poll and on a poll where counters were reset
-- (reload, restart): a query that names one skips those polls instead of seeing a negative or spiking value.
-- Counts over a window are sums of rate x interval (interval_ms is the measured time between two polls).

-- name: uwsgi_listen_queue
-- The backlog of the listen socket per uWSGI each minute. listen_queue_errors counts refused connections.
-- (An alias never repeats a field name: Norikra would then not see the field.)
SELECT host, target, max(listen_queue) AS listen_queue_max, max(listen_queue_errors)
       AS listen_queue_errors_max
FROM summary.win:time_batch(1 min)
GROUP BY host, target;

-- name: uwsgi_response_time
-- Mean response time per minute: response_time_us is the mean over one poll interval (running time over
-- requests finished), weighted here by the requests finished in that interval.
SELECT host, target,
       sum(response_time_us * requests_per_sec * interval_ms) / sum(requests_per_sec * interval_ms)
         AS response_time_us_mean,
       max(response_time_us) AS response_time_us_max
FROM summary.win:time_batch(1 min)
GROUP BY host, target;

-- name: uwsgi_memory
-- Resident and virtual memory of all workers of a uWSGI, peak per minute (needs memory-report in the ini).
SELECT host, target, max(rss) AS rss_max, max(vsz) AS vsz_max
FROM summary.win:time_batch(1 min)
GROUP BY host, target;

-- name: uwsgi_worker_memory
-- The same per worker, to spot the one that leaks. A respawned worker reads rss 0 until its next memory
-- report: WHERE rss > 0 keeps those zeros out of the average and the minimum.
SELECT host, target, id, avg(rss) AS rss_avg, min(rss) AS rss_min, max(rss) AS rss_max
FROM worker.win:time_batch(1 min)
WHERE rss > 0
GROUP BY host, target, id;

-- name: uwsgi_errors
-- Exceptions, harakiri (requests killed for running too long) and worker respawns per minute.
SELECT host, target, sum(exceptions_per_sec * interval_ms / 1000.0) AS exceptions,
       sum(harakiri_per_sec * interval_ms / 1000.0) AS harakiri,
       sum(respawns_per_sec * interval_ms / 1000.0) AS respawns
FROM summary.win:time_batch(1 min)
GROUP BY host, target;

-- name: uwsgi_requests
-- Requests per minute and the busiest moment of the minute.
SELECT host, target, sum(requests_per_sec * interval_ms / 1000.0) AS requests,
       max(workers_busy) AS workers_busy_max
FROM summary.win:time_batch(1 min)
GROUP BY host, target;

-- name: uwsgi_app_requests
-- Requests and exceptions per mountpoint per minute (--shape app: one record per app per worker, summed here
-- over the workers).
SELECT host, target, mountpoint, sum(requests_per_sec * interval_ms / 1000.0) AS app_requests,
       sum(exceptions_per_sec * interval_ms / 1000.0) AS app_exceptions
FROM app.win:time_batch(1 min)
GROUP BY host, target, mountpoint;

-- name: uwsgi_cache_hit_ratio
-- Hits, misses and the hit ratio of each uWSGI cache per minute (--shape cache), and the most items it held.
-- The ratio is the minute's lookups found over all its lookups (no lookup in the minute: no ratio).
SELECT host, target, name, sum(hits_per_sec * interval_ms / 1000.0) AS cache_hits,
       sum(miss_per_sec * interval_ms / 1000.0) AS cache_misses,
       sum(hits_per_sec * interval_ms) / sum((hits_per_sec + miss_per_sec) * interval_ms) AS hit_ratio,
       max(items) AS items_max
FROM cache.win:time_batch(1 min)
GROUP BY host, target, name;

-- name: uwsgi_spooler_backlog
-- uWSGI does not report how many tasks wait in a spool directory. A backlog shows as a spooler busy at every
-- poll (busy_share near 1) while it runs few tasks: busy_share is the share of polls that found it running a
-- task, tasks_run the tasks it ran in the minute (--shape spooler).
SELECT host, target, dir, avg(running) AS busy_share, sum(tasks_per_sec * interval_ms / 1000.0) AS tasks_run
FROM spooler.win:time_batch(1 min)
GROUP BY host, target, dir;

-- name: uwsgi_app_metrics
-- The application's own counters (uWSGI's metrics subsystem: metric = name=app.orders,type=counter in the
-- ini, uwsgi.metric_inc('app.orders') in the code), increments per minute (--shape metric). Change the LIKE
-- to your metrics' names.
SELECT host, target, name, sum(value_per_sec * interval_ms / 1000.0) AS increments, max(value) AS value_max
FROM metric.win:time_batch(1 min)
WHERE name LIKE 'app.%'
GROUP BY host, target, name;
