/** A schema's declared indexes, as mongoose's `Schema.indexes()` gives them. */
type DeclaredIndexes = [Record<string, unknown>, Record<string, unknown>?][];

/** The stages this check reads of a pipeline (or of a find: its filter and sort). */
interface ReadStages {
  $match?: Record<string, unknown>;
  $sort?: Record<string, number>;
}

/**
 * The declared index that serves a pipeline's first `$match` and the `$sort` after it, as MongoDB
 * would (undefined: none, so mongod sorts the matched documents in memory). The mongomock tests
 * cannot explain a plan: this is what stands in for it. An index serves the sort when its keys
 * start with the sort's, each in the sort's direction or every one reversed (an index is read
 * one way or the other, never with some keys turned), and the filter when every field the
 * `$match` names is one of those keys (a range or an equality on them bounds the scan).
 */
export function indexServing(
  indexes: DeclaredIndexes,
  stages: readonly object[],
): Record<string, unknown> | undefined {
  const pipeline = stages as readonly ReadStages[];
  const at = pipeline.findIndex((stage) => stage.$sort);
  const sort = Object.entries(pipeline[at]?.$sort ?? {});
  if (sort.length === 0) return undefined;
  const filtered = pipeline.slice(0, at).flatMap((stage) => Object.keys(stage.$match ?? {}));
  return indexes
    .map(([keys]) => keys)
    .find((keys) => {
      const leading = Object.entries(keys).slice(0, sort.length);
      if (leading.length < sort.length) return false;
      const names = leading.every(([name], i) => name === sort[i][0]);
      const forward = leading.every(([, dir], i) => dir === sort[i][1]);
      const backward = leading.every(([, dir], i) => dir === -sort[i][1]);
      const bounded = filtered.every((field) => leading.some(([name]) => name === field));
      return names && (forward || backward) && bounded;
    });
}
