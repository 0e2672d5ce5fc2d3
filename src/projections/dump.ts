/**
 * Stable text renderings of projection documents, for dumps that two stores
 * (incremental and rebuilt, LMDB and in memory) can be compared with.
 * Pure.
 */

/**
 * JSON with object keys sorted, `undefined` properties left out (as
 * `JSON.stringify` does), and tagged forms for what JSON lacks:
 * `{"$date": ISO}`, `{"$bytes": base64}`, `{"$bigint": "digits"}`, and
 * `{"$number": "NaN"}` for non-finite numbers.
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : `{"$number":"${String(value)}"}`;
    case "bigint":
      return `{"$bigint":"${value.toString()}"}`;
    case "object": {
      if (value instanceof Date) return `{"$date":${JSON.stringify(Number.isNaN(value.getTime()) ? "invalid" : value.toISOString())}}`;
      if (value instanceof Uint8Array) return `{"$bytes":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")}"}`;
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
      const keys = Object.keys(value).sort();
      const parts: string[] = [];
      for (const k of keys) {
        const v = (value as Record<string, unknown>)[k];
        if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      return JSON.stringify(String(value));
  }
};

/** One line of a dump: `<projection>\t<key>\t<canonical JSON>`. */
export const dumpLine = (projection: string, key: string, doc: unknown): string =>
  `${projection}\t${key}\t${canonicalJson(doc)}`;
