/**
 * A point in time with nanosecond precision, as Fluentd's EventTime carries it.
 * The `EventTime` class exported by this package satisfies it.
 */
export interface EventTimeLike {
  readonly seconds: number;
  readonly nanoseconds: number;
}

/**
 * When an event happened: a `Date`; epoch milliseconds as `Date.now()` gives (fractions kept to the microsecond, the
 * most a double holds at today's dates; numbers below 1e11, i.e. before 1973, are refused as likely seconds); a
 * `bigint` of epoch nanoseconds; or an EventTime for full nanoseconds.
 */
export type EventTimeInput = Date | number | bigint | EventTimeLike;

/** A plain record: string keys, msgpack-encodable values. */
export type EventRecord = Record<string, unknown>;

/**
 * The unit that flows from a `UwsgiStatsSource` into a `ForwardSink` (or anything else):
 * a Fluentd tag, the time of the event, and the record.
 */
export interface ForwardItem {
  tag: string;
  time?: EventTimeInput;
  record: EventRecord;
  /**
   * Top-level keys of `record` whose number values are always sent as msgpack float64, whole numbers included,
   * so that a store that types a field from its first value (Norikra, Elasticsearch dynamic mappings, BigQuery
   * autodetect) types it as a float. Other numbers go as integers when whole.
   */
  floatFields?: ReadonlySet<string>;
}
